"""Optimizer registry: every `torch.optim` optimizer by name (`adam`, `AdamW`, `sgd`), or a `target:`.

Also the parameter groups a spec asks for (`optimizer.param_groups.no_decay`), and the hand-over of
the model itself to a `target:` factory that builds its own groups (`optimizer.receives: model`).
"""

from __future__ import annotations

import inspect
from functools import cache
from pathlib import Path
from typing import Any

from trainlint.components.arguments import accepted_arguments, check_arguments
from trainlint.components.base import ComponentError
from trainlint.components.naming import normalize
from trainlint.spec.errors import close_matches

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


def build_optimizer(spec, model, spec_dir: Path):
    """Instantiate the optimizer the spec's `optimizer` section names, for ``model``.

    A built-in optimizer, or a `target:` with `receives: params` (the default), is called as
    ``factory(params, lr=..., **args)``, where params are the model's parameters, or
    `param_groups`' groups; a target with `receives: model` as ``factory(model, lr=..., **args)``.

    Raises:
        ComponentError: unknown or unsupported name, bad arguments or parameter groups, or a
            target that raises or returns something other than an optimizer.
    """
    args = dict(spec.args)
    if spec.target is not None:
        from trainlint.spec.targets import resolve_target

        factory, field = resolve_target(spec.target, spec_dir, "optimizer.target"), "optimizer.target"
    else:
        reason = unsupported_reason(spec.name or "")
        if reason:
            raise ComponentError(reason, "optimizer.name", ", ".join(names()))
        factory, field = lookup(spec.name or ""), "optimizer.args"
        if factory is None:
            raise ComponentError(f"unknown optimizer `{spec.name}`", "optimizer.name", ", ".join(names()))
        if spec.receives == "model":
            raise ComponentError("`receives: model` is for a `target:` factory that builds its own optimizer; "
                                 "a built-in optimizer receives the parameters", "optimizer.receives",
                                 "params (for parameter groups, see `optimizer.param_groups`)")
    if spec.receives == "model":
        if spec.param_groups is not None:
            raise ComponentError("`param_groups` are built by trainlint for an optimizer that receives the "
                                 "parameters; with `receives: model` your factory builds its own groups",
                                 "optimizer.param_groups", "receives: params with param_groups, or receives: "
                                 "model without them")
        params: Any = model
        reserved = {"lr": "set `optimizer.lr` instead", "model": "trainlint passes the model"}
    else:
        params = model.parameters()
        if spec.param_groups is not None and spec.param_groups.no_decay:
            if spec.target is None and "weight_decay" not in (accepted_arguments(factory, 1) or ["weight_decay"]):
                raise ComponentError(f"{factory.__name__} has no weight decay, so `no_decay` groups change nothing",
                                     "optimizer.param_groups.no_decay", "an optimizer with a `weight_decay` argument")
            params = decay_groups(model, spec.param_groups.no_decay)
        reserved = {"lr": "set `optimizer.lr` instead", "params": "trainlint passes the model's parameters"}
    check_arguments(factory, args, "optimizer", filled=1, reserved=reserved)
    try:
        optimizer = factory(params, lr=spec.lr, **args)
    except TypeError as exc:
        raise ComponentError(f"{getattr(factory, '__name__', factory)}: {exc}", field) from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code or torch's own argument checks
        raise ComponentError(f"constructing the optimizer raised {type(exc).__name__}: {exc}", field) from None
    if spec.target is not None:
        _check_optimizer(optimizer, model, spec.receives)
    return optimizer


def _check_optimizer(optimizer: Any, model, receives: str) -> None:
    """A target's result must drive the model's parameters as a torch optimizer does."""
    if not all(hasattr(optimizer, a) for a in ("param_groups", "step", "zero_grad")):
        raise ComponentError(f"the optimizer factory returned {type(optimizer).__name__}, not a "
                             "torch.optim.Optimizer", "optimizer.target")
    if receives == "model":
        mine = {id(p) for p in model.parameters()}
        if not any(id(p) in mine for g in optimizer.param_groups for p in g.get("params", ())):
            raise ComponentError("the optimizer the factory returned holds none of the model's parameters",
                                 "optimizer.target", "an optimizer over (groups of) model.parameters()")


def _param_keys(module_name: str, module, attr: str) -> set[str]:
    """Every `no_decay` entry that names this parameter: the dotted suffixes of its name, the
    holding module's class name, and that class name with the attribute."""
    parts = (f"{module_name}.{attr}" if module_name else attr).split(".")
    cls = type(module).__name__
    return {".".join(parts[i:]) for i in range(len(parts))} | {cls, f"{cls}.{attr}"}


def decay_groups(model, no_decay: list[str]) -> list[dict[str, Any]]:
    """The model's parameters in two groups: the decayed ones first (they keep the optimizer's
    `weight_decay`), then those `no_decay` names, with weight_decay 0. Empty groups are left out.

    Why the decayed group first: code that reads one group's settings (the probe records
    the largest weight decay, but user schedulers and torch examples read ``param_groups[0]``)
    then sees the decay that applies to most weights.

    Raises:
        ComponentError: an entry names no parameter of the model and nothing in torch.nn (a typo).
    """
    import torch

    wanted, matched = set(no_decay), set()
    skip: set[int] = set()
    vocabulary: set[str] = set()
    for module_name, module in model.named_modules():
        for attr, param in module.named_parameters(recurse=False):
            keys = _param_keys(module_name, module, attr)
            vocabulary |= {k for k in keys if not k[0].isdigit()}  # `bias`, not `3.bias`, as a suggestion
            if keys & wanted:
                skip.add(id(param))
                matched |= keys & wanted
    nn_classes = {n for n, c in vars(torch.nn).items() if inspect.isclass(c) and issubclass(c, torch.nn.Module)}
    for i, entry in enumerate(no_decay):
        if entry not in matched and entry.split(".")[0] not in nn_classes and entry not in ("weight", "bias"):
            raise ComponentError(
                f"`{entry}` names no parameter of {type(model).__name__} and no torch.nn layer",
                f"optimizer.param_groups.no_decay.{i}",
                "ends of parameter names (bias, ln_f.weight), module class names (LayerNorm, Embedding), "
                "or class.attribute (LayerNorm.weight)",
                close_matches(entry, sorted(vocabulary | nn_classes)))
    params = list(model.parameters())
    decay = [p for p in params if id(p) not in skip]
    plain = [p for p in params if id(p) in skip]
    return [g for g in ({"params": decay}, {"params": plain, "weight_decay": 0.0}) if g["params"]]
