"""Pieces every built-in model shares: argument checking, activation and norm factories, init schemes.

Why modules, not functional calls: each activation is a fresh ``nn.Module`` instance
(``nn.ReLU()``, ``nn.Tanh()``...) with its own name in ``model.modules()``, which reads best in
reports; functional calls in users' models are recorded too (see probe/recorders/activations.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from trainlint.components.base import ComponentError, DataInfo
from trainlint.components.naming import normalize
from trainlint.spec.errors import close_matches

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "silu": nn.SiLU,
}
NORMS = ("none", "batch", "layer")
# default: PyTorch's own; normal: N(0, 1), deliberately large; small_normal: N(0, 0.01).
INITS = ("default", "kaiming", "xavier", "orthogonal", "normal", "small_normal", "zeros")
COMMON_DEFAULTS: dict[str, Any] = {
    "activation": "relu",
    "dropout": 0.0,
    "norm": "none",
    "init": "default",
}
# The gain name torch.nn.init.calculate_gain knows for each activation (close enough for the smooth ones).
_GAIN = {
    "relu": "relu",
    "leaky_relu": "leaky_relu",
    "gelu": "relu",
    "elu": "relu",
    "silu": "relu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
}


def resolve_args(model: str, args: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Merge ``args`` over the common and family defaults, checking names and shared options.

    Raises:
        ComponentError: an unknown argument (``model.args.<arg>``) or a bad shared option value.
    """
    allowed = {**COMMON_DEFAULTS, **defaults}
    for key in args:
        if key not in allowed:
            raise ComponentError(
                f"model `{model}` has no argument `{key}`",
                f"model.args.{key}",
                ", ".join(sorted(allowed)),
                close_matches(str(key), allowed),
            )
    merged = {**allowed, **args}
    merged["activation"] = choice(merged, "activation", list(ACTIVATIONS))
    merged["norm"] = choice(merged, "norm", list(NORMS))
    merged["init"] = choice(merged, "init", list(INITS))
    dropout = merged["dropout"]
    if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0 <= dropout < 1:
        raise ComponentError(
            f"dropout must be a number in [0, 1), got {dropout!r}", "model.args.dropout"
        )
    merged["dropout"] = float(dropout)
    return merged


def choice(args: dict[str, Any], key: str, options: list[str]) -> str:
    """The canonical option ``args[key]`` names; case and ``-``/``_`` are ignored (``LeakyReLU``)."""
    value = args[key]
    by_key = {normalize(o): o for o in options}
    if isinstance(value, str) and normalize(value) in by_key:
        return by_key[normalize(value)]
    raise ComponentError(
        f"unknown {key} `{value}`",
        f"model.args.{key}",
        ", ".join(options),
        close_matches(str(value), options),
    )


def positive_int(args: dict[str, Any], key: str) -> int:
    """``args[key]`` checked to be an integer ≥ 1."""
    value = args[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ComponentError(
            f"{key} must be a positive integer, got {value!r}", f"model.args.{key}"
        )
    return value


def int_list(args: dict[str, Any], key: str) -> list[int]:
    """``args[key]`` checked to be a list of positive integers (a single integer is a list of one)."""
    value = args[key]
    items = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(items, list | tuple) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in items
    ):
        raise ComponentError(
            f"{key} must be a list of positive integers, e.g. [128, 64], got {value!r}",
            f"model.args.{key}",
        )
    return list(items)


def activation(name: str) -> nn.Module:
    """A fresh activation module (one per use, so each gets its own forward hook)."""
    return ACTIVATIONS[name]()


class _SeqBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d over the feature axis of ``(batch, time, features)`` tensors."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


def norm(kind: str, features: int, layout: str = "flat") -> nn.Module:
    """A normalisation layer for ``features`` channels.

    Args:
        kind: none, batch or layer.
        features: channels (images) or the last dimension (flat and sequence layouts).
        layout: ``flat`` (B, F), ``image`` (B, C, H, W) or ``seq`` (B, T, F).
    """
    if kind == "none":
        return nn.Identity()
    if layout == "image":
        # GroupNorm with one group normalises over (C, H, W): layer norm for feature maps.
        return nn.BatchNorm2d(features) if kind == "batch" else nn.GroupNorm(1, features)
    if kind == "batch":
        return _SeqBatchNorm(features) if layout == "seq" else nn.BatchNorm1d(features)
    return nn.LayerNorm(features)


def apply_init(model: nn.Module, scheme: str, act: str) -> None:
    """Re-initialise weight matrices and zero biases of feature-mixing layers.

    Linear, convolution, recurrent and attention weights are re-drawn; embeddings and norm
    layers keep their own initialisation. ``default`` leaves PyTorch's initialisation alone.
    """
    if scheme == "default":
        return
    skip = (nn.Embedding, nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)
    for module in model.modules():
        if isinstance(module, skip):
            continue
        gain_name = "tanh" if isinstance(module, nn.RNNBase) else _GAIN[act]
        if isinstance(module, nn.MultiheadAttention):
            gain_name = "linear"
        for name, param in module.named_parameters(recurse=False):
            with torch.no_grad():
                if param.dim() >= 2:
                    _init_weight(param, scheme, gain_name)
                elif "bias" in name:
                    param.zero_()


def _init_weight(weight: torch.Tensor, scheme: str, gain_name: str) -> None:
    if scheme == "kaiming":
        nn.init.kaiming_normal_(weight, a=0.01, nonlinearity=gain_name)
    elif scheme == "xavier":
        nn.init.xavier_uniform_(weight)
    elif scheme == "orthogonal":
        nn.init.orthogonal_(weight, gain=nn.init.calculate_gain(gain_name, 0.01))
    elif scheme == "normal":
        nn.init.normal_(weight, std=1.0)
    elif scheme == "small_normal":
        nn.init.normal_(weight, std=0.01)
    else:  # zeros
        nn.init.zeros_(weight)


def vocab_size(info: DataInfo) -> int:
    """The vocabulary of a ``tokens`` dataset (an error when the dataset did not say)."""
    if not info.vocab_size:
        raise ComponentError(
            "token inputs need the dataset's vocab_size, and this dataset does not provide one",
            "model.name",
        )
    return info.vocab_size
