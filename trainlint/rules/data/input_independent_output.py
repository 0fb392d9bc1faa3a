"""TL106 input-independent-output: the model's outputs barely change when its inputs change."""

from __future__ import annotations

import math
from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.attribution import decay_dominance
from trainlint.analysis.lr import lower_lr, stable_update_ratio
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class InputIndependentOutputThresholds(Thresholds):
    min_sensitivity: float = Field(
        1e-3, gt=0, description="Between-sample output spread / output scale below which the output is "
                                "taken as constant. Healthy models measure ≥ 0.035 at step 0 (a ResNet whose "
                                "global pooling evens out outputs) and ≥ 0.29 at evaluations; a model that "
                                "ignores its input measures ~1e-7. For regression it is scaled by the targets' "
                                "relative range (max - min) / max|y| when that is below 1.")


def _target_spread(run: RunRecord) -> float:
    """Relative range of regression targets, (max - min) / max |y|, capped at 1 (1 for classification).

    Why: a good regressor of targets like 300 ± 1 (kelvins) varies by ~0.3 % of its output scale;
    the limit shrinks with the targets' own relative spread so that is not taken as constant.
    """
    lo, hi = run.data.target_min, run.data.target_max
    if run.task != "regression" or lo is None or hi is None or max(abs(lo), abs(hi)) == 0:
        return 1.0
    return min(1.0, (hi - lo) / max(abs(lo), abs(hi)))


def _lr_fix(run: RunRecord) -> Fix:
    """Lower the LR, unless weight decay is what makes the updates large (then lower the decay)."""
    if (decay := decay_dominance(run)) is not None:
        r = decay.remedy()
        return Fix(r.text, r.config_key, r.value)
    if run.lr <= 0:
        return Fix("lower optimizer.lr: a collapse during training usually means units killed by too large updates")
    ratio = stable_update_ratio(run).median
    lower = lower_lr(run, ratio)
    why = lower.because(run, ratio)
    return Fix(f"lower optimizer.lr from {run.lr:g} to {lower.value:g}" + (f" ({why})" if why else "")
               + ": a collapse during training usually means units killed by too large updates",
               config_key="optimizer.lr", value=lower.value)


@rule(code="TL106", name="input-independent-output", severity=Severity.ERROR, stage=Stage.FIRST_BATCH,
      requires=("first_batch",), thresholds=InputIndependentOutputThresholds)
def input_independent_output(run: RunRecord, t: InputIndependentOutputThresholds) -> Iterator[Finding]:
    """The model gives (almost) the same output for every input.

    ## What it checks
    Output sensitivity: the spread of the outputs across the samples of a batch relative to
    their scale, on the first training batch and on the validation batch of each evaluation.
    The final evaluation decides when there is one; the first batch alone otherwise. An output
    that never depended on the input is an error; one that stopped depending on it during
    training (units killed by too large updates), or judged on the first batch only, a warning.
    For regression the limit shrinks with the targets' own relative range (targets 300 ± 1
    call for outputs that vary by well under 1 %).
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
    limit = t.min_sensitivity * _target_spread(run)
    evidence = {"first_batch_sensitivity": first, "min_sensitivity": t.min_sensitivity, "effective_limit": limit}
    fixes = [Fix("check forward for reductions over the batch dimension (mean/sum/softmax over dim 0) and "
                 "for inputs that are overwritten, detached or multiplied by zero"),
             Fix("check that every output is computed from the input tensor `x`")]
    if evals:
        step, last = evals[-1]
        evidence |= {"final_sensitivity": last, "final_step": step}
        if last >= limit:
            return
        if first >= limit:
            drop = next(s for s, v in evals if v < limit)
            yield Finding(
                message=f"the output stopped depending on the input during training: sensitivity fell from "
                        f"{first:.3g} at step 0 to {last:.2g} at step {step} (< {limit:.2g})",
                evidence=evidence | {"collapse_step": drop}, step=drop, config_key=(first_fix := _lr_fix(run)).config_key or "optimizer.lr",
                severity=Severity.WARNING,  # a consequence: the LR/dead-unit rules name the cause
                fixes=[first_fix, *fixes])
            return
        yield Finding(
            message=f"the output does not depend on the input: sensitivity {first:.2g} at step 0 and "
                    f"{last:.2g} at step {step} (< {limit:.2g})",
            evidence=evidence, step=0, fixes=fixes, config_key="model")
        return
    if first >= limit or (fb.output_min == 0.0 and fb.output_max == 0.0):
        return  # varies, or an all-zero (zero-initialised) output that training may still fix
    yield Finding(
        message=f"the output does not depend on the input at step 0: sensitivity {first:.2g} "
                f"(< {limit:.2g}) across {fb.input_shape[0] if fb.input_shape else '?'} samples",
        evidence=evidence, step=0, fixes=fixes, config_key="model", severity=Severity.WARNING)
