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
MaxSeconds = Annotated[float | None, typer.Option(
    "--max-seconds", metavar="<seconds>",
    help="Time budget for the training loop, from its first step (overrides probe.max_seconds): the probe "
    "stops there, evaluates once more and reports what it recorded.")]
Device = Annotated[str | None, typer.Option("--device", help="auto | cpu | cuda | cuda:N (overrides `device`).")]
Seed = Annotated[int | None, typer.Option("--seed", min=0, help="Override `seed`.")]
Threads = Annotated[str | None, typer.Option(
    "--threads", metavar="<auto|N>",
    help="CPU threads for PyTorch (overrides probe.threads): auto picks 1 for small models, where more "
    "threads only add overhead, else the cores other processes leave idle; N uses N.")]
Format = Annotated[OutputFormat, typer.Option(
    "--format", help="What to print on stdout: text (terminal), json (report.json), markdown (report.md, "
    "for a CI job summary), github (Actions annotations), junit (XML). Files in --out are always written.")]
FailOnOpt = Annotated[FailOn, typer.Option("--fail-on", help="Lowest severity that makes the exit status 1.")]
Set = Annotated[list[str] | None, typer.Option("--set", metavar="<key.path=value>",
                                               help="Override a spec field: key.path=value (repeatable).")]


def split_commas(values: list[str] | None) -> list[str] | None:
    """``--ignore TL204,TL301 --ignore TL4`` → ``[TL204, TL301, TL4]``: comma lists and repetition, as in ruff."""
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


Select = Annotated[list[str] | None, typer.Option(
    "--select", metavar="<rules>", callback=split_commas,
    help="Only these rules: codes, names or prefixes, comma-separated or repeated (--select TL2,TL301).")]
Ignore = Annotated[list[str] | None, typer.Option(
    "--ignore", metavar="<rules>", callback=split_commas,
    help="Skip these rules: codes, names or prefixes, comma-separated or repeated (--ignore TL204,TL301).")]
NoPlots = Annotated[bool, typer.Option("--no-plots", help="Do not draw the PNG plots.")]
Quiet = Annotated[bool, typer.Option("-q", "--quiet", help="Only the list of findings.")]
TensorBoard = Annotated[bool, typer.Option(
    "--tensorboard", help="Also write the recorded scalars as TensorBoard events to --out/tensorboard "
    "(needs `pip install 'trainlint\\[tensorboard]'`).")]  # \\[ keeps rich from reading [tensorboard] as markup
VerifyFixes = Annotated[bool, typer.Option(
    "--verify-fixes", help="Re-run the probe with each finding's fix applied (same seed, weights and data "
    "order), report which fixes work, and write the spec with them applied to --out/fixed.yaml.")]
Verbose = Annotated[bool, typer.Option("-v", "--verbose", help="Evidence and every fix.")]


def overrides(sets: list[str] | None, steps: int | None = None, seed: int | None = None,
              device: str | None = None, threads: str | None = None, max_seconds: float | None = None) -> list[str]:
    """`--set` expressions plus the shortcut flags, the flags last so they win.

    The flags stay as typed (``--device cuda``): load_spec applies them to their spec field and
    names them, not an equivalent `--set`, in its errors.
    """
    out = list(sets or [])
    if steps is not None:
        out.append(f"--steps {steps}")
    if seed is not None:
        out.append(f"--seed {seed}")
    if device is not None:
        out.append(f"--device {device}")
    if threads is not None:
        out.append(f"--threads {threads}")
    if max_seconds is not None:
        out.append(f"--max-seconds {max_seconds:g}")
    return out
