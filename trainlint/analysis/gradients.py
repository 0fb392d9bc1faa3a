"""Gradient and activation maths shared by the TL4xx rules: growth, clip values, layer ratios."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trainlint.analysis.series import finite, round_sig
from trainlint.probe.record import LayerSeries, ModelFacts

# Layers whose gradient scale is not comparable with a feature-mixing layer's: an embedding
# updates only the rows it saw, a norm layer's affine parameters have their own scale.
_NOT_COMPARABLE = ("Embedding", "EmbeddingBag", "BatchNorm", "LayerNorm", "GroupNorm",
                   "InstanceNorm", "RMSNorm", "LocalResponseNorm")


@dataclass(frozen=True)
class NormProfile:
    """The shape of a global gradient-norm series (finite values only).

    Attributes:
        early: median of the first window (the scale the setup starts training at).
        late: median of the last window; NaN when the series is too short for two windows.
        peak: the largest norm, at index `peak_index` of the series.
        window: steps per window.
    """

    early: float
    late: float
    peak: float
    peak_index: int
    window: int

    @property
    def growth(self) -> float:
        return self.late / self.early if self.early > 0 else math.nan

    @property
    def spike(self) -> float:
        return self.peak / self.early if self.early > 0 else math.inf


def norm_profile(norms: Sequence[float], fraction: float = 0.1, min_len: int = 5) -> NormProfile | None:
    """Early/late medians and the peak of `norms`; None when no value is finite.

    The early window is at least `min_len` values even in a short run (one that stopped on a
    NaN), so a norm that explodes within a few steps is still compared with its start.
    """
    arr = np.asarray(norms, dtype=float)
    ok = np.isfinite(arr)
    if not ok.any():
        return None
    values = arr[ok]
    k = max(min_len, int(len(values) * fraction))
    late = float(np.median(values[-k:])) if len(values) >= 2 * k else math.nan
    peak_index = int(np.argmax(np.where(ok, arr, -np.inf)))
    return NormProfile(float(np.median(values[:k])), late, float(arr[peak_index]), peak_index, k)


def runaway_index(norms: Sequence[float], limit: float) -> int:
    """Index of the first norm that is non-finite or ≥ `limit` (the series' length when none)."""
    arr = np.asarray(norms, dtype=float)
    hits = np.flatnonzero(~np.isfinite(arr) | (arr >= limit))
    return int(hits[0]) if len(hits) else len(arr)


def clip_suggestion(grad_norms: Sequence[float], until: int, percentile: float = 90.0) -> float | None:
    """A gradient-clip value: a high percentile of the finite global norms before index `until`.

    Why the steps before `until` (the part of the run before the norms ran away): they show the
    scale this setup trains at; clipping there leaves ordinary steps intact and caps the runaway
    ones. AutoClip (Seetharaman et al. 2020) likewise clips at a percentile of observed norms.
    """
    arr = np.asarray(grad_norms[: max(until, 1)], dtype=float)
    arr = arr[np.isfinite(arr) & (arr > 0)]
    if len(arr) == 0:
        return None
    return round_sig(float(np.percentile(arr, percentile)), 2)


def comparable_layers(model: ModelFacts, names: Sequence[str]) -> list[str]:
    """Recorded layers that mix features (linear, conv, recurrent, attention), in registration order."""
    types = model.layer_types
    return [n for n in names if not any(t in types.get(n, "") for t in _NOT_COMPARABLE)]


def relative_grad_ratio(grad: LayerSeries, param: LayerSeries, first: str, last: str) -> list[float]:
    """Per sampled step, (‖g‖/‖w‖ of `first`) / (‖g‖/‖w‖ of `last`), where all four are positive.

    Why relative gradients: ‖g‖/‖w‖ is the step a unit learning rate would take relative to the
    weights, so it is comparable between layers of different sizes and scales.
    """
    return group_grad_ratio(grad, param, [first], [last])


def depth_groups(layers: Sequence[str]) -> tuple[list[str], list[str]]:
    """The first and the last third of a network's feature-mixing layers, to compare across depth.

    Why groups, not the first and last layer alone: two layers are special whatever the depth.
    The output head gets the loss gradient directly and often starts with small weights (Hugging
    Face heads: std 0.02), so its ‖g‖/‖w‖ is large; an attention block's query and key projections
    get a second-order gradient through the scores while attention is near uniform, so theirs is
    small. A healthy tiny BERT measured 4e-5 first-query/classifier, against 0.19 for the medians of
    its first and last thirds. With five or more layers the head is left out and the rest split in
    thirds; with fewer, the first layer is compared with the last.
    """
    body = list(layers[:-1]) if len(layers) >= 5 else list(layers)
    k = max(1, len(body) // 3)
    return body[:k], body[-k:]


def forward_shrink(run) -> float | None:
    """How much the signal shrinks forward through the activation layers before training: the median
    activation std over the last third of them divided by that over the first third, at the first
    sampled step; None without three activation layers measured.

    Why: weights drawn too small (std 0.01) shrink the signal layer by layer: 10-layer tanh and
    8-layer ReLU stacks measured 2e-8 and 4e-8, where sigmoid stacks at the default init measured
    0.6-1.0 and healthy networks 0.37-1.7. The backward signal shrinks alike, so the gradients
    vanish whatever the activation.
    """
    series = run.activation_std
    if not series.values:
        return None
    row = [v for v in series.values[0] if math.isfinite(v) and v > 0]
    if len(row) < 3:
        return None
    k = len(row) // 3
    return float(np.median(row[-k:]) / np.median(row[:k]))


def group_grad_ratio(grad: LayerSeries, param: LayerSeries, firsts: Sequence[str], lasts: Sequence[str]) -> list[float]:
    """Per sampled step, the median ‖g‖/‖w‖ of `firsts` over that of `lasts`, over the layers where
    both norms are finite and positive (a step where either group has none is left out)."""
    at = {s: i for i, s in enumerate(grad.steps)}
    gi = {n: i for i, n in enumerate(grad.names)}
    pi = {n: i for i, n in enumerate(param.names)}

    def median_relative(row_g: list[float], row_p: list[float], names: Sequence[str]) -> float | None:
        pairs = [(row_g[gi[n]], row_p[pi[n]]) for n in names if n in gi and n in pi]
        values = [g / w for g, w in pairs if math.isfinite(g) and math.isfinite(w) and g > 0 and w > 0]
        return float(np.median(values)) if values else None

    ratios = []
    for row_p, step in zip(param.values, param.steps, strict=True):
        if step in at:
            first = median_relative(grad.values[at[step]], row_p, firsts)
            last = median_relative(grad.values[at[step]], row_p, lasts)
            if first is not None and last is not None:
                ratios.append(first / last)
    return ratios


def samples(series: LayerSeries, name: str) -> list[float]:
    """The finite samples of one layer's (or module's) series, in step order."""
    if name not in series.names:
        return []
    return [float(v) for v in finite(series.layer(name))]


def tail(series: LayerSeries, name: str, k: int) -> list[float]:
    """The last `k` finite samples of one layer's (or module's) series."""
    return samples(series, name)[-k:]


NORM_CLASSES = ("BatchNorm", "LayerNorm", "GroupNorm", "InstanceNorm", "RMSNorm", "LocalResponseNorm")
# Block classes that carry a skip connection by convention (torchvision, timm, HF, minGPT, our ResNet).
RESIDUAL_HINTS = ("resnet", "residual", "basicblock", "bottleneck", "block", "encoderlayer", "decoderlayer")
SATURATING = frozenset({"Sigmoid", "Tanh", "Hardsigmoid", "Hardtanh", "LogSigmoid", "Softsign"})


def has_normalisation(model) -> bool:
    """Whether the model has normalisation layers (from the classes of its parameter-owning modules)."""
    kinds = set(model.layer_types.values()) | set(model.module_classes)
    return any(k.startswith(NORM_CLASSES) or k.endswith("Norm") for k in kinds)


def has_residual_blocks(model) -> bool:
    """Whether the model is built from residual blocks, judged by its block classes' names.

    Why names: a skip connection is an addition in `forward`, invisible to module inspection;
    this only chooses a fix's wording (never whether a rule fires), and a wrong guess costs a
    suggestion the user already follows.
    """
    names = [c.lower() for c in (*model.module_classes, model.class_name)]
    return any(h in n for n in names for h in RESIDUAL_HINTS)


def saturating_activations(run) -> list[str]:
    """The sigmoid/tanh-like activations the probe saw, modules and functional calls alike: each has
    its kind in `model.activations` (a functional call's is its module's: `tanh(fc1)` is "Tanh",
    `F.gelu` "GELU")."""
    return [n for n, kind in run.model.activations.items() if kind in SATURATING]


def structure_advice(model) -> str:
    """The architectural advice for deep stacks, minus what the model already has."""
    norm, skip = has_normalisation(model), has_residual_blocks(model)
    if norm and skip:
        return ("the model already has normalisation and residual connections: look at the initialisation of the "
                "last layer of each block (zero-init it) and use an LR warmup")
    if norm:
        return "add residual (skip) connections to deep stacks"
    if skip:
        return "add normalisation layers (layer or batch norm) inside the blocks"
    return "add normalisation layers or residual connections to deep stacks"


def not_updated(run) -> list[str]:
    """Layers whose weights never moved although their gradient was non-zero: outside the optimizer.

    Why both: a layer with no gradient is "unused"; a layer with a gradient and an exactly-zero
    update at every sample was never handed to the optimizer (no optimizer rounds a non-zero step
    to exactly zero at every sample).
    """
    u, g = run.update_ratio, run.layer_grad_norm
    if len(u) < 2 or not g.values:
        return []
    grads = {n: max(g.layer(n)) for n in g.names}
    return [n for n in u.names if all(v == 0.0 for v in u.layer(n)) and grads.get(n, 0.0) > 0]


def weight_share(run, layers: list[str]) -> float:
    """Share of the model's weights these layers hold: by parameter count when it was recorded,
    else by their share of the recorded weight norm²."""
    sizes, total = run.model.layer_params, run.model.n_params
    if sizes and total > 0 and all(n in sizes for n in layers):
        return sum(sizes[n] for n in layers) / total
    w = run.layer_param_norm.last()
    norm2 = sum(v * v for v in w.values())
    return sum(w.get(n, 0.0) ** 2 for n in layers) / norm2 if norm2 > 0 else 0.0
