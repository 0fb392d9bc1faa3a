"""Measurements of the training-loss curve shared by the loss and learning-rate rules.

Every function takes plain per-step lists (a RunRecord's `train_loss`, `evals`) and returns
numbers or small dataclasses; NaN or None means "cannot judge". Levels are medians of windows
of minibatch losses: a median ignores the odd hard batch that moves a mean, so one spike
cannot make a healthy curve look diverging.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trainlint.probe.record import EvalSeries


def first_non_finite(values: Sequence[float]) -> int | None:
    """Index of the first NaN/Inf value, or None."""
    return next((i for i, v in enumerate(values) if not math.isfinite(v)), None)


def finite_prefix(values: Sequence[float]) -> np.ndarray:
    """The values before the first non-finite one (the curve the run had while it was alive)."""
    stop = first_non_finite(values)
    return np.asarray(values[:stop] if stop is not None else values, dtype=float)


def window_len(n: int, fraction: float, min_len: int) -> int:
    """A window of `fraction` of `n` points, at least `min_len`."""
    return max(min_len, int(round(n * fraction)))


def rolling_medians(values: np.ndarray, width: int) -> np.ndarray:
    """Median of each full window of `width` consecutive values."""
    if len(values) < width:
        return np.array([])
    windows = np.lib.stride_tricks.sliding_window_view(values, width)
    return np.median(windows, axis=1)


@dataclass
class Progress:
    """How far the loss came down: typical loss at the start and at the end of the run."""

    initial: float  # median of the first `head` losses
    final: float  # median of the last window
    best: float  # lowest window median anywhere in the run
    relative_drop: float  # (initial - final) / |initial|


def progress(values: Sequence[float], head: int = 5, tail_fraction: float = 0.1,
             min_tail: int = 5) -> Progress | None:
    """Start, end and best levels of the finite part of a loss curve; None when too short."""
    loss = finite_prefix(values)
    w = window_len(len(loss), tail_fraction, min_tail)
    if len(loss) < head + w:
        return None
    initial = float(np.median(loss[:head]))
    final = float(np.median(loss[-w:]))
    best = float(rolling_medians(loss, w).min())
    drop = (initial - final) / abs(initial) if abs(initial) > 1e-12 else math.nan
    return Progress(initial, final, best, drop)


@dataclass
class Oscillation:
    """Size of the step-to-step swings of the loss in the second half of the run."""

    relative_swing: float  # median |loss[i+1] - loss[i]| / median loss
    level: float  # median loss over the second half
    low: float  # 10th percentile of the second half
    high: float  # 90th percentile of the second half


def oscillation(values: Sequence[float], min_points: int = 20) -> Oscillation | None:
    """Swings of the second half of the finite loss curve; None when too short or not positive."""
    loss = finite_prefix(values)
    half = loss[len(loss) // 2:]
    if len(half) < min_points:
        return None
    level = float(np.median(half))
    if level <= 1e-12:
        return None
    swing = float(np.median(np.abs(np.diff(half)))) / level
    low, high = (float(v) for v in np.percentile(half, [10, 90]))
    return Oscillation(swing, level, low, high)


def metric_gain(evals: EvalSeries) -> float | None:
    """How far the last validation metric went from chance towards perfect (0 = chance, 1 = perfect).

    Accuracy: (acc - chance) / (1 - chance). MAE: (chance - mae) / chance. None when unknown.
    """
    if not evals.val_metric or evals.chance_metric is None:
        return None
    last, chance = evals.val_metric[-1], evals.chance_metric
    if not (math.isfinite(last) and math.isfinite(chance)):
        return None
    if evals.higher_is_better:
        return (last - chance) / (1.0 - chance) if chance < 1.0 else None
    return (chance - last) / chance if chance > 0 else None


@dataclass
class Divergence:
    """How far the end of the loss curve sits above its best part."""

    best: float  # lowest window median
    best_index: int  # index of the last point of that window
    final: float  # median of the last window
    ratio: float  # final / best
    initial: float  # median of the first window


def divergence(values: Sequence[float], window_fraction: float = 0.1, min_window: int = 5) -> Divergence | None:
    """Best and final window medians of the finite loss curve; None when too short or not positive."""
    loss = finite_prefix(values)
    w = window_len(len(loss), window_fraction, min_window)
    med = rolling_medians(loss, w)
    if len(med) < 2:
        return None
    i = int(np.argmin(med))
    best, final = float(med[i]), float(med[-1])
    if best <= 1e-12:
        return None
    return Divergence(best, i + w - 1, final, final / best, float(med[0]))
