"""Typed arguments of the built-in datasets, and their checking against a spec's `dataset.args`.

Each built-in dataset declares a pydantic model of its arguments (defaults and descriptions
in one place); `parse_args` turns a spec's free-form `args` mapping into that model or a
`ComponentError` that names the offending field and suggests the argument meant.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trainlint.components.base import ComponentError
from trainlint.spec.errors import close_matches


class DatasetArgs(BaseModel):
    """Arguments every built-in dataset accepts."""

    model_config = ConfigDict(extra="forbid")

    standardize: bool = Field(
        False, description="Standardise features with train-split mean/std (raw by default)."
    )

    def generated_values(self) -> int:
        """How many numbers the largest array made while generating holds (0: read, not generated)."""
        return 0

    # The arguments that set `generated_values`.
    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("n_samples",)

    def blamed_field(self) -> str:
        """The size argument that makes `generated_values` large (the first, unless a dataset knows better)."""
        return self.SIZE_FIELDS[0]


A = TypeVar("A", bound=DatasetArgs)

# Generators work in float64 and keep a few arrays of the full size alive at once (the noise,
# the signal, the float32 copy): measured peaks are 20-30 bytes per generated value.
BYTES_PER_GENERATED_VALUE = 32


def check_size(args: DatasetArgs, dataset: str, available_bytes: int | None = None) -> None:
    """Refuse, before generating, a dataset whose generation would not fit in free memory.

    Why before: numpy allocates such arrays lazily, so the process is not refused memory up
    front; it is killed by the operating system midway instead (no report, no exit status 2).

    Raises:
        ComponentError: the estimated peak exceeds half the memory free now.
    """
    values = args.generated_values()
    if values == 0:
        return
    if available_bytes is None:
        import psutil

        available_bytes = psutil.virtual_memory().available
    need = values * BYTES_PER_GENERATED_VALUE
    if need > available_bytes / 2:
        raise ComponentError(
            f"dataset `{dataset}` would generate {values:,} values (~{need / 2**30:.1f} GiB at its peak), "
            f"more than half of the {available_bytes / 2**30:.1f} GiB of memory free on this machine",
            f"dataset.args.{args.blamed_field()}",
            f"values that make the dataset smaller ({', '.join(args.SIZE_FIELDS)}); "
            f"at most ~{int(available_bytes / 2 / BYTES_PER_GENERATED_VALUE):,} values here",
        )


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
