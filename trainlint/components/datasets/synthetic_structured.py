"""Synthetic structured datasets: `synthetic-images` and `synthetic-sequences`.

Both are deterministic functions of the spec's seed (a local ``numpy`` generator), with
labels that depend on the content in ways small CNNs, LSTMs and transformers learn within
a few hundred steps.

``synthetic-images`` (task multiclass, input_kind image, shape (channels, size, size)):
    n_samples (1200), channels (1), size (16), n_classes (4), noise (0.6: std of the pixel
    noise), scale (1.0: multiplies pixels), standardize (false).
    Class ``k`` is a bright bar at angle ``k * 180° / n_classes``, shifted at random off
    the centre (up to a quarter of the size), with a random per-sample, per-channel
    brightness: a linear model gets ~80% with the defaults, a small CNN ~95%.

``synthetic-sequences`` (task multiclass):
    n_samples (1500), length (20), n_classes (2), tokens (false), vocab_size (12),
    n_features (4), noise (0.5), scale (1.0), standardize (false).
    With ``tokens: true`` (input_kind tokens, shape (length,), int64 ids): filler ids are
    drawn from 2..vocab_size-1, id 1 is a marker and id 0 is never used (free for padding);
    the class is the bin of the marker count (class ``c``: ``c*w .. c*w+w-1`` markers,
    ``w = max(1, length // (2 * n_classes))``).
    Otherwise (input_kind sequence, shape (length, n_features), float32): the class is
    the quantile bin (balanced) of the clean running sum of feature 0 minus feature 1
    at the last step; ``noise`` is added on top after labelling.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field

from trainlint.components.base import ComponentError, Task
from trainlint.components.datasets.args import DatasetArgs
from trainlint.components.datasets.split import Builder, RawData
from trainlint.components.datasets.synthetic_tabular import class_labels


class ImageArgs(DatasetArgs):
    """Arguments of ``synthetic-images``."""

    SIZE_FIELDS = ("n_samples", "size", "channels")

    n_samples: int = Field(1200, ge=10, le=10_000_000, description="Number of images.")
    channels: int = Field(1, ge=1, le=64, description="Image channels.")
    size: int = Field(16, ge=4, le=512, description="Height and width in pixels.")
    n_classes: int = Field(4, ge=2, le=64, description="Number of classes (bar orientations).")
    noise: float = Field(0.6, ge=0.0, description="Std of the Gaussian pixel noise.")
    scale: float = Field(1.0, gt=0.0, description="Multiplies every pixel.")

    def generated_values(self) -> int:
        return self.n_samples * (self.channels + 1) * self.size * self.size  # the images and the bars


class SequenceArgs(DatasetArgs):
    """Arguments of ``synthetic-sequences``."""

    SIZE_FIELDS = ("n_samples", "length", "n_features")

    n_samples: int = Field(1500, ge=10, le=10_000_000, description="Number of sequences.")
    length: int = Field(20, ge=2, le=100_000, description="Time steps per sequence.")
    n_classes: int = Field(2, ge=2, le=1000, description="Number of classes.")
    tokens: bool = Field(False, description="Integer token ids instead of float features.")
    vocab_size: int = Field(12, ge=3, le=10_000_000, description="Token vocabulary (tokens).")
    n_features: int = Field(4, ge=2, le=100_000, description="Features per step (floats).")
    noise: float = Field(0.5, ge=0.0, description="Std of noise added after labelling (floats).")
    scale: float = Field(1.0, gt=0.0, description="Multiplies every feature (floats).")

    def generated_values(self) -> int:
        return self.n_samples * self.length * (1 if self.tokens else self.n_features)


def build_images(args: ImageArgs, seed: int, spec_dir: Path, task: Task | None) -> RawData:
    """Oriented bars, one orientation per class, jittered in position and brightness."""
    rng = np.random.default_rng(seed)
    n, s = args.n_samples, args.size
    y = class_labels(rng, n, args.n_classes, None)
    angle = np.pi * y / args.n_classes + rng.normal(0.0, 0.1, n)
    # Signed distance of every pixel to a line through a jittered centre at that angle.
    grid = np.arange(s) - (s - 1) / 2
    rows, cols = np.meshgrid(grid, grid, indexing="ij")
    offset = rng.uniform(-s / 4, s / 4, n)[:, None, None]
    dist = (
        cols[None] * np.sin(angle)[:, None, None] - rows[None] * np.cos(angle)[:, None, None]
    ) - offset
    width = max(0.75, s / 16)
    bar = np.exp(-0.5 * (dist / width) ** 2)
    gain = rng.uniform(0.6, 1.4, (n, args.channels))[:, :, None, None]
    x = bar[:, None] * gain + args.noise * rng.standard_normal((n, args.channels, s, s))
    return RawData((x * args.scale).astype(np.float32), y, "multiclass", "image", args.n_classes)


def build_sequences(args: SequenceArgs, seed: int, spec_dir: Path, task: Task | None) -> RawData:
    """Marker-count token sequences or running-sum float sequences (see the module doc)."""
    rng = np.random.default_rng(seed)
    n, t, c = args.n_samples, args.length, args.n_classes
    if args.tokens:
        w = max(1, t // (2 * c))
        if c * w > t:
            raise ComponentError(
                f"length {t} is too short to count {c} classes of markers (needs ≥ {c})",
                "dataset.args.length",
            )
        y = class_labels(rng, n, c, None)
        counts = y * w + rng.integers(0, w, n)
        x = rng.integers(2, args.vocab_size, (n, t))
        ranks = rng.random((n, t)).argsort(axis=1).argsort(axis=1)
        x[ranks < counts[:, None]] = 1
        return RawData(x.astype(np.int64), y, "multiclass", "tokens", c, args.vocab_size)
    clean = rng.standard_normal((n, t, args.n_features))
    total = clean[:, :, 0].sum(axis=1) - clean[:, :, 1].sum(axis=1)
    edges = np.quantile(total, np.linspace(0, 1, c + 1)[1:-1])
    y = np.searchsorted(edges, total).astype(np.int64)
    x = (clean + args.noise * rng.standard_normal(clean.shape)) * args.scale
    return RawData(x.astype(np.float32), y, "multiclass", "sequence", c)


BUILDERS: dict[str, tuple[type[DatasetArgs], Builder]] = {
    "synthetic-images": (ImageArgs, build_images),
    "synthetic-sequences": (SequenceArgs, build_sequences),
}
