"""Loss registry: every `torch.nn` loss by snake_case or class name, or a user `target:`."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from trainlint.components.arguments import check_arguments
from trainlint.components.base import ComponentError
from trainlint.components.naming import normalize, snake

# Losses whose targets are class indices (the model emits one logit per class).
CLASS_INDEX_LOSSES = frozenset({"CrossEntropyLoss", "NLLLoss", "MultiMarginLoss"})
# Losses for a single binary output (targets 0/1 floats, or -1/+1 for soft margin).
BINARY_LOSSES = frozenset({"BCEWithLogitsLoss", "BCELoss", "SoftMarginLoss"})


@cache
def _table() -> dict[str, type]:
    import torch.nn as nn
    from torch.nn.modules.loss import _Loss

    out = {}
    for name, cls in vars(nn).items():
        if inspect.isclass(cls) and issubclass(cls, _Loss) and cls is not _Loss:
            if name in {"NLLLoss2d"}:
                continue
            out[normalize(name, "loss")] = cls
    return out


def names() -> list[str]:
    """Snake-case names of every built-in loss, for listings and did-you-mean."""
    return sorted(snake(c.__name__, "Loss") for c in _table().values())


def lookup(name: str) -> type | None:
    """The ``torch.nn`` loss class for ``name``, or None."""
    return _table().get(normalize(name, "loss"))


def build_loss(name: str | None, target: str | None, args: dict[str, Any], spec_dir: Path) -> Callable:
    """Instantiate the loss the spec names.

    Raises:
        ComponentError: unknown name, bad arguments, or a target that raises.
    """
    if target is not None:
        from trainlint.spec.targets import resolve_target

        factory = resolve_target(target, spec_dir, "loss.target")
        return _construct(factory, args, "loss.target")
    cls = lookup(name or "")
    if cls is None:
        raise ComponentError(f"unknown loss `{name}`", "loss.name", ", ".join(names()))
    return _construct(cls, _tensor_args(args), "loss.args")


# torch losses take these as tensors; a YAML spec can only write lists.
TENSOR_ARGS = ("weight", "pos_weight")


def _tensor_args(args: dict[str, Any]) -> dict[str, Any]:
    import torch

    return {k: torch.tensor(v, dtype=torch.float32) if k in TENSOR_ARGS and isinstance(v, list) else v
            for k, v in args.items()}


def _construct(factory: Callable, args: dict[str, Any], field: str) -> Callable:
    check_arguments(factory, args, "loss")
    try:
        loss = factory(**args)
    except TypeError as exc:
        raise ComponentError(f"{getattr(factory, '__name__', factory)}: {exc}", field) from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code
        raise ComponentError(f"constructing the loss raised {type(exc).__name__}: {exc}", field) from None
    if not callable(loss):
        raise ComponentError(f"the loss factory returned {type(loss).__name__}, not a callable", field)
    return loss
