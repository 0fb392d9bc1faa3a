"""TL602 fault: a model that keeps every training batch's activations (and autograd graph) alive."""

import torch
from torch import nn


class Net(nn.Module):
    """An MLP that appends its hidden activations to `self.history` on every training forward."""

    def __init__(self, in_features: int = 64, hidden: int = 2048, num_classes: int = 10):
        super().__init__()
        self.fc1, self.act = nn.Linear(in_features, hidden), nn.ReLU()
        self.head = nn.Linear(hidden, num_classes)
        self.history: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.fc1(x))
        if self.training:
            self.history.append(h)  # bug: keeps 64 x 2048 floats (0.5 MB) and their graph per step
        return self.head(h)
