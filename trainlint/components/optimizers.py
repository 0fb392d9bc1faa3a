"""Optimizer registry: every `torch.optim` optimizer by name (`adam`, `AdamW`, `sgd`), or a `target:`."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from trainlint.components.arguments import check_arguments
from trainlint.components.base import ComponentError
from trainlint.components.naming import normalize

# Optimizers the probe cannot drive with a plain `step()` (they need a closure or sparse grads).
_UNSUPPORTED = {"LBFGS": "it needs a closure that re-evaluates the model",
                "SparseAdam": "it needs sparse gradients"}


@cache
def _table() -> dict[str, type]:
    import torch

    return {
        normalize(name): cls
        for name, cls in vars(torch.optim).items()
        if inspect.isclass(cls) and issubclass(cls, torch.optim.Optimizer)
        and cls is not torch.optim.Optimizer and name not in _UNSUPPORTED
    }


def unsupported_reason(name: str) -> str | None:
    """Why the probe cannot use optimizer ``name``, or None when it can."""
    for cls_name, reason in _UNSUPPORTED.items():
        if normalize(cls_name) == normalize(name):
            return f"`{name}` is not supported by the probe: {reason}"
    return None


def names() -> list[str]:
    """Lower-case names of every supported built-in optimizer."""
    return sorted(cls.__name__.lower() for cls in _table().values())


def lookup(name: str) -> type | None:
    """The ``torch.optim`` class for ``name``, or None."""
    return _table().get(normalize(name))


def build_optimizer(
    name: str | None, target: str | None, params: Iterable, lr: float, args: dict[str, Any], spec_dir: Path
):
    """Instantiate the optimizer the spec names over ``params``.

    Raises:
        ComponentError: unknown or unsupported name, bad arguments, or a target that raises.
    """
    if target is not None:
        from trainlint.spec.targets import resolve_target

        factory, field = resolve_target(target, spec_dir, "optimizer.target"), "optimizer.target"
    else:
        reason = unsupported_reason(name or "")
        if reason:
            raise ComponentError(reason, "optimizer.name", ", ".join(names()))
        factory, field = lookup(name or ""), "optimizer.args"
        if factory is None:
            raise ComponentError(f"unknown optimizer `{name}`", "optimizer.name", ", ".join(names()))
    check_arguments(factory, args, "optimizer", filled=1,
                    reserved={"lr": "set `optimizer.lr` instead", "params": "trainlint passes the model's parameters"})
    try:
        return factory(params, lr=lr, **args)
    except TypeError as exc:
        raise ComponentError(f"{getattr(factory, '__name__', factory)}: {exc}", field) from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code or torch's own argument checks
        raise ComponentError(f"constructing the optimizer raised {type(exc).__name__}: {exc}", field) from None
