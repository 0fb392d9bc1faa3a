"""gradients.png: the global gradient norm per step, and per-layer gradient norms on a log scale.

Up to MAX_LEGEND layers the per-layer norms are lines; deeper models get a heatmap (layers top
to bottom in forward order, colour = log10 norm) whose layer names stay readable at 30+ layers.
A norm of exactly 0 has no place on a log scale: it is marked (▼ and "0 from step N" on lines,
its own colour in the heatmap) rather than left as a line that just stops.
"""

from __future__ import annotations

import numpy as np

from trainlint.plots.common import (
    completed,
    concerning,
    emphasised,
    figure,
    finite_array,
    has_values,
    mark_findings,
    note_findings,
    positive,
    step_axis,
    title_pad,
)
from trainlint.plots.layers import (
    all_zero_axis,
    heat,
    heatmap_height,
    layer_heatmap,
    layer_lines,
    mark_zeros,
    zero_handle,
)
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding

FILENAME = "gradients.png"
CONCERNS = ("TL401", "TL402", "TL405", "TL202")


def can_draw(record: RunRecord) -> bool:
    """Any finite norm at a completed step (zeros count: a gradient of exactly 0 is worth showing)."""
    return (has_values(completed(record.layer_grad_norm, record), finite_array)
            or bool(np.isfinite(finite_array(record.grad_norm)).any()))


def draw(record: RunRecord, findings: list[Finding], title: str):
    series = completed(record.layer_grad_norm, record)
    n = len(series.names) if has_values(series, finite_array) else 0
    many = n > 0 and heat(series)
    layer_height = heatmap_height(series) if many else 3.2
    fig, axes = figure(2.4 + layer_height + 0.8, rows=2 if n else 1,
                       height_ratios=[2.2, layer_height] if n else None)
    ax = axes[0]
    steps = record.steps[: len(record.grad_norm)]
    norms = record.grad_norm[: len(steps)]
    ax.plot(steps, positive(norms), color="C3", lw=1.2, marker="o" if len(steps) < 30 else None, ms=4)
    note = mark_zeros(ax, steps, norms, "C3")
    if record.clip_grad_norm is not None:
        ax.axhline(record.clip_grad_norm, color="grey", ls=":", lw=1.2)
        ax.annotate(f"clip_grad_norm {record.clip_grad_norm:g}", xy=(1.0, record.clip_grad_norm),
                    xycoords=("axes fraction", "data"), xytext=(-2, 2), textcoords="offset points",
                    ha="right", va="bottom", fontsize=8, color="grey")
    ax.set_yscale("log")
    all_zero_axis(ax, norms)
    if note:
        ax.legend(handles=[zero_handle(f"global ‖∇w‖₂ exactly 0 (no point on a log axis): {note}")],
                  fontsize=7, loc="best", framealpha=0.85)
    when = "as the optimizer got them" if record.grads_after_clipping else "before clipping"
    ax.set_ylabel(f"global ‖∇w‖₂\n(all parameters, {when})")
    mine = concerning(findings, CONCERNS)
    if n:
        lx = axes[1]
        marked = emphasised(mine, series.names)
        if many:
            raw = np.asarray(series.values, dtype=float)
            finite = np.log10(positive(raw))
            finite = finite[np.isfinite(finite)]
            lo, hi = (np.percentile(finite, 1), np.percentile(finite, 99)) if finite.size else (-8.0, 0.0)
            layer_heatmap(fig, lx, series, record, np.log10(positive(raw)).T, marked, cmap="magma", vmin=lo,
                          vmax=hi, zeros=(raw == 0).T,
                          label="log10 ‖∇w‖₂ per layer (blue: exactly 0, grey: no gradient)")
        else:
            layer_lines(fig, lx, series, record, marked=marked)
            lx.set_ylabel("‖∇w‖₂ per layer")
    step_axis(axes[-1], record)
    rows = mark_findings(axes, mine)
    ax.set_title(f"{title}: gradient norms ({n or 'no'} layers with parameters)", fontsize=11, loc="left",
                 pad=title_pad(rows))
    note_findings(fig, mine)
    return fig
