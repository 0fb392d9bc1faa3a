"""Built-in model registry: `mlp`, `cnn`, `resnet`, `rnn` and `transformer`, built from a DataInfo.

Every model ends in a Linear layer emitting raw ``(batch, num_outputs)`` values (logits for
classification: no final activation) and accepts the shared options ``activation``,
``dropout``, ``norm`` and ``init`` besides its own size arguments.

Why lazy: ``NAMES`` is read while validating a spec (for did-you-mean), before torch is needed;
each model's module, and torch with it, is imported only when that model is built.
"""

from __future__ import annotations

import importlib
import re
from typing import TYPE_CHECKING, Any

from trainlint.components.base import ComponentError, DataInfo

if TYPE_CHECKING:
    import torch

# What torch says when a layer's sizes cannot be allocated or do not fit in an int64.
_TOO_LARGE = re.compile(r"can't allocate|out of memory|[Oo]verflow|negative dimension")

NAMES: tuple[str, ...] = ("mlp", "cnn", "resnet", "rnn", "transformer")


def build_model(
    name: str, info: DataInfo, num_outputs: int, args: dict[str, Any]
) -> torch.nn.Module:
    """Build the built-in model ``name`` for data described by ``info``.

    Args:
        name: one of ``NAMES``.
        info: the dataset's description (input kind and shape, vocabulary size).
        num_outputs: width of the final layer, chosen by the caller from the task and loss.
        args: the spec's ``model.args``.

    Returns:
        A freshly initialised model (drawn from torch's global RNG, so seed it first).

    Raises:
        ComponentError: an unknown name (``model.name``), an input kind the model cannot read
            (``model.name``), or an unknown or invalid argument (``model.args.<arg>``).
    """
    if name not in NAMES:
        from trainlint.spec.errors import close_matches

        raise ComponentError(f"unknown model `{name}`", "model.name", ", ".join(NAMES),
                             close_matches(name, NAMES))
    if num_outputs is None or num_outputs < 1:
        raise ComponentError(
            f"cannot size the model's output layer for a {info.task} task (num_outputs={num_outputs})",
            "model.name",
        )
    module = importlib.import_module(f"{__name__}.{name}")
    try:
        return module.build(info, num_outputs, dict(args))
    except (MemoryError, RuntimeError, TypeError, OverflowError) as exc:
        if not _TOO_LARGE.search(str(exc)) and not isinstance(exc, MemoryError):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ComponentError(f"model `{name}` cannot be built with these sizes: they are too large for "
                             f"this machine ({type(exc).__name__}: {first})", "model.args") from None
