"""Timing and memory maths shared by the TL6xx rules: data-wait share, memory trend."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WaitShare:
    """Median data wait and step time (seconds) over the judged steps, and the wait's share."""

    wait_s: float
    step_s: float
    share: float
    steps: int


def wait_share(data_wait_s: Sequence[float], step_time_s: Sequence[float], skip: int = 3) -> WaitShare | None:
    """Median data wait over median step time, after `skip` start-up steps; None when too few steps.

    Why medians: on a shared machine single steps stall for unrelated reasons (another process,
    an epoch boundary that re-shuffles, the first batch of a worker); medians ignore them.
    """
    wait = np.asarray(data_wait_s[skip:], float)
    step = np.asarray(step_time_s[skip: skip + len(wait)], float)
    ok = np.isfinite(wait) & np.isfinite(step)
    if ok.sum() < 2:
        return None
    w, s = float(np.median(wait[ok])), float(np.median(step[ok]))
    return WaitShare(w, s, w / s if s > 0 else math.nan, int(ok.sum()))


@dataclass(frozen=True)
class MemoryTrend:
    """A least-squares line through memory samples: slope (MB per step), growth (MB) and fit (R²)."""

    slope_mb_per_step: float
    growth_mb: float
    r2: float
    first_step: int
    last_step: int
    samples: int


def memory_trend(steps: Sequence[int], values: Sequence[float], skip_fraction: float = 0.2,
                 min_skip: int = 2) -> MemoryTrend | None:
    """The trend of the finite samples after the start-up ones; None with fewer than 3 left.

    Why skip the start: the first steps allocate once (optimizer state, autograd buffers, the
    first evaluation's batches); only what keeps growing afterwards is a leak.
    """
    pairs = [(int(s), float(v)) for s, v in zip(steps, values, strict=False) if math.isfinite(v)]
    pairs = pairs[max(min_skip, int(len(pairs) * skip_fraction)):]
    if len(pairs) < 3 or pairs[-1][0] == pairs[0][0]:
        return None
    x, y = np.array([p[0] for p in pairs], float), np.array([p[1] for p in pairs], float)
    slope, intercept = np.polyfit(x, y, 1)
    residual = float(np.sum((y - (slope * x + intercept)) ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - residual / total if total > 0 else 0.0
    return MemoryTrend(float(slope), float(slope * (x[-1] - x[0])), r2, int(x[0]), int(x[-1]), len(pairs))
