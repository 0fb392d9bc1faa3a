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


def start_level(loss: np.ndarray, head: int = 5) -> float:
    """The loss the run started from: the first loss, or the median of the first `head` if lower.

    Why the minimum: the median alone absorbs a blow-up in the first steps (2.3, 186, 113, ...
    has median 113) and would make a run that ends back at 2.3 look like it made progress.
    """
    return float(min(loss[0], np.median(loss[:head])))


def jump_index(values: Sequence[float], factor: float = 3.0, head: int = 5) -> int | None:
    """First step whose loss is non-finite or above `factor` × the start level: a blow-up."""
    loss = np.asarray(values, dtype=float)
    if len(loss) == 0 or not math.isfinite(loss[0]):
        return 0 if len(loss) else None
    level = start_level(finite_prefix(values), head)
    bad = np.nonzero(~np.isfinite(loss) | (loss > factor * level))[0] if level > 0 else []
    return int(bad[0]) if len(bad) else None


@dataclass
class Progress:
    """How far the loss came down: typical loss at the start and at the end of the run."""

    initial: float  # the first loss, or the median of the first `head` if lower (see `start_level`)
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
    initial = start_level(loss, head)
    final = float(np.median(loss[-w:]))
    best = float(rolling_medians(loss, w).min())
    drop = (initial - final) / abs(initial) if abs(initial) > 1e-12 else math.nan
    return Progress(initial, final, best, drop)


@dataclass
class Oscillation:
    """How widely the loss swings in the second half of the run, and how often above its start."""

    relative_spread: float  # (90th - 10th percentile) / median of the second half
    above_start: float  # share of second-half losses above the initial level
    level: float  # median of the second half
    low: float  # 10th percentile of the second half
    high: float  # 90th percentile of the second half
    initial: float  # see `start_level`


def oscillation(values: Sequence[float], head: int = 5, min_points: int = 20) -> Oscillation | None:
    """Swings of the second half of the finite loss curve; None when too short or not positive."""
    loss = finite_prefix(values)
    half = loss[len(loss) // 2:]
    if len(half) < min_points:
        return None
    level = float(np.median(half))
    if level <= 1e-12:
        return None
    initial = start_level(loss, head)
    low, high = (float(v) for v in np.percentile(half, [10, 90]))
    above = float(np.mean(half > initial))
    return Oscillation((high - low) / level, above, level, low, high, initial)


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
    initial: float  # start level (see `start_level`)

    @property
    def progress_lost(self) -> float:
        """Share of the way down from the start to the best level that the climb undid
        (inf when the loss never got below its start: any climb is a loss of ground)."""
        gained = self.initial - self.best
        return (self.final - self.best) / gained if gained > 0 else math.inf


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
    return Divergence(best, i + w - 1, final, final / best, start_level(loss))


def metric_bounce(evals: EvalSeries) -> float | None:
    """The non-monotone part of the validation metric, on the chance-to-perfect scale.

    (max - min) - |last - first| of the metric, divided by 1 - chance (accuracy) or by chance
    (MAE): 0 when the metric moved one way only (learning, or stuck), large when it went up and
    came back down. None when fewer than 3 evaluations or no chance level.
    """
    values = [v for v in evals.val_metric if math.isfinite(v)]
    chance = evals.chance_metric
    if len(values) < 3 or chance is None or not math.isfinite(chance):
        return None
    scale = (1.0 - chance) if evals.higher_is_better else chance
    if scale <= 0:
        return None
    return (max(values) - min(values) - abs(values[-1] - values[0])) / scale
