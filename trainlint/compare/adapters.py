"""Wrapper losses that let a loss meant for another target form compete in compare-losses.

A variant names one as its `loss.target` (``trainlint.compare.adapters:OneHotTargets``) with the
inner loss in `loss.args.loss`; the model, data and metric stay those of the spec. Each wrapper
changes only the form of the target or the output it hands to the inner loss.
"""

from __future__ import annotations

import torch
from torch import nn

from trainlint.components import losses


def _inner(loss: str, args: dict) -> nn.Module:
    cls = losses.lookup(loss)
    if cls is None:
        raise ValueError(f"unknown loss `{loss}`")
    return cls(**args)


def _as_output(target: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """0/1 targets as floats shaped like the (single-logit) output."""
    return target.to(out.dtype).reshape(out.shape)


class OneHotTargets(nn.Module):
    """Class-index targets → one-hot float vectors, for a regression loss on the logits (e.g. MSE)."""

    def __init__(self, loss: str = "mse", **args):
        super().__init__()
        self.inner = _inner(loss, args)

    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if not torch.is_floating_point(target) and target.dim() == out.dim() - 1:
            target = nn.functional.one_hot(target.long(), out.shape[1]).to(out.dtype)
        return self.inner(out, target)


class SigmoidProbability(nn.Module):
    """Binary: the single logit → a probability (sigmoid), compared with the 0/1 target."""

    def __init__(self, loss: str = "mse", **args):
        super().__init__()
        self.inner = _inner(loss, args)

    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        prob = torch.sigmoid(out)
        return self.inner(prob, _as_output(target, prob))


class SignedTargets(nn.Module):
    """Binary: 0/1 targets → −1/+1, as margin losses (soft margin) expect; ±1 targets pass unchanged."""

    def __init__(self, loss: str = "soft_margin", **args):
        super().__init__()
        self.inner = _inner(loss, args)

    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        target = _as_output(target, out)
        return self.inner(out, torch.where(target > 0, 1.0, -1.0).to(out.dtype))
