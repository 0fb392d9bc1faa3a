"""Validation numbers shared by the TL5xx rules and the report: the final metric, the validation
minimum, progress over chance.

The *final validation metric* is the metric of the last evaluation (`final_val_metric`), printed
with `fmt_metric`: the summary, report.json's `metrics.final_val_metric`, the compare tables and
every finding that quotes "validation accuracy/mae … at the end" use these two, so one run never
shows two values under that name. A rule that judges on something else (TL502: the best of the
last evaluations) names that value differently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trainlint.analysis.wording import num
from trainlint.probe.record import EvalSeries, RunRecord


def final_val_metric(values: Sequence[float]) -> float | None:
    """The final validation metric: the last evaluation's value; None when there is none or it is not finite."""
    last = float(values[-1]) if len(values) else math.nan
    return last if math.isfinite(last) else None


def fmt_metric(value: float | None) -> str:
    """A validation metric (or its chance level, or its noise) as every output prints it.

    Three decimals for accuracies and errors up to 1, four significant digits above; "–" for none.
    """
    if value is None:
        return "–"
    return num(value, ".3f") if abs(value) <= 1 else num(value, ".4g")


@dataclass(frozen=True)
class ValidationTurn:
    """What happened after the validation loss reached its minimum.

    Attributes:
        best: index (into the evaluations) of the lowest validation loss.
        val_rise: relative rise of the validation loss from its minimum to the end.
        train_drop: relative drop of the train-subset loss over the same evaluations.
        metric_gain: relative improvement of the validation metric over the same evaluations
            (positive = better, whatever the metric's direction).
        evals_after: evaluations after the minimum.
        metric_gap: at the end, how much better the train-subset metric is than the validation
            metric, relative to the train metric (accuracy) or to the validation error (MAE).
    """

    best: int
    val_rise: float
    train_drop: float
    metric_gain: float
    evals_after: int
    metric_gap: float


def _relative(new: float, old: float) -> float:
    return (new - old) / abs(old) if abs(old) > 1e-12 else math.nan


def validation_turn(e: EvalSeries, end_evals: int = 2) -> ValidationTurn | None:
    """The validation minimum and the changes since; the end is the best of the last `end_evals`.

    Why the best of the last evaluations: one noisy evaluation on a small validation set must
    not make a rise (or a recovery) on its own. None when the losses are not all finite.
    """
    val, train = np.asarray(e.val_loss, float), np.asarray(e.train_loss, float)
    metric = np.asarray(e.val_metric, float)
    if len(val) == 0 or not (np.isfinite(val).all() and np.isfinite(train).all()):
        return None
    best = int(np.argmin(val))
    k = max(1, min(end_evals, len(val) - best - 1))
    val_end, train_end = float(val[-k:].min()), float(train[-k:].min())
    gain = math.nan
    if len(metric) == len(val) and np.isfinite(metric[best]) and np.isfinite(metric[-k:]).all():
        end = metric[-k:].max() if e.higher_is_better else metric[-k:].min()
        gain = _relative(float(end), float(metric[best]))
        gain = gain if e.higher_is_better else -gain
    gap = metric_gap(e.train_metric[-1], e.val_metric[-1], e.higher_is_better) if e.train_metric and e.val_metric \
        else math.nan
    return ValidationTurn(best, _relative(val_end, float(val[best])), -_relative(train_end, float(train[best])),
                          gain, len(val) - best - 1, gap)


def metric_gap(train: float, val: float, higher_is_better: bool) -> float:
    """How much better the train metric is than the validation metric, relatively (0 = no gap).

    Accuracy: (train - val) / train; error metrics (MAE): (val - train) / val. NaN when undefined.
    """
    if not (math.isfinite(train) and math.isfinite(val)):
        return math.nan
    if higher_is_better:
        return (train - val) / abs(train) if train else math.nan
    return (val - train) / abs(val) if val else math.nan


def progress_over_chance(metric: float, chance: float, higher_is_better: bool) -> float:
    """How far a metric got from chance towards perfect: 0 = chance level, 1 = perfect.

    Accuracy: (acc - chance) / (1 - chance). Error metrics (MAE): (chance - mae) / chance,
    i.e. the share of the trivial predictor's error removed. NaN when undefined.
    """
    if not (math.isfinite(metric) and math.isfinite(chance)):
        return math.nan
    if higher_is_better:
        return (metric - chance) / (1 - chance) if chance < 1 else math.nan
    return (chance - metric) / chance if chance > 0 else math.nan


def decay_pull(run: RunRecord) -> float:
    """How hard weight decay pulls the weights towards zero against the loss gradient, at the start.

    Coupled decay (SGD, Adam `weight_decay`) adds wd·w to the gradient: the pull is
    wd·‖w‖/‖g‖, median over layers at the first step where both norms were recorded. Decoupled
    decay (AdamW) shrinks w by lr·wd per step beside the update: the pull is lr·wd over the rest
    of the first measured update ratio. 1 means decay is as strong as the loss's own gradient;
    NaN without weight decay or without the recorded norms.

    Why the first sample: a decay that dominates shrinks the weights until the gradient
    vanishes, so later samples measure the damage, not the setting.
    """
    wd = run.weight_decay
    if not wd > 0:
        return math.nan
    if run.decoupled_weight_decay:
        ratios = run.update_ratio.values[0] if run.update_ratio.values else []
        finite = [r for r in ratios if math.isfinite(r) and r > 0]
        if not finite:
            return math.nan
        step = run.update_ratio.steps[0]  # the LR that step ran at, not the configured one (warmup)
        decay = (run.lr_series[step] if step < len(run.lr_series) else run.lr) * wd
        return decay / max(float(np.median(finite)) - decay, 0.1 * decay)
    params, grads = run.layer_param_norm, run.layer_grad_norm
    if not params.steps or not grads.steps:
        return math.nan
    common = sorted(set(params.steps) & set(grads.steps))
    if not common:
        return math.nan
    w = dict(zip(params.names, params.values[params.steps.index(common[0])], strict=True))
    g = dict(zip(grads.names, grads.values[grads.steps.index(common[0])], strict=True))
    pulls = [wd * w[n] / g[n] for n in w if n in g and math.isfinite(w[n]) and math.isfinite(g[n]) and g[n] > 0]
    return float(np.median(pulls)) if pulls else math.nan
