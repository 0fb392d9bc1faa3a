"""TL205 loss-oscillating: the loss swings widely, often back above where it started, without progress."""

from __future__ import annotations

import math
from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.attribution import before_lowering_lr
from trainlint.analysis.loss import metric_bounce, oscillation, progress
from trainlint.analysis.lr import lower_lr, stable_update_ratio
from trainlint.analysis.wording import num
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class LossOscillatingThresholds(Thresholds):
    min_spread: float = Field(
        0.3, gt=0,
        description="(90th - 10th percentile) / median of the second-half loss that counts as a large "
                    "swing (an SGD run bouncing at batch size 4 measured 0.59; a stuck run 0.01-0.06).")
    min_above_start: float = Field(
        0.1, gt=0, le=1,
        description="Share of second-half steps whose loss exceeds the initial loss: overshoots back "
                    "above the start (0.00 on every healthy probe, 0.34 on the bouncing SGD run).")
    max_above_start: float = Field(
        0.9, gt=0, le=1,
        description="A loss above its start on more than this share of second-half steps has left it for "
                    "good rather than swinging around it: a divergence (TL204).")
    min_metric_bounce: float = Field(
        0.1, ge=0,
        description="When evaluations exist, the validation metric must also go up and come back down by "
                    "this much of the chance-to-perfect scale ((max - min) - |last - first|): otherwise the "
                    "swings are minibatch noise around a steady model (bouncing SGD: 0.29; a linear model "
                    "stuck on a nonlinear target: 0.00; healthy probes: at most 0.08).")
    max_relative_drop: float = Field(
        0.5, gt=0, lt=1,
        description="The run made no progress while the typical loss fell less than this fraction "
                    "(healthy probes fell 0.56-0.99).")


@rule(code="TL205", name="loss-oscillating", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("train_loss",), thresholds=LossOscillatingThresholds)
def loss_oscillating(run: RunRecord, t: LossOscillatingThresholds) -> Iterator[Finding]:
    """The loss swings widely, often back above where it started, without making progress.

    ## What it checks
    The second half of the run: the spread of the minibatch loss ((p90 - p10) / median), the
    share of steps whose loss is above the initial loss, and the drop of the typical loss since
    the start. All three must point the same way: wide swings, overshoots above the start (but
    not all the time: that is a divergence), and less than `max_relative_drop` progress. When
    evaluations exist, the validation metric must bounce too (rise and fall back), which tells
    a model that jumps around from minibatch noise around a steady one.
    ## Why it matters
    The optimizer jumps across the minimum instead of descending into it: each step undoes the
    last. Usually the LR is too high for the batch size (small batches make it worse).
    ## How to fix
    Lower `optimizer.lr` (to the value that brings the update ratio ‖Δw‖/‖w‖ to ~1e-3, see
    TL301), increase `dataset.batch_size`, or add momentum damping / a decaying schedule. First,
    when measured: standardise raw-scale regression targets, or lower a weight decay that
    dominates the update (`analysis.attribution.before_lowering_lr`).
    ## Not flagged
    Minibatch noise around a loss that did fall (healthy runs always end well below their start),
    or around a stuck model whose validation metric moves one way only (TL203);
    a flat loss with little noise (TL203); a loss climbing for good (TL204); a loss that became
    non-finite (TL202).
    """
    if run.stop_reason == "non_finite_loss":
        return  # TL202 reports it
    o, p = oscillation(run.train_loss), progress(run.train_loss)
    if o is None or p is None or not math.isfinite(p.relative_drop):
        return  # too little data to judge
    if o.relative_spread < t.min_spread or p.relative_drop >= t.max_relative_drop:
        return
    if not t.min_above_start <= o.above_start <= t.max_above_start:
        return
    bounce = metric_bounce(run.evals)
    if bounce is not None and bounce < t.min_metric_bounce:
        return  # the model itself is steady on a fixed set: minibatch noise, not overshooting
    ratio = stable_update_ratio(run).median
    lower = lower_lr(run, ratio, fallback=run.lr * o.level / (o.high - o.low + o.level))  # else by the swing
    why = lower.because(run, ratio)
    fixes = [Fix(f"lower optimizer.lr from {run.lr:g} to {lower.value:g}" + (f" ({why})" if why else ""),
                 "optimizer.lr", lower.value)]
    if run.batch_size and run.batch_size < 32:
        bigger = min(4 * run.batch_size, 64)
        fixes.append(Fix(f"increase dataset.batch_size from {run.batch_size} to {bigger} (less gradient noise)",
                         "dataset.batch_size", bigger))
    fixes = [*(Fix(r.text, r.config_key, r.value) for r in before_lowering_lr(run)), *fixes]
    half = run.steps[len(run.steps) // 2] if run.steps else None
    yield Finding(
        message=f"train loss swings between {o.low:.3g} and {o.high:.3g} (p10-p90, median {o.level:.3g}) "
                f"after step {half}, above its initial {o.initial:.3g} on {o.above_start:.0%} of steps, "
                + (f"and fell only {num(p.relative_drop, '.0%')} overall" if p.relative_drop >= 0
                   else f"and rose {num(-p.relative_drop, '.0%')} overall"),
        evidence={"relative_spread": o.relative_spread, "min_spread": t.min_spread,
                  "above_start": o.above_start, "min_above_start": t.min_above_start,
                  "max_above_start": t.max_above_start, "metric_bounce": bounce, "min_metric_bounce": t.min_metric_bounce,
                  "relative_drop": p.relative_drop, "max_relative_drop": t.max_relative_drop,
                  "update_ratio_median": ratio},
        step=half, config_key=fixes[0].config_key or "optimizer.lr", fixes=fixes)
