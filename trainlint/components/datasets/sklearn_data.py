"""Real, offline datasets bundled with scikit-learn: digits, iris, wine, breast-cancer, diabetes.

Features are raw (un-normalised) unless ``standardize: true``, so a spec reproduces what
a user loading the data by hand gets, scale problems included.

=============  ==========  =====  ========  ==========================================
name           task        N      features  args (besides ``standardize: false``)
=============  ==========  =====  ========  ==========================================
digits         multiclass  1797   64        ``as_images: false`` — (1, 8, 8) images;
                                            pixel values 0..16
iris           multiclass  150    4
wine           multiclass  178    13
breast-cancer  binary      569    30
diabetes       regression  442    10        raw features (age in years, ...) and raw
                                            targets (disease progression, 25..346)
=============  ==========  =====  ========  ==========================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from trainlint.components.base import Task
from trainlint.components.datasets.args import DatasetArgs
from trainlint.components.datasets.split import Builder, RawData


class DigitsArgs(DatasetArgs):
    """Arguments of ``digits``."""

    as_images: bool = Field(False, description="Give (1, 8, 8) images instead of 64 features.")


# scikit-learn's own files for each loader: (data file, target file or None = last column).
_FILES = {
    "load_digits": ("digits.csv.gz", None),
    "load_iris": ("iris.csv", None),
    "load_wine": ("wine_data.csv", None),
    "load_breast_cancer": ("breast_cancer.csv", None),
    "load_diabetes": ("diabetes_data_raw.csv.gz", "diabetes_target.csv.gz"),
}


def _load(loader: str, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Features and targets, read straight from the files scikit-learn ships.

    Why not `sklearn.datasets.load_*`: importing `sklearn.datasets` pulls in scipy and costs
    ~0.9 s of a probe's ~5 s budget; the bundled CSVs are read in milliseconds. Falls back to
    the loaders if a scikit-learn release moves its files.
    """
    found = _read_bundled(*_FILES[loader])
    if found is not None:
        return found
    import sklearn.datasets

    x, y = getattr(sklearn.datasets, loader)(return_X_y=True, **kwargs)
    return np.asarray(x, dtype=np.float32), np.asarray(y)


def _read_bundled(data_file: str, target_file: str | None) -> tuple[np.ndarray, np.ndarray] | None:
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "datasets" / "data"
    try:
        if target_file is not None:  # diabetes: whitespace-separated, targets apart
            x = np.loadtxt(folder / data_file)
            return x.astype(np.float32), np.loadtxt(folder / target_file)
        if data_file.endswith(".gz"):  # digits: no header, target in the last column
            table = np.loadtxt(folder / data_file, delimiter=",")
        else:  # first line: n_samples, n_features, class names
            table = np.loadtxt(folder / data_file, delimiter=",", skiprows=1)
    except (OSError, ValueError):
        return None
    return table[:, :-1].astype(np.float32), table[:, -1].astype(np.int64)


def build_digits(args: DigitsArgs, seed: int, spec_dir: Path, task: Task | None) -> RawData:
    """The 8x8 handwritten digits, 10 classes."""
    x, y = _load("load_digits")
    if args.as_images:
        return RawData(x.reshape(-1, 1, 8, 8), y.astype(np.int64), "multiclass", "image", 10)
    return RawData(x, y.astype(np.int64), "multiclass", "tabular", 10)


def _classification(loader: str, natural: Task, classes: int) -> Builder:
    def build(args: DatasetArgs, seed: int, spec_dir: Path, task: Task | None) -> RawData:
        x, y = _load(loader)
        return RawData(x, y.astype(np.int64), natural, "tabular", classes)

    build.__doc__ = f"scikit-learn's `{loader}` ({classes} classes)."
    return build


def build_diabetes(args: DatasetArgs, seed: int, spec_dir: Path, task: Task | None) -> RawData:
    """Diabetes progression, one regression target on its raw scale."""
    x, y = _load("load_diabetes", scaled=False)
    return RawData(x, y.astype(np.float32).reshape(-1, 1), "regression", "tabular")


BUILDERS: dict[str, tuple[type[DatasetArgs], Builder]] = {
    "digits": (DigitsArgs, build_digits),
    "iris": (DatasetArgs, _classification("load_iris", "multiclass", 3)),
    "wine": (DatasetArgs, _classification("load_wine", "multiclass", 3)),
    "breast-cancer": (DatasetArgs, _classification("load_breast_cancer", "binary", 2)),
    "diabetes": (DatasetArgs, build_diabetes),
}
