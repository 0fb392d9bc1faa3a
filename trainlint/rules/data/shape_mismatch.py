"""TL105 shape-mismatch: output and target shapes only broadcast, or do not fit the loss."""

from __future__ import annotations

import math
from collections.abc import Iterator

from trainlint.analysis.data import (
    BROADCAST_WARNING,
    CLASS_INDEX_LOSSES,
    allowed_target_shapes,
    broadcast_shape,
    fmt_shape,
)
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


@rule(code="TL105", name="shape-mismatch", severity=Severity.ERROR, stage=Stage.FIRST_BATCH,
      requires=("first_batch",))
def shape_mismatch(run: RunRecord, t: Thresholds) -> Iterator[Finding]:
    """The model's output and the target have shapes the loss does not pair correctly.

    ## What it checks
    On the first batch: the output and target batch sizes; for class-index losses
    (CrossEntropyLoss, NLLLoss, MultiMarginLoss) a (B, d1, ...) target for a (B, C, d1, ...)
    output (or, for CrossEntropyLoss, probabilities shaped like the output); for element-wise
    losses (MSE, L1, SmoothL1, Huber, BCE, BCEWithLogits, ...) a target shaped exactly like
    the output; for any other loss, torch's "target size ... different to the input size" warning.
    ## Why it matters
    Shapes that merely broadcast train silently on the wrong objective: an MSE between a
    (B, 1) output and a (B,) target compares every output with every target, a (B, B) matrix,
    so the model can only learn the batch mean. Shapes that do not broadcast crash the step.
    ## How to fix
    Make the target the shape the loss expects (e.g. `y.view(-1, 1)`, `y.squeeze(1)`), or the
    output (`out.squeeze(-1)`), in the dataset or in `forward`.
    ## Not flagged
    Soft (probability) targets for CrossEntropyLoss; per-position labels (B, T) for a
    (B, C, T) output; custom losses that handle the shapes without a broadcast warning.
    """
    fb = run.first_batch
    out, tgt, loss = list(fb.output_shape), list(fb.target_shape), run.loss_class
    if not out or not tgt:
        return  # the output is not a tensor, or the forward pass never ran
    warned = [w for w in fb.loss_warnings if BROADCAST_WARNING in w]
    allowed = allowed_target_shapes(out, loss)
    if out[0] != tgt[0]:
        problem = f"output batch {out[0]} ≠ target batch {tgt[0]}"
    elif allowed is not None and tgt not in allowed:
        want = " or ".join(fmt_shape(s) for s in allowed)
        problem = f"{loss} needs a target of shape {want} for output {fmt_shape(out)}, got {fmt_shape(tgt)}"
    elif allowed is None and warned:
        problem = f"the loss warned: {warned[0][:200]}"
    else:
        return
    joint = broadcast_shape(out, tgt)
    broadcasts = joint is not None and joint != out and loss not in CLASS_INDEX_LOSSES
    if broadcasts:
        problem += f"; they broadcast to {fmt_shape(joint)}, so every output is compared with every target"
    fixes = []
    wanted = allowed[0] if allowed else out
    if math.prod(tgt) == math.prod(wanted) and tgt != wanted:
        per_sample = f"shape {fmt_shape(wanted[1:])}" if len(wanted) > 1 else "a scalar"
        view = ", ".join(["-1", *map(str, wanted[1:])])
        fixes.append(Fix(f"reshape the target to {fmt_shape(wanted)}: y.view({view}) before the loss, "
                         f"or return {per_sample} as each sample's target"))
    if allowed and loss not in CLASS_INDEX_LOSSES and math.prod(out) == math.prod(tgt) and out != tgt:
        fixes.append(Fix(f"or make forward return shape {fmt_shape(tgt)} (e.g. out.view_as(y) / out.squeeze(-1))"))
    if out[0] != tgt[0]:
        fixes.append(Fix("keep the batch dimension first in forward (x.flatten(1), not x.view(-1, ...)), "
                         "and return one target per sample"))
    fixes.append(Fix("rerun `trainlint check` to confirm the shapes on one batch"))
    yield Finding(
        message=f"output {fmt_shape(out)} and target {fmt_shape(tgt)} do not fit {loss or 'the loss'}: {problem}",
        evidence={"output_shape": out, "target_shape": tgt, "expected_target_shapes": allowed,
                  "broadcast_shape": joint, "loss_class": loss, "loss_warnings": warned[:3],
                  "crashed": run.crash is not None},
        fixes=fixes, step=0, config_key="model" if run.data.is_builtin else "dataset")
