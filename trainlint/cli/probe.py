"""`trainlint probe CONFIG`: probe, diagnose, report."""

from __future__ import annotations

import sys

import typer

from trainlint.cli import options as o
from trainlint.cli.errors import handle_errors
from trainlint.cli.output import console, exit_code, progress_bar
from trainlint.spec.loader import load_spec
from trainlint.workflow import ProbeOptions, probe


def probe_command(
    config: o.Config,
    out: o.Out = None,
    steps: o.Steps = None,
    device: o.Device = None,
    seed: o.Seed = None,
    fmt: o.Format = o.OutputFormat.text,
    fail_on: o.FailOnOpt = o.FailOn.error,
    select: o.Select = None,
    ignore: o.Ignore = None,
    set_: o.Set = None,
    no_plots: o.NoPlots = False,
    quiet: o.Quiet = False,
    verbose: o.Verbose = False,
) -> None:
    """Run a short instrumented training of the spec and diagnose it."""
    with handle_errors():
        loaded = load_spec(config, o.overrides(set_, steps, seed, device))
        show_progress = fmt == o.OutputFormat.text and not quiet and sys.stderr.isatty()
        with progress_bar(show_progress, loaded.name) as progress:
            outcome = probe(loaded, ProbeOptions(out=out, select=select or [], ignore=ignore or [],
                                                 plots=not no_plots, progress=progress))
        if fmt == o.OutputFormat.json:
            typer.echo(outcome.report.model_dump_json(indent=2))
        else:
            from trainlint.report.text import render_text

            render_text(outcome.report, console(), verbose=verbose, quiet=quiet, out_dir=str(outcome.out_dir))
        raise typer.Exit(exit_code(outcome.report, fail_on.value))
