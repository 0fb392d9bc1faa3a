"""Smoothing, windows and trends of 1-D metric series (lists of floats, NaN-tolerant)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def finite(values: Sequence[float]) -> np.ndarray:
    """The finite values, as a float array."""
    arr = np.asarray(values, dtype=float)
    return arr[np.isfinite(arr)]


def ema(values: Sequence[float], alpha: float = 0.1) -> np.ndarray:
    """Bias-corrected exponential moving average (as in TensorBoard's smoothing)."""
    arr = np.asarray(values, dtype=float)
    out = np.empty_like(arr)
    acc, weight = 0.0, 0.0
    for i, v in enumerate(arr):
        acc = (1 - alpha) * acc + alpha * v
        weight = (1 - alpha) * weight + alpha
        out[i] = acc / weight
    return out


def window_means(values: Sequence[float], fraction: float = 0.1, min_len: int = 3) -> tuple[float, float]:
    """Mean of the first and last `fraction` of a series (at least `min_len` points each)."""
    arr = finite(values)
    k = max(min_len, int(len(arr) * fraction))
    if len(arr) < 2 * min_len:
        return math.nan, math.nan
    return float(arr[:k].mean()), float(arr[-k:].mean())


def relative_drop(values: Sequence[float], fraction: float = 0.1) -> float:
    """(start - end) / |start| between the first and last windows; NaN when undecidable."""
    start, end = window_means(values, fraction)
    if not math.isfinite(start) or abs(start) < 1e-12:
        return math.nan
    return (start - end) / abs(start)


def slope(values: Sequence[float]) -> float:
    """Least-squares slope per index of the finite values."""
    arr = np.asarray(values, dtype=float)
    idx = np.arange(len(arr))[np.isfinite(arr)]
    arr = arr[np.isfinite(arr)]
    if len(arr) < 2:
        return math.nan
    return float(np.polyfit(idx, arr, 1)[0])


def coefficient_of_variation(values: Sequence[float]) -> float:
    arr = finite(values)
    if len(arr) < 2 or abs(arr.mean()) < 1e-12:
        return math.nan
    return float(arr.std() / abs(arr.mean()))


def first_index(values: Sequence[float], predicate) -> int | None:
    """Index of the first value satisfying `predicate`, or None."""
    return next((i for i, v in enumerate(values) if predicate(v)), None)
