"""TL104 non-finite-inputs: the training data contains NaN or Inf inputs or targets."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class NonFiniteInputsThresholds(Thresholds):
    max_nonfinite_fraction: float = Field(
        0.0, ge=0, le=1, description="Share of non-finite input (or target) values tolerated. 0: any NaN/Inf "
                                     "counts, since one NaN in a batch turns that batch's loss into NaN.")


@rule(code="TL104", name="non-finite-inputs", severity=Severity.ERROR, stage=Stage.FIRST_BATCH,
      requires=("data",), thresholds=NonFiniteInputsThresholds)
def non_finite_inputs(run: RunRecord, t: NonFiniteInputsThresholds) -> Iterator[Finding]:
    """The training inputs or targets contain NaN or Inf values.

    ## What it checks
    Non-finite values among the training inputs and targets (the whole split for built-in data,
    up to 20,000 samples of a user dataset), as a share of all values scanned.
    ## Why it matters
    A NaN propagates through the forward pass: the loss of every batch containing it becomes
    NaN, its gradient poisons the weights, and training is lost from that step on.
    ## How to fix
    Drop the rows with missing values or impute them (e.g. the train mean of the feature);
    look for divisions by zero or logarithms of 0 in the preprocessing.
    ## Not flagged
    Integer inputs (cannot hold NaN); a share at or below `max_nonfinite_fraction`.
    """
    d = run.data
    if d.samples_scanned == 0:
        return  # nothing scanned
    n_feat = max(d.n_features, 1) * d.samples_scanned
    found = {"inputs": (d.n_nonfinite_inputs, d.n_nonfinite_inputs / n_feat),
             "targets": (d.n_nonfinite_targets, min(1.0, d.n_nonfinite_targets / d.samples_scanned))}
    bad = {k: v for k, v in found.items() if v[0] > 0 and v[1] > t.max_nonfinite_fraction}
    if not bad:
        return
    what = " and ".join(f"{n} non-finite {k[:-1]} values ({frac:.2%})" for k, (n, frac) in bad.items())
    fixes = []
    if "inputs" in bad:
        fixes.append(Fix("drop the rows with NaN/Inf features, or impute them (e.g. the train mean of the "
                         "feature) before training"))
    if "targets" in bad:
        fixes.append(Fix("drop the samples whose target is NaN/Inf"))
    fixes.append(Fix("look for divisions by zero or log(0) in the preprocessing"))
    yield Finding(
        message=f"the training data holds {what} among {d.samples_scanned} samples scanned",
        evidence={"n_nonfinite_inputs": d.n_nonfinite_inputs, "n_nonfinite_targets": d.n_nonfinite_targets,
                  "nonfinite_input_fraction": found["inputs"][1], "nonfinite_target_fraction": found["targets"][1],
                  "samples_scanned": d.samples_scanned, "max_nonfinite_fraction": t.max_nonfinite_fraction},
        fixes=fixes, config_key="dataset")
