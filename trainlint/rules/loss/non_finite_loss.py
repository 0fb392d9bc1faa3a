"""TL202 non-finite-loss: the training loss became NaN or Inf."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from pydantic import Field

from trainlint.analysis.attribution import before_lowering_lr
from trainlint.analysis.gradients import clip_suggestion
from trainlint.analysis.loss import first_non_finite
from trainlint.analysis.lr import (
    blow_up_cut,
    lower_lr,
    stable_update_ratio,
)
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class NonFiniteLossThresholds(Thresholds):
    spike_factor: float = Field(
        10.0, gt=1.0,
        description="A grad norm this many times its earlier median, in the steps before the blow-up, "
                    "counts as a spike and puts clipping first among the fixes (healthy probes reached "
                    "2-8x, an LSTM 22x; the SGD blow-up fault 1.6e9x). It decides no firing.")
    lookback_steps: int = Field(
        5, ge=1, description="Steps before the first non-finite loss searched for the spike.")
    clip_percentile: float = Field(
        90.0, gt=0, le=100,
        description="Percentile of the grad norms before the blow-up suggested as `probe.clip_grad_norm` "
                    "(clip just above typical norms, as in common max-norm clipping practice).")


@rule(code="TL202", name="non-finite-loss", severity=Severity.ERROR, stage=Stage.RUN,
      requires=("train_loss",), thresholds=NonFiniteLossThresholds)
def non_finite_loss(run: RunRecord, t: NonFiniteLossThresholds) -> Iterator[Finding]:
    """The training loss became NaN or Inf, and the probe stopped there.

    ## What it checks
    The first step whose training loss is not finite, and what preceded it: the global gradient
    norm in the `lookback_steps` steps before (against its median earlier), the applied LR and
    the update ratio ‖Δw‖/‖w‖ measured before the blow-up.
    ## Why it matters
    Once the loss is NaN every weight it touches becomes NaN; nothing after that step trains.
    ## How to fix
    After a gradient spike: clip gradients (`probe.clip_grad_norm`, a value from the norms seen
    before the blow-up) and lower `optimizer.lr`. With large updates (update ratio ≫ 1e-3): lower
    `optimizer.lr` to the value that brings the ratio to ~1e-3. A loss that is non-finite at the
    very first step is not an optimisation problem: look for NaN/Inf inputs or targets, or a
    log/division of zero in the loss. When regression targets are on a raw scale, or weight decay
    dominates the update (`analysis.attribution.before_lowering_lr`), that fix comes first: a
    lower LR would hide the cause.
    ## Not flagged
    A finite loss however large (see TL204 loss-diverging).
    """
    idx = first_non_finite(run.train_loss)
    if idx is None:
        return
    step = run.steps[idx] if idx < len(run.steps) else idx
    value = run.train_loss[idx]
    lr = run.lr_series[idx] if idx < len(run.lr_series) else run.lr
    evidence = {"step": step, "loss": value, "lr": lr, "finite_steps_before": idx}
    if idx == 0:
        yield Finding(
            message=f"train loss is {value} at the first step, before any update: the inputs, targets, "
                    "model output or loss already produce it",
            evidence=evidence, step=step, config_key="loss",
            fixes=[Fix("check inputs and targets for NaN/Inf (see TL104) and the loss for log(0) or 0/0"),
                   Fix("if the model outputs probabilities, use a loss on logits (cross_entropy, "
                       "bce_with_logits) instead of logging them")])
        return
    norms = np.asarray(run.grad_norm[:idx + 1], dtype=float)
    earlier = norms[: max(1, idx - t.lookback_steps)]
    earlier = earlier[np.isfinite(earlier)]
    base = float(np.median(earlier)) if len(earlier) else math.nan
    recent = norms[max(0, idx - t.lookback_steps): idx]  # the non-finite step's own grads are NaN
    peak = float(np.max(np.where(np.isfinite(recent), recent, np.inf))) if len(recent) else math.nan
    spike = peak / base if base > 0 else math.nan
    has_spike = not math.isfinite(peak) or (math.isfinite(spike) and spike >= t.spike_factor)
    stable = min(blow_up_cut(run.train_loss, idx), max(1, idx - t.lookback_steps))  # before the trouble
    ratio = stable_update_ratio(run).median  # the update ratio every finding quotes
    evidence |= {"grad_norm_median_before": base, "grad_norm_peak": peak, "grad_norm_spike": spike,
                 "spike_factor": t.spike_factor, "update_ratio_median": ratio}
    lower = lower_lr(run, ratio, below=run.lr / 3)  # a cut smaller than 3x is too timid after a blow-up
    new_lr, why = lower.value, lower.because(run, ratio)
    clip = clip_suggestion(run.grad_norm, stable, t.clip_percentile)
    lr_fix = Fix(f"lower optimizer.lr from {run.lr:g} to {new_lr:g}" + (f" ({why})" if why else ""),
                 "optimizer.lr", new_lr)
    fixes = [lr_fix]
    if clip is not None and run.clip_grad_norm is None:
        clip_fix = Fix(f"clip gradients at {clip:g} (the {t.clip_percentile:g}th percentile of the grad "
                       "norm before the blow-up)", "probe.clip_grad_norm", clip)
        fixes = [clip_fix, lr_fix] if has_spike else [lr_fix, clip_fix]
    first = [Fix(r.text, r.config_key, r.value) for r in before_lowering_lr(run)]
    if first:  # the measured cause comes first; the LR fix stays for what remains after it
        fixes = [*first, *fixes]
        evidence["cause_before_lr"] = [f.text for f in first]
    preceded = (f"the grad norm peaked at {peak:.3g}, {spike:.0f}x its earlier median {base:.3g}"
                if has_spike and math.isfinite(spike) else "the gradients became non-finite" if has_spike
                else f"no gradient spike (peak {peak:.3g}, median {base:.3g})")
    yield Finding(
        message=f"train loss became {value} at step {step} (lr {lr:.3g}); before it {preceded}"
                + (f", update ratio {ratio:.1e}" if math.isfinite(ratio) else ""),
        evidence=evidence, step=step, config_key=fixes[0].config_key, fixes=fixes)
