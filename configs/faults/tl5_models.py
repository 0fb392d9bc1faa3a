"""Fault-zoo models for the regularisation and frozen-backbone families, written the way public repos
write them (functional dropout and activations); the pytorch/examples CNN is `tl3_mnist_style.Net`."""

import torch
import torch.nn.functional as F
from torch import nn


class DropoutMLP(nn.Module):
    """An MLP that applies dropout functionally after every hidden layer (`F.dropout`)."""

    def __init__(self, n_in: int = 64, hidden: int = 256, n_out: int = 10, p: float = 0.5):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(n_in, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, n_out)
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.dropout(F.relu(self.fc1(x)), self.p, training=self.training)
        x = F.dropout(F.relu(self.fc2(x)), self.p, training=self.training)
        return self.fc3(x)


class FrozenMLP(nn.Module):
    """An MLP whose hidden layers were frozen with `requires_grad_(False)` (meant for a pretrained
    encoder that was never loaded): only the last layer trains, on random features."""

    def __init__(self, n_in: int = 13, hidden: int = 256, n_out: int = 3):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        self.encoder.requires_grad_(False)
        self.head = nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(torch.flatten(x, 1)))


def head_only_adam(model: nn.Module, lr: float = 1e-3, **kwargs) -> torch.optim.Optimizer:
    """The optimizer of a fine-tuning script, built on the last layer's parameters only: every
    other layer gets gradients and never changes."""
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    return torch.optim.Adam(last.parameters(), lr=lr, **kwargs)
