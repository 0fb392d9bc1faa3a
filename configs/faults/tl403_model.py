"""TL403 fault: a ReLU MLP whose first hidden layer starts with strongly negative biases."""

import torch
from torch import nn


class Net(nn.Module):
    """64 → 128 → 64 → 10 ReLU MLP; `fc1.bias` starts at `bias_init`, so most of its units never fire."""

    def __init__(self, in_features: int = 64, hidden: int = 128, num_classes: int = 10, bias_init: float = -2.5):
        super().__init__()
        self.fc1, self.act1 = nn.Linear(in_features, hidden), nn.ReLU()
        self.fc2, self.act2 = nn.Linear(hidden, 64), nn.ReLU()
        self.out = nn.Linear(64, num_classes)
        with torch.no_grad():
            self.fc1.bias.fill_(bias_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.act2(self.fc2(self.act1(self.fc1(x)))))
