"""TL206 loss-output-mismatch: the model's output is not the form its loss expects."""

from __future__ import annotations

import math
from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.data import REGRESSION_LOSSES, class_width
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class LossOutputMismatchThresholds(Thresholds):
    min_classes_for_index_regression: int = Field(
        3, ge=2, description="Distinct integer labels from which a regression loss on a classification "
                             "task counts as regressing class indices (with 2, MSE on 0/1 is the Brier score).")


def _drop_squash(last: str | None, where: str, rows_sum_to_one: bool | None, path: str | None = None) -> str:
    """What to remove: the final Softmax/Sigmoid module when there is one (by its path in the model,
    e.g. `net.3`, when known), else the function applied in forward.

    Why: with `F.softmax(self.fc(x))` the last module is the Linear, which must stay.
    """
    if last in ("Sigmoid", "Softmax"):
        model = where.removesuffix(".forward").removesuffix("forward")
        place = f", `{path}`" + (f" of {model}" if model else "") if path else f" from {where}"
        return f"remove the final {last} module{place}: the loss applies it itself; apply it only when predicting"
    fn = "softmax (F.softmax / torch.softmax / .softmax())" if rows_sum_to_one else \
        "sigmoid/softmax (F.softmax, torch.sigmoid, ...)"
    return (f"remove the {fn} applied to the output in {where} (the last module, {last or 'none'}, stays): the loss "
            "applies it itself; apply it only when predicting")


def _diagnose(run: RunRecord, t: LossOutputMismatchThresholds) -> tuple[str, list[Fix], str] | None:
    """(problem, fixes, blamed spec key) when the output's measured form contradicts the loss."""
    fb, loss, last = run.first_batch, run.loss_class, run.model.last_module
    lo, hi = fb.output_min, fb.output_max
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    span = f"outputs in [{lo:.3g}, {hi:.3g}]"
    in_unit = lo >= 0.0 and hi <= 1.0
    squashing = last in ("Sigmoid", "Softmax")
    where = f"{run.model.class_name}.forward" if run.model.class_name else "forward"
    paths = [name for name, kind in run.model.activations.items() if kind == last]
    drop_last = Fix(_drop_squash(last, where, fb.output_rows_sum_to_one, paths[-1] if paths else None),
                    applicable=False)  # a code change
    if loss in ("CrossEntropyLoss", "MultiMarginLoss") and fb.output_rows_sum_to_one:
        return (f"{loss} expects raw logits but receives probabilities (every row ≥ 0 and sums to 1, {span}): "
                "softmax is applied twice and the gradients shrink", [drop_last], "model")
    if loss == "CrossEntropyLoss" and in_unit and last == "Sigmoid":
        return (f"{loss} expects raw logits but the last module is a Sigmoid ({span}): logits squashed into "
                "[0, 1] keep the loss near chance", [drop_last], "model")
    if loss == "CrossEntropyLoss" and class_width(fb.output_shape) == 1 and fb.initial_loss == 0.0:
        return (f"{loss} over a single output is 0 for any output (log-softmax of one logit): nothing is learned",
                [Fix("for a binary task with one output use bce_with_logits", config_key="loss.name",
                     value="bce_with_logits"), Fix("or emit one logit per class")], "loss.name")
    if loss == "NLLLoss" and fb.output_is_log_prob is False:
        what = "probabilities (rows sum to 1)" if fb.output_rows_sum_to_one else "raw scores (rows' logsumexp ≠ 0)"
        return (f"NLLLoss expects log-probabilities but receives {what}, {span}: the loss is unbounded or flat",
                [Fix("use cross_entropy on raw logits (it applies log-softmax)", config_key="loss.name",
                     value="cross_entropy"), Fix("or end forward with LogSoftmax(dim=1)")], "loss.name")
    if loss == "BCEWithLogitsLoss" and in_unit and squashing:
        return (f"BCEWithLogitsLoss expects raw logits but the last module is a {last} ({span}): sigmoid is "
                "applied twice, the loss cannot go below ~0.31", [drop_last,
                Fix("or keep the Sigmoid and use bce", config_key="loss.name", value="bce")], "model")
    if loss == "BCELoss" and not in_unit:
        return (f"BCELoss expects probabilities in [0, 1] but receives raw scores ({span})",
                [Fix("use bce_with_logits on the raw outputs (numerically stable)", config_key="loss.name",
                     value="bce_with_logits"), Fix("or end forward with a Sigmoid")], "loss.name")
    d = run.data
    if (loss in REGRESSION_LOSSES and run.task == "multiclass" and d.target_is_integer_valued
            and (d.n_target_values or 0) >= t.min_classes_for_index_regression):
        return (f"{loss} regresses {d.n_target_values} class indices ({d.target_min:g}..{d.target_max:g}) as "
                "numbers: it imposes an order and distances between classes that do not exist",
                [Fix("use cross_entropy with one output per class", config_key="loss.name", value="cross_entropy")],
                "loss.name")
    return None


@rule(code="TL206", name="loss-output-mismatch", severity=Severity.ERROR, stage=Stage.FIRST_BATCH,
      requires=("first_batch", "loss_class"), thresholds=LossOutputMismatchThresholds)
def loss_output_mismatch(run: RunRecord, t: LossOutputMismatchThresholds) -> Iterator[Finding]:
    """The model's output is not the form its loss expects (logits vs probabilities vs indices).

    ## What it checks
    The first batch's measured output form (range, rows summing to 1, rows being
    log-probabilities) together with the loss and the model's last module: probabilities or
    sigmoid outputs fed to CrossEntropyLoss, sigmoid/softmax outputs to BCEWithLogitsLoss,
    raw scores to BCELoss or NLLLoss, CrossEntropyLoss over a single output (always 0), and a
    regression loss (MSE, L1, Huber) on the integer labels of a multiclass task.
    ## Why it matters
    The loss then optimises the wrong quantity: a double softmax/sigmoid squashes gradients and
    caps how low the loss can go; NLLLoss on raw scores is unbounded; a regression on class
    indices invents an order between classes. Training "runs" but learns badly or not at all.
    ## How to fix
    Give logit losses (cross_entropy, bce_with_logits) raw scores and apply softmax/sigmoid only
    at prediction time; give nll log-probabilities (LogSoftmax); use cross_entropy for classes.
    ## Not flagged
    LogSoftmax + NLLLoss or + CrossEntropyLoss (log-softmax is idempotent); a Softmax/Sigmoid
    module whose outputs are not in [0, 1]; sigmoid applied inside `forward` as a function
    without a module (not told apart from logits that happen to lie in [0, 1]); MSE on 0/1
    binary labels; regression tasks with integer targets (counts, ratings).
    """
    found = _diagnose(run, t)
    if found is None:
        return
    problem, fixes, key = found
    fb = run.first_batch
    yield Finding(
        message=problem,
        evidence={"loss_class": run.loss_class, "last_module": run.model.last_module, "output_min": fb.output_min,
                  "output_max": fb.output_max, "output_rows_sum_to_one": fb.output_rows_sum_to_one,
                  "output_is_log_prob": fb.output_is_log_prob, "output_shape": fb.output_shape,
                  "initial_loss": fb.initial_loss, "task": run.task},
        fixes=fixes, step=0, config_key=key)
