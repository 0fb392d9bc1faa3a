"""TL201 initial-loss-off: the loss at step 0 is far above the loss of an uninformative output."""

from __future__ import annotations

import math
from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.data import UNIT_SCALE_LIMIT
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class InitialLossOffThresholds(Thresholds):
    max_ratio: float = Field(
        3.0, gt=1, description="Initial loss / chance-level loss above which the start is 'off'. CS231n and "
                               "Karpathy's recipe: a softmax classifier should start at -ln(1/C); healthy "
                               "built-in setups measure 0.98-1.22, a final layer with N(0, 1) weights ≥ 5.")
    min_expected: float = Field(
        1e-6, gt=0, description="Chance-level losses at or below this cannot be compared against (e.g. a "
                                "loss that is 0 for any output).")


@rule(code="TL201", name="initial-loss-off", severity=Severity.WARNING, stage=Stage.FIRST_BATCH,
      requires=("first_batch", "loss_class"), thresholds=InitialLossOffThresholds)
def initial_loss_off(run: RunRecord, t: InitialLossOffThresholds) -> Iterator[Finding]:
    """The loss at step 0 is many times the loss of an uninformative output of the right form.

    ## What it checks
    The first batch's training loss against the loss the same batch gives for a chance-level
    output: uniform logits (ln C for cross-entropy, ln 2 for a binary logit), probabilities of
    0.5 for BCELoss, zeros for regression (the mean squared target for MSE).
    ## Why it matters
    An untrained model should know nothing: a much higher loss means it starts confidently
    wrong, usually from an output layer initialised too large or inputs on a large scale. The
    first steps are then spent shrinking the output ("hockey-stick" loss) and units may saturate.
    ## How to fix
    Scale the final layer's initial weights down (×0.01, or zero them) so the first outputs are
    near-uniform; use the default initialisation; standardise the inputs (and regression targets).
    ## Not flagged
    A loss below chance at step 0 (e.g. the final bias set to the class prior, a recommended
    practice); non-finite losses (TL202); losses whose chance level is ~0.
    """
    fb = run.first_batch
    init, chance = fb.initial_loss, fb.expected_initial_loss
    if init is None or chance is None or not (math.isfinite(init) and math.isfinite(chance)):
        return  # the loss raised, or was not finite (TL001/TL202)
    if chance <= t.min_expected:
        return
    ratio = init / chance
    if ratio <= t.max_ratio:
        return
    fixes = []
    if run.data.feature_rms_max is not None and run.data.feature_rms_max > UNIT_SCALE_LIMIT:
        fix = Fix("standardise the inputs first: large inputs inflate the first outputs (see TL103)")
        if run.data.is_builtin:
            fix = Fix(fix.text, config_key="dataset.args.standardize", value=True)
        fixes.append(fix)
    elif run.model.is_builtin:
        fixes.append(Fix("set model.args.init: default (PyTorch's fan-in scaled init) instead of a large one",
                         config_key="model.args.init", value="default"))
    fixes.append(Fix(f"scale the final layer's initial weights down about {ratio:.0f}x (or zero them, with the "
                     "bias at the target mean / class prior) so the first outputs are near-uniform"))
    if run.task == "regression":
        fixes.append(Fix("standardise the regression targets (and un-scale the predictions afterwards)"))
    out = (f"; first outputs span [{fb.output_min:.3g}, {fb.output_max:.3g}]"
           if fb.output_min is not None and fb.output_max is not None else "")
    yield Finding(
        message=f"initial loss {init:.4g} is {ratio:.1f}x the chance-level {chance:.4g} (> {t.max_ratio:g}x){out}",
        evidence={"initial_loss": init, "expected_initial_loss": chance, "ratio": ratio, "max_ratio": t.max_ratio,
                  "output_min": fb.output_min, "output_max": fb.output_max, "loss_class": run.loss_class},
        fixes=fixes, step=0, config_key=fixes[0].config_key or "model")
