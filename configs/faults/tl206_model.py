"""TL206 fault models: classifiers that end in a squashing module although their loss applies it itself."""

import torch
from torch import nn


class SoftmaxMLP(nn.Module):
    """An MLP ending in Softmax, trained with CrossEntropyLoss (which applies log-softmax again)."""

    def __init__(self, in_features: int = 64, hidden: int = 64, num_classes: int = 10):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes),
                                 nn.Softmax(dim=1))  # bug: CrossEntropyLoss expects logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SigmoidMLP(nn.Module):
    """A binary MLP ending in Sigmoid, trained with BCEWithLogitsLoss (which applies sigmoid again)."""

    def __init__(self, in_features: int = 30, hidden: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, 1),
                                 nn.Sigmoid())  # bug: BCEWithLogitsLoss expects logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class FunctionalSoftmaxNet(nn.Module):
    """A pytorch-examples-style net that returns `F.softmax(self.fc2(x), dim=1)` (meant for
    inference) and is trained with CrossEntropyLoss: the softmax is a function, not a module."""

    def __init__(self, in_features: int = 64, hidden: int = 64, num_classes: int = 10):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.relu(self.fc1(x))
        return torch.nn.functional.softmax(self.fc2(x), dim=1)  # bug: CrossEntropyLoss expects logits
