"""TL402 vanishing-gradients: the first layers' relative gradients are orders of magnitude below the last's."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from pydantic import Field

from trainlint.analysis.gradients import (
    comparable_layers,
    depth_groups,
    forward_shrink,
    group_grad_ratio,
    has_normalisation,
    has_residual_blocks,
    relative_grad_ratio,
    saturating_activations,
)
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class VanishingGradientsThresholds(Thresholds):
    max_ratio: float = Field(
        1e-2, gt=0, lt=1,
        description="Median over sampled steps of the first layers' relative gradient ‖g‖/‖w‖ divided by "
                    "the last layers' (the medians of the first and last third of the feature-mixing layers, "
                    "the output head left out from 5 layers on; the first and last layer below that); below "
                    "this the first layers hardly learn. Healthy runs measure 0.09-4.7 (MLPs, CNNs, ResNet, "
                    "LSTM/GRU, transformers, minGPT, tiny BERTs of 2-6 layers, HF BERT/GPT-2/ViT, a VAE); "
                    "vanishing ones 5e-3 and below: 6-layer sigmoid MLPs 2e-3-5e-3 (Adam, wine) and 5e-4 "
                    "(SGD, digits), 10-layer ones 1e-6, tanh and ReLU stacks with 0.01-std weights 2e-9-2e-7.")
    min_layers: int = Field(
        3, ge=2, description="Fewest feature-mixing layers (linear, conv, recurrent, attention) to judge: "
                             "vanishing is a depth effect.")
    min_samples: int = Field(3, ge=1, description="Fewest sampled steps with both layers' norms.")
    max_forward_shrink: float = Field(
        1e-2, gt=0, lt=1,
        description="Activation std of the last third of the activation layers over the first third before "
                    "training, below which the weights are too small (the signal dies going forward) and the "
                    "initialisation, not the activation, is blamed: 0.01-std tanh and ReLU stacks 2e-8-4e-8, "
                    "sigmoid stacks 0.6-1.0, healthy runs 0.37-1.7.")
    min_saturating: int = Field(
        2, ge=1, description="Sigmoid/tanh activations (modules or functional calls) from which the fix blames them: "
                             "a single one (a BERT pooler's tanh, an LSTM-free gate) does not make a stack vanish.")


def _which(group: list[str], end: str) -> str:
    """`the first layer `fc1`` or `the first 4 layers (`a`, `b`, ...; their median)`."""
    if len(group) == 1:
        return f"the {end} layer `{group[0]}`"
    shown = ", ".join(f"`{n}`" for n in group[:3]) + (", ..." if len(group) > 3 else "")
    return f"the {end} {len(group)} layers ({shown}; their median)"


def _fixes(run: RunRecord, saturating: list[str], shrink: float | None) -> list[Fix]:
    """Fixes for what the model has: no activation swap without a saturating stack, no norm/skip it
    already has; the initialisation first when the signal already dies going forward (`shrink`)."""
    builtin = run.model.is_builtin
    gain = "xavier" if saturating_activations(run) else "kaiming"
    init = Fix("initialise with the activation's gain (Kaiming for ReLU, Xavier for tanh)",
               config_key="model.args.init" if builtin else None, value=gain if builtin else None)
    if shrink is not None:  # too small weights: another activation would vanish as well
        init.text = (f"the weights are too small: the activations shrink {1 / shrink:.2g}x from the first layers to "
                     f"the last before training; {init.text}")
        fixes = [init]
    else:
        fixes = []
    if saturating:
        shown = ", ".join(f"`{n}`" for n in saturating[:4]) + (" ..." if len(saturating) > 4 else "")
        fixes.append(Fix(f"replace the sigmoid/tanh hidden activations ({shown}) by ReLU or GELU (derivative 1, "
                         "not ≤ 0.25)", config_key="model.args.activation" if builtin else None,
                         value="relu" if builtin else None))
    if not has_normalisation(run.model):
        fixes.append(Fix("add normalisation layers between the layers (layer or batch norm)",
                         config_key="model.args.norm" if builtin else None, value="layer" if builtin else None))
    if shrink is None:
        fixes.append(init)
    if not has_residual_blocks(run.model):
        fixes.append(Fix("add residual (skip) connections or use fewer layers"))
    else:
        fixes.append(Fix("use fewer layers, or check that each block's skip path is not scaled down"))
    return fixes


@rule(code="TL402", name="vanishing-gradients", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("layer_grad_norm", "layer_param_norm"), thresholds=VanishingGradientsThresholds)
def vanishing_gradients(run: RunRecord, t: VanishingGradientsThresholds) -> Iterator[Finding]:
    """The first layers' gradients are orders of magnitude smaller than the last layers'.

    ## What it checks
    The relative gradient ‖g‖/‖w‖ of the feature-mixing layers (linear, convolution, recurrent,
    attention; embeddings and norm layers are not comparable) at each sampled step: the median
    over the first third of them against the median over the last third (from 5 such layers the
    output head is left out; below that, the first layer against the last), and the median over
    steps of that ratio against `max_ratio`. Why thirds and not the first and last layer: an
    output head learns fast and an attention query/key projection slowly whatever the depth
    (see `analysis.gradients.depth_groups`); vanishing is a fall across depth.
    ## Why it matters
    The relative gradient is the step a unit learning rate takes relative to the weights. When
    the first layers' is 100x or more smaller than the last's, the early layers barely change: the
    network trains as if only its head existed. Typical cause: a deep stack of sigmoid/tanh
    (derivatives ≤ 0.25 multiply layer after layer), or small initialisation.
    ## How to fix
    Use ReLU/GELU activations, normalisation layers, a gain-aware initialisation, residual
    connections, or a shallower network.
    ## Not flagged
    Networks with fewer than `min_layers` feature-mixing layers; embedding and norm layers (their
    gradient scale differs by nature); ratios above `max_ratio` (0.09-4.7 on healthy networks); a
    gradient that is exactly zero at most sampled steps (a path cut by dead ReLUs or `.detach()`:
    see dead-relu and frozen-or-unused-parameters).
    """
    layers = comparable_layers(run.model, run.layer_grad_norm.names)
    if len(layers) < t.min_layers:
        return  # too shallow to judge
    firsts, lasts = depth_groups(layers)
    ratios = group_grad_ratio(run.layer_grad_norm, run.layer_param_norm, firsts, lasts)
    if len(ratios) < max(t.min_samples, len(run.layer_param_norm) / 2):
        return  # too few samples, or a gradient mostly exactly zero: a cut path (TL403/TL405), not a vanishing one
    ratio = float(np.median(ratios))
    if ratio >= t.max_ratio:
        return
    last = layers[-1]
    per_layer = {name: float(np.median(r)) for name in layers[:-1]
                 if (r := relative_grad_ratio(run.layer_grad_norm, run.layer_param_norm, name, last))}
    acts = set(run.model.activations.values())
    shrink = forward_shrink(run)
    collapsed = shrink if shrink is not None and shrink < t.max_forward_shrink else None
    # A stack of them (one tanh of a BERT pooler or one sigmoid gate does not make gradients vanish),
    # and weights that carry the signal forward: with too small weights another activation vanishes too.
    saturating = found if len(found := saturating_activations(run)) >= t.min_saturating and collapsed is None else []
    yield Finding(
        message=f"{_which(firsts, 'first')} {'gets' if len(firsts) == 1 else 'get'} {ratio:.2g}x the relative "
                f"gradient ‖g‖/‖w‖ of {_which(lasts, 'last')} (median over {len(ratios)} sampled steps; "
                f"< {t.max_ratio:g}): early layers barely learn",
        evidence={"ratio": ratio, "max_ratio": t.max_ratio, "first_layer": firsts[0], "last_layer": lasts[-1],
                  "first_layers": firsts, "last_layers": lasts,
                  "ratio_by_layer": per_layer, "samples": len(ratios), "forward_shrink": shrink,
                  "activations": sorted(acts)},
        fixes=_fixes(run, saturating, collapsed),
        config_key=("model.args.init" if collapsed is not None else "model.args.activation" if saturating else "model")
        if run.model.is_builtin else "model",
    )
