"""Learning-rate arithmetic shared by the LR and loss rules: update ratios, suggested LRs, clip values.

The update ratio ‖Δw‖/‖w‖ of a layer is proportional to the LR that produced it (exactly for
SGD and for Adam-like optimizers away from their epsilon), so a ratio measured under a warmup or
a schedule is rescaled to the configured `optimizer.lr` before it is compared with the ~1e-3 rule
of thumb (CS231n, "Neural Networks Part 3"), and an LR suggestion is `lr * target / ratio`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trainlint.analysis.loss import divergence, jump_index
from trainlint.analysis.series import round_sig
from trainlint.probe.record import RunRecord

TARGET_UPDATE_RATIO = 1e-3  # CS231n: updates around 1e-3 of the weights' scale


def _rescaled(run: RunRecord, before_step: int | None, skip_first: bool = False) -> np.ndarray | None:
    """Sampled update ratios (rows: samples, columns: layers) rescaled to the configured LR.

    Samples at or after `before_step` and samples taken while the applied LR was zero are left
    out; non-finite ratios and zeros (a layer that did not move) become NaN. With `skip_first`,
    the step-0 sample is dropped unless it is the only one.
    """
    ur, lrs = run.update_ratio, run.lr_series
    if not ur.names or run.lr <= 0:
        return None
    kept, rows, scales = [], [], []
    for step, row in zip(ur.steps, ur.values, strict=True):
        applied = lrs[step] if step < len(lrs) else math.nan
        if (before_step is None or step < before_step) and math.isfinite(applied) and applied > 0:
            kept.append(step)
            rows.append(row)
            scales.append(run.lr / applied)
    if not rows:
        return None
    if skip_first and len(rows) > 1 and kept[0] == 0:
        rows, scales = rows[1:], scales[1:]
    ratios = np.asarray(rows, dtype=float) * np.asarray(scales)[:, None]
    return np.where(np.isfinite(ratios) & (ratios > 0), ratios, np.nan)


def layer_update_ratios(run: RunRecord, before_step: int | None = None) -> dict[str, float]:
    """Per layer, the median update ratio rescaled to the configured LR, over the samples
    before `before_step`; layers that never moved (frozen or unused: another rule's business)
    are left out.

    Why the first step is skipped (unless it is all there is): an adaptive optimizer's first
    update is a sign step (Adam) or larger still (RMSprop), several times its later updates.
    """
    ratios = _rescaled(run, before_step, skip_first=True)
    if ratios is None:
        return {}
    out = {}
    for j, name in enumerate(run.update_ratio.names):
        col = ratios[:, j][np.isfinite(ratios[:, j])]
        if len(col):
            out[name] = float(np.median(col))
    return out


def peak_update_ratio(run: RunRecord) -> float:
    """The largest rescaled update ratio of any layer at any sampled step (the first included).

    Why the largest: an LR is too low only if every layer moved little at every step. After a
    blow-up the weights are huge and later ratios tiny; with vanishing gradients the first
    layers' ratios are tiny while the last layer's are normal: neither is a low LR.
    """
    ratios = _rescaled(run, None)
    if ratios is None or not np.isfinite(ratios).any():
        return math.nan
    return float(np.nanmax(ratios))


def median_update_ratio(per_layer: dict[str, float]) -> float:
    """Median over layers of the per-layer medians; NaN when there are none."""
    return float(np.median(list(per_layer.values()))) if per_layer else math.nan


def lr_for_ratio(lr: float, ratio: float, target: float = TARGET_UPDATE_RATIO) -> float:
    """The LR that would bring a measured update ratio to `target`, to one significant digit."""
    return round_sig(lr * target / ratio)


def first_collapse(lr_series: Sequence[float], floor: float) -> int | None:
    """Index of the first step whose LR is below `floor` × the highest LR applied before it."""
    peak = 0.0
    for i, lr in enumerate(lr_series):
        peak = max(peak, lr)
        if peak > 0 and lr < floor * peak:
            return i
    return None


def stays_below(lr_series: Sequence[float], start: int, level: float, min_len: int) -> bool:
    """Whether the LR stays below `level` from `start` for `min_len` steps or to the end of the series."""
    tail = lr_series[start:start + min_len]
    return all(lr < level for lr in tail)


def drop_steps(lr_series: Sequence[float], factor: float = 0.999) -> list[int]:
    """Indices where the LR falls by a discrete step (below `factor` × the previous LR)."""
    return [i for i in range(1, len(lr_series)) if lr_series[i] < factor * lr_series[i - 1]]


def stretched_schedule_args(scheduler_class: str | None, lr_series: Sequence[float],
                            stretch: float) -> dict[str, object]:
    """Scheduler arguments, estimated from the LR the probe applied, made `stretch` times slower.

    Covers the schedules whose pace one argument sets (StepLR, MultiStepLR, ExponentialLR);
    empty for the others.
    """
    drops = drop_steps(lr_series)
    if scheduler_class == "StepLR" and drops:
        return {"step_size": int(math.ceil(drops[0] * stretch))}
    if scheduler_class == "MultiStepLR" and drops:
        return {"milestones": [int(math.ceil(m * stretch)) for m in drops]}
    if scheduler_class == "ExponentialLR" and len(lr_series) > 2:
        factors = [b / a for a, b in zip(lr_series, lr_series[1:], strict=False) if a > 0 and b < a]
        if factors:
            gamma = float(np.median(factors)) ** (1.0 / stretch)
            return {"gamma": float(f"{gamma:.4g}")}
    return {}


def typical_update_ratio(run: RunRecord, before_step: int | None = None) -> float:
    """Median over layers of `layer_update_ratios`; NaN when nothing usable was recorded."""
    return median_update_ratio(layer_update_ratios(run, before_step))


# A loss that climbed back to this multiple of its best level, undoing this share of its progress,
# diverged (TL204's and TL301's defaults): update ratios after its best level no longer describe the LR.
DIVERGED_RATIO = 1.5
DIVERGED_PROGRESS_LOST = 0.25


def stable_end(run: RunRecord) -> int | None:
    """The step where the stable part of the run ends; None when the whole run is stable.

    The loss's first blow-up (`blow_up_cut`); else, when the loss diverged (climbed back to
    `DIVERGED_RATIO` x its best window and undid `DIVERGED_PROGRESS_LOST` of its progress), the
    step after its best window.
    """
    cut = blow_up_cut(run.train_loss)
    if cut is not None:
        return cut
    d = divergence(run.train_loss)
    if d is not None and d.ratio >= DIVERGED_RATIO and d.progress_lost >= DIVERGED_PROGRESS_LOST:
        return (run.steps[d.best_index] if d.best_index < len(run.steps) else d.best_index) + 1
    return None


@dataclass(frozen=True)
class UpdateRatio:
    """The run's update ratio: the one number every finding quotes as "update ratio".

    Attributes:
        median: median over layers of `by_layer`; NaN when nothing usable was recorded.
        by_layer: per layer, the median update ratio ‖Δw‖/‖w‖ rescaled to `optimizer.lr`
            (see `layer_update_ratios`), over the samples before `before_step`.
        before_step: where the stable part of the run ends (`stable_end`); None: the whole run.
    """

    median: float
    by_layer: dict[str, float]
    before_step: int | None


def stable_update_ratio(run: RunRecord) -> UpdateRatio:
    """The update ratio of the run: median over layers, rescaled to the configured LR, over the
    stable part of the run (before the loss blew up or diverged).

    Why one function: TL203, TL301, TL302, TL502 and the loss rules all quote it; computed with
    different windows, one report showed 1.1e-04 and 1.1e-05 for the same run.
    """
    cut = stable_end(run)
    per_layer = layer_update_ratios(run, cut)
    return UpdateRatio(median_update_ratio(per_layer), per_layer, cut)


def blow_up_cut(train_loss: Sequence[float], fallback: int | None = None) -> int | None:
    """The step before which update ratios still describe the LR: the loss's first blow-up
    (see `jump_index`), never before step 1 so the first sample always counts; else `fallback`.

    Why: once the loss blows up the weights grow huge, and later ratios shrink with them.
    """
    jump = jump_index(train_loss)
    return max(1, jump) if jump is not None else fallback


@dataclass(frozen=True)
class LowerLr:
    """A lower LR to suggest, and where the number comes from (said in the fix text)."""

    value: float
    source: str  # range_test | update_ratio | fallback

    def because(self, run: RunRecord, ratio: float = math.nan, target: float = TARGET_UPDATE_RATIO) -> str:
        """The fix's reason in words, e.g. "range test on this model and data" with the alternative."""
        if self.source == "range_test":
            text = "the LR range test on this model and data"
            other = lr_for_ratio(run.lr, ratio, target) if math.isfinite(ratio) and ratio > 0 else math.nan
            if math.isfinite(other) and not 1 / 3 <= other / self.value <= 3:
                text += f"; the update ratio {ratio:.1e} alone would say {other:g}"
            return text
        if self.source == "update_ratio":
            return f"brings the update ratio {ratio:.1e} to ~{target:g}"
        return ""


def lower_lr(run: RunRecord, ratio: float = math.nan, target: float = TARGET_UPDATE_RATIO,
             fallback: float | None = None, below: float | None = None) -> LowerLr:
    """The LR to suggest when the current one is too high: one answer for every rule.

    Best founded first: the range test run on this model and data after the probe (a measured
    loss-vs-LR curve), when it found a lower LR; else the LR that brings the measured update
    ratio to `target` (a rule of thumb, ~10x too cautious for SGD on small MLPs), when it is a
    real cut (below `below`, default the LR / 1.5); else `fallback` (the rule's own, e.g. the
    factor the loss grew by), else a tenth of the LR.
    """
    r = run.lr_range
    if r is not None and r.suggested_lr is not None and 0 < r.suggested_lr < 0.9 * run.lr:
        return LowerLr(r.suggested_lr, "range_test")
    if math.isfinite(ratio) and ratio > 0:
        by_ratio = lr_for_ratio(run.lr, ratio, target)
        if by_ratio < min(run.lr / 1.5, below if below is not None else math.inf):
            return LowerLr(by_ratio, "update_ratio")
    return LowerLr(round_sig(fallback if fallback is not None else run.lr / 10), "fallback")

