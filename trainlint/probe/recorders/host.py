"""Copying the recorders' pending 0-d tensors to the host: one `stack`, one copy, per flush."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def to_host(rows: Sequence[Sequence[torch.Tensor]], width: int) -> np.ndarray:
    """`rows` of `width` 0-d tensors each (one row per step or sample) as a float32 array.

    Why one `stack` of everything: a flush may hold thousands of 0-d tensors; one `stack`,
    one `.float()` (it promotes fp16/bf16 next to fp32) and one device-to-host copy cost a
    few ops in all, where converting row by row would cost a few ops per row.
    """
    flat = [value for row in rows for value in row]
    if not flat:
        return np.zeros((len(rows), width), dtype=np.float32)
    return torch.stack(flat).float().cpu().numpy().reshape(len(rows), width)
