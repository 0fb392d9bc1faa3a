"""TL502 underfitting: the validation metric ends near what a trivial predictor achieves."""

from __future__ import annotations

import math
from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.attribution import Remedy, decay_pull, flat_loss_cause
from trainlint.analysis.generalization import (
    dropout_drag,
    final_val_metric,
    fit_progress,
    fmt_metric,
    judged_val_metric,
    prior_loss,
    progress_over_chance,
)
from trainlint.analysis.lr import stable_update_ratio
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class UnderfittingThresholds(Thresholds):
    min_progress: float = Field(
        0.1, gt=0, lt=1,
        description="Share of the way from chance to perfect the validation metric must reach: "
                    "(acc - chance)/(1 - chance), or for MAE the share of the mean-predictor's error removed. "
                    "Healthy configs reach ≥ 0.32 (diabetes MAE); a linear model on a nonlinear target -0.01.")
    min_update_ratio: float = Field(
        3e-4, gt=0, description="Update ratio ‖Δw‖/‖w‖ (median over layers, rescaled to optimizer.lr, before "
                                "the loss blew up: as TL203/TL301/TL302 quote it) below which the LR, not the "
                                "model, is blamed first (CS231n: healthy is ~1e-3).")
    max_update_ratio: float = Field(
        3e-2, gt=0, description="Update ratio above which the LR is blamed first too: the updates overshoot "
                                "(TL301's min_update_ratio; healthy probes 1.7e-3 to 1.0e-2, SGD+momentum at "
                                "lr 0.5 8.7e-2).")
    min_fit_progress: float = Field(
        0.1, gt=0, lt=1,
        description="Share of the way from the loss of predicting the class frequencies to 0 that the train-subset "
                    "loss (eval mode) must reach: below it the model does not fit its own training data whatever "
                    "the validation accuracy. Healthy probes reach ≥ 0.42; dropout 0.95 models 0.005-0.02.")
    last_evals: int = Field(2, ge=1, description="Evaluations at the end; the best of them is judged (one noisy "
                                                 "evaluation alone does not make a model look untrained).")
    min_evals: int = Field(2, ge=1, description="Fewest evaluations to judge.")


