"""Typed arguments of the built-in datasets, and their checking against a spec's `dataset.args`.

Each built-in dataset declares a pydantic model of its arguments (defaults and descriptions
in one place); `parse_args` turns a spec's free-form `args` mapping into that model or a
`ComponentError` that names the offending field and suggests the argument meant.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trainlint.components.base import ComponentError
from trainlint.spec.errors import close_matches


class DatasetArgs(BaseModel):
    """Arguments every built-in dataset accepts."""

    model_config = ConfigDict(extra="forbid")

    standardize: bool = Field(
        False, description="Standardise features with train-split mean/std (raw by default)."
    )


A = TypeVar("A", bound=DatasetArgs)


def parse_args(model: type[A], args: dict[str, Any], dataset: str) -> A:
    """Validate ``args`` for the built-in ``dataset`` against its argument model.

    Args:
        model: the dataset's argument model.
        args: the spec's ``dataset.args`` mapping.
        dataset: the built-in name, used in messages.

    Raises:
        ComponentError: an unknown argument (with a did-you-mean) or a bad value, with the
            field set to ``dataset.args.<name>``.
    """
    accepted = list(model.model_fields)
    accepted_text = ", ".join(accepted)
    for key in args:
        if key not in model.model_fields:
            raise ComponentError(
                f"dataset `{dataset}` has no argument `{key}`",
                f"dataset.args.{key}",
                accepted_text,
                close_matches(str(key), accepted),
            )
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"]) or "?"
        given = args.get(str(err["loc"][0])) if err["loc"] else None
        raise ComponentError(
            f"dataset `{dataset}` argument `{name}`={given!r}: {err['msg']}",
            f"dataset.args.{err['loc'][0] if err['loc'] else name}",
            _describe(model, str(err["loc"][0])) if err["loc"] else accepted_text,
        ) from None


def _describe(model: type[DatasetArgs], name: str) -> str | None:
    info = model.model_fields.get(name)
    if info is None:
        return None
    return f"{info.description} (default {info.default!r})"
