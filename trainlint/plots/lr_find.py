"""lr_find.png: the range-test curve (raw and smoothed), the suggested LR's valley, the current LR."""

from __future__ import annotations

import textwrap
from pathlib import Path


def plot_lr_find(lrs: list[float], losses: list[float], smoothed: list[float], suggested_lr: float | None,
                 valley: tuple[float, float] | None, current_lr: float, title: str, reason: str,
                 path: Path) -> Path:
    """Draw the curve; mark the suggestion (or say why there is none) and the current LR."""
    from matplotlib.figure import Figure  # no pyplot: Agg rendering without global backend state

    fig = Figure(figsize=(7.5, 4.5), dpi=110, layout="constrained")
    ax = fig.subplots()
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, which="major", alpha=0.25)
    ax.plot(lrs, losses, color="0.7", lw=1, marker="o" if len(losses) < 10 else None, ms=3,
            label="loss per batch")
    if smoothed:
        ax.plot(lrs[: len(smoothed)], smoothed, color="C0", lw=2, label="smoothed")
    ax.set_xscale("log")
    if valley is not None:
        ax.axvspan(*valley, color="C2", alpha=0.12, label="descent (90→10 % of the drop)")
    if suggested_lr is not None:
        ax.axvline(suggested_lr, color="C2", lw=2, label=f"suggested {suggested_lr:.0e}")
    ax.axvline(current_lr, color="C3", ls="--", lw=1.5, label=f"current optimizer.lr {current_lr:.0e}")
    if losses and suggested_lr is not None:  # the diverging tail may leave the frame: the descent matters
        curve = smoothed or losses
        head = sorted(curve[: max(1, len(curve) // 10)])
        start, bottom = head[len(head) // 2], min(curve)
        top = max(start + 0.6 * abs(start - bottom), start * 1.05 if start > 0 else start + 1)
        ax.set_ylim(bottom - 0.08 * (top - bottom), top)
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    ax.set_title(title, fontsize=11)
    if suggested_lr is None:
        ax.text(0.98, 0.97, "no suggestion: " + "\n".join(textwrap.wrap(reason, 70)), transform=ax.transAxes,
                fontsize=8, va="top", ha="right", multialignment="left", bbox={"facecolor": "white", "alpha": 0.9, "edgecolor": "0.8"})
    ax.legend(fontsize=8, loc="upper left")
    from trainlint.plots.common import save

    save(fig, path)
    return path
