"""TL101 label-out-of-range: class labels fall outside [0, number of class outputs)."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.data import (
    CLASS_INDEX_LOSSES,
    PROBABILITY_TARGET_LOSSES,
    class_width,
    labels_present,
)
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class LabelOutOfRangeThresholds(Thresholds):
    report_one_based: bool = Field(
        True, description="Also report, as info, labels 1..C on C+1 outputs: output 0 is never a target "
                          "(1-based labels that happen to fit because the class count was taken as max+1).")


@rule(code="TL101", name="label-out-of-range", severity=Severity.ERROR, stage=Stage.FIRST_BATCH,
      requires=("data",), thresholds=LabelOutOfRangeThresholds)
def label_out_of_range(run: RunRecord, t: LabelOutOfRangeThresholds) -> Iterator[Finding]:
    """Class labels fall outside `[0, C)` for a model emitting C class scores, or BCE targets outside [0, 1].

    ## What it checks
    The labels of the whole training split (a sample of a user dataset) against the width of
    the model's class dimension measured on the first batch (output dim 1) when the loss takes
    class indices (CrossEntropyLoss, NLLLoss, MultiMarginLoss); for BCELoss/BCEWithLogitsLoss,
    targets against [0, 1]. It fires whether or not the probe crashed on them (TL001 then
    reports the exception; this rule names the labels).
    ## Why it matters
    Cross-entropy indexes the output with the label: out of range it raises on CPU and gives a
    device-side assert on CUDA. BCE with -1/+1 targets runs silently and optimises a loss that
    is unbounded below.
    ## How to fix
    Relabel classes as 0..C-1 (subtract 1 from 1-based labels), or give the model one output per
    class; map -1/+1 binary labels to 0/1 or use `soft_margin` loss.
    ## Not flagged
    Labels equal to -100 (PyTorch's default `ignore_index`, used for padding); regression
    targets; losses other than the class-index and BCE ones. Labels 1..C on C+1 outputs fit,
    so they are reported as info only (output 0 is never a target).
    """
    d, loss = run.data, run.loss_class
    if d.target_min is None or run.task == "regression":
        return  # nothing scanned, or no labels to judge
    blame = "model" if d.is_builtin else "dataset"
    if loss in PROBABILITY_TARGET_LOSSES:
        if d.target_min >= 0.0 and d.target_max <= 1.0:
            return
        fixes = [Fix("map the targets into [0, 1] (for -1/+1 labels: y = (y + 1) / 2)"),
                 Fix("or keep -1/+1 labels with a margin loss", config_key="loss.name", value="soft_margin")]
        yield Finding(
            message=f"{loss} needs targets in [0, 1], but they span [{d.target_min:g}, {d.target_max:g}]",
            evidence={"target_min": d.target_min, "target_max": d.target_max, "allowed": [0, 1],
                      "loss_class": loss}, fixes=fixes, config_key="dataset")
        return
    if loss not in CLASS_INDEX_LOSSES:
        return
    labels = labels_present(d.class_counts)
    fb = run.first_batch
    n_out = class_width(fb.output_shape) if fb is not None and fb.output_shape else None
    n_out = n_out or run.num_outputs
    if not labels or not n_out:
        return  # labels not integers, or output width unknown
    lo, hi = labels[0], labels[-1]
    bad = [k for k in labels if k < 0 or k >= n_out]
    evidence = {"label_min": lo, "label_max": hi, "num_outputs": n_out, "num_classes": run.num_classes,
                "allowed": [0, n_out - 1]}
    if bad:
        n_bad = sum(d.class_counts[k] for k in bad)
        n_all = sum(d.class_counts[k] for k in labels)
        evidence |= {"labels_out_of_range": bad[:10], "n_out_of_range": n_bad, "fraction": n_bad / n_all}
        fixes = []
        if lo >= 1 and hi == n_out:
            fixes.append(Fix(f"labels look 1-based ({lo}..{hi}): subtract 1 so they run 0..{n_out - 1}"))
        if hi >= n_out:
            fixes.append(Fix(f"give the model {hi + 1} class outputs (labels reach {hi})"))
        if lo < 0:
            fixes.append(Fix(f"labels must be ≥ 0 (found {lo}); only -100 is skipped as padding"))
        yield Finding(
            message=f"{n_bad} of {n_all} training labels ({n_bad / n_all:.1%}) fall outside [0, {n_out}): "
                    f"labels span {lo}..{hi} but the model emits {n_out} class scores",
            evidence=evidence, fixes=fixes, config_key=blame)
    elif t.report_one_based and lo == 1 and hi == n_out - 1 and len(labels) == hi:
        yield Finding(
            message=f"labels run 1..{hi} on {n_out} outputs: output 0 is never a target (1-based labels?)",
            evidence=evidence | {"unused_output": 0}, severity=Severity.INFO, config_key=blame,
            fixes=[Fix(f"subtract 1 from the labels so they run 0..{hi - 1} and use {hi} outputs")])
