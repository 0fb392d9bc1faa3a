"""Fault-zoo datasets for the generalisation families: real digits/wine features whose labels no
longer belong to them (a shuffle applied to the labels alone, as a broken join or a sort on one
column does), and a digits training set cut to a few dozen samples."""

import numpy as np
import torch
from sklearn.datasets import load_digits, load_wine
from torch.utils.data import TensorDataset


def _standardized(x: np.ndarray) -> torch.Tensor:
    x = (x - x.mean(0)) / (x.std(0) + 1e-8)
    return torch.tensor(x, dtype=torch.float32)


def digits_shuffled_labels(as_images: bool = False, seed: int = 0) -> TensorDataset:
    """Digits with the labels permuted independently of the images: nothing carries over."""
    x, y = load_digits(return_X_y=True)
    y = np.random.default_rng(seed).permutation(y)
    xt = torch.tensor(x / 16.0, dtype=torch.float32)
    if as_images:
        xt = xt.reshape(-1, 1, 8, 8)
    return TensorDataset(xt, torch.tensor(y, dtype=torch.long))


def wine_shuffled_labels(seed: int = 0) -> TensorDataset:
    x, y = load_wine(return_X_y=True)
    y = np.random.default_rng(seed).permutation(y)
    return TensorDataset(_standardized(x), torch.tensor(y, dtype=torch.long))
