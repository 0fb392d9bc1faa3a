"""Options shared by the commands, with their help text."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from trainlint.compare.executors import ExecutorSettings


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    github = "github"
    junit = "junit"


class ExecutorKind(str, Enum):
    local = "local"
    ray = "ray"


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
Executor = Annotated[ExecutorKind, typer.Option(
    "--executor", help="Where the variants run: local (this process, or worker processes with --jobs) or ray "
    "(Ray tasks; needs `pip install 'trainlint\\[ray]'`).")]
RayAddress = Annotated[str | None, typer.Option(
    "--ray-address", metavar="<auto|HOST:PORT>",
    help="With --executor ray: the cluster to join (auto: the one this machine belongs to; default: start a "
    "local Ray instance).")]
CpusPerVariant = Annotated[float | None, typer.Option(
    "--cpus-per-variant", metavar="<n>",
    help="With --executor ray: CPUs Ray reserves for each variant (default: its torch threads).")]
GpusPerVariant = Annotated[float | None, typer.Option(
    "--gpus-per-variant", metavar="<n>", help="With --executor ray: GPUs Ray reserves for each variant "
    "(default 0; fractions share a GPU).")]
Prune = Annotated[bool, typer.Option(
    "--prune", help="Stop a variant early when its validation metric at a third of the steps is not in the top "
    "third of the variants seen there (Ray Tune's ASHA; needs the ray extra, with either executor).")]


def executor_settings(executor: ExecutorKind, jobs: int | None = None, ray_address: str | None = None,
                      cpus: float | None = None, gpus: float | None = None, prune: bool = False) -> ExecutorSettings:
    """The executor options as `ExecutorSettings`; a usage error (exit 2) for a combination that cannot work.

    Checked before anything runs, so a missing `ray` package is said at once, not after the probe.
    """
    import importlib.util

    from trainlint.compare.executors import ExecutorSettings
    from trainlint.spec.errors import SpecError

    ray = executor == ExecutorKind.ray
    if not ray:
        given = [name for name, value in (("--ray-address", ray_address), ("--cpus-per-variant", cpus),
                                          ("--gpus-per-variant", gpus)) if value is not None]
        if given:
            raise SpecError("is only used with --executor ray", field=given[0], accepted="--executor ray "
                            + given[0] + " ..., or leave it out")
    elif jobs is not None:
        raise SpecError("sets local worker processes; on Ray, --cpus-per-variant and --gpus-per-variant decide how "
                        "many variants run at once", field="--jobs", accepted="--executor local --jobs N")
    for name, value in (("--cpus-per-variant", cpus), ("--gpus-per-variant", gpus)):
        if value is not None and (value < 0 or (value == 0 and name == "--cpus-per-variant")):
            raise SpecError(f"must be {'positive' if name == '--cpus-per-variant' else '0 or more'}, got {value:g}",
                            field=name, accepted="a number such as 1, 2 or 0.5")
    if (ray or prune) and importlib.util.find_spec("ray") is None:
        from trainlint.compare.ray_executor import INSTALL

        raise SpecError("`ray` is not installed", field="--executor" if ray else "--prune",
                        accepted=f"install it with {INSTALL}")
    return ExecutorSettings(executor.value, jobs, ray_address, cpus, gpus or 0.0, prune)


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
