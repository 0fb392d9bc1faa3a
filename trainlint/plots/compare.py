"""compare_losses.png / compare_optimizers.png: validation metric and train loss vs step, all variants."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

MARKERS = "osD^v<>px*"


def plot_comparison(comparison, path: Path) -> Path:
    """Overlay every variant: its validation metric (left) and smoothed train loss (right).

    Args:
        comparison: a `trainlint.compare.runner.Comparison`.
        path: the PNG to write.

    For compare-losses the train losses are of different kinds and scales, so each is drawn
    relative to its own first value; the ranking never uses them.
    """
    import numpy as np
    from matplotlib.figure import Figure  # no pyplot: Agg rendering without global backend state

    from trainlint.analysis.series import ema

    ranks = {row.label: row.rank for row in comparison.rows}
    relative = comparison.kind == "losses"
    fig = Figure(figsize=(12, 5), dpi=110, layout="constrained")
    left, right = fig.subplots(1, 2)
    for i, result in enumerate(comparison.results):
        color, marker = f"C{i % 10}", MARKERS[i % len(MARKERS)]
        rank = ranks.get(result.label)
        label = (f"#{rank} " if rank else "✗ ") + result.label + (" (current)" if result.is_current else "")
        if comparison.kind == "optimizers" and result.lr:
            label += f", lr {result.lr:.0e}"
        label += "" if result.status == "completed" else f" ({result.status})"
        style = ("-", "--", "-.")[i % 3] if rank else ":"  # identical curves stay visible
        if result.eval_steps:
            left.plot([s + 1 for s in result.eval_steps], result.val_metric, style, marker=marker, ms=4,
                      color=color, label=label)
        loss = np.asarray(result.train_loss, dtype=float)
        bad = ~np.isfinite(loss)
        n = int(np.argmax(bad)) if bad.any() else len(loss)  # up to the first non-finite loss
        if n:
            smooth = ema(loss[:n], 0.1)
            if relative and abs(smooth[0]) > 1e-12:
                smooth = smooth / abs(smooth[0])
            right.plot([s + 1 for s in result.steps[:n]], smooth, style, color=color, lw=1.5, label=label)
    better = "higher" if comparison.higher_is_better else "lower"
    left.set_title(f"validation {comparison.metric_name} ({better} is better)", fontsize=11)
    left.set_ylabel(comparison.metric_name)
    right.set_title("train loss / its first value (the losses differ in scale)" if relative
                    else "train loss (smoothed)", fontsize=11)
    right.set_ylabel("relative train loss" if relative else "train loss")
    if _wide_positive(right):
        right.set_yscale("log")
    for ax in (left, right):
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.25)
        ax.spines[["top", "right"]].set_visible(False)
    handles, labels = left.get_legend_handles_labels()
    order = sorted(range(len(labels)),
                   key=lambda k: int(labels[k][1:].split()[0]) if labels[k].startswith("#") else math.inf)
    if order:
        left.legend([handles[k] for k in order], [labels[k] for k in order], fontsize=8, loc="best")
    fig.suptitle("\n".join(textwrap.wrap(comparison.recommendation.reason, 150)), fontsize=9)
    from trainlint.plots.common import save

    save(fig, path)
    return path


def _wide_positive(ax) -> bool:
    """Whether the drawn values are all positive and span more than a factor of 20 (log scale helps)."""
    values = [v for line in ax.get_lines() for v in line.get_ydata() if math.isfinite(v)]
    return bool(values) and min(values) > 0 and max(values) / min(values) > 20
