"""TL405 fault: a layer defined in __init__ but never used in forward."""

import torch
from torch import nn


class Net(nn.Module):
    """An MLP with a `refine` layer that forward() forgets to call."""

    def __init__(self, in_features: int = 64, hidden: int = 64, num_classes: int = 10):
        super().__init__()
        self.fc1, self.act1 = nn.Linear(in_features, hidden), nn.ReLU()
        self.refine, self.act2 = nn.Linear(hidden, hidden), nn.ReLU()  # meant to sit between fc1 and head
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act1(self.fc1(x))
        return self.head(h)  # bug: self.refine / self.act2 are never applied
