"""Suggest a learning rate from a range test's (lr, loss) curve, or say why none can be given.

The method (pure numpy, no torch; the range test in `probe/range_test.py` produces the curve):

1. **Keep the usable curve**: the points before the first non-finite loss.
2. **Smooth without lag**: a centred running median (kills single-batch spikes) followed by a
   centred running mean, both over ``window`` points (≈ 5 % of the sweep). A trailing EMA, as
   most LR finders use, lags and shifts every feature of the curve towards higher LRs.
3. **Measure** the start level ``L0`` (median of the first points), the smoothed minimum
   ``Lmin`` and the total descent ``D = L0 - Lmin``, and the batch noise ``σ`` (1.4826 × the
   median absolute deviation of the raw loss from the smoothed curve, up to the minimum).
4. **Refuse** when the curve does not allow a decision:
   - *diverging from the start*: the minimum lies in the first 10 % of the sweep (or the loss is
     non-finite at once) and the loss then rises;
   - *flat*: the descent is under 5 % of ``L0`` or not larger than the noise of the smoothed curve;
   - *too noisy*: ``σ`` exceeds half the descent (less the ~2 σ/√window by which noise alone
     deepens a smoothed minimum), so the descent's location is not resolved.
5. **Suggest**, combining the two published rules so that neither's failure mode decides alone:
   - the *descent midpoint* (a robust "steepest slope"): the geometric middle of the *valley*,
     the LR interval over which the smoothed loss falls from 90 % to 10 % of its total descent.
     Defined by levels, not by a numerical derivative, so one noisy dip cannot move it;
   - *minimum-loss LR / 10*;
   their geometric mean, clipped into the valley (below it the loss was not falling yet; above it
   the loss had stopped improving), rounded to one significant digit.

Why combine: the steepest slope of a noisy curve jumps between local dips and is often too
conservative on long descents; "min / 10" is too low when the minimum is a broad plateau and
meaningless when the sweep ends before the loss turns up. Each is off by up to a decade on some
curves; their geometric mean within the valley stays inside the range where the loss fell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from trainlint.analysis.series import round_sig

EARLY_FRACTION = 0.1  # a minimum this early in the sweep means "diverging from the start"
FLAT_DROP = 0.05  # a descent under 5 % of the start level is a flat curve
MAX_NOISE = 0.5  # batch noise above half the descent: too noisy to locate it
VALLEY_EDGE = 0.1  # the valley: from 10 % to 90 % of the descent done
MIN_POINTS = 10


@dataclass
class LrSuggestion:
    """The verdict on one range-test curve.

    Attributes:
        lr: the suggested learning rate (one significant digit), or None when undecidable.
        status: ``ok`` | ``flat`` | ``diverging`` | ``noisy`` | ``too_few_points``.
        reason: one sentence with the numbers: how the LR was chosen, or why none was.
        lr_descent_midpoint: geometric middle of the valley (the robust steepest-slope estimate).
        lr_min_loss: LR at the smoothed minimum.
        valley: (low, high) LRs between which the smoothed loss fell from 90 % to 10 % of its descent.
        smoothed: the smoothed losses (same length as the usable curve), for plotting.
        notes: caveats that do not prevent a suggestion.
    """

    lr: float | None
    status: str
    reason: str
    lr_descent_midpoint: float | None = None
    lr_min_loss: float | None = None
    valley: tuple[float, float] | None = None
    smoothed: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Centred running median then centred running mean over `window` points (shrinking at the ends)."""
    arr = np.asarray(values, dtype=float)
    half = max(0, window // 2)
    n = len(arr)
    med = np.array([np.median(arr[max(0, i - half): i + half + 1]) for i in range(n)])
    return np.array([med[max(0, i - half): i + half + 1].mean() for i in range(n)])


def default_window(n: int) -> int:
    """≈ 5 % of the sweep, odd, at least 3."""
    w = max(3, round(n / 20))
    return w if w % 2 else w + 1


def suggest_lr(lrs: Sequence[float], losses: Sequence[float], window: int | None = None) -> LrSuggestion:
    """Suggest an LR from a range test (LRs increasing), or return why the curve does not allow it."""
    lr_arr, loss_arr = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    if len(lr_arr) != len(loss_arr):
        raise ValueError(f"{len(lr_arr)} learning rates but {len(loss_arr)} losses")
    bad = ~(np.isfinite(loss_arr) & np.isfinite(lr_arr) & (lr_arr > 0))
    n = int(np.argmax(bad)) if bad.any() else len(loss_arr)
    lr_arr, loss_arr = lr_arr[:n], loss_arr[:n]
    if n == 0:
        return LrSuggestion(None, "diverging", "the loss was non-finite from the first step: even the "
                            "start LR diverges; lower --start-lr")
    if n < MIN_POINTS:
        if loss_arr[-1] > loss_arr[0] * (1 + FLAT_DROP) or bad.any():
            return LrSuggestion(None, "diverging", f"the loss rose from the start and the sweep stopped "
                                f"after {n} steps at lr {lr_arr[-1]:.1e}; lower --start-lr")
        return LrSuggestion(None, "too_few_points", f"only {n} usable points (need {MIN_POINTS}); "
                            "raise --num-steps")
    w = window or default_window(n)
    s = smooth(loss_arr, w)
    i_min = int(np.argmin(s))
    l0, l_min = float(np.median(loss_arr[:w])), float(s[i_min])
    drop = l0 - l_min
    scale = max(abs(l0), 1e-12)
    upto = max(i_min + 1, min(n, 2 * w))
    noise = 1.4826 * float(np.median(np.abs(loss_arr[:upto] - s[:upto])))
    base = LrSuggestion(None, "", "", lr_min_loss=float(lr_arr[i_min]), smoothed=s.tolist())

    rise = float(s[i_min:].max() - l0)
    if i_min < EARLY_FRACTION * n and rise > FLAT_DROP * scale:
        base.status, base.reason = "diverging", (
            f"the loss rises from the start (lowest at lr {lr_arr[i_min]:.1e}, within the first "
            f"{EARLY_FRACTION:.0%} of the sweep, then up {rise / scale:.0%}): the start LR is already "
            "too high; lower --start-lr")
        return base
    if i_min < EARLY_FRACTION * n and drop > FLAT_DROP * scale:
        base.status, base.reason = "flat", (
            f"the loss fell only within the first {EARLY_FRACTION:.0%} of the sweep (lowest at lr "
            f"{lr_arr[i_min]:.1e}) and did not improve after: the useful LRs start below --start-lr; "
            "lower it")
        return base
    if drop <= FLAT_DROP * scale or drop <= 3 * noise / math.sqrt(w) or i_min < EARLY_FRACTION * n:
        base.status, base.reason = "flat", (
            f"the loss is flat: its smoothed minimum is only {drop / scale:.1%} below the start "
            f"({l0:.4g}); the LR does not limit training here (check data, model and loss) or the "
            "range misses the useful LRs")
        return base
    # The minimum of a noisy smoothed curve sits ~2 σ/√w below its true level: discount that.
    resolved = drop - 2 * noise / math.sqrt(w)
    if noise > MAX_NOISE * resolved:
        base.status, base.reason = "noisy", (
            f"too noisy: batch-to-batch noise σ≈{noise:.3g} is {noise / resolved:.0%} of the "
            f"descent {resolved:.3g} it would have to locate; raise the batch size or --num-steps")
        return base

    lo_level, hi_level = l0 - VALLEY_EDGE * drop, l_min + VALLEY_EDGE * drop
    i_lo = int(np.argmax(s[: i_min + 1] <= lo_level))
    i_hi = i_lo + int(np.argmax(s[i_lo: i_min + 1] <= hi_level))
    lo, hi = float(lr_arr[i_lo]), float(lr_arr[i_hi])
    midpoint = math.sqrt(lo * hi)
    min_rule = float(lr_arr[i_min]) / 10
    raw = min(max(math.sqrt(midpoint * min_rule), lo), hi)
    base.lr, base.status = round_sig(raw), "ok"
    base.lr_descent_midpoint, base.valley = midpoint, (lo, hi)
    base.reason = (f"geometric mean of the descent midpoint {midpoint:.1e} (loss falls 90→10 % of its "
                   f"descent between {lo:.1e} and {hi:.1e}) and min-loss lr/10 = {min_rule:.1e}, "
                   "kept inside that valley")
    if i_min >= n - w:
        base.notes.append(f"the loss was still falling at the last LR ({lr_arr[-1]:.1e}): the sweep "
                          "may end too early; widen --end-lr to confirm")
    return base
