"""activations.png: per activation module, the dead (never active) and saturated fraction of units."""

from __future__ import annotations

import numpy as np

from trainlint.plots.common import (
    concerning,
    emphasised,
    figure,
    finite_array,
    has_values,
    layer_lines,
    mark_findings,
    note_findings,
    step_axis,
    title_pad,
)
from trainlint.probe.record import LayerSeries, RunRecord
from trainlint.rules.base import Finding

FILENAME = "activations.png"
CONCERNS = ("TL403", "TL404")
PANELS = (("dead_fraction", "dead units (%)", "never active in the sampled batch"),
          ("saturated_fraction", "saturated units (%)", "stuck near a sigmoid/tanh limit"))


def _percent(values) -> np.ndarray:
    return finite_array(values) * 100.0


def _panels(record: RunRecord) -> list[tuple[LayerSeries, str, str]]:
    out = []
    for attr, label, meaning in PANELS:
        series = getattr(record, attr)
        if not has_values(series, finite_array):
            continue
        keep = [j for j in range(len(series.names)) if np.isfinite(finite_array(series.values)[:, j]).any()]
        sub = LayerSeries(names=[series.names[j] for j in keep], steps=list(series.steps),
                          values=[[row[j] for j in keep] for row in series.values])
        out.append((sub, label, meaning))
    return out


def can_draw(record: RunRecord) -> bool:
    return bool(_panels(record))


def draw(record: RunRecord, findings: list[Finding], title: str):
    panels = _panels(record)
    fig, axes = figure(1.2 + 3.0 * len(panels), rows=len(panels))
    mine = concerning(findings, CONCERNS)
    for ax, (series, label, meaning) in zip(axes, panels, strict=True):
        layer_lines(fig, ax, series, record, transform=_percent, log=False,
                    marked=emphasised(mine, series.names))
        ax.set_ylim(-3, 103)
        ax.set_ylabel(label)
        ax.set_title(f"{label.split(' (')[0]}: {meaning}", fontsize=9, loc="left")
    fig.suptitle(f"{title}: activation health ({len(record.model.activations)} activation modules)",
                 fontsize=11, x=0.01, ha="left")
    step_axis(axes[-1], record)
    rows = mark_findings(axes, mine)
    axes[0].set_title(axes[0].get_title(loc="left"), fontsize=9, loc="left", pad=title_pad(rows))
    note_findings(fig, mine)
    return fig
