"""Turn a built-in dataset's arrays into a DataBundle: task override, seeded split, standardising.

Every built-in builder produces a `RawData` (numpy inputs and targets plus what it knows
about them); `finish` applies the spec's `task`, holds out `val_fraction` with a seeded
permutation, optionally standardises with train-split statistics only, and wraps tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainlint.components.base import ComponentError, DataBundle, DataInfo, InputKind, Task

_MIN_STD = 1e-8
_MAX_CLASSES = 50


@dataclass
class RawData:
    """A built-in dataset before splitting.

    Attributes:
        x: inputs, shape (N, ...); floats, or integer ids for ``tokens``.
        y: class labels 0..C-1 of shape (N,) for classification, floats (N, k) for regression.
        task: the task the data naturally has.
        input_kind: tabular, image, sequence or tokens.
        num_classes: classes for classification, else None.
        vocab_size: for tokens, else None.
        notes: remarks to pass on to the user (e.g. how labels were encoded).
    """

    x: np.ndarray
    y: np.ndarray
    task: Task
    input_kind: InputKind
    num_classes: int | None = None
    vocab_size: int | None = None
    notes: list[str] = field(default_factory=list)


Builder = Callable[[Any, int, Path, Task | None], RawData]
"""A built-in builder: ``(args, seed, spec_dir, task) -> RawData`` (task is the spec's, or None)."""


def encode_labels(values: np.ndarray, what: str) -> tuple[np.ndarray, int, list[str]]:
    """Map class values to labels 0..C-1.

    Labels already equal to 0..C-1 are kept; anything else (``1..3``, ``-1/1``, strings)
    is mapped in sorted order and the mapping is reported in a note.

    Returns:
        The int64 labels, the number of classes and notes.
    """
    uniques = np.unique(values)
    if uniques.dtype.kind in "iub" and np.array_equal(uniques, np.arange(len(uniques))):
        return values.astype(np.int64), len(uniques), []
    labels = np.searchsorted(uniques, values).astype(np.int64)
    shown = ", ".join(f"{u!s}→{i}" for i, u in enumerate(uniques[:10].tolist()))
    more = ", ..." if len(uniques) > 10 else ""
    return labels, len(uniques), [f"{what} class values were encoded as labels: {shown}{more}"]


def is_integer_valued(y: np.ndarray) -> bool:
    """Whether every value of ``y`` is a whole number (any numeric dtype)."""
    if y.dtype.kind in "iub":
        return True
    return y.dtype.kind == "f" and bool(np.all(np.isfinite(y))) and bool(np.all(y == np.round(y)))


def infer_task(y: np.ndarray) -> Task:
    """multiclass for whole-number targets with few distinct values, else regression.

    Few means at most 50, and at most half the number of samples (a column of distinct
    whole numbers is a quantity, not a label).
    """
    limit = min(_MAX_CLASSES, max(2, len(y) // 2))
    if y.ndim == 1 and is_integer_valued(y) and len(np.unique(y)) <= limit:
        return "multiclass"
    return "regression"


def apply_task(raw: RawData, task: Task | None) -> RawData:
    """Return ``raw`` converted to the spec's ``task`` (None keeps the inferred one).

    Raises:
        ComponentError: the conversion is impossible (e.g. binary on 10 classes, or
            classification on continuous targets); field ``dataset.task``.
    """
    if task is None or task == raw.task:
        return raw
    if task == "regression":
        raw.y = raw.y.astype(np.float32).reshape(len(raw.y), -1)
        raw.task, raw.num_classes = "regression", None
        raw.notes.append("class labels are used as regression targets (task: regression)")
        return raw
    if raw.task == "regression":
        y = raw.y.reshape(len(raw.y), -1)
        if y.shape[1] != 1 or not is_integer_valued(y):
            raise ComponentError(
                f"task `{task}` needs whole-number class labels, but the targets are continuous"
                f" (shape {tuple(raw.y.shape)})",
                "dataset.task",
                "regression for this dataset",
            )
        raw.y, raw.num_classes, notes = encode_labels(y[:, 0].astype(np.int64), "target")
        raw.notes.extend(notes)
    if task == "binary" and raw.num_classes != 2:
        raise ComponentError(
            f"task `binary` needs exactly 2 classes, but this dataset has {raw.num_classes}",
            "dataset.task",
            "multiclass or regression for this dataset",
        )
    raw.task = task
    return raw


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded permutation of ``range(n)`` cut into train and validation indices.

    Why: the split stream is derived from ``(seed, 1)`` so it is independent of the
    stream that generated synthetic data from the same seed.
    """
    order = np.random.default_rng([seed, 1]).permutation(n)
    n_val = round(n * val_fraction)
    if val_fraction > 0:
        n_val = min(max(n_val, 1), n - 1)
    return order[n_val:], order[:n_val]


def standardize(x_train: np.ndarray, kind: InputKind, *others: np.ndarray) -> list[np.ndarray]:
    """Standardise arrays with the mean/std of ``x_train`` (constant features are only centred).

    Statistics are per feature: per column (tabular), per channel (image) or per feature
    dimension over all time steps (sequence).

    Raises:
        ComponentError: token ids cannot be standardised.
    """
    if kind == "tokens":
        raise ComponentError(
            "token ids cannot be standardised", "dataset.args.standardize", "false for tokens"
        )
    axes: tuple[int, ...] = {"image": (0, 2, 3), "sequence": (0, 1)}.get(kind, (0,))
    # nan-aware so that missing cells (NaN) stay missing instead of spoiling their column.
    mean = np.nanmean(x_train.astype(np.float64), axis=axes, keepdims=True)
    std = np.nanstd(x_train.astype(np.float64), axis=axes, keepdims=True)
    # A feature constant on the train split (e.g. a border pixel of digits) is only centred:
    # dividing by ~0 would blow up any validation sample where it is not constant.
    std = np.where(std < _MIN_STD, 1.0, std)
    return [((a - mean) / std).astype(np.float32) for a in (x_train, *others)]


def finish(
    raw: RawData, *, task: Task | None, val_fraction: float, seed: int, scale: bool
) -> DataBundle:
    """Apply the task, split, optionally standardise, and wrap as tensors.

    Args:
        raw: the builder's arrays.
        task: the spec's ``dataset.task`` (None: keep the inferred task).
        val_fraction: share of samples held out for validation (0: no validation set).
        seed: seed of the split permutation.
        scale: standardise features with train-split statistics.
    """
    import torch
    from torch.utils.data import TensorDataset

    raw = apply_task(raw, task)
    x = raw.x.astype(np.int64 if raw.input_kind == "tokens" else np.float32)
    if raw.task == "regression":
        y = raw.y.astype(np.float32).reshape(len(raw.y), -1)
    else:
        y = raw.y.astype(np.int64).reshape(-1)
    train_idx, val_idx = split_indices(len(x), val_fraction, seed)
    x_train, x_val = x[train_idx], x[val_idx]
    if scale:
        x_train, x_val = standardize(x_train, raw.input_kind, x_val)
    t: list[Any] = [
        torch.from_numpy(np.ascontiguousarray(a))
        for a in (x_train, y[train_idx], x_val, y[val_idx])
    ]
    if val_fraction == 0:
        t[2] = t[3] = None
    info = DataInfo(
        task=raw.task,
        input_shape=tuple(int(s) for s in x.shape[1:]),
        input_kind=raw.input_kind,
        num_classes=raw.num_classes if raw.task != "regression" else None,
        num_targets=int(y.shape[1]) if raw.task == "regression" else None,
        vocab_size=raw.vocab_size,
    )
    return DataBundle(
        train=TensorDataset(t[0], t[1]),
        val=TensorDataset(t[2], t[3]) if t[2] is not None else None,
        info=info,
        builtin=True,
        tensors=(t[0], t[1], t[2], t[3]),
        notes=list(raw.notes),
    )
