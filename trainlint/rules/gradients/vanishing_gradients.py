"""TL402 vanishing-gradients: the first layers' relative gradients are orders of magnitude below the last's."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from pydantic import Field

from trainlint.analysis.gradients import (
    comparable_layers,
    has_normalisation,
    has_residual_blocks,
    relative_grad_ratio,
    saturating_activations,
)
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class VanishingGradientsThresholds(Thresholds):
    max_ratio: float = Field(
        1e-3, gt=0, lt=1,
        description="Median over sampled steps of the first layer's relative gradient ‖g‖/‖w‖ divided by "
                    "the last layer's; below this the first layer hardly learns. Healthy configs (MLP, CNN, "
                    "ResNet, RNN, transformer) measure 0.09-3.3; a 10-layer sigmoid MLP 3e-9.")
    min_layers: int = Field(
        3, ge=2, description="Fewest feature-mixing layers (linear, conv, recurrent, attention) to judge: "
                             "vanishing is a depth effect.")
    min_samples: int = Field(3, ge=1, description="Fewest sampled steps with both layers' norms.")
    min_saturating: int = Field(
        2, ge=1, description="Sigmoid/tanh activations (modules or functional calls) from which the fix blames them: "
                             "a single one (a BERT pooler's tanh, an LSTM-free gate) does not make a stack vanish.")


def _fixes(run: RunRecord, saturating: list[str]) -> list[Fix]:
    """Fixes for what the model has: no activation swap without a saturating stack, no norm/skip it already has."""
    builtin = run.model.is_builtin
    fixes = []
    if saturating:
        shown = ", ".join(f"`{n}`" for n in saturating[:4]) + (" ..." if len(saturating) > 4 else "")
        fixes.append(Fix(f"replace the sigmoid/tanh hidden activations ({shown}) by ReLU or GELU (derivative 1, "
                         "not ≤ 0.25)", config_key="model.args.activation" if builtin else None,
                         value="relu" if builtin else None))
    if not has_normalisation(run.model):
        fixes.append(Fix("add normalisation layers between the layers (layer or batch norm)",
                         config_key="model.args.norm" if builtin else None, value="layer" if builtin else None))
    fixes.append(Fix("initialise with the activation's gain (Kaiming for ReLU, Xavier for tanh)",
                     config_key="model.args.init" if builtin else None,
                     value=("kaiming" if not saturating else "xavier") if builtin else None))
    if not has_residual_blocks(run.model):
        fixes.append(Fix("add residual (skip) connections or use fewer layers"))
    else:
        fixes.append(Fix("use fewer layers, or check that each block's skip path is not scaled down"))
    return fixes


@rule(code="TL402", name="vanishing-gradients", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("layer_grad_norm", "layer_param_norm"), thresholds=VanishingGradientsThresholds)
def vanishing_gradients(run: RunRecord, t: VanishingGradientsThresholds) -> Iterator[Finding]:
    """The first layers' gradients are orders of magnitude smaller than the last layer's.

    ## What it checks
    For the first and the last feature-mixing layer (linear, convolution, recurrent, attention;
    embeddings and norm layers are not comparable), the relative gradient ‖g‖/‖w‖ at each
    sampled step; the median over steps of first / last against `max_ratio`.
    ## Why it matters
    The relative gradient is the step a unit learning rate takes relative to the weights. When
    the first layer's is 1000x smaller than the last's, the early layers barely change: the
    network trains as if only its head existed. Typical cause: a deep stack of sigmoid/tanh
    (derivatives ≤ 0.25 multiply layer after layer), or small initialisation.
    ## How to fix
    Use ReLU/GELU activations, normalisation layers, a gain-aware initialisation, residual
    connections, or a shallower network.
    ## Not flagged
    Networks with fewer than `min_layers` feature-mixing layers; embedding and norm layers (their
    gradient scale differs by nature); ratios above `max_ratio` (0.09-3.3 on healthy networks); a
    gradient that is exactly zero at most sampled steps (a path cut by dead ReLUs or `.detach()`:
    see dead-relu and frozen-or-unused-parameters).
    """
    layers = comparable_layers(run.model, run.layer_grad_norm.names)
    if len(layers) < t.min_layers:
        return  # too shallow to judge
    first, last = layers[0], layers[-1]
    ratios = relative_grad_ratio(run.layer_grad_norm, run.layer_param_norm, first, last)
    if len(ratios) < max(t.min_samples, len(run.layer_param_norm) / 2):
        return  # too few samples, or a gradient mostly exactly zero: a cut path (TL403/TL405), not a vanishing one
    ratio = float(np.median(ratios))
    if ratio >= t.max_ratio:
        return
    per_layer = {name: float(np.median(r)) for name in layers[:-1]
                 if (r := relative_grad_ratio(run.layer_grad_norm, run.layer_param_norm, name, last))}
    acts = set(run.model.activations.values())
    # A stack of them: one tanh (a BERT pooler) or one sigmoid gate does not make gradients vanish.
    saturating = found if len(found := saturating_activations(run)) >= t.min_saturating else []
    yield Finding(
        message=f"the first layer `{first}` gets {ratio:.2g}x the relative gradient ‖g‖/‖w‖ of the last layer "
                f"`{last}` (median over {len(ratios)} sampled steps; < {t.max_ratio:g}): early layers barely learn",
        evidence={"ratio": ratio, "max_ratio": t.max_ratio, "first_layer": first, "last_layer": last,
                  "ratio_by_layer": per_layer, "samples": len(ratios),
                  "activations": sorted(acts)},
        fixes=_fixes(run, saturating),
        config_key="model.args.activation" if run.model.is_builtin and saturating else "model",
    )
