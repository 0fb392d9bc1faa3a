"""TL301 lr-too-high: the loss is unstable and the updates are far larger than ~1e-3 of the weights."""

from __future__ import annotations

import math
from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.attribution import (
    MIN_TRAINABLE_SHARE,
    decay_pull,
    schedule_collapse,
    target_scale_drives_steps,
    trainable_share,
)
from trainlint.analysis.gradients import clip_suggestion
from trainlint.analysis.loss import (
    divergence,
    first_non_finite,
    jump_index,
    metric_gain,
    oscillation,
    progress,
)
from trainlint.analysis.lr import lower_lr, stable_update_ratio
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule

# Their first step is lr·g/|g| per weight (bias-corrected moments, or one accumulated square).
SIGN_STEP_OPTIMIZERS = frozenset({"Adam", "AdamW", "NAdam", "RAdam", "Adamax", "Adagrad"})


class LrTooHighThresholds(Thresholds):
    min_update_ratio: float = Field(
        3e-2, gt=0,
        description="Median over layers of the update ratio ‖Δw‖/‖w‖ (rescaled to optimizer.lr) above "
                    "which the LR is blamed: 30x the ~1e-3 rule of thumb (CS231n); healthy probes with "
                    "SGD, Adam, AdamW, RMSprop and Adagrad measured 1.7e-3 to 1.0e-2; LR faults 6.6e-2 to 66.")
    target_update_ratio: float = Field(
        1e-3, gt=0, description="Update ratio the suggested LR aims at (CS231n's ~1e-3).")
    sign_step_first_update_ratio: float = Field(
        1.5e-2, gt=0,
        description="What the suggested LR aims at instead when only the first update of a sign-step "
                    "optimizer (Adam, AdamW, NAdam, RAdam, Adamax, Adagrad) was measured: that update moves "
                    "every weight by about the LR whatever the gradient's scale, so it is the run's largest. "
                    "Measured at the usual lr 1e-3 on the quickstart MLP: per-layer 1.4e-2 to 2.0e-2 (Adam, "
                    "AdamW). Other optimizers keep `target_update_ratio` (RMSprop's first step is ~10x its LR).")
    jump_factor: float = Field(
        3.0, gt=1.0,
        description="A loss above this multiple of its start is a blow-up (healthy probes peaked at "
                    "1.7x); update ratios after it are not used (the weights have grown, which shrinks "
                    "later ratios).")
    diverging_ratio: float = Field(
        1.5, gt=1.0, description="Final/best window median of the loss that counts as unstable (as TL204)...")
    diverging_progress_lost: float = Field(
        0.25, gt=0, description="...when the climb undid this share of the progress to the best level (as TL204).")
    oscillating_spread: float = Field(
        0.3, gt=0, description="(p90 - p10) / median of the second-half loss that counts as swinging (as TL205).")
    oscillating_above_start: float = Field(
        0.1, gt=0, le=1, description="...with this share of second-half losses above the initial loss (as TL205).")
    stalled_drop: float = Field(
        0.1, gt=0, lt=1,
        description="A loss that fell less than this fraction counts as stalled (as TL203): very large "
                    "updates can also kill the network (e.g. all ReLUs dead) and freeze the loss.")
    trains_well_gain: float = Field(
        0.8, gt=0, le=1,
        description="A final validation metric this far from chance towards perfect (0 = chance, 1 = perfect) "
                    "shows the run trains well whatever its loss did: not flagged (raw 0-255 pixels on a CNN "
                    "that reached 94 % on digits: 0.93; the LR faults: 0.00-0.05).")
    error_below_gain: float = Field(
        0.5, gt=0, le=1,
        description="Below this validation progress the finding is an error; between it and "
                    "`trains_well_gain` a warning (severity follows the consequence).")


def _instability(run: RunRecord, t: LrTooHighThresholds) -> tuple[str, str, int | None] | None:
    """(kind, what went wrong, step from which the update ratios no longer describe the LR) or None.

    Kinds: `blow_up` (non-finite or a jump), `diverging`, `oscillating`, `stalled`.

    Why the cut: once the loss blows up, the weights grow huge and later ratios shrink; the ratios
    that show the LR are those before the blow-up (at least the first sample's).
    """
    jump = jump_index(run.train_loss, t.jump_factor)  # a non-finite loss counts as a jump
    if jump is not None:
        cut = max(1, jump)  # as `blow_up_cut`, with this rule's factor
        bad = first_non_finite(run.train_loss)
        if bad is not None:
            return "blow_up", f"the loss became non-finite at step {run.steps[bad]}", cut
        return "blow_up", f"the loss jumped above {t.jump_factor:g}x its start at step {run.steps[jump]}", cut
    d = divergence(run.train_loss)
    if d is not None and d.ratio >= t.diverging_ratio and d.progress_lost >= t.diverging_progress_lost:
        return "diverging", f"the loss climbed back to {d.ratio:.1f}x its best level", d.best_index + 1
    o, p = oscillation(run.train_loss), progress(run.train_loss)
    if p is None or not math.isfinite(p.relative_drop):
        return None
    if o is not None and o.relative_spread >= t.oscillating_spread and o.above_start >= t.oscillating_above_start:
        return ("oscillating", f"the loss swings between {o.low:.3g} and {o.high:.3g}, often above its start "
                f"{o.initial:.3g}", None)
    if p.relative_drop < t.stalled_drop:
        return "stalled", f"the loss did not decrease ({p.initial:.3g} to {p.final:.3g})", None
    return None


@rule(code="TL301", name="lr-too-high", severity=Severity.ERROR, stage=Stage.RUN,
      requires=("train_loss", "update_ratio", "lr_series"), thresholds=LrTooHighThresholds)
