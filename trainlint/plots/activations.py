"""activations.png: per activation module, the dead (never active) and saturated fraction of units.

Up to MOST_LINES modules each panel has a line per module; deeper models get a heatmap per panel
(modules top to bottom in forward order, one column per sampled step), as gradients.png does.
"""

from __future__ import annotations

import numpy as np

from trainlint.analysis.wording import count
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
from trainlint.plots.layers import heat, heatmap_height, layer_heatmap, layer_lines
from trainlint.probe.record import LayerSeries, RunRecord
from trainlint.rules.base import Finding

FILENAME = "activations.png"
CONCERNS = ("TL403", "TL404")
PANELS = (("dead_fraction", "dead units (%)", "never active in the sampled batch"),
          ("saturated_fraction", "saturated units (%)", "stuck near a sigmoid/tanh limit"))
LINES_HEIGHT = 3.0  # inches per panel in the line form
# Fewer lines than gradients.png allows: fractions of units sit on the same few values (0 %, 100 %),
# so beyond a handful of modules the lines hide each other.
MOST_LINES = 8


def _percent(values) -> np.ndarray:
    return finite_array(values) * 100.0


def _panels(record: RunRecord) -> list[tuple[LayerSeries, str, str]]:
    """(series, label, meaning) per statistic with data at completed steps, modules without any dropped."""
    out = []
    for attr, label, meaning in PANELS:
        series = completed(getattr(record, attr), record)
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
    forms = [heat(series, MOST_LINES) for series, _, _ in panels]
    heights = [heatmap_height(s, LINES_HEIGHT) if h else LINES_HEIGHT for (s, _, _), h in zip(panels, forms, strict=True)]
    fig, axes = figure(1.2 + sum(heights), rows=len(panels), height_ratios=heights)
    mine = concerning(findings, CONCERNS)
    for ax, (series, label, meaning), many in zip(axes, panels, forms, strict=True):
        marked = emphasised(mine, series.names)
        if many:
            layer_heatmap(fig, ax, series, record, _percent(series.values).T, marked, cmap="Reds", vmin=0.0,
                          vmax=100.0, label=f"{label} (grey: not sampled)")
        else:
            layer_lines(fig, ax, series, record, transform=_percent, log=False, marked=marked)
            ax.set_ylim(-3, 103)
            ax.set_ylabel(label)
        ax.set_title(f"{label.split(' (')[0]}: {meaning}", fontsize=9, loc="left")
    fig.suptitle(f"{title}: activation health ({count(len(record.model.activations), 'activation layer')})",
                 fontsize=11, x=0.01, ha="left")
    step_axis(axes[-1], record)
    rows = mark_findings(axes, mine)
    axes[0].set_title(axes[0].get_title(loc="left"), fontsize=9, loc="left", pad=title_pad(rows))
    note_findings(fig, mine)
    return fig
