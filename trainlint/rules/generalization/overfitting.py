"""TL501 overfitting: the training loss keeps improving while validation stalls or worsens."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.generalization import (
    Memorisation,
    fmt_metric,
    judged_progress,
    memorisation,
    validation_turn,
)
from trainlint.analysis.series import round_sig
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class OverfittingThresholds(Thresholds):
    min_val_rise: float = Field(
        0.5, gt=0,
        description="Relative rise of the validation loss from its minimum to the end (best of the last "
                    "two evaluations) that counts. Healthy configs rise ≤ 23% over seeds 0-3 (a one-cycle MLP "
                    "that starts to memorise); the zoo's memorising MLP 190%.")
    min_train_drop: float = Field(
        0.1, ge=0, description="Relative drop of the train-subset loss over the same evaluations: training "
                               "must still be improving.")
    max_metric_gain: float = Field(
        0.02, ge=0, description="Largest relative improvement of the validation metric over the same "
                                "evaluations that still counts as stalled (a loss that rises while accuracy "
                                "keeps climbing is over-confidence, not memorisation).")
    min_metric_gap: float = Field(
        0.05, ge=0, description="Relative gap between the train-subset and validation metric at the end "
                                "((train - val)/train for accuracy, (val - train)/val for MAE) that counts: "
                                "a model at ~100% on both has nothing to overfit.")
    min_evals_after: int = Field(2, ge=1, description="Fewest evaluations after the validation minimum.")
    max_train_loss_share: float = Field(
        0.02, gt=0, lt=1,
        description="Memorisation: the train-subset loss at the end below this share of the loss of predicting the "
                    "class frequencies (regression: the train MAE below this share of the mean predictor's). "
                    "Healthy probes end at ≥ 1.7% (a ResNet at 99% train accuracy) and mostly ≥ 4%; memorising "
                    "MLPs/CNNs on a few dozen samples at 0.01-0.1%.")
    min_memorised_gap: float = Field(
        0.1, gt=0,
        description="Memorisation: how far validation must lag the train subset at the end, as a share of the way "
                    "from chance to perfect (and at least 3 standard errors of the validation accuracy). Healthy "
                    "probes whose train loss is that small lag ≤ 0.03; memorising ones 0.13-0.4.")
    at_chance: float = Field(
        0.1, gt=0, lt=1,
        description="A validation metric less than this share of the way from chance to perfect is left to "
                    "TL502 (labels that do not carry over are not cured by regularisation).")


def _weight_decay_fix(current: float) -> Fix:
    """Weight decay 0.01 (a common decoupled start) when there is none, else ten times the current."""
    if current > 0:
        stronger = round_sig(current * 10, 2)
        return Fix(f"raise optimizer.args.weight_decay 10x, from {current:g} to {stronger:g}",
                   config_key="optimizer.args.weight_decay", value=stronger)
    return Fix("add weight decay (AdamW-style decoupled 0.01 is a common start)",
               config_key="optimizer.args.weight_decay", value=0.01)


@rule(code="TL501", name="overfitting", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("evals",), thresholds=OverfittingThresholds)
def overfitting(run: RunRecord, t: OverfittingThresholds) -> Iterator[Finding]:
    """The model memorises its training set, or its validation loss rises while the train loss falls.

    ## What it checks
    The evaluations (every `eval_every` steps, validation set and a same-size train subset,
    both in eval mode), two ways:
    - *memorisation*: at the end the train-subset loss is below `max_train_loss_share` of the
      loss of predicting the class frequencies (regression: the train MAE below that share of
      the mean predictor's), while the validation metric lags by `min_memorised_gap` of the way
      from chance to perfect (and at least 3 standard errors of the validation accuracy);
    - *turn*: after the lowest validation loss, the validation loss rose by `min_val_rise`, the
      train-subset loss fell by `min_train_drop`, and the validation metric improved by no more
      than `max_metric_gain`, while the train-subset metric ends at least `min_metric_gap`
      better than the validation metric.
    ## Why it matters
    The model memorises the training set instead of learning what generalises; every further
    step makes it worse on new data. Usual causes: a model far larger than the data (or a
    validation split that leaves training a few dozen samples), too many epochs, no
    regularisation.
    ## How to fix
    When validation holds more samples than training, train on more of the data first
    (`dataset.val_fraction`). Then add weight decay or dropout, stop near the validation minimum
    (early stopping), get more data or augment it, or use a smaller model.
    ## Not flagged
    A validation loss that rises while the validation metric still improves; a model as good on
    validation as on training; a train loss that is small but not near zero (a model that fits
    noisy data as well as it can); a validation metric at chance (`at_chance`: TL502 explains
    it — labels that do not carry over are not cured by regularisation); fewer than
    `min_evals_after` evaluations after the minimum; runs without a validation split.
    """
    e = run.evals
    if judged_progress(e) < t.at_chance:  # NaN (no chance level) is not at chance
        return  # validation at chance: TL502 says why (what is fitted does not carry over)
    memorised = memorisation(run, t.max_train_loss_share, t.min_memorised_gap)
    turn = validation_turn(e)
    rising = turn is not None and turn.evals_after >= t.min_evals_after and turn.val_rise >= t.min_val_rise \
        and turn.train_drop >= t.min_train_drop and not turn.metric_gain > t.max_metric_gain \
        and not turn.metric_gap < t.min_metric_gap
    if memorised is None and not rising:
        return
    best_step = e.steps[turn.best] if turn is not None else e.steps[-1]
    if memorised is not None:
        message = _memorised_message(run, memorised)
        if turn is not None and turn.val_rise >= 0.05 and turn.evals_after >= 1:
            message += f"; the validation loss rose {turn.val_rise:.0%} after its minimum at step {best_step}"
    else:
        message = (f"validation loss rose {turn.val_rise:.0%} after its minimum at step {best_step} while the train "
                   f"loss fell {turn.train_drop:.0%} and the validation {e.metric_name} did not improve "
                   f"(change {turn.metric_gain:+.1%}); train/val loss {e.train_loss[-1]:.3g}/{e.val_loss[-1]:.3g}")
    yield Finding(
        message=message,
        evidence={"best_step": best_step, "val_loss_min": min(e.val_loss), "val_loss_end": e.val_loss[-1],
                  "val_rise": turn.val_rise if turn else None, "train_drop": turn.train_drop if turn else None,
                  "metric_gain": turn.metric_gain if turn else None,
                  "generalization_gap": e.val_loss[-1] - e.train_loss[-1],
                  "metric_gap": turn.metric_gap if turn else None,
                  "train_metric_end": e.train_metric[-1] if e.train_metric else None,
                  "val_metric_end": e.val_metric[-1] if e.val_metric else None,
                  "memorised": memorised is not None,
                  "train_loss_share": memorised.train_loss_share if memorised else None,
                  "memorised_gap": memorised.gap if memorised else None,
                  "n_train": run.data.n_train, "n_val": run.data.n_val,
                  "min_val_rise": t.min_val_rise, "min_train_drop": t.min_train_drop,
                  "max_metric_gain": t.max_metric_gain, "min_metric_gap": t.min_metric_gap,
                  "max_train_loss_share": t.max_train_loss_share, "min_memorised_gap": t.min_memorised_gap},
        step=best_step,
        fixes=(fixes := _fixes(run, best_step)),
        config_key=fixes[0].config_key,
    )


def _memorised_message(run: RunRecord, m: Memorisation) -> str:
    e = run.evals
    if e.higher_is_better:
        return (f"the model memorised its {run.data.n_train} training samples: train-subset loss "
                f"{e.train_loss[-1]:.2g} ({m.train_loss_share:.2%} of the loss of predicting the class frequencies), "
                f"train-subset {e.metric_name} {fmt_metric(m.train_metric)} while validation reaches "
                f"{fmt_metric(m.val_metric)}, {(m.train_metric - m.val_metric) * 100:.1f} points behind")
    return (f"the model memorised its {run.data.n_train} training samples: train-subset {e.metric_name} "
            f"{fmt_metric(m.train_metric)} ({m.train_loss_share:.2%} of the mean predictor's) while validation "
            f"reaches {fmt_metric(m.val_metric)}")


def _fixes(run: RunRecord, best_step: int) -> list[Fix]:
    """More data first when the split starves training (validation larger than training), then the usual cures."""
    builtin = run.model.is_builtin
    fixes = [_weight_decay_fix(run.weight_decay),
             Fix("add dropout between hidden layers", config_key="model.args.dropout" if builtin else None,
                 value=0.3 if builtin else None),
             Fix(f"stop training near step {best_step + 1}, where the validation loss was lowest (early stopping)"),
             Fix("use more training data or augmentation, or a smaller model")]
    d = run.data
    if d.n_val > d.n_train > 0:
        fixes.insert(0, Fix(f"train on more of the data: validation has {d.n_val} samples and training only "
                            f"{d.n_train}; set dataset.val_fraction to 0.2", config_key="dataset.val_fraction",
                            value=0.2))
    return fixes
