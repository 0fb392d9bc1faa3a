"""Fault-zoo models written the way public repos write them (pytorch/examples mnist style:
functional activations and pooling, `log_softmax` output for `nll`), sized for 8x8 digits."""

import torch
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    """pytorch/examples mnist `Net`, scaled to (1, 8, 8) inputs; `p` is the dropout before the head."""

    def __init__(self, p: float = 0.5, width: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, 1, padding=1)
        self.dropout1 = nn.Dropout(0.25)
        self.fc1 = nn.Linear(32 * 4 * 4, width)
        self.dropout2 = nn.Dropout(p)
        self.fc2 = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


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


class FrozenBackboneNet(Net):
    """`Net` with everything but the last layer frozen, as a fine-tuning recipe does, but nothing
    here was pretrained: the head learns on random features."""

    def __init__(self, p: float = 0.5, width: int = 64):
        super().__init__(p, width)
        for name, param in self.named_parameters():
            if not name.startswith("fc2"):
                param.requires_grad = False


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
