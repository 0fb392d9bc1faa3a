"""Console, progress bar and exit status shared by the commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from trainlint.report.model import Report
from trainlint.rules.base import Severity


def console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def exit_code(report: Report, fail_on: str) -> int:
    """1 when a finding is at or above `fail_on`, else 0."""
    if fail_on == "never":
        return 0
    threshold = Severity(fail_on).rank
    return int(any(f.severity.rank >= threshold for f in report.findings))


@contextmanager
def progress_bar(enabled: bool, label: str) -> Iterator[object]:
    """A rich progress bar fed by the probe's flush callback (None when disabled)."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn(f"probing {label}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn())
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("probe", total=None, loss="–")

        def update(done: int, total: int, loss: float) -> None:
            bar.update(task, completed=done, total=total, loss=f"{loss:.4g}")

        yield update
