"""Fault-zoo user code for the LR/schedule/weight-decay families, written the way public repos write it.

`Net` is the pytorch/examples MNIST CNN shrunk to 8x8 digits (functional `F.relu`, `F.max_pool2d`,
`F.log_softmax` + NLL loss); `MLP` is the usual two-layer functional MLP. Nothing in either is
faulty: the faults live in the configs that use them (LR, schedule, weight decay, labels, data
size). `FrozenBackboneNet` is the one fault in code: a fine-tuning recipe applied to a net that
was never pretrained.
"""

import torch
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    """pytorch/examples mnist `Net`, sized for (1, 8, 8) inputs."""

    def __init__(self, num_classes: int = 10, width: int = 64, p: float | None = None):
        """`p`: the dropout before the head, as pytorch/examples has it (0.5 there); None leaves it out."""
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, 1, padding=1)
        self.dropout1 = nn.Dropout(0.25)
        self.fc1 = nn.Linear(32 * 4 * 4, width)
        self.dropout2 = nn.Dropout(p) if p is not None else nn.Identity()
        self.fc2 = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


class FrozenBackboneNet(Net):
    """`Net` with everything but the last layer frozen, as a fine-tuning recipe does, but nothing
    here was pretrained: the head learns on random features."""

    def __init__(self, width: int = 64, p: float = 0.5):
        super().__init__(width=width, p=p)
        for name, param in self.named_parameters():
            if not name.startswith("fc2"):
                param.requires_grad = False


class MLP(nn.Module):
    """A two-hidden-layer MLP with functional ReLUs and a log-softmax output."""

    def __init__(self, in_features: int = 64, hidden: int = 128, num_classes: int = 10):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, hidden // 2)
        self.fc3 = nn.Linear(hidden // 2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        x = F.relu(self.fc2(x))
        return F.log_softmax(self.fc3(x), dim=1)
