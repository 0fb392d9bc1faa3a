"""Train/validation comparisons shared by the TL5xx rules: the validation minimum and progress over chance."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trainlint.probe.record import EvalSeries


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
    """

    best: int
    val_rise: float
    train_drop: float
    metric_gain: float
    evals_after: int


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
    return ValidationTurn(best, _relative(val_end, float(val[best])), -_relative(train_end, float(train[best])),
                          gain, len(val) - best - 1)


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
