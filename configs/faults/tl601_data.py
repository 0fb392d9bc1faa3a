"""TL601 fault: a dataset whose __getitem__ does slow per-sample work (imitated by a sleep)."""

import time

import torch
from torch.utils.data import Dataset


class SlowDataset(Dataset):
    """Gaussian clusters; each sample takes `delay_s` to 'decode', as if read from disk one by one."""

    task = "multiclass"

    def __init__(self, n: int = 400, n_features: int = 16, n_classes: int = 4, delay_s: float = 0.001,
                 seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        centres = 2 * torch.randn(n_classes, n_features, generator=g)
        self.y = torch.randint(0, n_classes, (n,), generator=g)
        self.x = centres[self.y] + torch.randn(n, n_features, generator=g)
        self.num_classes, self.delay_s = n_classes, delay_s

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        time.sleep(self.delay_s)  # bug: expensive per-sample work in the main process
        return self.x[i], self.y[i]
