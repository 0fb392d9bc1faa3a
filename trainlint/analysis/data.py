"""What the data and loss rules share: loss families, the target form each loss expects, label ranges.

Pure functions of plain values (class names, shapes, counts) taken from a RunRecord; no torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

# Targets are class indices; the class scores run along output dim 1: (B, C) or (B, C, d1, ...).
CLASS_INDEX_LOSSES = frozenset({"CrossEntropyLoss", "NLLLoss", "MultiMarginLoss"})
# Targets are probabilities in [0, 1], shaped exactly like the output.
PROBABILITY_TARGET_LOSSES = frozenset({"BCELoss", "BCEWithLogitsLoss"})
# Regression losses: targets are values shaped exactly like the output.
REGRESSION_LOSSES = frozenset({"MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss"})
# Element-wise losses: output and target must have the same shape (else torch broadcasts or raises).
ELEMENTWISE_LOSSES = REGRESSION_LOSSES | PROBABILITY_TARGET_LOSSES | frozenset(
    {"SoftMarginLoss", "KLDivLoss", "PoissonNLLLoss"})
# The value PyTorch's class-index losses skip by default (`ignore_index=-100`): padding, not a label.
IGNORE_INDEX = -100
# The substring of torch's warning when an element-wise loss broadcasts target against output.
BROADCAST_WARNING = "that is different to the input size"


def class_width(output_shape: Sequence[int]) -> int | None:
    """Number of class scores a class-index loss sees: output dim 1 (None for a 1-D output)."""
    return int(output_shape[1]) if len(output_shape) >= 2 else None


def labels_present(class_counts: Mapping[int, int] | None) -> list[int]:
    """The label values that occur, without PyTorch's ignore_index padding value."""
    return sorted(k for k, n in (class_counts or {}).items() if n > 0 and k != IGNORE_INDEX)


def imbalance_ratio(class_counts: Mapping[int, int]) -> float:
    """Majority / minority count over the classes that occur (inf when a class count is 0)."""
    counts = [n for k, n in class_counts.items() if k != IGNORE_INDEX]
    if len(counts) < 2:
        return math.nan
    low = min(counts)
    return math.inf if low == 0 else max(counts) / low


def allowed_target_shapes(output_shape: Sequence[int], loss_class: str) -> list[list[int]] | None:
    """The target shapes `loss_class` accepts for this output, or None when it is not known.

    Class-index losses take (B, d1, ...) labels for a (B, C, d1, ...) output, (B, T) labels for
    a (B, T, C) output (token-level: trainlint flattens it, as language-model code does), and
    CrossEntropyLoss also probabilities shaped like the output; element-wise losses take the
    output's own shape.
    """
    out = [int(s) for s in output_shape]
    if loss_class in CLASS_INDEX_LOSSES:
        if len(out) < 2:
            return None
        token_level = [[out[0], out[1]]] if len(out) == 3 else []  # (B, T, C) scores per token (adapters.py)
        return [[out[0], *out[2:]]] + token_level + ([out] if loss_class == "CrossEntropyLoss" else [])
    if loss_class in ELEMENTWISE_LOSSES:
        return [out]
    return None


def broadcast_shape(a: Sequence[int], b: Sequence[int]) -> list[int] | None:
    """The shape two shapes broadcast to (NumPy/PyTorch rules), or None when they do not."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and 1 not in (x, y):
            return None
        out.append(max(x, y))
    return out[::-1]


def fmt_shape(shape: Sequence[int]) -> str:
    """`(64, 1)` style text for a shape."""
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


# Largest per-feature RMS still taken as unit scale (TL103's default `max_scale`; other rules
# use it to tell whether large outputs could come from the inputs).
UNIT_SCALE_LIMIT = 5.0
