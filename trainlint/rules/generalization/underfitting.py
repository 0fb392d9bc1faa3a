"""TL502 underfitting: the validation metric ends near what a trivial predictor achieves."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from pydantic import Field

from trainlint.analysis.generalization import (
    decay_pull,
    final_val_metric,
    fmt_metric,
    progress_over_chance,
)
from trainlint.analysis.lr import stable_update_ratio
from trainlint.analysis.series import round_sig
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class UnderfittingThresholds(Thresholds):
    min_progress: float = Field(
        0.1, gt=0, lt=1,
        description="Share of the way from chance to perfect the validation metric must reach: "
                    "(acc - chance)/(1 - chance), or for MAE the share of the mean-predictor's error removed. "
                    "Healthy configs reach ≥ 0.32 (diabetes MAE); a linear model on a nonlinear target -0.01.")
    min_update_ratio: float = Field(
        1e-4, gt=0, description="Update ratio ‖Δw‖/‖w‖ (median over layers, rescaled to optimizer.lr, before "
                                "the loss blew up: as TL203/TL301/TL302 quote it) below which the LR, not the "
                                "model, is blamed first (CS231n: healthy is ~1e-3).")
    max_update_ratio: float = Field(
        3e-2, gt=0, description="Update ratio above which the LR is blamed first too: the updates overshoot "
                                "(TL301's min_update_ratio; healthy probes 1.7e-3 to 1.0e-2, SGD+momentum at "
                                "lr 0.5 8.7e-2).")
    max_decay_pull: float = Field(
        1.0, gt=0, description="Weight decay's pull on the weights relative to the loss gradient's at the start "
                               "(wd·‖w‖/‖g‖; decoupled: lr·wd over the update ratio) above which weight decay is "
                               "blamed first: it shrinks the weights faster than the loss can grow them. Adam with "
                               "weight_decay 1.0 on digits: 14.")
    target_decay_pull: float = Field(
        0.1, gt=0, description="The pull the suggested weight decay brings it to (a tenth of the gradient's).")
    last_evals: int = Field(2, ge=1, description="Evaluations at the end; the best of them is judged (one noisy "
                                                 "evaluation alone does not make a model look untrained).")
    min_evals: int = Field(2, ge=1, description="Fewest evaluations to judge.")


@rule(code="TL502", name="underfitting", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("evals",), thresholds=UnderfittingThresholds)
def underfitting(run: RunRecord, t: UnderfittingThresholds) -> Iterator[Finding]:
    """The validation metric at the end of the probe is barely better than chance.

    ## What it checks
    The best validation metric of the last `last_evals` evaluations against the chance level
    (majority-class accuracy; for regression the MAE of predicting the training mean): the
    share of the way from chance to perfect must reach `min_progress`. The message quotes the
    final validation metric (the last evaluation, as the summary shows it) and, when it differs,
    the best of the last evaluations that was judged. The train-subset metric tells whether the
    model cannot even fit the training data.
    ## Why it matters
    After the whole probe the model predicts no better than a constant: it learned nothing
    usable. Either it cannot fit (too small, too regularised, LR too low, a bug cutting the
    signal) or what it fits does not carry over to new data.
    ## How to fix
    First make the training loss fall (see the loss and LR rules); then give the model more
    capacity, remove excess regularisation (weight decay, dropout), and check that the inputs
    carry the labels (no shuffled labels, no features lost in preprocessing). When weight decay
    pulls the weights towards zero harder than the loss gradient pulls them (`max_decay_pull`,
    measured at the start), the first fix lowers it to the value that brings the pull to
    `target_decay_pull`. When the model cannot fit and the update ratio (as TL203/TL301/TL302
    quote it) is below `min_update_ratio` or above `max_update_ratio`, the LR comes first.
    ## Not flagged
    Runs without a chance level (no validation split); fewer than `min_evals` evaluations.
    """
    e = run.evals
    if e.chance_metric is None or len(e.val_metric) < t.min_evals:
        return
    tail = np.asarray(e.val_metric[-t.last_evals:], float)
    tail = tail[np.isfinite(tail)]
    if len(tail) == 0:
        return
    best = float(tail.max() if e.higher_is_better else tail.min())  # what is judged
    final = final_val_metric(e.val_metric)  # what the summary shows
    progress = progress_over_chance(best, e.chance_metric, e.higher_is_better)
    if not progress < t.min_progress:
        return  # learned enough (or undefined)
    train_progress = (progress_over_chance(e.train_metric[-1], e.chance_metric, e.higher_is_better)
                      if e.train_metric else float("nan"))
    cannot_fit = not train_progress >= 2 * t.min_progress
    ratio = stable_update_ratio(run).median
    moved = f" (update ratio {ratio:.1e}: the weights move that share of their norm per step)" \
        if math.isfinite(ratio) else ""
    lr = Fix(f"make the training loss fall first{moved}: see the loss and LR findings", config_key="optimizer.lr")
    pull = decay_pull(run)
    if pull > t.max_decay_pull:
        wd = round_sig(run.weight_decay * t.target_decay_pull / pull)
        regularisation = Fix(f"lower optimizer.args.weight_decay from {run.weight_decay:g} to {wd:g}: it pulls the "
                             f"weights to zero {pull:.3g}x as hard as the loss gradient pulls them (brings it to "
                             f"~{t.target_decay_pull:g})", config_key="optimizer.args.weight_decay", value=wd)
    elif run.weight_decay > 0:
        regularisation = Fix("remove excess regularisation: weight decay (and dropout) to 0 while debugging",
                             config_key="optimizer.args.weight_decay", value=0.0)
    else:
        regularisation = Fix("remove excess regularisation (dropout, heavy augmentation) while debugging")
    capacity = Fix("give the model more capacity (more or wider hidden layers) or train longer",
                   config_key="model.args" if run.model.is_builtin else "model")
    data = Fix("check that the inputs carry the labels: overfit one small batch to 100% first (Karpathy's "
               "recipe); look for shuffled labels or features lost in preprocessing")
    if pull > t.max_decay_pull:  # weight decay crushes the weights: the measured cause comes first
        fixes = [regularisation, lr, capacity, data] if cannot_fit else [regularisation, data, capacity, lr]
    elif not cannot_fit:
        fixes = [data, regularisation, capacity, lr]
    elif ratio < t.min_update_ratio or ratio > t.max_update_ratio:  # the LR crawls or overshoots
        fixes = [lr, capacity, regularisation, data]
    else:  # the weights move at a healthy rate: the model is too weak or too constrained
        fixes = [capacity, regularisation, lr, data]
    fit = ("the train subset is at chance too: the model does not fit at all" if cannot_fit
           else f"the train subset is not ({fmt_metric(e.train_metric[-1])}): what it fits does not generalise")
    judged = "" if fmt_metric(final) == fmt_metric(best) else \
        f" ({fmt_metric(best)} at best over the last {len(e.val_metric[-t.last_evals:])} evaluations)"
    yield Finding(
        message=f"validation {e.metric_name} {fmt_metric(final)} at the end{judged} is near chance "
                f"({fmt_metric(e.chance_metric)}): {progress:.0%} of the way from chance to perfect "
                f"(< {t.min_progress:.0%}); {fit}",
        evidence={"val_metric": final, "val_metric_judged": best, "last_evals": t.last_evals,
                  "chance_metric": e.chance_metric, "progress": progress,
                  "update_ratio_median": ratio, "weight_decay": run.weight_decay, "decay_pull": pull,
                  "train_progress": train_progress, "min_progress": t.min_progress,
                  "metric_name": e.metric_name, "train_metric": e.train_metric[-1] if e.train_metric else None},
        step=e.steps[-1], fixes=fixes, config_key=fixes[0].config_key,
    )
