"""Synthetic tabular datasets: `synthetic-classification` and `synthetic-regression`.

Both are deterministic functions of the spec's seed (a local ``numpy`` generator, never the
global RNG), learnable but not trivially so, and small enough to probe in seconds.

``synthetic-classification`` (task multiclass, or binary with ``binary: true``):
    n_samples (1500), n_features (20), n_classes (3; 2 when binary), noise (1.0: std of
    the within-class spread), difficulty (1.0: higher moves class centres closer),
    class_weights (null = balanced; e.g. [0.9, 0.1] for imbalance), binary (false),
    scale (1.0: multiplies every feature, e.g. 1000 for un-normalised data),
    standardize (false).
    Half the features (at least 2) carry the class signal; the rest are pure noise, and a
    random rotation spreads the signal over all features.

``synthetic-regression`` (task regression):
    n_samples (1500), n_features (10), n_targets (1), noise (0.1: std of target noise
    relative to the signal), nonlinearity (0.5: share of a sinusoidal, interacting
    component; 0 = linear), scale (1.0: multiplies features), target_scale (1.0:
    multiplies targets), standardize (false).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field

from trainlint.components.base import ComponentError, Task
from trainlint.components.datasets.args import DatasetArgs
from trainlint.components.datasets.split import Builder, RawData


class ClassificationArgs(DatasetArgs):
    """Arguments of ``synthetic-classification``."""

    SIZE_FIELDS = ("n_samples", "n_features", "n_classes")

    n_samples: int = Field(1500, ge=10, le=10_000_000, description="Number of samples.")
    n_features: int = Field(20, ge=2, le=100_000, description="Number of input features.")
    n_classes: int | None = Field(
        None, ge=2, le=10_000, description="Number of classes (null: 3, or 2 when binary)."
    )
    noise: float = Field(1.0, ge=0.0, description="Std of the within-class spread.")
    difficulty: float = Field(
        1.0, gt=0.0, description="Higher moves class centres closer (harder to separate)."
    )
    class_weights: list[float] | None = Field(
        None, description="Relative class frequencies (null: balanced)."
    )
    binary: bool = Field(False, description="Make the task binary (needs 2 classes).")
    scale: float = Field(1.0, gt=0.0, description="Multiplies every feature.")

    def _arrays(self) -> dict[str, int]:
        """Size of the largest array each argument drives: the samples, or one of the two rotations."""
        centres = max(2, self.n_features // 2, self.n_classes or 0)
        return {"n_samples": self.n_samples * self.n_features, "n_features": self.n_features ** 2,
                "n_classes": centres ** 2}

    def generated_values(self) -> int:
        return max(self._arrays().values())

    def blamed_field(self) -> str:
        arrays = self._arrays()
        return max(arrays, key=arrays.get)


class RegressionArgs(DatasetArgs):
    """Arguments of ``synthetic-regression``."""

    SIZE_FIELDS = ("n_samples", "n_features", "n_targets")

    n_samples: int = Field(1500, ge=10, le=10_000_000, description="Number of samples.")
    n_features: int = Field(10, ge=1, le=100_000, description="Number of input features.")
    n_targets: int = Field(1, ge=1, le=10_000, description="Number of regression outputs.")
    noise: float = Field(0.1, ge=0.0, description="Std of target noise relative to the signal.")
    nonlinearity: float = Field(
        0.5, ge=0.0, le=1.0, description="Share of the nonlinear component (0 = linear)."
    )
    scale: float = Field(1.0, gt=0.0, description="Multiplies every feature.")
    target_scale: float = Field(1.0, gt=0.0, description="Multiplies every target.")

    def generated_values(self) -> int:
        return self.n_samples * (self.n_features + self.n_targets)


def class_labels(
    rng: np.random.Generator, n: int, n_classes: int, weights: list[float] | None
) -> np.ndarray:
    """Labels 0..C-1: exactly balanced (shuffled) or drawn with ``weights``.

    Raises:
        ComponentError: ``weights`` has the wrong length or is not positive.
    """
    if weights is None:
        return rng.permutation(np.arange(n) % n_classes).astype(np.int64)
    w = np.asarray(weights, dtype=np.float64)
    if len(w) != n_classes or np.any(w < 0) or w.sum() <= 0:
        raise ComponentError(
            f"class_weights must be {n_classes} non-negative numbers (one per class), "
            f"not {weights}",
            "dataset.args.class_weights",
        )
    return rng.choice(n_classes, size=n, p=w / w.sum()).astype(np.int64)


def random_rotation(rng: np.random.Generator, d: int) -> np.ndarray:
    """A random orthogonal (d, d) matrix."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def build_classification(
    args: ClassificationArgs, seed: int, spec_dir: Path, task: Task | None
) -> RawData:
    """Gaussian classes around random centres in an informative subspace, then rotated."""
    binary = args.binary or task == "binary"
    n_classes = args.n_classes or (2 if binary else 3)
    if args.binary and n_classes != 2:
        raise ComponentError(
            f"binary: true needs n_classes: 2, not {n_classes}", "dataset.args.n_classes"
        )
    rng = np.random.default_rng(seed)
    y = class_labels(rng, args.n_samples, n_classes, args.class_weights)
    k = max(2, args.n_features // 2)
    # Centres on orthogonal directions, 3/difficulty apart: with unit noise two classes
    # overlap ~7%, clearly learnable yet no classifier is perfect.
    directions = random_rotation(rng, max(k, n_classes))[:n_classes, :k]
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    centres = directions * (3.0 / args.difficulty) / np.sqrt(2.0)
    z = rng.standard_normal((args.n_samples, args.n_features)) * args.noise
    z[:, :k] += centres[y]
    x = z @ random_rotation(rng, args.n_features) * args.scale
    return RawData(
        x.astype(np.float32), y, "binary" if args.binary else "multiclass", "tabular", n_classes
    )


def build_regression(args: RegressionArgs, seed: int, spec_dir: Path, task: Task | None) -> RawData:
    """Targets from a linear part plus sinusoidal feature interactions, plus noise."""
    rng = np.random.default_rng(seed)
    n, d = args.n_samples, args.n_features
    x = rng.standard_normal((n, d))
    linear = x @ rng.standard_normal((d, args.n_targets)) / np.sqrt(d)
    pairs = x @ rng.standard_normal((d, args.n_targets)) / np.sqrt(d)
    other = x @ rng.standard_normal((d, args.n_targets)) / np.sqrt(d)
    nonlinear = np.sin(2.0 * pairs) * other * 1.5
    signal = (1 - args.nonlinearity) * linear + args.nonlinearity * nonlinear
    signal = (signal - signal.mean(0)) / np.maximum(signal.std(0), 1e-8)
    y = (signal + args.noise * rng.standard_normal(signal.shape)) * args.target_scale
    return RawData(
        (x * args.scale).astype(np.float32), y.astype(np.float32), "regression", "tabular"
    )


BUILDERS: dict[str, tuple[type[DatasetArgs], Builder]] = {
    "synthetic-classification": (ClassificationArgs, build_classification),
    "synthetic-regression": (RegressionArgs, build_regression),
}
