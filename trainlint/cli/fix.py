"""`trainlint fix CONFIG [--write]`: probe, verify the fixes, write the repaired spec — the repair, not the report.

The fixed spec goes next to the original as `<stem>.fixed.yaml`, or replaces it with `--write`
(the original kept as `<name>.bak`). Only fixes that a re-run proved to resolve their finding are
applied (see `trainlint.verify`). Exit status: 0 when the fixed spec (or the original, when
nothing needed fixing or nothing could be fixed) has no finding at or above `--fail-on`, else 1
(the fixed spec's re-run keeps its warnings and errors only, so `--fail-on info` judges those);
130 when Ctrl-C stopped the probe, in which case no fix is tried.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trainlint.cli import options as o
from trainlint.cli.errors import handle_errors, interrupted_exit, stop_on_interrupt
from trainlint.cli.output import (
    console,
    exit_code,
    internal_errors,
    progress_bar,
    wants_progress,
    warn_internal_errors,
)
from trainlint.rules.base import Severity
from trainlint.spec.loader import LoadedSpec, load_spec
from trainlint.workflow import ProbeOptions, probe

if TYPE_CHECKING:
    from trainlint.compare.executors import ExecutorSettings

Write = Annotated[bool, typer.Option("--write", help="Fix the spec in place, keeping the original as <name>.bak "
                                     "(default: write <stem>.fixed.yaml next to it).")]
Attempts = Annotated[int | None, typer.Option("--attempts", min=1, max=10, help="Fixes tried per finding, best "
                                              "first (default: probe.verify_attempts, 2).")]
Jobs = Annotated[int | None, typer.Option("--jobs", "-j", min=1, help="Parallel processes for the re-runs with "
                                          "--executor local (default: up to one per core, when that saves time).")]


def fix_command(
    config: o.Config,
    write: Write = False,
    attempts: Attempts = None,
    jobs: Jobs = None,
    executor: o.Executor = o.ExecutorKind.local,
    ray_address: o.RayAddress = None,
    cpus_per_variant: o.CpusPerVariant = None,
    gpus_per_variant: o.GpusPerVariant = None,
    out: o.Out = None,
    steps: o.Steps = None,
    device: o.Device = None,
    seed: o.Seed = None,
    threads: o.Threads = None,
    fail_on: o.FailOnOpt = o.FailOn.error,
    select: o.Select = None,
    ignore: o.Ignore = None,
    set_: o.Set = None,
    quiet: o.Quiet = False,
    verbose: o.Verbose = False,
) -> None:
    """Probe the spec, re-run it with each finding's fix, and write the spec with the fixes that work."""
    with handle_errors(), stop_on_interrupt():
        execution = o.executor_settings(executor, jobs, ray_address, cpus_per_variant, gpus_per_variant)
        loaded = load_spec(config, o.overrides(set_, steps, seed, device, threads))
        with progress_bar(wants_progress(quiet), loaded.name) as progress:
            outcome = probe(loaded, ProbeOptions(out=out, select=select or [], ignore=ignore or [], plots=False,
                                                 progress=progress, range_test=True))
        target, backup = fixed_paths(loaded.path, write)
        verification = verify_with_progress(loaded, outcome, select or [], ignore or [], quiet, execution=execution,
                                            attempts=attempts, fixed_path=target, backup=backup)
        _render(outcome, verification, quiet, verbose)
        warn_internal_errors(outcome.report, outcome.out_dir)
        code = exit_code(outcome.report, fail_on.value) if verification is None else \
            _exit_code(outcome.report, verification, fail_on.value)
        raise typer.Exit(interrupted_exit(code, outcome))


def fixed_paths(spec: Path, in_place: bool) -> tuple[Path, Path | None]:
    """(where the fixed spec goes, where the original is backed up or None)."""
    if in_place:
        return spec, spec.with_name(spec.name + ".bak")
    return spec.with_name(f"{spec.stem}.fixed{spec.suffix or '.yaml'}"), None


def verify_with_progress(loaded: LoadedSpec, outcome, select: list[str], ignore: list[str], quiet: bool,
                         execution: ExecutorSettings | None = None, attempts: int | None = None,
                         fixed_path: Path | None = None, backup: Path | None = None):
    """Verify `outcome`'s fixes (see `trainlint.verify`), one progress line per re-run on a terminal.

    None when Ctrl-C stopped the probe: a cut-short run is no baseline to judge fixes against.
    """
    if outcome.record.stop_reason == "interrupted":
        return None
    from trainlint.compare.executors import ExecutorSettings
    from trainlint.verify.run import VerifyOptions, verify_outcome

    show = wants_progress(quiet)
    done: list[str] = []

    def on_done(result) -> None:
        done.append(result.label)
        if show:
            typer.echo(f"  verified {len(done)}: {result.label}: {result.status}", err=True)

    return verify_outcome(loaded, outcome, VerifyOptions(
        select=select, ignore=ignore, execution=execution or ExecutorSettings(), attempts=attempts,
        fixed_path=fixed_path, backup=backup, on_done=on_done))


def _render(outcome, verification, quiet: bool, verbose: bool) -> None:
    from rich.text import Text

    from trainlint.report.text import findings_lines
    from trainlint.report.verification import verification_lines

    out = console()
    for line in findings_lines(outcome.report, verbose):  # root causes, their consequences indented
        out.print(line, highlight=False)
    if quiet or verification is None:
        return
    if outcome.report.findings:
        out.print()
    for line in verification_lines(verification, verbose=True):
        out.print(line, highlight=False)
    fixed = verification.fixed_spec
    if fixed is not None and fixed.path:
        kept = f"; the original is kept as {fixed.backup}" if fixed.backup else ""
        out.print(Text(f"wrote {fixed.path}{kept}", style="green"), highlight=False)
    elif verification.not_tried and not verification.verified_fixes:  # otherwise "fixed spec  none" said it
        out.print(Text("nothing written: no finding had a spec edit to try", style="yellow"), highlight=False)


def _exit_code(report, verification, fail_on: str) -> int:
    """Judged on the fixed spec's re-run when one was written, else on the original probe."""
    fixed = verification.fixed_spec
    if internal_errors(report) or fail_on == "never" or fixed is None or not fixed.path:
        return exit_code(report, fail_on)
    worst = fixed.check.worst_after
    return int(worst is not None and Severity(worst).rank >= Severity(fail_on).rank)
