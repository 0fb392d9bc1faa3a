"""Checks a validated spec's component names against the registries, with did-you-mean."""

from __future__ import annotations

import re

from trainlint.components.base import ComponentError
from trainlint.spec.errors import SpecError, close_matches
from trainlint.spec.loader import LoadedSpec


def check_names(loaded: LoadedSpec) -> None:
    """Raise SpecError for the first unknown built-in name in the spec."""
    from trainlint.components import datasets, losses, models, optimizers, schedulers

    spec = loaded.spec
    if spec.name is not None and (spec.name in ("", ".", "..") or re.search(r"[/\\\x00]", spec.name)):
        raise as_spec_error(loaded, ComponentError(
            f"`{spec.name}` cannot name the output folder", "name", "a plain folder name such as digits-mlp"))
    checks = [
        ("dataset.name", spec.dataset.name, list(datasets.NAMES), lambda n: n in datasets.NAMES),
        ("model.name", spec.model.name, list(models.NAMES), lambda n: n in models.NAMES),
        ("loss.name", spec.loss.name, losses.names(), lambda n: losses.lookup(n) is not None),
        ("optimizer.name", spec.optimizer.name, optimizers.names(), lambda n: optimizers.lookup(n) is not None),
    ]
    if spec.scheduler is not None:
        checks.append(("scheduler.name", spec.scheduler.name, schedulers.names(),
                       lambda n: n.lower() == schedulers.NO_SCHEDULE or schedulers.lookup(n) is not None))
    # Comparison variants: a name, or a mapping with a `name` (a `target` is resolved later).
    for section, known, is_known in (
        ("losses", losses.names(), lambda n: losses.lookup(n) is not None),
        ("optimizers", optimizers.names(), lambda n: optimizers.lookup(n) is not None),
    ):
        for i, variant in enumerate(getattr(spec.compare, section)):
            name = variant.get("name") if isinstance(variant, dict) else variant
            if isinstance(name, str):
                field = f"compare.{section}.{i}" + (".name" if isinstance(variant, dict) else "")
                checks.append((field, name, known, is_known))
    for field, name, known, is_known in checks:
        if name is None or is_known(name):
            continue
        kind = field.split(".")[0]
        if kind == "compare":
            kind = {"losses": "loss", "optimizers": "optimizer"}[field.split(".")[1]]
        reason = optimizers.unsupported_reason(name) if kind == "optimizer" else None
        raise as_spec_error(
            loaded,
            ComponentError(reason or f"unknown {kind} `{name}`", field, ", ".join(known),
                           [] if reason else close_matches(name, known)),
        )


def as_spec_error(loaded: LoadedSpec, exc: ComponentError) -> SpecError:
    """Locate a component error: the `--set` that gave the value, else the spec file line."""
    message = str(exc)
    found = list(exc.suggestions)
    origin = loaded.origin(exc.field)
    line, col = (loaded.position(exc.field) or (None, None)) if origin is None else (None, None)
    return SpecError(
        message, path=loaded.path, line=line, col=col, field=exc.field,
        accepted=exc.accepted, suggestions=found, origin=origin,
    )
