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


def coefficient_of_variation(values: Sequence[float]) -> float:
    arr = finite(values)
    if len(arr) < 2 or abs(arr.mean()) < 1e-12:
        return math.nan
    return float(arr.std() / abs(arr.mean()))


def round_sig(x: float, digits: int = 1) -> float:
    """`x` rounded to `digits` significant digits (3.7e-4 → 4e-4); 0 and non-finite unchanged."""
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits - 1}e}")
