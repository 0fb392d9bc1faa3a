"""`trainlint probe CONFIG`: probe, diagnose, report, plots."""

from __future__ import annotations

import typer

from trainlint.cli import options as o
from trainlint.cli.errors import handle_errors, interrupted_exit, stop_on_interrupt
from trainlint.cli.output import emit, progress_bar, wants_progress
from trainlint.spec.loader import load_spec
from trainlint.workflow import ProbeOptions, probe


def probe_command(
    config: o.Config,
    out: o.Out = None,
    steps: o.Steps = None,
    max_seconds: o.MaxSeconds = None,
    device: o.Device = None,
    seed: o.Seed = None,
    threads: o.Threads = None,
    fmt: o.Format = o.OutputFormat.text,
    fail_on: o.FailOnOpt = o.FailOn.error,
    select: o.Select = None,
    ignore: o.Ignore = None,
    set_: o.Set = None,
    no_plots: o.NoPlots = False,
    tensorboard: o.TensorBoard = False,
    verify_fixes: o.VerifyFixes = False,
    executor: o.Executor = o.ExecutorKind.local,
    ray_address: o.RayAddress = None,
    cpus_per_variant: o.CpusPerVariant = None,
    gpus_per_variant: o.GpusPerVariant = None,
    quiet: o.Quiet = False,
    verbose: o.Verbose = False,
) -> None:
    """Run a short instrumented training of the spec and diagnose it."""
    with handle_errors(), stop_on_interrupt():
        execution = o.executor_settings(executor, None, ray_address, cpus_per_variant, gpus_per_variant)
        loaded = load_spec(config, o.overrides(set_, steps, seed, device, threads, max_seconds))
        with progress_bar(wants_progress(quiet), loaded.name) as progress:
            outcome = probe(loaded, ProbeOptions(out=out, select=select or [], ignore=ignore or [],
                                                 plots=not no_plots, progress=progress,
                                                 tensorboard=tensorboard, range_test=True))
        if verify_fixes or loaded.spec.probe.verify_fixes:
            from trainlint.cli.fix import verify_with_progress

            verify_with_progress(loaded, outcome, select or [], ignore or [], quiet, execution=execution)
        code = emit(outcome, fmt.value, fail_on.value, verbose=verbose, quiet=quiet)
        raise typer.Exit(interrupted_exit(code, outcome))
