"""The user's own dataset (`dataset.target`): call it, split it, and describe it for the models.

The target is called with ``dataset.args`` and must return a ``torch.utils.data.Dataset``
of ``(input, target)`` pairs (anything with ``__len__`` and ``__getitem__``), or a
``(train, val)`` tuple of them. What the data is (DataInfo) is read from the spec, then the
dataset's attributes (``task``, ``num_classes``, ``vocab_size``), then the samples (and, for
float 0/1 targets, the loss: under BCE they are binary labels, see `_binary_targets`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

import numpy as np

from trainlint.components.arguments import check_arguments
from trainlint.components.base import ComponentError, DataBundle, DataInfo, InputKind, Task
from trainlint.spec.targets import resolve_target

_FIELD = "dataset.target"
_SCAN = 5000  # samples read to infer classes and vocabulary


def _is_dataset(obj: Any) -> bool:
    if isinstance(obj, Mapping | str | bytes):  # sized and indexable, but not a dataset
        return False
    return hasattr(obj, "__len__") and hasattr(obj, "__getitem__")


class _SampleError(ComponentError):
    """Reading one sample raised (the user's `__getitem__`)."""


def _as_array(value: Any, what: str) -> np.ndarray:
    try:
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        return np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - arbitrary user objects
        raise ComponentError(
            f"the dataset's {what} cannot be read as an array ({type(exc).__name__}: {exc})", _FIELD
        ) from None


def _sample(ds: Any, i: int, target_key: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sample `i`'s first input and its target, whatever the sample's shape (see probe/adapters.py)."""
    from trainlint.probe.adapters import AdapterError, split_batch

    try:
        item = ds[i]
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code
        raise _SampleError(
            f"reading sample {i} of the dataset raised {type(exc).__name__}: {exc}", _FIELD
        ) from None
    try:
        sample = split_batch(item, target_key)
    except AdapterError as exc:
        raise ComponentError(f"dataset sample {i}: {exc}".replace("a batch", "a sample"), exc.field
                             if exc.field != "dataset" else _FIELD) from None
    first = next((v for v in (*sample.inputs, *sample.keyword_inputs.values())), None)
    return _as_array(first, "inputs"), _as_array(sample.target, "targets")


def _call(spec: Any, spec_dir: Path) -> Any:
    factory = resolve_target(spec.target, spec_dir, _FIELD)
    check_arguments(factory, spec.args, "dataset")
    try:
        return factory(**spec.args)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code
        raise ComponentError(
            f"calling `{spec.target}` raised {type(exc).__name__}: {exc}", _FIELD
        ) from None


def _split(result: Any, spec: Any, seed: int) -> tuple[Any, Any, list[str]]:
    """The (train, val) pair: the user's own, or val_fraction split off with a seeded permutation."""
    import torch
    from torch.utils.data import Subset

    if (
        isinstance(result, tuple)
        and len(result) == 2
        and all(r is None or _is_dataset(r) for r in result)
        and _is_dataset(result[0])
    ):
        notes = ["the dataset target returned its own (train, val) split; val_fraction is unused"]
        return result[0], result[1], notes
    if not _is_dataset(result):
        raise ComponentError(
            f"`{spec.target}` returned {type(result).__name__}; expected a torch Dataset "
            "of (input, target) pairs or a (train, val) tuple of them",
            _FIELD,
        )
    n = len(result)
    if n < 2:
        raise ComponentError(f"the dataset has {n} samples; at least 2 are needed", _FIELD)
    if spec.val_fraction == 0:
        return result, None, []
    n_val = min(max(round(n * spec.val_fraction), 1), n - 1)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return Subset(result, order[n_val:]), Subset(result, order[:n_val]), []


def _attr(ds: Any, name: str) -> Any:
    for obj in (ds, getattr(ds, "dataset", None)):  # a Subset exposes the wrapped dataset
        if obj is not None and getattr(obj, name, None) is not None:
            return getattr(obj, name)
    return None


def _input_kind(x: np.ndarray) -> InputKind:
    if x.ndim == 0:
        raise ComponentError("dataset inputs must be at least 1-D, got a scalar", _FIELD)
    if x.ndim == 1:
        return "tokens" if x.dtype.kind in "iu" else "tabular"
    return "sequence" if x.ndim == 2 else "image"


# Losses that read one 0/1 probability target per sample: what a binary classifier's targets are for.
PROBABILITY_LOSSES = frozenset({"BCEWithLogitsLoss", "BCELoss"})


def _binary_targets(scan: list[tuple[np.ndarray, np.ndarray]], loss_class: str | None) -> bool:
    """Whether float targets are a binary classifier's labels: one 0/1 value per sample under a BCE loss.

    Why: BCEWithLogitsLoss needs float targets, so a user's binary labels are floats; read as
    regression they would be scored by MAE on logits with the train mean as chance, while the same
    data built in is a binary task (accuracy, majority-class chance).
    """
    if loss_class not in PROBABILITY_LOSSES or not scan:
        return False
    return all(y.size == 1 and float(y.reshape(-1)[0]) in (0.0, 1.0) for _, y in scan)


def _task(spec: Any, ds: Any, y0: np.ndarray, scan: list[tuple[np.ndarray, np.ndarray]],
          loss_class: str | None) -> Task:
    task = spec.task or _attr(ds, "task")
    if task is None:
        if y0.dtype.kind in "iub":
            return "multiclass"
        return "binary" if _binary_targets(scan, loss_class) else "regression"
    if task not in get_args(Task):
        raise ComponentError(
            f"the dataset's `task` attribute is `{task}`", _FIELD, ", ".join(get_args(Task))
        )
    return task


def _scan(train: Any, target_key: str | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Up to `_SCAN` samples, stopping before the first one (after sample 0) that raises.

    Why not fail here: one bad record deep in the data is a crash of the user's data during
    the probe (TL001, with the frame and index, the report still written), not a spec error.
    """
    scan = []
    for i in range(min(len(train), _SCAN)):
        try:
            scan.append(_sample(train, i, target_key))
        except _SampleError:
            if i == 0:
                raise
            break
    return scan


def build_user_dataset(spec: Any, seed: int, spec_dir: Path, loss_class: str | None = None) -> DataBundle:
    """Build the bundle for ``dataset.target`` (see the module docstring).

    ``loss_class`` (the spec's loss, e.g. ``BCEWithLogitsLoss``) lets float 0/1 targets be read as
    binary labels when the spec and the dataset do not say the task (`_binary_targets`).
    """
    train, val, notes = _split(_call(spec, spec_dir), spec, seed)
    if len(train) == 0:
        raise ComponentError("the dataset's training split is empty", _FIELD)
    x0, y0 = _sample(train, 0, spec.target_key)
    kind = _input_kind(x0)
    scan = _scan(train, spec.target_key)
    task = _task(spec, train, y0, scan, loss_class)
    num_classes = num_targets = vocab = None
    if task == "regression":
        num_targets = max(1, int(y0.size))
    else:
        ys = np.concatenate([y.reshape(-1) for _, y in scan])
        ys = ys[ys != -100]  # ignored positions (padding, prompt tokens), as in torch's cross-entropy
        if ys.dtype.kind == "f" and not np.all(ys == np.round(ys)):
            raise ComponentError(
                f"task `{task}` needs whole-number class labels, but the targets are continuous",
                "dataset.task",
                "regression for this dataset",
            )
        attr = _attr(train, "num_classes")
        num_classes = int(attr) if attr is not None else int(ys.max()) + 1
        if task == "binary":
            if num_classes > 2:
                raise ComponentError(
                    f"task `binary` needs labels 0/1, but the dataset has {num_classes} classes",
                    "dataset.task",
                    "multiclass",
                )
            num_classes = 2
        if ys.min() < 0:
            raise ComponentError(f"class labels must be ≥ 0, found {ys.min()}", _FIELD)
    if kind == "tokens":
        attr = _attr(train, "vocab_size")
        vocab = int(attr) if attr is not None else int(max(x.max() for x, _ in scan)) + 1
    elif x0.dtype.kind in "iub":
        notes.append(f"inputs are {x0.dtype} (integer), not float; models expect float inputs")
    info = DataInfo(task, tuple(int(s) for s in x0.shape), kind, num_classes, num_targets, vocab)
    return DataBundle(train=train, val=val, info=info, builtin=False, tensors=None, notes=notes)
