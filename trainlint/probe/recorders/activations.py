"""Activation recorder: dead / saturated fraction, mean and std per activation module, sampled.

Hooks are attached only for the sampled step's forward pass and removed right after, so
unsampled steps pay nothing. Statistics are reduced on device to one small tensor per module.
"""

from __future__ import annotations

import math
from functools import cache

import torch
from torch import nn

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


def _units(active: torch.Tensor) -> torch.Tensor:
    """Per-unit 'ever true' over the batch (and positions): features, channels or last dim."""
    if active.dim() <= 1:
        return active.reshape(1, -1).any(0)
    if active.dim() == 2:
        return active.any(0)
    if active.dim() == 3:  # (batch, time, features)
        return active.reshape(-1, active.shape[-1]).any(0)
    return active.transpose(0, 1).reshape(active.shape[1], -1).any(1)  # (batch, channels, ...)


@cache
def _nan(device: torch.device) -> torch.Tensor:
    return torch.tensor(math.nan, device=device)


def _stats(module: nn.Module, out: torch.Tensor) -> torch.Tensor:
    """[dead_fraction, saturated_fraction, mean, std] on device (NaN where not applicable)."""
    y = out.detach().float()
    nan = _nan(y.device)
    dead = sat = nan
    if isinstance(module, RELU_LIKE):
        dead = 1.0 - _units(y > 0).float().mean()
    elif isinstance(module, SIGMOID_LIKE):
        sat = ((y < SATURATION_MARGIN) | (y > 1 - SATURATION_MARGIN)).float().mean()
    elif isinstance(module, TANH_LIKE):
        sat = (y.abs() > 1 - SATURATION_MARGIN).float().mean()
    std = y.std() if y.numel() > 1 else nan
    return torch.stack([dead, sat, y.mean(), std])


class ActivationRecorder:
    def __init__(self, model: nn.Module):
        self.modules = activation_modules(model)
        self.names = list(self.modules)
        self._handles: list = []
        self._current: dict[str, torch.Tensor] = {}
        self._pending: list[tuple[int, torch.Tensor]] = []

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
            device = next(iter(self._current.values())).device
            nan = torch.full((4,), math.nan, device=device)
            self._pending.append((step, torch.stack([self._current.get(n, nan) for n in self.names])))
        self._current = {}

    def flush(self) -> list[tuple[int, list[list[float]]]]:
        """(step, [[dead, saturated, mean, std] per module]) rows since the last flush."""
        if not self._pending:
            return []
        steps = [s for s, _ in self._pending]
        rows = torch.stack([t for _, t in self._pending]).cpu().tolist()
        self._pending.clear()
        return list(zip(steps, rows, strict=True))
