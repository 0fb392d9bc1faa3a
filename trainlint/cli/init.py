"""`trainlint init [TEMPLATE]`: write a commented starter spec."""

from __future__ import annotations

from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from trainlint.cli.errors import handle_errors
from trainlint.spec.errors import SpecError


class Template(str, Enum):
    classification = "classification"
    regression = "regression"
    images = "images"
    sequences = "sequences"


def template_text(template: str, path: str) -> str:
    """The template's YAML, its comments pointing at `path`."""
    text = (resources.files("trainlint") / "templates" / f"{template}.yaml").read_text(encoding="utf-8")
    return text.replace("{path}", path)


def init_command(
    template: Annotated[Template, typer.Argument(help="What the starter spec trains.")] = Template.classification,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the spec.")] = Path("trainlint.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter spec (classification, regression, images or sequences)."""
    with handle_errors():
        if output.exists() and not force:
            raise SpecError(f"`{output}` already exists; not overwriting it", field="--output",
                            accepted="a new path, or --force to overwrite")
        if output.exists() and output.is_dir():
            raise SpecError(f"`{output}` is a folder", field="--output", accepted="a file path")
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(template_text(template.value, output.as_posix()), encoding="utf-8")
        except OSError as exc:
            raise SpecError(f"cannot write `{output}` ({exc.strerror})", field="--output") from None
        typer.echo(f"wrote {output} ({template.value} template). Next: trainlint check {output} "
                   f"&& trainlint probe {output}")
