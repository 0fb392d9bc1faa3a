"""gradients.png: the global gradient norm per step, and per-layer gradient norms on a log scale.

Up to MAX_LEGEND layers the per-layer norms are lines; deeper models get a heatmap (layers top
to bottom in forward order, colour = log10 norm) whose layer names stay readable at 30+ layers.
"""

from __future__ import annotations

import numpy as np

from trainlint.plots.common import (
    MAX_LEGEND,
    SEVERITY_COLOR,
    concerning,
    emphasised,
    figure,
    has_values,
    layer_label,
    layer_lines,
    mark_findings,
    note_findings,
    positive,
    step_axis,
    title_pad,
)
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding

FILENAME = "gradients.png"
CONCERNS = ("TL401", "TL402", "TL405", "TL202")


def can_draw(record: RunRecord) -> bool:
    return has_values(record.layer_grad_norm, positive) or bool(np.isfinite(positive(record.grad_norm)).any())


def draw(record: RunRecord, findings: list[Finding], title: str):
    series = record.layer_grad_norm
    n = len(series.names) if has_values(series, positive) else 0
    heat = n > MAX_LEGEND
    layer_height = 3.2 if not heat else max(3.2, 0.16 * n)
    fig, axes = figure(2.4 + layer_height + 0.8, rows=2 if n else 1,
                       height_ratios=[2.2, layer_height] if n else None)
    ax = axes[0]
    steps = record.steps[: len(record.grad_norm)]
    ax.plot(steps, positive(record.grad_norm), color="C3", lw=1.2, marker="o" if len(steps) < 30 else None, ms=4)
    if record.clip_grad_norm is not None:
        ax.axhline(record.clip_grad_norm, color="grey", ls=":", lw=1.2)
        ax.annotate(f"clip_grad_norm {record.clip_grad_norm:g}", xy=(1.0, record.clip_grad_norm),
                    xycoords=("axes fraction", "data"), xytext=(-2, 2), textcoords="offset points",
                    ha="right", va="bottom", fontsize=8, color="grey")
    ax.set_yscale("log")
    ax.set_ylabel("global ‖∇w‖₂\n(all parameters, before clipping)")
    mine = concerning(findings, CONCERNS)
    if n:
        lx = axes[1]
        marked = emphasised(mine, series.names)
        if heat:
            _heatmap(fig, lx, record, marked)
        else:
            layer_lines(fig, lx, series, record, marked=marked)
            lx.set_ylabel("‖∇w‖₂ per layer")
    step_axis(axes[-1], record)
    rows = mark_findings(axes, mine)
    ax.set_title(f"{title}: gradient norms ({n or 'no'} layers with parameters)", fontsize=11, loc="left", pad=title_pad(rows))
    note_findings(fig, mine)
    return fig


def _heatmap(fig, ax, record: RunRecord, marked: dict[str, str]) -> None:
    series = record.layer_grad_norm
    values = np.log10(positive(series.values)).T  # layers x steps
    steps = np.asarray(series.steps, dtype=float)
    edges = np.concatenate([steps - 0.5, [steps[-1] + 0.5]])
    finite = values[np.isfinite(values)]
    lo, hi = (np.percentile(finite, 1), np.percentile(finite, 99)) if finite.size else (-8, 0)
    from matplotlib import colormaps

    cmap = colormaps["magma"].with_extremes(bad="#bdbdbd")
    mesh = ax.pcolormesh(edges, np.arange(len(series.names) + 1) - 0.5, np.ma.masked_invalid(values),
                         cmap=cmap, vmin=lo, vmax=max(hi, lo + 1e-6), shading="flat")
    ax.set_ylim(len(series.names) - 0.5, -0.5)  # first layer at the top
    ax.set_yticks(range(len(series.names)))
    labels = ax.set_yticklabels(
        [layer_label(record, name) + (f"  ← {marked[name]}" if name in marked else "") for name in series.names],
        fontsize=max(5.0, min(8.0, 300 / len(series.names))))
    for name, label in zip(series.names, labels, strict=True):
        if name in marked:  # the layers a finding blames, in its colour
            label.set_color(SEVERITY_COLOR["warning"])
            label.set_fontweight("bold")
    ax.grid(False)
    bar = fig.colorbar(mesh, ax=ax, pad=0.01, aspect=40)
    bar.set_label("log10 ‖∇w‖₂ per layer (grey: zero or no gradient)", fontsize=8)
