"""TL101 fault data: digits with 1-based labels (1..10) while declaring 10 classes."""

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch.utils.data import TensorDataset


class OneBasedDigits(TensorDataset):
    """The 8x8 digits, standardised, labelled 1..10 as in a 1-based CSV export."""

    num_classes = 10
    task = "multiclass"

    def __init__(self):
        x, y = load_digits(return_X_y=True)
        x = (x - x.mean(0)) / np.maximum(x.std(0), 1.0)
        super().__init__(torch.tensor(x, dtype=torch.float32), torch.tensor(y + 1, dtype=torch.int64))