def lr_too_high(run: RunRecord, t: LrTooHighThresholds) -> Iterator[Finding]:
    """The loss is unstable and the updates are far larger than ~1e-3 of the weights: the LR is too high.

    ## What it checks
    Two measurements together: the loss is unstable (non-finite, jumping above `jump_factor` ×
    its start, diverging, swinging back above its start, or frozen without progress), and the
    median over layers of the update ratio ‖Δw‖/‖w‖, rescaled to `optimizer.lr` and measured
    before the loss first jumped (or before its best level, when it diverged), exceeds
    `min_update_ratio`.
    ## Why it matters
    Updates that move weights by several percent per step overshoot the minimum; the loss
    bounces or climbs instead of falling, and often ends in NaN.
    ## How to fix
    Set `optimizer.lr` to the suggested value: the current LR scaled by `target_update_ratio` /
    measured ratio (`sign_step_first_update_ratio` when only the first update of a sign-step
    optimizer such as Adam was measured before the blow-up). Confirm with `trainlint lr-find`; clip gradients if spikes remain.
    The update ratio counts only the loss gradient's share of each step: with weight decay, the
    measured ratio is scaled by 1 / (1 + pull), the pull being decay's term against the
    gradient's (see `analysis.attribution.decay_pull`).
    Severity follows the consequence: a warning when the validation metric still got past
    `error_below_gain` of the way from chance to perfect.
    ## Not flagged
    Large update ratios with a stable, falling loss (some setups train fine that way); an
    unstable loss with ordinary update ratios (the cause is elsewhere: data, loss, gradients);
    large steps made by weight decay rather than the gradient (TL203/TL502 blame the decay);
    regression targets on a raw scale under an SGD-like optimizer (TL103); a stalled or swinging loss with under 10 % of
    the parameters trainable (a frozen backbone: TL203/TL405); a stalled loss under a schedule
    that cut the LR to ~0 early (TL303); a run whose validation metric reached `trains_well_gain`.
    """
    found = _instability(run, t)
    if found is None or (excuse := _cause_elsewhere(run, found[0], t)) == "quiet":
        return
    kind, what, cut = found
    measured = stable_update_ratio(run)  # the update ratio every finding quotes
    ratio, per_layer = measured.median, measured.by_layer
    decay = decay_pull(run)
    share = decay.gradient_share if decay is not None else 1.0
    if not ratio * share >= t.min_update_ratio:  # NaN (no usable sample) is not evidence
        return  # ordinary steps, or large ones made by weight decay (TL203/TL502 blame it)
    first_only = cut is not None and cut <= run.stats_every  # only the step-0 sample came before
    sign_step = first_only and run.optimizer_class in SIGN_STEP_OPTIMIZERS
    target = t.sign_step_first_update_ratio if sign_step else t.target_update_ratio
    lower = lower_lr(run, ratio, target)
    new_lr = lower.value
    note = f"; measured on the first update of {run.optimizer_class}, the largest of the run, so aimed at " \
        "what a healthy one shows there" if sign_step and lower.source == "update_ratio" else ""
    fixes = [Fix(f"lower optimizer.lr from {run.lr:g} to {new_lr:g} ({lower.because(run, ratio, target)}{note})",
                 "optimizer.lr", new_lr)]
    if lower.source != "range_test":
        fixes.append(Fix("confirm with `trainlint lr-find`"))
    clip = clip_suggestion(run.grad_norm, len(run.grad_norm) if cut is None else cut)
    if clip is not None and run.clip_grad_norm is None:
        fixes.append(Fix(f"clip gradients at {clip:g} if spikes remain", "probe.clip_grad_norm", clip))
    top = max(per_layer, key=per_layer.get)
    yield Finding(
        message=f"LR {run.lr:g} is too high: {what}, and updates move the weights by {ratio:.1e} of their "
                f"norm per step (median over layers; {top}: {per_layer[top]:.1e}), "
                f"{ratio / t.target_update_ratio:.0f}x the ~{t.target_update_ratio:g} rule of thumb",
        evidence={"instability": what, "update_ratio_median": ratio, "min_update_ratio": t.min_update_ratio,
                  "update_ratio_by_layer": per_layer, "ratios_before_step": cut, "suggested_lr": new_lr,
                  "suggested_lr_source": lower.source},
        step=cut, config_key="optimizer.lr", fixes=fixes,
        **({"severity": Severity.WARNING} if excuse == "warning" else {}))


def _cause_elsewhere(run: RunRecord, kind: str, t: LrTooHighThresholds) -> str | None:
    """"quiet" when the record puts the instability on another knob or shows no harm, "warning" when
    the harm is moderate, None otherwise.

    Quiet: regression targets on a raw scale under an SGD-like optimizer (its steps are on the
    targets' scale: TL103 blames the targets; Adam-style steps are not, so there the LR stays
    blamed); a stalled or swinging loss with most parameters frozen (a handful of
    trainable weights move a large share of their small norm: not an overshoot); a stalled loss
    under a schedule that cut the LR to ~0 early (TL303); a validation metric past
    `trains_well_gain`. Why not the blow-ups with frozen weights: a loss that turns
    non-finite overshot, whatever the number of weights that did it.
    """
    if target_scale_drives_steps(run) is not None:
        return "quiet"
    share = trainable_share(run)
    if share is not None and share < MIN_TRAINABLE_SHARE and kind in {"stalled", "oscillating"}:
        return "quiet"
    if kind == "stalled" and schedule_collapse(run) is not None:
        return "quiet"  # the schedule took the LR away: TL303
    gain = metric_gain(run.evals)
    if gain is not None and gain >= t.trains_well_gain:
        return "quiet"
    return "warning" if gain is not None and gain >= t.error_below_gain else None
