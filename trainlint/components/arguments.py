"""A spec's `args:` checked against the signature of the callable they are passed to.

Why before the call: the callable's own TypeError ("unexpected keyword argument 'momentun'")
names neither the spec line nor the arguments that would work; the signature knows both.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from trainlint.components.base import ComponentError
from trainlint.spec.errors import close_matches


def accepted_arguments(factory: Callable, filled: int = 0, reserved: Mapping[str, str] | None = None,
                       ) -> list[str] | None:
    """The keyword arguments ``factory`` accepts from a spec, or None when that is not known.

    Args:
        factory: a class or function.
        filled: leading positional parameters trainlint passes itself (the model's parameters,
            the optimizer), whatever their names.
        reserved: parameters trainlint passes by keyword (name → where the spec sets it).

    None when the signature cannot be read (some C callables) or takes ``**kwargs``: then any
    name may be right, and the callable's own error is the best there is.
    """
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    names = []
    for i, param in enumerate(signature.parameters.values()):
        if param.kind is param.VAR_KEYWORD:
            return None
        if i < filled and param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            continue
        if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY) and param.name not in (reserved or {}):
            names.append(param.name)
    return names


def check_arguments(factory: Callable, args: Mapping[str, Any], section: str, filled: int = 0,
                    reserved: Mapping[str, str] | None = None) -> None:
    """Raise ComponentError, blaming ``<section>.args.<key>``, for the first key ``factory`` does not take.

    The suggestions and the accepted list come from the real signature only.
    """
    reserved = reserved or {}
    for key in args:
        if key in reserved:
            raise ComponentError(f"`{key}` is not an argument to give here: {reserved[key]}",
                                 f"{section}.args.{key}")
    accepted = accepted_arguments(factory, filled, reserved)
    if accepted is None:
        return
    name = getattr(factory, "__name__", type(factory).__name__)
    for key in args:
        if key not in accepted:
            raise ComponentError(f"{name} has no argument `{key}`", f"{section}.args.{key}",
                                 ", ".join(accepted) or "none (it takes no arguments from the spec)",
                                 close_matches(str(key), accepted))
