"""Activation recorder: dead / saturated fraction, mean and std per activation module, sampled.

Hooks are attached only for the sampled step's forward pass and removed right after, so
unsampled steps pay nothing. Statistics are reduced on device to one small tensor per module.
"""

from __future__ import annotations

import math
from functools import cache

import torch
from torch import nn

from trainlint.probe.recorders.host import to_host

RELU_LIKE = (nn.ReLU, nn.ReLU6)
SIGMOID_LIKE = (nn.Sigmoid, nn.Hardsigmoid)
TANH_LIKE = (nn.Tanh, nn.Hardtanh)
OTHER = (nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
         nn.Softplus, nn.Softsign, nn.Softmax, nn.LogSoftmax)
ACTIVATIONS = RELU_LIKE + SIGMOID_LIKE + TANH_LIKE + OTHER
# Distance from the bound that counts as saturated: the derivative there is below ~1 %.
SATURATION_MARGIN = 0.01


def activation_modules(model: nn.Module) -> dict[str, nn.Module]:
    return {name: m for name, m in model.named_modules() if isinstance(m, ACTIVATIONS)}


def _unit_max(y: torch.Tensor) -> torch.Tensor:
    """Per-unit maximum over the batch (and positions): features, channels or last dim.

    Why a maximum: a unit is alive when any of its outputs is positive, i.e. when its maximum
    is; one `amax` reads the activations once, ~10x cheaper than comparing every element
    and reducing the booleans (which also allocates a mask the size of the activations).
    """
    if y.dim() <= 1:
        return y.reshape(-1)
    if y.dim() == 2:
        return y.amax(0)
    if y.dim() == 3:  # (batch, time, features)
        return y.amax((0, 1))
    return y.amax((0, *range(2, y.dim())))  # (batch, channels, ...)


def _n_units(y: torch.Tensor) -> int:
    """How many units `_unit_max` reduces to, from the shape alone."""
    if y.dim() <= 1:
        return y.numel()
    return y.shape[-1] if y.dim() in (2, 3) else y.shape[1]


@cache
def _nan(device: torch.device) -> torch.Tensor:
    return torch.tensor(math.nan, device=device)


def _stats(module: nn.Module, out: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], int, int]:
    """((alive units, saturated values, mean, std) as 0-d tensors on device, units, values).

    NaN where not applicable.

    Why raw counts and no `stack`: each small tensor op costs ~10 µs inside a training step
    (its code and data are cold there), so the fractions (one division each) are formed on
    the host, and the 0-d results are stacked once per flush for every sample together. ReLU-like
    outputs are never negative, so a unit is alive exactly when its maximum is non-zero.
    """
    y = out.detach()
    if y.dtype != torch.float32 and y.dtype != torch.float64:
        y = y.float()
    nan = _nan(y.device)
    alive = saturated = nan
    if isinstance(module, RELU_LIKE):
        alive = torch.count_nonzero(_unit_max(y))
    elif isinstance(module, SIGMOID_LIKE):
        saturated = torch.count_nonzero((y - 0.5).abs() > 0.5 - SATURATION_MARGIN)
    elif isinstance(module, TANH_LIKE):
        saturated = torch.count_nonzero(y.abs() > 1 - SATURATION_MARGIN)
    std = y.std() if y.numel() > 1 else nan
    return (alive, saturated, y.mean(), std), _n_units(y), y.numel()


class ActivationRecorder:
    def __init__(self, model: nn.Module):
        self.modules = activation_modules(model)
        self.names = list(self.modules)
        self._handles: list = []
        self._current: dict[str, tuple[tuple[torch.Tensor, ...], int, int]] = {}
        # (step, [(alive, saturated, mean, std), (units, values)] per module)
        self._pending: list[tuple[int, list[tuple[tuple[torch.Tensor, ...], int, int]]]] = []

    def arm(self) -> None:
        for name, module in self.modules.items():
            self._handles.append(module.register_forward_hook(self._hook(name)))

    def _hook(self, name: str):
        def hook(module, _inputs, output):
            if isinstance(output, torch.Tensor) and output.numel() > 0:
                self._current[name] = _stats(module, output)

        return hook

    def disarm(self, step: int) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        if self._current:
            values, _, _ = next(iter(self._current.values()))
            nan = _nan(values[0].device)
            missing = ((nan, nan, nan, nan), 0, 0)
            self._pending.append((step, [self._current.get(n, missing) for n in self.names]))
        self._current = {}

    def flush(self) -> list[tuple[int, list[list[float]]]]:
        """(step, [[dead, saturated, mean, std] per module]) rows since the last flush."""
        if not self._pending:
            return []
        rows = [[v for values, _, _ in stats for v in values] for _, stats in self._pending]
        values = to_host(rows, 4 * len(self.names)).reshape(len(rows), len(self.names), 4).tolist()
        out = []
        for (step, stats), rows in zip(self._pending, values, strict=True):
            out.append((step, [_fractions(row, units, n) for row, (_, units, n) in zip(rows, stats, strict=True)]))
        self._pending.clear()
        return out


def _fractions(row: list[float], units: int, values: int) -> list[float]:
    """[dead fraction, saturated fraction, mean, std] from [alive units, saturated values, mean, std]."""
    alive, saturated, mean, std = row
    return [1.0 - alive / units if units else math.nan, saturated / values if values else math.nan, mean, std]
