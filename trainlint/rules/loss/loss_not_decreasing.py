"""TL203 loss-not-decreasing: the training loss made no meaningful progress over the probe."""

from __future__ import annotations

import math
from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.attribution import flat_loss_cause
from trainlint.analysis.generalization import final_val_metric, fmt_metric
from trainlint.analysis.loss import jump_index, metric_gain, progress
from trainlint.analysis.lr import peak_update_ratio, stable_update_ratio
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class LossNotDecreasingThresholds(Thresholds):
    min_relative_drop: float = Field(
        0.1, gt=0, lt=1,
        description="Drop of the typical loss, (start - end) / start, below which the run made no "
                    "meaningful progress (healthy probes dropped 0.50-1.00; stuck or bouncing ones -0.06-0.07).")
    max_metric_gain: float = Field(
        0.25, ge=0, le=1,
        description="A final validation metric this far from chance towards perfect shows the model "
                    "learned anyway (e.g. it converged in the first steps); 0 = chance, 1 = perfect.")
    below_chance_fraction: float = Field(
        0.5, gt=0, lt=1,
        description="A final loss below this fraction of the chance-level loss (CS231n: -ln(1/C) for "
                    "C classes) means the model is already past chance: not stuck.")
    low_update_ratio: float = Field(
        3e-4, gt=0,
        description="Update ratio ‖Δw‖/‖w‖ (median over layers, rescaled to optimizer.lr) below which the LR "
                    "is blamed, with no layer above 3x and no sample above 30x it (as TL302): 3x under "
                    "CS231n's ~1e-3 rule of thumb (healthy probes 1.7e-3 or more; LR/100 faults 4.8e-5 to 1.9e-4).")
    min_lr_fraction: float = Field(
        0.25, gt=0, le=1,
        description="An applied LR that never exceeded this fraction of optimizer.lr blames the schedule "
                    "(as TL303's min_peak_fraction).")
    jump_factor: float = Field(
        3.0, gt=1.0,
        description="A loss that ever exceeded this multiple of its start blew up rather than stalled "
                    "(healthy probes peaked at 1.7x); left to TL202/TL204/TL301.")
    min_steps: int = Field(20, ge=5, description="Fewest finite loss values needed to judge.")


@rule(code="TL203", name="loss-not-decreasing", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("train_loss",), thresholds=LossNotDecreasingThresholds)
def loss_not_decreasing(run: RunRecord, t: LossNotDecreasingThresholds) -> Iterator[Finding]:
    """The training loss made no meaningful progress over the probe.

    ## What it checks
    The typical (median) minibatch loss of the first steps against that of the last 10 % of the
    run. It flags a relative drop under `min_relative_drop` unless something shows the model did
    learn: the final validation metric is well above chance, or the loss is already far below the
    chance-level loss (a model that converged in its first few steps is not stuck).
    ## Why it matters
    A loss that does not move means the parameters are not being changed usefully: the LR is far
    too low, gradients do not reach the weights, or the targets carry no signal the model can use.
    ## How to fix
    The first fix follows a differential diagnosis from the record
    (`analysis.attribution.flat_loss_cause`), in this order: the applied LR collapsed or never
    warmed up (the schedule: TL303); weight decay pulls the weights harder than the loss gradient
    (lower `optimizer.args.weight_decay`); under 10 % of the parameters are trainable (unfreeze);
    regression targets on a raw scale (standardise them); update ratios ‖Δw‖/‖w‖ under `low_update_ratio`
    (raise `optimizer.lr`, see TL302); the train subset is fitted but validation stays at chance
    (check that the targets belong to the inputs); even the train subset stays at chance while
    the weights move normally (remove regularisation). Only when nothing is measured does "check
    that the targets belong to the inputs" (overfit a single batch, Karpathy's "Recipe for
    training neural networks") come first.
    ## Not flagged
    A loss that falls and then plateaus; a run that converged almost at once (validation metric
    above chance, or loss far below chance level); a loss that blew up (became non-finite, or
    jumped above `jump_factor` × its start) and fell back: TL202, TL204 and TL301 report those.
    """
    if run.stop_reason == "non_finite_loss" or jump_index(run.train_loss, t.jump_factor) is not None:
        return  # a blow-up, not a stall: TL202/TL204/TL301 report it
    p = progress(run.train_loss)
    if p is None or len(run.finite_train_loss) < t.min_steps or not math.isfinite(p.relative_drop):
        return  # too little data to judge
    if p.relative_drop >= t.min_relative_drop:
        return
    gain = metric_gain(run.evals)
    if gain is not None and gain >= t.max_metric_gain:
        return
    chance = run.first_batch.expected_initial_loss if run.first_batch else None
    if chance is not None and math.isfinite(chance) and chance > 0 and p.final < t.below_chance_fraction * chance:
        return
    n = len(run.finite_train_loss)
    evidence = {"initial_loss": p.initial, "final_loss": p.final, "relative_drop": p.relative_drop,
                "min_relative_drop": t.min_relative_drop, "metric_gain": gain,
                "max_metric_gain": t.max_metric_gain, "chance_loss": chance, "steps": n}
    ratio, peak = stable_update_ratio(run).median, peak_update_ratio(run)
    evidence |= {"update_ratio_median": ratio, "update_ratio_peak": peak, "low_update_ratio": t.low_update_ratio}
    at_chance = f" (chance level {chance:.3g})" if chance is not None and math.isfinite(chance) else ""
    metric = (f"; validation {run.evals.metric_name} {fmt_metric(final_val_metric(run.evals.val_metric))} at the "
              f"end vs chance {fmt_metric(run.evals.chance_metric)}" if gain is not None else "")
    cause = flat_loss_cause(run, low_update_ratio=t.low_update_ratio, never_warmed=t.min_lr_fraction)
    peak_lr = max(run.lr_series, default=run.lr)
    evidence |= {"cause": cause.kind, "cause_evidence": cause.evidence,
                 "peak_lr_fraction": peak_lr / run.lr if run.lr > 0 else None}
    fixes = [Fix(r.text, r.config_key, r.value) for r in cause.remedies]
    if cause.kind == "unexplained" and peak > 100 * ratio:  # some layers move 100x more: gradients fade
        fixes.reverse()
    if cause.kind in {"unexplained", "regularisation", "cannot_fit", "labels"} and fixes[0].config_key != "optimizer.lr":
        fixes.append(Fix("run `trainlint lr-find` to confirm the LR", "optimizer.lr"))
    key = cause.config_key
    why = f"; {cause.summary}" if cause.kind != "unexplained" else (
        f"; update ratio {ratio:.1e} (median over layers, up to {peak:.1e})" if math.isfinite(ratio) else "")
    yield Finding(
        message=f"train loss went from {p.initial:.4g} to {p.final:.4g}{at_chance} in {n} steps, "
                + (f"down {p.relative_drop:.1%}" if p.relative_drop >= 0 else f"up {-p.relative_drop:.1%}")
                + f", short of the {t.min_relative_drop:.0%} drop that counts as progress"
                + metric + why,
        evidence=evidence, step=run.steps[-1] if run.steps else None, config_key=key, fixes=fixes)
