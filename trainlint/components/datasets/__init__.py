"""The dataset registry: built-in datasets by name, or the user's own via `dataset.target`.

``NAMES`` lists the built-ins without importing torch, numpy or scikit-learn (spec checking
and "did you mean" stay cheap); ``build_dataset`` imports the family module it needs.

Built-ins, one module per family (see each module's docstring for args and defaults):

- ``sklearn_data``: ``digits``, ``iris``, ``wine``, ``breast-cancer``, ``diabetes``
  (real, offline, raw features);
- ``synthetic_tabular``: ``synthetic-classification``, ``synthetic-regression``;
- ``synthetic_structured``: ``synthetic-images``, ``synthetic-sequences``;
- ``files``: ``csv``, ``npz``.

Every built-in accepts ``standardize: false`` (standardise features with train-split
statistics). Classification targets are int64 labels of shape (N,); regression targets
are float32 of shape (N, num_targets).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from trainlint.components.base import ComponentError, DataBundle

if TYPE_CHECKING:
    from trainlint.spec.schema import DatasetSpec

_MODULE_OF = {
    "digits": "sklearn_data",
    "iris": "sklearn_data",
    "wine": "sklearn_data",
    "breast-cancer": "sklearn_data",
    "diabetes": "sklearn_data",
    "synthetic-classification": "synthetic_tabular",
    "synthetic-regression": "synthetic_tabular",
    "synthetic-images": "synthetic_structured",
    "synthetic-sequences": "synthetic_structured",
    "csv": "files",
    "npz": "files",
}

NAMES: tuple[str, ...] = tuple(_MODULE_OF)

__all__ = ["NAMES", "build_dataset"]


def build_dataset(spec: DatasetSpec, seed: int, spec_dir: Path, loss_class: str | None = None) -> DataBundle:
    """Build the train/validation data a spec's ``dataset`` section names.

    Args:
        spec: the validated ``dataset`` section.
        seed: the spec's seed; drives synthetic data and the validation split.
        spec_dir: directory of the spec file (relative paths and targets resolve there).
        loss_class: the spec's loss class name, when known: a user dataset's float 0/1 targets
            are binary labels under a BCE loss (see ``user._binary_targets``).

    Returns:
        The split data and its DataInfo; built-ins also expose their tensors.

    Raises:
        ComponentError: an unknown name or argument, a bad value, an impossible task, or
            a user dataset that fails or returns the wrong thing; ``field`` says where.
    """
    if spec.target is not None:
        from trainlint.components.datasets.user import build_user_dataset

        return build_user_dataset(spec, seed, Path(spec_dir), loss_class)
    from trainlint.components.datasets.args import check_size, parse_args
    from trainlint.components.datasets.split import finish
    from trainlint.spec.errors import close_matches

    name = spec.name or ""
    if name not in _MODULE_OF:
        raise ComponentError(
            f"there is no built-in dataset `{name}`",
            "dataset.name",
            ", ".join(NAMES) + " (or `target:` for your own)",
            close_matches(name, NAMES),
        )
    module = importlib.import_module(f"{__name__}.{_MODULE_OF[name]}")
    args_model, builder = module.BUILDERS[name]
    args = parse_args(args_model, spec.args, name)
    check_size(args, name)
    try:
        raw = builder(args, seed, Path(spec_dir), spec.task)
    except MemoryError:
        raise ComponentError(f"dataset `{name}` is too large to build in this machine's memory",
                             "dataset.args", "smaller n_samples / n_features / size / length") from None
    return finish(
        raw, task=spec.task, val_fraction=spec.val_fraction, seed=seed, scale=args.standardize
    )
