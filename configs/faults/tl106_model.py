"""TL106 fault model: a CNN whose global average pool reduces over the batch instead of space."""

import torch
from torch import nn


class BatchPooledCNN(nn.Module):
    """Two conv layers, then a 'global pool' over dim 0 (the batch): every sample gets the same features."""

    def __init__(self, channels: int = 1, num_classes: int = 4):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(channels, 8, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x).mean(dim=(2, 3))  # (B, 16)
        h = h.mean(dim=0, keepdim=True).expand_as(h)  # bug: meant as a normalisation, averages samples away
        return self.head(h)
