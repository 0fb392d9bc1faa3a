"""Validation numbers shared by the TL5xx rules and the report: the final metric, the validation
minimum, progress over chance.

Also what the train subset says about fitting: `prior_loss` (the loss of predicting the class
frequencies), `fit_progress` (how far the train-subset loss got from it towards 0),
`memorisation` (the training set fitted almost perfectly while validation lags) and
`dropout_drag` (how much higher the training-mode loss is than the same model's eval-mode loss).

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


def judged_val_metric(e: EvalSeries, last: int = 2) -> float | None:
    """The best finite validation metric of the last `last` evaluations; None when there is none.

    Why the best and not the last: one noisy evaluation on a small validation set must not make a
    model look untrained (or damaged) on its own. Every rule that judges "where validation ended"
    (TL304, TL405, TL501, TL502, memorisation) judges this value; the summary prints
    `final_val_metric`.
    """
    tail = [float(v) for v in e.val_metric[-last:] if math.isfinite(v)]
    if not tail:
        return None
    return max(tail) if e.higher_is_better else min(tail)


def judged_progress(e: EvalSeries, last: int = 2) -> float:
    """`judged_val_metric` as progress over chance (0 = chance, 1 = perfect); NaN when undefined."""
    best = judged_val_metric(e, last)
    if best is None or e.chance_metric is None:
        return math.nan
    return progress_over_chance(best, e.chance_metric, e.higher_is_better)


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


# Losses whose value for a prediction of the class frequencies is the entropy of those frequencies.
LOG_LOSSES = frozenset({"CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "BCELoss"})


def prior_loss(run: RunRecord) -> float | None:
    """The loss of predicting the training class frequencies for every sample: their entropy.

    Why not ln(C): on imbalanced data the prior alone does better than a uniform guess, and a
    model that learned only the prior has fitted nothing. None for regression, for losses that
    are not log losses, and when the class counts were not scanned.
    """
    counts = run.data.class_counts
    if run.task == "regression" or run.loss_class not in LOG_LOSSES or not counts:
        return None
    n = np.asarray(list(counts.values()), float)
    p = n[n > 0] / n.sum()
    return float(-(p * np.log(p)).sum()) if len(p) > 1 else None


def fit_progress(run: RunRecord) -> float:
    """How far the model fits its own training data at the end: 0 = no better than the prior, 1 = perfect.

    Classification with a log loss: 1 - (train-subset loss, eval mode) / `prior_loss`. Otherwise
    the train-subset metric's progress over chance. NaN when neither is known.
    """
    e = run.evals
    prior = prior_loss(run)
    if prior and e.train_loss and math.isfinite(e.train_loss[-1]):
        return 1 - e.train_loss[-1] / prior
    if e.train_metric and e.chance_metric is not None:
        return progress_over_chance(e.train_metric[-1], e.chance_metric, e.higher_is_better)
    return math.nan


@dataclass(frozen=True)
class Memorisation:
    """The training set fitted (almost) perfectly while the validation metric stays well behind.

    Attributes:
        train_loss_share: train-subset loss / the prior's loss (accuracy) or train-subset MAE /
            chance MAE (regression) at the end.
        train_metric, val_metric: at the end (validation: the best of the last two evaluations).
        gap: how far validation is behind, as a share of the way from chance to perfect (accuracy:
            points / (1 - chance); error metrics: the difference / the chance error).
        noise: the validation accuracy's binomial standard error in the same units (0 for MAE).
    """

    train_loss_share: float
    train_metric: float
    val_metric: float
    gap: float
    noise: float


def memorisation(run: RunRecord, max_train_loss_share: float, min_gap: float, noise_sigmas: float = 3.0
                 ) -> Memorisation | None:
    """Whether the model memorised its training set: the train-subset loss under `max_train_loss_share`
    of the prior's (or MAE under that share of chance), and validation behind by at least `min_gap`
    and `noise_sigmas` standard errors. None otherwise.

    Why the train *loss* and not the train accuracy: an accuracy near 1 is also reached by a model
    that fits noisy data as well as it can; a loss near 0 means the model is certain of every
    training label, including the ones it cannot know (healthy probes: ≥ 6 % of the prior's).
    """
    e = run.evals
    if not (e.train_metric and e.val_metric and e.train_loss) or e.chance_metric is None:
        return None
    train = float(e.train_metric[-1])
    val = judged_val_metric(e)
    if val is None or not math.isfinite(train):
        return None
    if e.higher_is_better:
        prior = prior_loss(run)
        if not prior:
            return None
        share = e.train_loss[-1] / prior
        span = 1 - e.chance_metric  # gap and noise in units of the way from chance to perfect
        if not span > 0:
            return None
        gap = (train - val) / span
        noise = math.sqrt(max(val * (1 - val), 1e-12) / max(run.data.n_val, 1)) / span
    else:
        if not e.chance_metric > 0:
            return None
        share = train / e.chance_metric
        gap, noise = (val - train) / e.chance_metric, 0.0
    if not (share <= max_train_loss_share and gap >= max(min_gap, noise_sigmas * noise)):
        return None
    return Memorisation(float(share), train, val, float(gap), noise)


def dropout_drag(run: RunRecord) -> float:
    """How much higher the training-mode loss is than the eval-mode loss of the same samples' kind,
    as a share of the prior's loss, at the last evaluation. NaN when undefined.

    Why it measures regularisation: dropout (and other train-only noise) is off in eval mode, so
    the train-subset loss shows what the weights learned and the training-mode loss what the
    optimizer had to fight; a drag comparable to the prior's loss means the noise, not the data,
    sets the training loss.
    """
    e, prior = run.evals, prior_loss(run)
    if not (prior and e.steps and e.train_loss and run.train_loss):
        return math.nan
    end = e.steps[-1]
    window = [v for s, v in zip(run.steps, run.train_loss, strict=False) if end - 10 <= s <= end and math.isfinite(v)]
    if not window or not math.isfinite(e.train_loss[-1]):
        return math.nan
    return (float(np.mean(window)) - e.train_loss[-1]) / prior
