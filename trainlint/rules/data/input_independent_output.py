"""TL106 input-independent-output: the model's outputs barely change when its inputs change."""

from __future__ import annotations

import math
from collections.abc import Iterator

from pydantic import Field

from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class InputIndependentOutputThresholds(Thresholds):
    min_sensitivity: float = Field(
        1e-3, gt=0, description="Between-sample output spread / output scale below which the output is "
                                "taken as constant. Healthy models measure ≥ 0.035 at step 0 (a ResNet whose "
                                "global pooling evens out outputs) and ≥ 0.29 at evaluations; a model that "
                                "ignores its input measures ~1e-7.")


@rule(code="TL106", name="input-independent-output", severity=Severity.ERROR, stage=Stage.FIRST_BATCH,
      requires=("first_batch",), thresholds=InputIndependentOutputThresholds)
def input_independent_output(run: RunRecord, t: InputIndependentOutputThresholds) -> Iterator[Finding]:
    """The model gives (almost) the same output for every input.

    ## What it checks
    Output sensitivity: the spread of the outputs across the samples of a batch relative to
    their scale, on the first training batch and on the validation batch of each evaluation.
    The final evaluation decides when there is one; the first batch alone otherwise (a warning).
    ## Why it matters
    A model whose output does not depend on its input can at best learn the average target:
    the loss falls to the "predict the prior" level and stops. Typical causes: a reduction over
    the batch dimension (`mean(0)` for a pooling), inputs overwritten or detached in `forward`,
    an input path multiplied by zero, or every ReLU dead.
    ## How to fix
    Check `forward` for operations over dim 0 and for inputs that are replaced; check that
    the output is computed from `x`; if the collapse happened during training, lower the LR.
    ## Not flagged
    An all-zero output at step 0 (a zero-initialised output layer) without later evaluations;
    a model that starts nearly constant but depends on its input by the final evaluation.
    """
    fb = run.first_batch
    first = fb.output_sensitivity
    if first is None or not math.isfinite(first):
        return  # fewer than two samples, or no tensor output
    evals = [(s, v) for s, v in zip(run.evals.steps, run.evals.output_sensitivity, strict=False)
             if math.isfinite(v)]
    evidence = {"first_batch_sensitivity": first, "min_sensitivity": t.min_sensitivity}
    fixes = [Fix("check forward for reductions over the batch dimension (mean/sum/softmax over dim 0) and "
                 "for inputs that are overwritten, detached or multiplied by zero"),
             Fix("check that every output is computed from the input tensor `x`")]
    if evals:
        step, last = evals[-1]
        evidence |= {"final_sensitivity": last, "final_step": step}
        if last >= t.min_sensitivity:
            return
        if first >= t.min_sensitivity:
            drop = next(s for s, v in evals if v < t.min_sensitivity)
            yield Finding(
                message=f"the output stopped depending on the input during training: sensitivity fell from "
                        f"{first:.3g} at step 0 to {last:.2g} at step {step} (< {t.min_sensitivity:g})",
                evidence=evidence | {"collapse_step": drop}, step=drop, config_key="optimizer.lr",
                fixes=[Fix("lower optimizer.lr 3-10x: a collapse during training usually means dead units "
                           f"after too large updates (LR {run.lr:g})", config_key="optimizer.lr",
                           value=float(f"{run.lr / 10:.3g}") if run.lr > 0 else None), *fixes])
            return
        yield Finding(
            message=f"the output does not depend on the input: sensitivity {first:.2g} at step 0 and "
                    f"{last:.2g} at step {step} (< {t.min_sensitivity:g})",
            evidence=evidence, step=0, fixes=fixes, config_key="model")
        return
    if first >= t.min_sensitivity or (fb.output_min == 0.0 and fb.output_max == 0.0):
        return  # varies, or an all-zero (zero-initialised) output that training may still fix
    yield Finding(
        message=f"the output does not depend on the input at step 0: sensitivity {first:.2g} "
                f"(< {t.min_sensitivity:g}) across {fb.input_shape[0] if fb.input_shape else '?'} samples",
        evidence=evidence, step=0, fixes=fixes, config_key="model", severity=Severity.WARNING)
