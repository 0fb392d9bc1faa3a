"""TL204 loss-diverging: the training loss climbed back well above its best level and stayed there."""

from __future__ import annotations

import math
from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.attribution import before_lowering_lr
from trainlint.analysis.gradients import clip_suggestion
from trainlint.analysis.loss import divergence
from trainlint.analysis.lr import lower_lr, stable_update_ratio
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class LossDivergingThresholds(Thresholds):
    min_ratio: float = Field(
        1.5, gt=1.0,
        description="Final over best window median of the loss that counts as diverging (Lightning's "
                    "lr_find stops at 4x its best smoothed loss; healthy probes ended within 1.26x, "
                    "SGD+momentum at 10x its LR at 1.97x).")
    min_progress_lost: float = Field(
        0.25, gt=0,
        description="...and the climb undid at least this share of the progress from the start to the "
                    "best level (healthy probes: under 0.03; guards losses near zero, where a small "
                    "absolute wobble is a large ratio).")
    window_fraction: float = Field(
        0.1, gt=0, le=0.5, description="Window of the medians, as a fraction of the steps run.")
    min_window: int = Field(5, ge=3, description="Shortest window, in steps.")
    min_steps: int = Field(20, ge=5, description="Fewest finite loss values needed to judge.")


def _warmup_fix(run: RunRecord, best_step: int) -> Fix:
    """A linear warmup over twice the steps before the climb (10 to a quarter of the run): the LR
    then reaches its full value only after the point where it overshot."""
    warmup = int(min(max(10, 2 * (best_step + 1)), max(10, run.steps_planned // 4)))
    text = f"add a linear warmup of {warmup} steps so early updates stay small"
    if run.warmup_steps >= warmup:
        return Fix(f"{text} (the current {run.warmup_steps}-step warmup is not enough: lower the LR instead)")
    if run.scheduler_class is None and run.warmup_steps == 0:  # no schedule: a warmup-only one
        return Fix(text, edits={"scheduler.name": "none", "scheduler.warmup_steps": warmup})
    return Fix(text, config_key="scheduler.warmup_steps", value=warmup)


@rule(code="TL204", name="loss-diverging", severity=Severity.ERROR, stage=Stage.RUN,
      requires=("train_loss",), thresholds=LossDivergingThresholds)
def loss_diverging(run: RunRecord, t: LossDivergingThresholds) -> Iterator[Finding]:
    """The training loss grew back well above its best level and stayed there.

    ## What it checks
    The median minibatch loss over sliding windows (`window_fraction` of the run): the last
    window's median against the lowest one. At `min_ratio` or more, and when the climb undid at
    least `min_progress_lost` of the way down from the start, the loss is diverging.
    ## Why it matters
    A loss that climbs after falling means updates overshoot: the LR is too high for this model
    (or grows too high under a schedule), or gradients blow up. Longer training makes it worse.
    ## How to fix
    Lower `optimizer.lr` (to the value that brings the update ratio ‖Δw‖/‖w‖ to ~1e-3, see TL301),
    clip gradients (`probe.clip_grad_norm`, a value from the norms before the climb), or add warmup.
    First, when measured: standardise raw-scale regression targets, or lower a weight decay that
    dominates the update (`analysis.attribution.before_lowering_lr`).
    ## Not flagged
    Spikes that recover (a median ignores them); noise on a flat loss; a loss that became
    non-finite (TL202 reports it).
    """
    if run.stop_reason == "non_finite_loss" or len(run.finite_train_loss) < t.min_steps:
        return  # TL202 reports a blow-up; too little data otherwise
    d = divergence(run.train_loss, t.window_fraction, t.min_window)
    if d is None or d.ratio < t.min_ratio:
        return
    lost = d.progress_lost
    if lost < t.min_progress_lost:
        return
    best_step = run.steps[d.best_index] if d.best_index < len(run.steps) else d.best_index
    ratio = stable_update_ratio(run).median
    lower = lower_lr(run, ratio, fallback=run.lr / d.ratio, below=run.lr / d.ratio)  # at least by the growth
    new_lr, why = lower.value, lower.because(run, ratio)
    fixes = [Fix(f"lower optimizer.lr from {run.lr:g} to {new_lr:g}" + (f" ({why})" if why else ""),
                 "optimizer.lr", new_lr)]
    clip = clip_suggestion(run.grad_norm, d.best_index + 1)
    if clip is not None and run.clip_grad_norm is None:
        fixes.append(Fix(f"clip gradients at {clip:g} (90th percentile of the grad norm before the climb)",
                         "probe.clip_grad_norm", clip))
    fixes.append(_warmup_fix(run, best_step))
    fixes = [*(Fix(r.text, r.config_key, r.value) for r in before_lowering_lr(run)), *fixes]
    yield Finding(
        message=f"train loss climbed to {d.final:.4g}, {d.ratio:.1f}x its best level {d.best:.4g} "
                f"(reached at step {best_step}), and stayed there",
        evidence={"best_loss": d.best, "best_step": best_step, "final_loss": d.final, "ratio": d.ratio,
                  "min_ratio": t.min_ratio, "initial_loss": d.initial,
                  "progress_lost": lost if math.isfinite(lost) else None, "min_progress_lost": t.min_progress_lost, "update_ratio_median": ratio},
        step=best_step, config_key=fixes[0].config_key or "optimizer.lr", fixes=fixes)
