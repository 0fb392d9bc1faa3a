"""Fault-zoo dataset for TL203: labels drawn independently of the inputs, so there is nothing to learn."""

import torch
from torch.utils.data import TensorDataset


def random_labels(n_samples: int = 2000, n_features: int = 20, n_classes: int = 5, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_samples, n_features, generator=g)
    y = torch.randint(0, n_classes, (n_samples,), generator=g)
    return TensorDataset(x, y)
