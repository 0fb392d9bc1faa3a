"""Small learnable datasets in the shapes real training code uses: dict samples as Hugging Face
`datasets` yield them, minGPT's (x, y) character pairs, (image, label) pairs."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


class Sentiment(Dataset):
    """{"input_ids", "attention_mask", "labels"}: the label is whether "positive" tokens (1-6)
    outnumber "negative" ones (7-12) among the unpadded tokens."""

    def __init__(self, n: int = 768, length: int = 16, vocab_size: int = 32, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        ids = torch.randint(1, vocab_size, (n, length), generator=g)
        lengths = torch.randint(length // 2, length + 1, (n,), generator=g)
        self.mask = (torch.arange(length)[None, :] < lengths[:, None]).long()
        self.ids = ids * self.mask  # 0 is padding
        pos = ((self.ids >= 1) & (self.ids <= 6)).sum(1)
        neg = ((self.ids >= 7) & (self.ids <= 12)).sum(1)
        self.labels = (pos > neg).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "attention_mask": self.mask[i], "labels": self.labels[i]}


def _counting(n: int, length: int, vocab_size: int, seed: int) -> torch.Tensor:
    """Sequences that count up modulo `vocab_size` from a random start, with a random step of 1 or 2."""
    g = torch.Generator().manual_seed(seed)
    start = torch.randint(0, vocab_size, (n, 1), generator=g)
    step = torch.randint(1, 3, (n, 1), generator=g)
    return (start + step * torch.arange(length)[None, :]) % vocab_size


class CausalText(Dataset):
    """{"input_ids", "labels"} with labels = input_ids, the Hugging Face causal-LM convention
    (the model shifts them itself)."""

    def __init__(self, n: int = 512, length: int = 24, vocab_size: int = 16, seed: int = 0):
        self.ids = _counting(n, length, vocab_size, seed)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


class CharPairs(Dataset):
    """minGPT's CharDataset shape: (x, y) with y = x shifted by one token."""

    def __init__(self, n: int = 512, block_size: int = 24, vocab_size: int = 16, seed: int = 0):
        seq = _counting(n, block_size + 1, vocab_size, seed)
        self.x, self.y = seq[:, :-1], seq[:, 1:]
        self.vocab_size = vocab_size

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class Shapes(Dataset):
    """(3, 16, 16) images of one of four patterns (a bright quadrant), with noise; (image, label) pairs."""

    def __init__(self, n: int = 512, size: int = 16, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.y = torch.randint(0, 4, (n,), generator=g)
        self.x = torch.randn(n, 3, size, size, generator=g) * 0.5
        h = size // 2
        for label, (r, c) in enumerate([(0, 0), (0, h), (h, 0), (h, h)]):
            self.x[self.y == label, :, r:r + h, c:c + h] += 1.0

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class Counting(torch.utils.data.Dataset):
    """(x, y) token sequences counting up modulo `vocab` from a random start; y is x shifted by one."""

    def __init__(self, n: int = 256, length: int = 12, vocab: int = 8, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        seq = (torch.randint(0, vocab, (n, 1), generator=g) + torch.arange(length + 1)[None, :]) % vocab
        self.x, self.y = seq[:, :-1], seq[:, 1:]

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class Blobs(torch.utils.data.Dataset):
    """16-D inputs from 4 Gaussian blobs, for the VAE (targets are the class, unused by the VAE loss)."""

    def __init__(self, n: int = 512, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        centres = torch.randn(4, 16, generator=g) * 1.5
        self.y = torch.randint(0, 4, (n,), generator=g)
        self.x = centres[self.y] + torch.randn(n, 16, generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.x[i]  # a VAE reconstructs its input
