"""TL401 exploding-gradients: the global gradient norm is huge, or grows by orders of magnitude."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from pydantic import Field

from trainlint.analysis.gradients import (
    clip_suggestion,
    norm_profile,
    runaway_index,
    structure_advice,
)
from trainlint.analysis.lr import lower_lr
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class ExplodingGradientsThresholds(Thresholds):
    max_grad_norm: float = Field(
        1000.0, gt=0,
        description="A spike must exceed this global gradient norm (before clipping) to count. DESIGN's "
                    "example value; the healthy classification configs peak below 5.")
    min_spike: float = Field(
        50.0, gt=1,
        description="A spike is a norm this many times the first window's median. The healthy diabetes "
                    "config (MSE on raw targets, norms ~1e3) spikes to 10x over seeds 0-3; the zoo's SGD "
                    "runaway 1.7e5x.")
    max_growth: float = Field(
        100.0, gt=1,
        description="Median norm of the last window over that of the first window that counts as "
                    "growing. Healthy configs grow at most 5x (an LSTM leaving its initialisation).")
    window_fraction: float = Field(0.1, gt=0, le=0.5, description="Share of the steps in each window.")
    min_window_steps: int = Field(5, ge=2, description="Fewest steps per window; fewer: growth not judged.")


def _lr_fix(run: RunRecord) -> Fix:
    lower = lower_lr(run)
    why = lower.because(run)
    return Fix(f"lower optimizer.lr from {run.lr:g} to {lower.value:g}" + (f" ({why})" if why else "")
               + ": exploding updates feed on a too-large step", config_key="optimizer.lr", value=lower.value)


@rule(code="TL401", name="exploding-gradients", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("grad_norm",), thresholds=ExplodingGradientsThresholds)
def exploding_gradients(run: RunRecord, t: ExplodingGradientsThresholds) -> Iterator[Finding]:
    """The global gradient norm spikes to a huge value, overflows, or grows by orders of magnitude.

    ## What it checks
    The global L2 norm of all gradients at every step, measured before any clipping: a spike
    above `max_grad_norm` that is also `min_spike` times the first window's median, overflowing
    (infinite) norms while the loss is still finite, and the growth from the first to the last
    window of steps (median over median) against `max_growth`.
    ## Why it matters
    Huge gradients make each update overshoot; the loss jumps, then turns NaN. A norm that keeps
    growing is the feedback loop of an unstable setup (too high an LR, large initialisation,
    recurrent weights with gain above 1).
    ## How to fix
    Clip the gradient norm (`probe.clip_grad_norm`, value from the early steps' norms), lower the
    learning rate, and check the initialisation and the scale of inputs and targets.
    ## Not flagged
    Norms that are large from the first step and do not grow (e.g. MSE on unscaled regression
    targets with Adam); growth below `max_growth`-fold, normal while a model leaves its
    initialisation; spikes below `max_grad_norm`.
    """
    norms = np.asarray(run.grad_norm, dtype=float)
    losses = np.asarray(run.train_loss[: len(norms)], dtype=float)
    loss_ok = np.isfinite(losses) if len(losses) == len(norms) else np.ones(len(norms), dtype=bool)
    overflow = int(np.sum(np.isinf(norms) & loss_ok))
    p = norm_profile(norms, t.window_fraction, t.min_window_steps)
    if p is None:
        return  # nothing finite (a NaN loss from step 0 is non-finite-loss's)
    spiked = p.peak > t.max_grad_norm and p.spike >= t.min_spike
    growing = p.growth >= t.max_growth
    if not (spiked or growing or overflow):
        return
    peak_step = run.steps[p.peak_index] if p.peak_index < len(run.steps) else None
    what = []
    if spiked:
        what.append(f"spiked to {p.peak:.3g} at step {peak_step}, {p.spike:.3g}x its early median {p.early:.3g} "
                    f"(> {t.max_grad_norm:g} and ≥ {t.min_spike:g}x)")
    if overflow:
        what.append(f"overflowed to inf at {overflow} step(s) while the loss was finite")
    if growing:
        what.append(f"grew {p.growth:.3g}x from the first to the last {p.window} steps (≥ {t.max_growth:g}x)")
    stable = min(runaway_index(norms, t.min_spike * p.early), max(p.window, len(norms) // 5))
    clip = clip_suggestion(run.grad_norm, stable)
    fixes = []
    if run.clip_grad_norm is None and clip is not None:
        why = "90th percentile of the norms before they ran away"
        if clip > t.max_grad_norm:  # huge from the first steps: the early scale is no guide
            clip, why = t.max_grad_norm, "max_grad_norm: the norms were already huge at the start"
        fixes.append(Fix(f"clip the global gradient norm at {clip:g} ({why})",
                         config_key="probe.clip_grad_norm", value=clip))
    fixes.append(_lr_fix(run))
    fixes.append(Fix("check the initialisation (Kaiming/Xavier, not N(0, 1)) and that inputs and regression "
                     f"targets are standardised; {structure_advice(run.model)}"))
    clipped = f"; clipping at {run.clip_grad_norm:g} is on (norms are before clipping)" if run.clip_grad_norm else ""
    yield Finding(
        message="global gradient norm " + "; ".join(what) + clipped,
        evidence={"peak_grad_norm": p.peak, "peak_step": peak_step, "early_median": p.early,
                  "late_median": p.late, "spike": p.spike, "growth": p.growth, "overflow_steps": overflow,
                  "max_grad_norm": t.max_grad_norm, "min_spike": t.min_spike, "max_growth": t.max_growth,
                  "clip_grad_norm": run.clip_grad_norm, "suggested_clip": clip},
        step=peak_step, fixes=fixes,
        config_key="probe.clip_grad_norm" if run.clip_grad_norm is None else "optimizer.lr",
    )