@rule(code="TL502", name="underfitting", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("evals",), thresholds=UnderfittingThresholds)
def underfitting(run: RunRecord, t: UnderfittingThresholds) -> Iterator[Finding]:
    """The validation metric ends near chance, or the model does not fit even its training data.

    ## What it checks
    Two things at the end of the probe:
    - the best validation metric of the last `last_evals` evaluations against the chance level
      (majority-class accuracy; for regression the MAE of predicting the training mean): the
      share of the way from chance to perfect must reach `min_progress`;
    - the train-subset loss (eval mode) against the loss of predicting the class frequencies
      (their entropy): the share of the way from it to 0 must reach `min_fit_progress`.
    The message quotes the final validation metric (the last evaluation, as the summary shows
    it) and, when it differs, the best of the last evaluations that was judged.
    ## Why it matters
    After the whole probe the model predicts no better than a constant, or it is barely more
    confident than the class prior on the very samples it trained on: it learned nothing
    usable. Either it cannot fit (too regularised, frozen, LR far too low, schedule at ~0, too
    small) or what it fits does not carry over to new data (labels that do not belong to the
    inputs).
    ## How to fix
    The first fix names the cause the record supports (a differential diagnosis shared with
    TL203, `analysis.attribution.flat_loss_cause`): a schedule whose LR collapsed, weight decay
    that pulls harder than the gradient, most parameters frozen, regression targets on a raw
    scale, updates far too small, labels that do not carry over (the train subset is fitted,
    validation is not). When the updates are healthy and the model still cannot fit: dropout
    when the training-mode loss sits well above the eval-mode loss (or dropout ≥ 0.8), weight
    decay when there is some, the data when the model has enough parameters to memorise the
    training set, else more capacity. With overshooting
    updates (update ratio above `max_update_ratio`) the LR comes first and capacity is never
    suggested.
    ## Not flagged
    Runs without a chance level (no validation split); fewer than `min_evals` evaluations;
    the fit check without a log loss and class counts (regression uses the train-subset MAE's
    progress instead).
    """
    e = run.evals
    if e.chance_metric is None or len(e.val_metric) < t.min_evals:
        return
    best = judged_val_metric(e, t.last_evals)  # what is judged
    if best is None:
        return
    final = final_val_metric(e.val_metric)  # what the summary shows
    progress = progress_over_chance(best, e.chance_metric, e.higher_is_better)
    prior = prior_loss(run)
    fit = fit_progress(run) if prior else float("nan")  # the fit check needs the prior's loss
    at_chance, no_fit = progress < t.min_progress, fit < t.min_fit_progress
    if not (at_chance or no_fit):
        return  # learned enough (or undefined)
    train_progress = (progress_over_chance(e.train_metric[-1], e.chance_metric, e.higher_is_better)
                      if e.train_metric else float("nan"))
    cause = flat_loss_cause(run, low_update_ratio=t.min_update_ratio)
    ratio = stable_update_ratio(run).median
    fixes, key = _fixes(run, cause, ratio, t)
    if at_chance:
        judged = "" if fmt_metric(final) == fmt_metric(best) else \
            f" ({fmt_metric(best)} at best over the last {len(e.val_metric[-t.last_evals:])} evaluations)"
        head = (f"validation {e.metric_name} {fmt_metric(final)} at the end{judged} is near chance "
                f"({fmt_metric(e.chance_metric)}): {progress:.0%} of the way from chance to perfect (< {t.min_progress:.0%})")
        if math.isnan(train_progress):  # no train-subset evaluation (a watched loop that logged none)
            fits = None
        elif train_progress < 2 * t.min_progress:
            fits = "the train subset is at chance too: the model does not fit at all"
        else:
            fits = f"the train subset is not ({fmt_metric(e.train_metric[-1])}): what it fits does not generalise"
    else:
        head = (f"the model does not fit its own training data: the train-subset loss {e.train_loss[-1]:.3g} is "
                f"{fit:.1%} below the loss of predicting the class frequencies ({prior:.3g}; < {t.min_fit_progress:.0%}), "
                f"and validation {e.metric_name} ends at {fmt_metric(final)}")
        fits = "its predictions are barely more confident than the class prior"
    yield Finding(
        message="; ".join(part for part in (head, fits, cause.summary) if part),
        evidence={"val_metric": final, "val_metric_judged": best, "last_evals": t.last_evals,
                  "chance_metric": e.chance_metric, "progress": progress, "fit_progress": fit,
                  "prior_loss": prior, "cause": cause.kind, "cause_evidence": cause.evidence,
                  "dropout_drag": dropout_drag(run), "dropout": run.model.dropout,
                  "decay_pull": d.pull if (d := decay_pull(run)) is not None else float("nan"),
                  "update_ratio_median": ratio, "weight_decay": run.weight_decay,
                  "train_progress": train_progress, "min_progress": t.min_progress,
                  "min_fit_progress": t.min_fit_progress,
                  "metric_name": e.metric_name, "train_metric": e.train_metric[-1] if e.train_metric else None},
        step=e.steps[-1], fixes=fixes, config_key=key,
    )


# Causes `flat_loss_cause` attributes to one knob by measuring it; they come before any judgement of the fit.
KNOB_CAUSES = frozenset({"schedule", "weight_decay", "frozen", "target_scale", "lr_too_low"})


def _fix(r: Remedy) -> Fix:
    return Fix(r.text, config_key=r.config_key, value=r.value)


def _fixes(run: RunRecord, cause, ratio: float, t: UnderfittingThresholds) -> tuple[list[Fix], str | None]:
    """The fixes in the order the record supports; the first one names the knob the evidence blames.

    `flat_loss_cause` (analysis/attribution, shared with TL203) decides between a schedule that
    collapsed, weight decay that dominates, frozen weights, raw target scale, an LR far too low,
    labels that do not carry over, dropout or weight decay holding the model at chance, and a
    model that cannot fit (the data first when it could memorise its training set, else
    capacity). Overshooting updates that no measured knob explains put the LR first, and then
    capacity is never suggested.
    """
    if cause.kind not in KNOB_CAUSES and math.isfinite(ratio) and ratio > t.max_update_ratio:
        data = Fix("check that the inputs carry the labels: overfit one small batch to 100% first (Karpathy's "
                   "recipe); look for shuffled labels or features lost in preprocessing")
        return [Fix(f"make the training loss fall first (update ratio {ratio:.1e}: the weights move that share of "
                    "their norm per step): see the LR findings", config_key="optimizer.lr"), data], "optimizer.lr"
    fixes = [_fix(r) for r in cause.remedies]
    return fixes, cause.config_key if cause.config_key else (fixes[0].config_key if fixes else None)
