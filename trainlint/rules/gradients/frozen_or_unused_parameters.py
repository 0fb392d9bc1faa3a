"""TL405 frozen-or-unused-parameters: trainable parameters that never got a gradient; frozen ones (info)."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.generalization import fit_progress, judged_progress
from trainlint.analysis.gradients import not_updated, weight_share
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class FrozenOrUnusedParametersThresholds(Thresholds):
    min_steps: int = Field(
        5, ge=1, description="Fewest training steps run before 'never got a gradient' is believed.")
    report_frozen: bool = Field(
        True, description="Also report parameters with requires_grad=False, at info level (a frozen "
                          "backbone is often deliberate).")
    min_frozen_share: float = Field(
        0.5, gt=0, le=1, description="Share of the model's weights frozen from which a run that does not learn "
                                     "makes the frozen parameters a warning (the likely cause) instead of info.")
    min_fit_progress: float = Field(
        0.1, gt=0, lt=1, description="A run does not learn when its train-subset loss is less than this share of "
                                     "the way from the class prior's loss to 0, or its validation metric less "
                                     "than this share of the way from chance to perfect (TL502's thresholds).")


def _names(names: list[str], k: int = 5) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:k])
    return shown + (f" and {len(names) - k} more" if len(names) > k else "")


@rule(code="TL405", name="frozen-or-unused-parameters", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("grad_norm",), thresholds=FrozenOrUnusedParametersThresholds)
def frozen_or_unused_parameters(run: RunRecord, t: FrozenOrUnusedParametersThresholds) -> Iterator[Finding]:
    """Trainable parameters that never got a gradient or never changed; frozen parameters.

    ## What it checks
    Every parameter with `requires_grad=True`: whether its gradient was ever present and
    non-zero during the probe; layers whose gradient was non-zero but whose update ratio was 0
    at every sample (the optimizer does not hold them: a warning when they hold
    `min_frozen_share` of the weight norm or the run does not learn). Separately, the
    parameters with `requires_grad=False`.
    ## Why it matters
    A trainable parameter that never gets a gradient is dead weight: a layer defined in
    `__init__` but not used in `forward`, a branch cut off by `.detach()`, `torch.no_grad()`,
    `.item()` or an integer cast, or a layer whose units are all dead. The model you train is
    not the model you wrote, and optimizers with decoupled weight decay still shrink it.
    ## How to fix
    Use the layer in `forward` or delete it; remove the `.detach()`/`no_grad` that cuts the
    path; if the parameter is meant to stay fixed, set `requires_grad=False`.
    ## Not flagged
    Frozen parameters are a warning only when they hold `min_frozen_share` of the weights and
    the run does not learn (TL502's measures); otherwise (e.g. a pretrained backbone) they are
    reported at info level only (set `report_frozen: false`
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
    still = not_updated(run)
    if still:
        share = weight_share(run, still)
        stuck = _not_learning(run, t.min_fit_progress)
        yield Finding(
            severity=Severity.WARNING if stuck or share >= t.min_frozen_share else Severity.INFO,
            message=f"{len(still)} layer(s) get gradients but never change (update ratio 0 at every sample): "
                    f"{_names(still)}; the optimizer does not hold their parameters"
                    + ("; the model does not learn" if stuck else ""),
            evidence={"layers_not_updated": still, "steps_run": run.steps_run, "not_learning": stuck},
            fixes=[Fix("build the optimizer on model.parameters() (or add these layers' parameters to a parameter "
                       "group); if they are meant to stay fixed, set requires_grad=False so no gradient is computed",
                       config_key="optimizer")],
            config_key="optimizer",
        )
    frozen = list(run.model.frozen_params)
    if frozen and t.report_frozen:
        share = 1 - run.model.n_trainable / run.model.n_params if run.model.n_params else 0.0
        stuck = share >= t.min_frozen_share and _not_learning(run, t.min_fit_progress)
        tail = ("and the model does not learn: most of it cannot move" if stuck
                else "fine if deliberate (e.g. a pretrained backbone)")
        yield Finding(
            severity=Severity.WARNING if stuck else Severity.INFO,
            message=f"{len(frozen)} parameter(s) are frozen (requires_grad=False, {share:.0%} of the model's "
                    f"weights): {_names(frozen)}; {tail}",
            evidence={"frozen_params": frozen, "frozen_share": share, "not_learning": stuck},
            fixes=[Fix("set requires_grad=True on them if they should train"
                       + (" (a backbone is only worth freezing when it was pretrained: load its weights first)"
                          if stuck else ""))],
            config_key="model",
        )


def _not_learning(run: RunRecord, min_progress: float) -> bool:
    """The run ends without fitting its training data or with validation near chance (TL502's measures)."""
    return fit_progress(run) < min_progress or judged_progress(run.evals) < min_progress
