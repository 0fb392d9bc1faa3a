"""TL301 lr-too-high: the loss is unstable and the updates are far larger than ~1e-3 of the weights."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.loss import divergence, first_non_finite, oscillation, progress
from trainlint.analysis.lr import clip_value, layer_update_ratios, lr_for_ratio, median_update_ratio
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class LrTooHighThresholds(Thresholds):
    min_update_ratio: float = Field(
        3e-2, gt=0,
        description="Median over layers of the update ratio ‖Δw‖/‖w‖ (rescaled to optimizer.lr) above "
                    "which the LR is blamed: 30x the ~1e-3 rule of thumb (CS231n); healthy probes with "
                    "SGD, Adam, AdamW, RMSprop and Adagrad measured 2.6e-3 to 1.0e-2.")
    target_update_ratio: float = Field(
        1e-3, gt=0, description="Update ratio the suggested LR aims at (CS231n's ~1e-3).")
    diverging_ratio: float = Field(
        2.0, gt=1.0, description="Final/best window median of the loss that counts as unstable (as TL204).")
    oscillating_swing: float = Field(
        0.3, gt=0, description="Median step-to-step change / median loss that counts as unstable (as TL205).")
    stalled_drop: float = Field(
        0.5, gt=0, lt=1, description="Swings count only while the loss fell less than this fraction (as TL205).")


def _instability(run: RunRecord, t: LrTooHighThresholds) -> tuple[str, int | None] | None:
    """(what went wrong, step it became visible) or None when the loss is stable."""
    bad = first_non_finite(run.train_loss)
    if bad is not None:
        return f"the loss became non-finite at step {run.steps[bad]}", run.steps[bad]
    d = divergence(run.train_loss)
    if d is not None and d.ratio >= t.diverging_ratio:
        return f"the loss climbed to {d.ratio:.1f}x its best level", None
    o, p = oscillation(run.train_loss), progress(run.train_loss)
    if o is not None and p is not None and o.relative_swing >= t.oscillating_swing and p.relative_drop < t.stalled_drop:
        return f"the loss swings {o.relative_swing:.0%} step to step without progress", None
    return None


@rule(code="TL301", name="lr-too-high", severity=Severity.ERROR, stage=Stage.RUN,
      requires=("train_loss", "update_ratio", "lr_series"), thresholds=LrTooHighThresholds)
def lr_too_high(run: RunRecord, t: LrTooHighThresholds) -> Iterator[Finding]:
    """The loss is unstable and the updates are far larger than ~1e-3 of the weights: the LR is too high.

    ## What it checks
    Two measurements together: the loss is unstable (non-finite, diverging or oscillating without
    progress) and the median over layers of the update ratio ‖Δw‖/‖w‖, measured before any
    blow-up and rescaled to `optimizer.lr`, exceeds `min_update_ratio`.
    ## Why it matters
    Updates that move weights by several percent per step overshoot the minimum; the loss
    bounces or climbs instead of falling, and often ends in NaN.
    ## How to fix
    Set `optimizer.lr` to the suggested value: the current LR scaled by `target_update_ratio` /
    measured ratio. Confirm with `trainlint lr-find`; clip gradients if spikes remain.
    ## Not flagged
    Large update ratios with a stable, falling loss (some setups train fine that way); an
    unstable loss with ordinary update ratios (the cause is elsewhere: data, loss, gradients).
    """
    found = _instability(run, t)
    if found is None:
        return
    what, bad_step = found
    per_layer = layer_update_ratios(run, before_step=bad_step)
    ratio = median_update_ratio(per_layer)
    if not ratio >= t.min_update_ratio:  # NaN (no usable sample) is not evidence
        return
    new_lr = lr_for_ratio(run.lr, ratio, t.target_update_ratio)
    fixes = [Fix(f"lower optimizer.lr from {run.lr:g} to {new_lr:g} (brings the update ratio {ratio:.1e} "
                 f"to ~{t.target_update_ratio:g})", "optimizer.lr", new_lr),
             Fix("confirm with `trainlint lr-find`")]
    clip = clip_value(run.grad_norm, len(run.grad_norm) if bad_step is None else max(1, bad_step - 5))
    if clip is not None and run.clip_grad_norm is None:
        fixes.append(Fix(f"clip gradients at {clip:g} if spikes remain", "probe.clip_grad_norm", clip))
    top = max(per_layer, key=per_layer.get)
    yield Finding(
        message=f"LR {run.lr:g} is too high: {what}, and updates move the weights by {ratio:.1e} of their "
                f"norm per step (median over layers; {top}: {per_layer[top]:.1e}), "
                f"{ratio / t.target_update_ratio:.0f}x the ~{t.target_update_ratio:g} rule of thumb",
        evidence={"instability": what, "update_ratio_median": ratio, "min_update_ratio": t.min_update_ratio,
                  "update_ratio_by_layer": per_layer, "suggested_lr": new_lr},
        step=bad_step, config_key="optimizer.lr", fixes=fixes)
