"""Fault-zoo user data: scikit-learn data exposed the way a quick script does, without scaling.

`digits_255`: the 8x8 digits rescaled to 0-255 pixel values (as images are stored), as (1, 8, 8)
float images, never divided by 255 nor standardised. `diabetes_raw`: the diabetes features
standardised but the targets (disease progression, 25-346) left on their raw scale.
"""

import numpy as np
import torch
from sklearn.datasets import load_diabetes, load_digits
from torch.utils.data import TensorDataset


def digits_255() -> TensorDataset:
    d = load_digits()
    x = torch.tensor(np.round(d.images * 255.0 / 16.0), dtype=torch.float32).unsqueeze(1)
    return TensorDataset(x, torch.tensor(d.target, dtype=torch.long))


def diabetes_raw() -> TensorDataset:
    x, y = load_diabetes(return_X_y=True, scaled=False)
    x = (x - x.mean(0)) / x.std(0)
    return TensorDataset(torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32).unsqueeze(1))
