"""TL405 frozen-or-unused-parameters: trainable parameters that never got a gradient; frozen ones (info)."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class FrozenOrUnusedParametersThresholds(Thresholds):
    min_steps: int = Field(
        5, ge=1, description="Fewest training steps run before 'never got a gradient' is believed.")
    report_frozen: bool = Field(
        True, description="Also report parameters with requires_grad=False, at info level (a frozen "
                          "backbone is often deliberate).")


def _names(names: list[str], k: int = 5) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:k])
    return shown + (f" and {len(names) - k} more" if len(names) > k else "")


@rule(code="TL405", name="frozen-or-unused-parameters", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("grad_norm",), thresholds=FrozenOrUnusedParametersThresholds)
def frozen_or_unused_parameters(run: RunRecord, t: FrozenOrUnusedParametersThresholds) -> Iterator[Finding]:
    """Trainable parameters whose gradient was None or zero at every step; frozen parameters (info).

    ## What it checks
    Every parameter with `requires_grad=True`: whether its gradient was ever present and
    non-zero during the probe. Separately, at info level, the parameters with
    `requires_grad=False`.
    ## Why it matters
    A trainable parameter that never gets a gradient is dead weight: a layer defined in
    `__init__` but not used in `forward`, a branch cut off by `.detach()`, `torch.no_grad()`,
    `.item()` or an integer cast, or a layer whose units are all dead. The model you train is
    not the model you wrote, and optimizers with decoupled weight decay still shrink it.
    ## How to fix
    Use the layer in `forward` or delete it; remove the `.detach()`/`no_grad` that cuts the
    path; if the parameter is meant to stay fixed, set `requires_grad=False`.
    ## Not flagged
    Deliberately frozen parameters are reported at info level only (set `report_frozen: false`
    to silence them); runs shorter than `min_steps`.
    """
    if run.steps_run < t.min_steps:
        return  # too few steps: a parameter may just not have been reached yet
    unused = list(run.params_never_grad)
    if unused:
        layers = sorted({n.rsplit(".", 1)[0] if "." in n else n for n in unused})
        yield Finding(
            message=f"{len(unused)} trainable parameter(s) got no gradient in {run.steps_run} steps "
                    f"(always None or zero): {_names(unused)}",
            evidence={"params_never_grad": unused, "layers": layers, "steps_run": run.steps_run},
            fixes=[Fix(f"use {_names(layers, 3)} in forward() or delete it; look for .detach(), "
                       "torch.no_grad() or .item() on the path from these parameters to the loss"),
                   Fix("if they are meant to stay fixed, set requires_grad=False on them")],
            config_key="model",
        )
    frozen = list(run.model.frozen_params)
    if frozen and t.report_frozen:
        share = 1 - run.model.n_trainable / run.model.n_params if run.model.n_params else 0.0
        yield Finding(
            severity=Severity.INFO,
            message=f"{len(frozen)} parameter(s) are frozen (requires_grad=False, {share:.0%} of the model's "
                    f"weights): {_names(frozen)}; fine if deliberate (e.g. a pretrained backbone)",
            evidence={"frozen_params": frozen, "frozen_share": share},
            fixes=[Fix("set requires_grad=True on them if they should train")],
            config_key="model",
        )
