"""updates.png: per-layer update ratio ‖Δw‖/‖w‖ per step, with the ~1e-3 rule-of-thumb band shaded."""

from __future__ import annotations

from trainlint.plots.common import (
    completed,
    concerning,
    emphasised,
    figure,
    finite_array,
    has_values,
    mark_findings,
    note_findings,
    step_axis,
    title_pad,
)
from trainlint.plots.layers import layer_lines
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding

FILENAME = "updates.png"
CONCERNS = ("TL301", "TL302", "TL204", "TL205")
BAND = (1e-4, 1e-2)  # a decade either side of the 1e-3 rule of thumb
REFERENCE = 1e-3


def can_draw(record: RunRecord) -> bool:
    """Any finite ratio at a completed step (zeros count: weights that never move are worth showing)."""
    return has_values(completed(record.update_ratio, record), finite_array)


def draw(record: RunRecord, findings: list[Finding], title: str):
    series = completed(record.update_ratio, record)
    fig, axes = figure(5.2)
    ax = axes[0]
    ax.axhspan(*BAND, color="#2e7d32", alpha=0.10, lw=0, label="typical range (1e-4 to 1e-2)")
    ax.axhline(REFERENCE, color="#2e7d32", ls="--", lw=1.2, label="rule of thumb 1e-3")
    mine = concerning(findings, CONCERNS)
    layer_lines(fig, ax, series, record, marked=emphasised(mine, series.names))
    ax.set_ylabel("update ratio ‖Δw‖ / ‖w‖ per step")
    step_axis(ax, record)
    rows = mark_findings(axes, mine)
    ax.set_title(f"{title}: update ratio per layer (LR {record.lr:g}, {record.optimizer_class})",
                 fontsize=11, loc="left", pad=title_pad(rows))
    note_findings(fig, mine)
    return fig
