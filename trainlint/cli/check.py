"""`trainlint check CONFIG`: the seconds-fast smoke check for CI (one step, static and first-batch rules)."""

from __future__ import annotations

import typer

from trainlint.cli import options as o
from trainlint.cli.errors import handle_errors, interrupted_exit
from trainlint.cli.output import emit
from trainlint.spec.loader import load_spec
from trainlint.workflow import ProbeOptions, check


def check_command(
    config: o.Config,
    out: o.Out = None,
    device: o.Device = None,
    seed: o.Seed = None,
    threads: o.Threads = None,
    fmt: o.Format = o.OutputFormat.text,
    fail_on: o.FailOnOpt = o.FailOn.error,
    select: o.Select = None,
    ignore: o.Ignore = None,
    set_: o.Set = None,
    quiet: o.Quiet = False,
    verbose: o.Verbose = False,
) -> None:
    """Seconds-fast smoke check for CI: one forward/backward on one batch, static and first-batch rules.

    Validates the spec and builds the data, model, loss, optimizer and schedule exactly as `probe`
    would; same outputs in --out and the same exit status.
    """
    with handle_errors():
        loaded = load_spec(config, o.overrides(set_, None, seed, device, threads))
        outcome = check(loaded, ProbeOptions(out=out, select=select or [], ignore=ignore or [], plots=False))
        raise typer.Exit(interrupted_exit(emit(outcome, fmt.value, fail_on.value, verbose=verbose, quiet=quiet),
                                          outcome))
