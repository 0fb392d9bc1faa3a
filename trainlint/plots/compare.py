"""compare_losses.png / compare_optimizers.png: validation metric and train loss vs step, all variants.

Variants whose curves are numerically equal draw on top of each other; the legend says so
("sgd (same curves as adam)") so a curve that seems missing is explained.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

MARKERS = "osD^v<>px*"
Curve = tuple[np.ndarray, np.ndarray]  # x, y as drawn


def plot_comparison(comparison, path: Path) -> Path:
    """Draw `comparison` (see `draw_comparison`) into the PNG `path`."""
    from trainlint.plots.common import save

    save(draw_comparison(comparison), path)
    return path


def draw_comparison(comparison):
    """Overlay every variant: its validation metric (left) and smoothed train loss (right).

    Args:
        comparison: a `trainlint.compare.runner.Comparison`.

    For compare-losses the train losses are of different kinds and scales, so each is drawn
    relative to its own first value; the ranking never uses them.
    """
    from matplotlib.figure import Figure  # no pyplot: Agg rendering without global backend state

    ranks = {row.label: row.rank for row in comparison.rows}
    relative = comparison.kind == "losses"
    metrics = [_metric_curve(r) for r in comparison.results]
    losses = [_loss_curve(r, relative) for r in comparison.results]
    twins = same_as([r.label for r in comparison.results], metrics, losses, comparison.metric_name)
    fig = Figure(figsize=(12, 5), dpi=110, layout="constrained")
    left, right = fig.subplots(1, 2)
    for i, result in enumerate(comparison.results):
        color, marker = f"C{i % 10}", MARKERS[i % len(MARKERS)]
        rank = ranks.get(result.label)
        label = (f"#{rank} " if rank else "✗ ") + result.label + (" (current)" if result.is_current else "")
        if comparison.kind == "optimizers" and result.lr:
            label += f", lr {result.lr:.0e}"
        label += "" if result.status == "completed" else f" ({result.status})"
        label += f" ({twins[i]})" if i in twins else ""
        style = ("-", "--", "-.")[i % 3] if rank else ":"  # identical curves stay visible
        if len(metrics[i][0]):
            left.plot(*metrics[i], style, marker=marker, ms=4, color=color, label=label)
        if len(losses[i][0]):
            right.plot(*losses[i], style, color=color, lw=1.5, label=label)
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
    for handle, text in zip(*right.get_legend_handles_labels(), strict=True):  # variants with no evaluation
        if text not in labels:
            handles.append(handle)
            labels.append(text)
    order = sorted(range(len(labels)),
                   key=lambda k: int(labels[k][1:].split()[0]) if labels[k].startswith("#") else math.inf)
    if order:
        left.legend([handles[k] for k in order], [labels[k] for k in order], fontsize=8, loc="best")
    fig.suptitle("\n".join(textwrap.wrap(comparison.recommendation.reason, 150)), fontsize=9)
    return fig


def _metric_curve(result) -> Curve:
    return (np.asarray([s + 1 for s in result.eval_steps], dtype=float),
            np.asarray(result.val_metric[: len(result.eval_steps)], dtype=float))


def _loss_curve(result, relative: bool) -> Curve:
    """The smoothed train loss up to its first non-finite value (relative to its start for compare-losses)."""
    from trainlint.analysis.series import ema

    loss = np.asarray(result.train_loss, dtype=float)
    bad = ~np.isfinite(loss)
    n = int(np.argmax(bad)) if bad.any() else len(loss)
    if not n:
        return np.zeros(0), np.zeros(0)
    smooth = np.asarray(ema(loss[:n], 0.1), dtype=float)
    if relative and abs(smooth[0]) > 1e-12:
        smooth = smooth / abs(smooth[0])
    return np.asarray([s + 1 for s in result.steps[:n]], dtype=float), smooth


def _same(a: Curve, b: Curve) -> bool:
    """Whether two drawn curves coincide: same steps and numerically equal values (NaN where the other is)."""
    (ax, ay), (bx, by) = a, b
    return (len(ax) > 0 and bool(np.isfinite(ay).any()) and np.array_equal(ax, bx)
            and ay.shape == by.shape and bool(np.allclose(ay, by, rtol=1e-9, atol=0.0, equal_nan=True)))


def same_as(labels: Sequence[str], metrics: Sequence[Curve], losses: Sequence[Curve],
            metric_name: str) -> dict[int, str]:
    """Variant index → legend note for a variant whose curve(s) equal an earlier variant's.

    "same curves as adam" when both curves coincide, else "same <metric> curve as adam" or
    "same train loss as adam" for the one that does.
    """
    notes: dict[int, str] = {}
    for i in range(len(labels)):
        metric = next((j for j in range(i) if _same(metrics[i], metrics[j])), None)
        loss = next((j for j in range(i) if _same(losses[i], losses[j])), None)
        if metric is not None and metric == loss:
            notes[i] = f"same curves as {labels[metric]}"
        elif metric is not None and loss is not None:
            notes[i] = f"same {metric_name} curve as {labels[metric]}, same train loss as {labels[loss]}"
        elif metric is not None:
            notes[i] = f"same {metric_name} curve as {labels[metric]}"
        elif loss is not None:
            notes[i] = f"same train loss as {labels[loss]}"
    return notes


def _wide_positive(ax) -> bool:
    """Whether the drawn values are all positive and span more than a factor of 20 (log scale helps)."""
    values = [v for line in ax.get_lines() for v in line.get_ydata() if math.isfinite(v)]
    return bool(values) and min(values) > 0 and max(values) / min(values) > 20
