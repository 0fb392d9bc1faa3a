"""Options shared by the commands, with their help text."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    github = "github"
    junit = "junit"


class FailOn(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"
    never = "never"


Config = Annotated[Path, typer.Argument(help="The experiment spec (YAML).", show_default=False)]
Out = Annotated[Path | None, typer.Option("--out", help="Output folder (default: trainlint-out/<spec name>/).")]
Steps = Annotated[int | None, typer.Option("--steps", min=1, help="Override probe.steps.")]
Device = Annotated[str | None, typer.Option("--device", help="auto | cpu | cuda | cuda:N (overrides `device`).")]
Seed = Annotated[int | None, typer.Option("--seed", min=0, help="Override `seed`.")]
Format = Annotated[OutputFormat, typer.Option(
    "--format", help="What to print on stdout: text (terminal), json (report.json), markdown (report.md, "
    "for a CI job summary), github (Actions annotations), junit (XML). Files in --out are always written.")]
FailOnOpt = Annotated[FailOn, typer.Option("--fail-on", help="Lowest severity that makes the exit status 1.")]
Set = Annotated[list[str] | None, typer.Option("--set", help="Override a spec field: key.path=value (repeatable).")]
Select = Annotated[list[str] | None, typer.Option("--select", help="Only these rules: codes, names or prefixes.")]
Ignore = Annotated[list[str] | None, typer.Option("--ignore", help="Skip these rules: codes, names or prefixes.")]
NoPlots = Annotated[bool, typer.Option("--no-plots", help="Do not draw the PNG plots.")]
Quiet = Annotated[bool, typer.Option("-q", "--quiet", help="Only the list of findings.")]
TensorBoard = Annotated[bool, typer.Option(
    "--tensorboard", help="Also write the recorded scalars as TensorBoard events to --out/tensorboard "
    "(needs `pip install 'trainlint[tensorboard]'`).")]
VerifyFixes = Annotated[bool, typer.Option(
    "--verify-fixes", help="Re-run the probe with each finding's fix applied (same seed, weights and data "
    "order), report which fixes work, and write the spec with them applied to --out/fixed.yaml.")]
Verbose = Annotated[bool, typer.Option("-v", "--verbose", help="Evidence and every fix.")]


def overrides(sets: list[str] | None, steps: int | None = None, seed: int | None = None,
              device: str | None = None) -> list[str]:
    """`--set` expressions plus the shortcut flags, the flags last so they win."""
    out = list(sets or [])
    if steps is not None:
        out.append(f"probe.steps={steps}")
    if seed is not None:
        out.append(f"seed={seed}")
    if device is not None:
        out.append(f"device={device}")
    return out
