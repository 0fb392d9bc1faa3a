"""TL102 class-imbalance: the majority class outnumbers the minority class too many times."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.data import imbalance_ratio, labels_present
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class ClassImbalanceThresholds(Thresholds):
    max_ratio: float = Field(
        10.0, gt=1, description="Majority/minority count ratio that counts as imbalanced. 10:1 is where "
                                "Google's ML crash course's 'moderate' imbalance (minority 1-20 %) begins to "
                                "call for reweighting; the bundled datasets measure ≤ 1.7 (breast-cancer).")
    min_samples: int = Field(
        20, ge=2, description="Fewest labelled training samples to judge the class balance on.")


@rule(code="TL102", name="class-imbalance", severity=Severity.WARNING, stage=Stage.FIRST_BATCH,
      requires=("data",), thresholds=ClassImbalanceThresholds)
def class_imbalance(run: RunRecord, t: ClassImbalanceThresholds) -> Iterator[Finding]:
    """The majority class outnumbers the minority class `max_ratio` times or more.

    ## What it checks
    Label counts of the training split (whole split for built-ins, a sample of a user
    dataset): the ratio of the largest class count to the smallest, over the classes present.
    ## Why it matters
    With a strong imbalance, predicting the majority class already gives high accuracy, the
    minority gradients are drowned, and loss and accuracy hide that the minority is never learned.
    ## How to fix
    Weight the loss by inverse class frequency (`loss.args.weight`, or `pos_weight` for
    BCEWithLogitsLoss), resample the training set (`WeightedRandomSampler`), and judge the
    model on per-class recall or balanced accuracy.
    ## Not flagged
    Regression targets; fewer than `min_samples` labelled samples; a single class (nothing to
    compare); label -100 (PyTorch's padding `ignore_index`); labels per token (language modelling,
    tagging: more labels than samples), whose frequencies follow the language, not a sampling choice.
    """
    counts = {k: run.data.class_counts[k] for k in labels_present(run.data.class_counts)}
    total = sum(counts.values())
    if run.task == "regression" or len(counts) < 2 or total < t.min_samples:
        return  # nothing to compare
    if run.data.samples_scanned and sum(run.data.class_counts.values()) > run.data.samples_scanned:
        return  # one label per token: Zipf's law, not an imbalance to reweight
    ratio = imbalance_ratio(counts)
    if ratio < t.max_ratio:
        return
    major = max(counts, key=counts.get)
    minor = min(counts, key=counts.get)
    fixes = []
    if run.loss_class in ("CrossEntropyLoss", "NLLLoss", "MultiMarginLoss") and min(counts) >= 0:
        n_cls = max(max(counts) + 1, run.num_outputs or 0)
        weights = [round(total / (len(counts) * counts[c]), 3) if counts.get(c) else 0.0 for c in range(n_cls)]
        fixes.append(Fix(f"weight the loss by inverse class frequency: loss.args.weight = {weights} "
                         "(one weight per class)", config_key="loss.args.weight", value=weights))
    elif run.loss_class == "BCEWithLogitsLoss" and set(counts) == {0, 1}:
        pos_weight = round(counts[0] / counts[1], 3)
        fixes.append(Fix(f"weight positives by negatives/positives: loss.args.pos_weight = [{pos_weight}]",
                         config_key="loss.args.pos_weight", value=[pos_weight]))
    fixes += [Fix("or resample the training set with torch.utils.data.WeightedRandomSampler "
                  "(sample weight 1/count of its class)"),
              Fix("judge the model on balanced accuracy or per-class recall, not plain accuracy")]
    yield Finding(
        message=f"class {major} has {counts[major]} training samples, class {minor} only {counts[minor]}: "
                f"imbalance ratio {ratio:.1f} ≥ {t.max_ratio:g}",
        evidence={"imbalance_ratio": ratio, "max_ratio": t.max_ratio, "majority_class": major,
                  "minority_class": minor, "minority_fraction": counts[minor] / total, "class_counts": counts},
        fixes=fixes, config_key="loss")
