"""Console, progress bar, output formats and exit status shared by the commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from trainlint.analysis.wording import num
from trainlint.cli.errors import EXIT_INTERNAL
from trainlint.report.model import Report
from trainlint.rules.base import Severity


def console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def exit_code(report: Report, fail_on: str) -> int:
    """3 when trainlint failed inside a rule (whatever `fail_on`), else 1 when a finding is at or
    above `fail_on`, else 0."""
    if internal_errors(report):
        return EXIT_INTERNAL
    if fail_on == "never":
        return 0
    threshold = Severity(fail_on).rank
    return int(any(f.severity.rank >= threshold for f in report.findings))


def internal_errors(report: Report) -> list:
    """The rules trainlint failed inside (their bugs, not the user's)."""
    return [n for n in report.not_evaluated if n.internal_error]


def warn_internal_errors(report: Report, out_dir: object) -> None:
    """One paragraph on stderr per rule that failed; the traceback too with TRAINLINT_DEBUG=1."""
    for n in internal_errors(report):
        if os.environ.get("TRAINLINT_DEBUG"):
            typer.echo(n.internal_error, err=True, nl=False)
        typer.echo(f"trainlint internal error in rule {n.code} {n.rule}: {n.reason.split('(', 1)[-1].rsplit(')', 1)[0]}. "
                   f"The rule was skipped; every other rule ran and the report in {out_dir} is complete "
                   "(report.json lists the traceback under not_evaluated). This is a bug in trainlint, not in "
                   "your setup: please report it.", err=True)


def wants_progress(quiet: bool) -> bool:
    """A progress bar only for a person watching: stderr is a terminal and not `-q`."""
    return not quiet and sys.stderr.isatty()


@contextmanager
def progress_bar(enabled: bool, label: str) -> Iterator[object]:
    """A rich progress bar (on stderr) fed by the probe's flush callback; None when disabled."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn(f"probing {label}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[rate]}"),
               TimeElapsedColumn())
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("probe", total=None, loss="–", rate="")

        def update(done: int, total: int, loss: float) -> None:
            speed = bar.tasks[task].speed
            rate = f"{speed:.1f} steps/s" if speed else ""
            bar.update(task, completed=done, total=total, loss=num(loss), rate=rate)

        yield update


def emit(outcome, fmt: str, fail_on: str, verbose: bool = False, quiet: bool = False) -> int:
    """Print the outcome in `fmt` on stdout (warnings on stderr); return the exit status."""
    for warning in outcome.warnings:
        typer.echo(f"warning: {warning}", err=True)
    warn_internal_errors(outcome.report, outcome.out_dir)
    if fmt == "text":
        from trainlint.report.text import render_text

        render_text(outcome.report, console(), verbose=verbose, quiet=quiet, out_dir=str(outcome.out_dir))
    else:
        from trainlint.report.writers import render

        typer.echo(render(fmt, outcome.report, fail_on), nl=False)
    return exit_code(outcome.report, fail_on)
