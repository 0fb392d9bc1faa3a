"""Plots: one module per figure; each declares what it needs and skips cleanly without it.

Plots never decide anything: they draw the RunRecord and mark the findings the rules made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding


@dataclass
class PlotResult:
    written: list[str] = field(default_factory=list)  # file names, in FIGURES order
    skipped: list[str] = field(default_factory=list)  # file names with no data to draw
    failed: dict[str, str] = field(default_factory=dict)  # file name -> error (a bug in trainlint)


def figures():
    """The figure modules, in report order (imported here so `import trainlint` stays cheap)."""
    from trainlint.plots import activations, gradients, loss, updates

    return (loss, gradients, updates, activations)


def draw_all(record: RunRecord, findings: list[Finding], out_dir: Path, title: str) -> PlotResult:
    """Draw every figure whose data was recorded into `out_dir`."""
    from trainlint.plots.common import save

    result = PlotResult()
    for module in figures():
        if not module.can_draw(record):
            result.skipped.append(module.FILENAME)
            continue
        try:
            fig = module.draw(record, findings, title)
            save(fig, out_dir / module.FILENAME)
        except Exception as exc:  # noqa: BLE001 - a broken plot must not lose the report
            result.failed[module.FILENAME] = f"{type(exc).__name__}: {exc}"
            continue
        result.written.append(module.FILENAME)
    return result
