"""TL501 overfitting: the training loss keeps improving while validation stalls or worsens."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.generalization import validation_turn
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
    """The training loss keeps falling while the validation loss rises and the validation metric stalls.

    ## What it checks
    The evaluations (every `eval_every` steps, validation set and a same-size train subset,
    both in eval mode): after the lowest validation loss, whether the validation loss rose by
    `min_val_rise`, the train-subset loss fell by `min_train_drop`, and the validation metric
    improved by no more than `max_metric_gain`, while the train-subset metric ends at least
    `min_metric_gap` better than the validation metric.
    ## Why it matters
    The model memorises the training set instead of learning what generalises; every further
    step makes it worse on new data. Usual causes: a model far larger than the data, too many
    epochs, no regularisation.
    ## How to fix
    Stop near the validation minimum (early stopping), add weight decay or dropout, get more
    data or augment it, or use a smaller model.
    ## Not flagged
    A validation loss that rises while the validation metric still improves; a model as good on
    validation as on training (tiny losses near 100% accuracy fluctuate); a train loss that also
    stalls; fewer than `min_evals_after` evaluations after the minimum; runs without a
    validation split.
    """
    e = run.evals
    turn = validation_turn(e)
    if turn is None or turn.evals_after < t.min_evals_after:
        return  # validation still at its best, or too few evaluations to judge
    # A NaN metric (a loss the probe cannot score) leaves the decision to the losses.
    stalled = not turn.metric_gain > t.max_metric_gain
    gapped = not turn.metric_gap < t.min_metric_gap
    if turn.val_rise < t.min_val_rise or turn.train_drop < t.min_train_drop or not (stalled and gapped):
        return
    best_step = e.steps[turn.best]
    builtin = run.model.is_builtin
    gap = e.val_loss[-1] - e.train_loss[-1]
    yield Finding(
        message=f"validation loss rose {turn.val_rise:.0%} after its minimum at step {best_step} while the train "
                f"loss fell {turn.train_drop:.0%} and the validation {e.metric_name} did not improve "
                f"(change {turn.metric_gain:+.1%}); train/val loss {e.train_loss[-1]:.3g}/{e.val_loss[-1]:.3g}",
        evidence={"best_step": best_step, "val_loss_min": e.val_loss[turn.best], "val_loss_end": e.val_loss[-1],
                  "val_rise": turn.val_rise, "train_drop": turn.train_drop, "metric_gain": turn.metric_gain,
                  "generalization_gap": gap, "metric_gap": turn.metric_gap, "train_metric_end": e.train_metric[-1] if e.train_metric else None,
                  "val_metric_end": e.val_metric[-1] if e.val_metric else None,
                  "min_val_rise": t.min_val_rise, "min_train_drop": t.min_train_drop,
                  "max_metric_gain": t.max_metric_gain, "min_metric_gap": t.min_metric_gap},
        step=best_step,
        fixes=[_weight_decay_fix(run.weight_decay),
               Fix("add dropout between hidden layers", config_key="model.args.dropout" if builtin else None,
                   value=0.3 if builtin else None),
               Fix(f"stop training near step {best_step + 1}, where the validation loss was lowest (early stopping)"),
               Fix("use more training data or augmentation, or a smaller model")],
        config_key="optimizer.args.weight_decay",
    )
