"""Gradient and activation maths shared by the TL4xx rules: growth, clip values, layer ratios."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from trainlint.analysis.series import finite
from trainlint.probe.record import LayerSeries, ModelFacts

# Layers whose gradient scale is not comparable with a feature-mixing layer's: an embedding
# updates only the rows it saw, a norm layer's affine parameters have their own scale.
_NOT_COMPARABLE = ("Embedding", "EmbeddingBag", "BatchNorm", "LayerNorm", "GroupNorm",
                   "InstanceNorm", "RMSNorm", "LocalResponseNorm")


def edge_windows(values: Sequence[float], fraction: float = 0.1, min_len: int = 5
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """The first and last `fraction` of the finite values (≥ `min_len` each), or None when too short."""
    arr = finite(values)
    if len(arr) < 2 * min_len:
        return None
    k = max(min_len, int(len(arr) * fraction))
    return arr[:k], arr[-k:]


def growth_factor(values: Sequence[float], fraction: float = 0.1, min_len: int = 5) -> float:
    """Median of the last window over the median of the first; NaN when undecidable."""
    windows = edge_windows(values, fraction, min_len)
    if windows is None:
        return math.nan
    first, last = (float(np.median(w)) for w in windows)
    return last / first if first > 0 else math.nan


def round_sig(value: float, digits: int = 2) -> float:
    """`value` rounded to `digits` significant digits (0 stays 0)."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


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
    return round_sig(float(np.percentile(arr, percentile)))


def comparable_layers(model: ModelFacts, names: Sequence[str]) -> list[str]:
    """Recorded layers that mix features (linear, conv, recurrent, attention), in registration order."""
    types = model.layer_types
    return [n for n in names if not any(t in types.get(n, "") for t in _NOT_COMPARABLE)]


def relative_grad_ratio(grad: LayerSeries, param: LayerSeries, first: str, last: str) -> list[float]:
    """Per sampled step, (‖g‖/‖w‖ of `first`) / (‖g‖/‖w‖ of `last`), where all four are positive.

    Why relative gradients: ‖g‖/‖w‖ is the step a unit learning rate would take relative to the
    weights, so it is comparable between layers of different sizes and scales.
    """
    if first not in grad.names or last not in grad.names or first not in param.names or last not in param.names:
        return []
    at = {s: i for i, s in enumerate(grad.steps)}
    gi, gj = grad.names.index(first), grad.names.index(last)
    pi, pj = param.names.index(first), param.names.index(last)
    ratios = []
    for row_p, step in zip(param.values, param.steps, strict=True):
        if step not in at:
            continue
        row_g = grad.values[at[step]]
        values = (row_g[gi], row_g[gj], row_p[pi], row_p[pj])
        if all(math.isfinite(v) and v > 0 for v in values):
            ratios.append((values[0] / values[2]) / (values[1] / values[3]))
    return ratios


def samples(series: LayerSeries, name: str) -> list[float]:
    """The finite samples of one layer's (or module's) series, in step order."""
    if name not in series.names:
        return []
    return [float(v) for v in finite(series.layer(name))]


def tail(series: LayerSeries, name: str, k: int) -> list[float]:
    """The last `k` finite samples of one layer's (or module's) series."""
    return samples(series, name)[-k:]
