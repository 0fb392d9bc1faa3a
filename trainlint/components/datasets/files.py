"""Datasets read from the user's files: `csv` (a header row, numeric features) and `npz`.

``csv``:
    path (required, relative to the spec file), target (required: the label column),
    features (null: every other column), delimiter (","), standardize (false).
    Empty feature cells are read as NaN (and noted) so the probe can report them. The
    task is inferred from the target column unless ``dataset.task`` is set: non-numeric
    labels, or whole numbers with at most 50 distinct values (and at most one per two
    rows), give ``multiclass`` (class values mapped to 0..C-1 in sorted order); anything
    else gives ``regression``.

``npz``:
    path (required), x_key ("x"), y_key ("y"), standardize (false).
    Inputs of shape (N, F) are tabular (integer (N, T) are token ids), (N, T, F)
    sequences and (N, C, H, W) images. Integer, boolean or string targets give
    ``multiclass``, float targets ``regression`` (targets (N,) or (N, k)).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from pydantic import Field

from trainlint.components.base import ComponentError, InputKind, Task
from trainlint.components.datasets.args import DatasetArgs
from trainlint.components.datasets.split import Builder, RawData, encode_labels, infer_task
from trainlint.spec.errors import close_matches


class CsvArgs(DatasetArgs):
    """Arguments of ``csv``."""

    path: str | None = Field(None, description="CSV file, relative to the spec file.")
    target: str | None = Field(None, description="Name of the target (label) column.")
    features: list[str] | None = Field(None, description="Feature columns (null: all others).")
    delimiter: str = Field(",", min_length=1, max_length=1, description="Field separator.")


class NpzArgs(DatasetArgs):
    """Arguments of ``npz``."""

    path: str | None = Field(None, description="NPZ file, relative to the spec file.")
    x_key: str = Field("x", description="Name of the inputs array.")
    y_key: str = Field("y", description="Name of the targets array.")


def _resolve(path: str | None, spec_dir: Path, kind: str) -> Path:
    if not path:
        raise ComponentError(
            f"dataset `{kind}` needs `path`", "dataset.args.path", f"a .{kind} file path"
        )
    full = Path(path) if Path(path).is_absolute() else spec_dir / path
    if not full.is_file():
        raise ComponentError(f"file `{full}` does not exist", "dataset.args.path")
    return full


def _column(name: str, header: list[str], arg: str) -> int:
    if name not in header:
        raise ComponentError(
            f"column `{name}` is not in the CSV",
            f"dataset.args.{arg}",
            "columns: " + ", ".join(header),
            close_matches(name, header),
        )
    return header.index(name)


def build_csv(args: CsvArgs, seed: int, spec_dir: Path, task: Task | None) -> RawData:
    """Read a CSV with a header row into features and a target column."""
    path = _resolve(args.path, spec_dir, "csv")
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f, delimiter=args.delimiter) if r]
    if len(rows) < 2:
        raise ComponentError(f"`{path.name}` needs a header row and data rows", "dataset.args.path")
    header = [h.strip() for h in rows[0]]
    if args.target is None:
        raise ComponentError(
            "dataset `csv` needs `target` (the label column)",
            "dataset.args.target",
            "columns: " + ", ".join(header),
        )
    t_col = _column(args.target, header, "target")
    names = args.features or [h for h in header if h != args.target]
    f_cols = [_column(n, header, "features") for n in names]
    if not f_cols or t_col in f_cols:
        raise ComponentError(
            "`features` must name at least one column other than the target",
            "dataset.args.features",
        )
    x = np.empty((len(rows) - 1, len(f_cols)), dtype=np.float32)
    targets: list[str] = []
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ComponentError(
                f"`{path.name}` line {i} has {len(row)} fields, the header has {len(header)}",
                "dataset.args.path",
            )
        for j, c in enumerate(f_cols):
            cell = row[c].strip()
            try:
                x[i - 2, j] = float(cell) if cell else np.nan
            except ValueError:
                raise ComponentError(
                    f"`{path.name}` line {i}, column `{header[c]}`: `{cell}` is not a number",
                    "dataset.args.features",
                    "numeric feature columns (list them in `features`)",
                ) from None
        targets.append(row[t_col].strip())
    notes = []
    if n_missing := int(np.isnan(x).sum()):
        notes.append(f"{n_missing} empty feature cells in `{path.name}` were read as NaN")
    if "" in targets:
        line = targets.index("") + 2
        raise ComponentError(
            f"`{path.name}` line {line} has no target value", "dataset.args.target"
        )
    try:
        y = np.array([float(t) for t in targets])
    except ValueError:  # text labels: classes
        labels, n_classes, more = encode_labels(np.array(targets), f"`{args.target}`")
        return RawData(x, labels, "multiclass", "tabular", n_classes, notes=notes + more)
    if task != "regression" and infer_task(y) == "multiclass":
        labels, n_classes, more = encode_labels(y.astype(np.int64), f"`{args.target}`")
        return RawData(x, labels, "multiclass", "tabular", n_classes, notes=notes + more)
    return RawData(x, y.astype(np.float32).reshape(-1, 1), "regression", "tabular", notes=notes)


def array_kind(x: np.ndarray, field: str) -> InputKind:
    """The input kind of a batch of inputs ``x`` of shape (N, ...).

    Raises:
        ComponentError: a shape that is none of (N, F), (N, T, F), (N, C, H, W).
    """
    if x.ndim == 2:
        return "tokens" if x.dtype.kind in "iu" else "tabular"
    if x.ndim in (3, 4):
        return "sequence" if x.ndim == 3 else "image"
    raise ComponentError(
        f"inputs of shape {x.shape} are not supported",
        field,
        "(N, F) tabular, (N, T) integer tokens, (N, T, F) sequences, (N, C, H, W) images",
    )


def build_npz(args: NpzArgs, seed: int, spec_dir: Path, task: Task | None) -> RawData:
    """Load inputs and targets from two arrays of an ``.npz`` file."""
    path = _resolve(args.path, spec_dir, "npz")
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error
        raise ComponentError(
            f"cannot read `{path.name}` as .npz ({type(exc).__name__}: {exc})", "dataset.args.path"
        ) from None
    with archive:
        arrays = {}
        for arg, key in (("x_key", args.x_key), ("y_key", args.y_key)):
            if key not in archive.files:
                raise ComponentError(
                    f"`{path.name}` has no array `{key}`",
                    f"dataset.args.{arg}",
                    "arrays: " + ", ".join(archive.files),
                    close_matches(key, archive.files),
                )
            arrays[arg] = archive[key]
    x, y = arrays["x_key"], arrays["y_key"]
    if len(x) != len(y) or len(x) < 2:
        raise ComponentError(
            f"`{args.x_key}` has {len(x)} samples but `{args.y_key}` has {len(y)}",
            "dataset.args.y_key",
        )
    kind = array_kind(x, "dataset.args.x_key")
    vocab = int(x.max()) + 1 if kind == "tokens" else None
    if task == "regression" and y.dtype.kind in "iubf":
        return RawData(x, y.astype(np.float32).reshape(len(y), -1), "regression", kind, None, vocab)
    if y.dtype.kind in "iubUS" and (y.ndim == 1 or y.shape[1:] == (1,)):
        labels, n_classes, notes = encode_labels(y.reshape(-1), f"`{args.y_key}`")
        return RawData(x, labels, "multiclass", kind, n_classes, vocab, notes)
    if y.dtype.kind != "f":
        raise ComponentError(
            f"targets `{args.y_key}` of dtype {y.dtype} and shape {y.shape} are not supported",
            "dataset.args.y_key",
            "integer labels (N,) or float targets (N,) / (N, k)",
        )
    return RawData(x, y.astype(np.float32).reshape(len(y), -1), "regression", kind, None, vocab)


BUILDERS: dict[str, tuple[type[DatasetArgs], Builder]] = {
    "csv": (CsvArgs, build_csv),
    "npz": (NpzArgs, build_npz),
}
