"""Contracts shared by the component registries: what a dataset hands to models and to the probe."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Task = Literal["multiclass", "binary", "regression"]
InputKind = Literal["tabular", "image", "sequence", "tokens"]


class ComponentError(Exception):
    """A component could not be built from what the spec says (a user error: exit 2).

    Attributes:
        field: dotted spec path to blame, e.g. ``"dataset.args.path"``.
        accepted: optional text listing the accepted values.
        suggestions: close matches of a misspelt name, shown as "Did you mean ...?".
    """

    def __init__(self, message: str, field: str, accepted: str | None = None,
                 suggestions: list[str] | tuple[str, ...] = ()):
        super().__init__(message)
        self.field = field
        self.accepted = accepted
        self.suggestions = list(suggestions)


@dataclass(frozen=True)
class DataInfo:
    """What models and the probe need to know about the data.

    Attributes:
        task: multiclass, binary or regression.
        input_shape: shape of one input sample, e.g. ``(64,)``, ``(1, 8, 8)``, ``(20,)``.
        input_kind: tabular (flat float features), image (C, H, W floats), sequence
            (T, F floats) or tokens (T integer ids in ``[0, vocab_size)``).
        num_classes: classes for classification tasks (2 for binary), else None.
        num_targets: regression outputs, else None.
        vocab_size: for ``tokens`` inputs, else None.
    """

    task: Task
    input_shape: tuple[int, ...]
    input_kind: InputKind = "tabular"
    num_classes: int | None = None
    num_targets: int | None = None
    vocab_size: int | None = None


@dataclass
class DataBundle:
    """The train/validation split plus its description.

    ``train`` and ``val`` are ``torch.utils.data.Dataset`` objects yielding ``(input, target)``.
    ``builtin`` is True for trainlint's own datasets (their tensors are exposed in
    ``tensors`` as ``(x_train, y_train, x_val, y_val)`` so the probe can scan them cheaply).
    """

    train: Any
    val: Any
    info: DataInfo
    builtin: bool = False
    tensors: tuple[Any, Any, Any, Any] | None = None
    notes: list[str] = field(default_factory=list)
