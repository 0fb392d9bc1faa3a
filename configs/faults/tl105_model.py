"""TL105 fault model: a regression MLP that squeezes its (B, 1) output to (B,)."""

import torch
from torch import nn


class SqueezedMLP(nn.Module):
    """One hidden layer; forward returns shape (B,) while the targets are (B, 1)."""

    def __init__(self, in_features: int = 10, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)  # bug: (B,) against (B, 1) targets broadcasts to (B, B) in MSE
