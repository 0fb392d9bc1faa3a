"""Learning-rate arithmetic shared by the LR and loss rules: update ratios, suggested LRs, clip values.

The update ratio ‖Δw‖/‖w‖ of a layer is proportional to the LR that produced it (exactly for
SGD and for Adam-like optimizers away from their epsilon), so a ratio measured under a warmup or
a schedule is rescaled to the configured `optimizer.lr` before it is compared with the ~1e-3 rule
of thumb (CS231n, "Neural Networks Part 3"), and an LR suggestion is `lr * target / ratio`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from trainlint.analysis.loss import jump_index
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


def blow_up_cut(train_loss: Sequence[float], fallback: int | None = None) -> int | None:
    """The step before which update ratios still describe the LR: the loss's first blow-up
    (see `jump_index`), never before step 1 so the first sample always counts; else `fallback`.

    Why: once the loss blows up the weights grow huge, and later ratios shrink with them.
    """
    jump = jump_index(train_loss)
    return max(1, jump) if jump is not None else fallback
