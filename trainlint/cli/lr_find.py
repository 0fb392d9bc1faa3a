"""`trainlint lr-find CONFIG`: learning-rate range test on the spec's own setup; suggests an LR."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from trainlint.cli import options as o
from trainlint.cli.errors import EXIT_FINDINGS, handle_errors
from trainlint.cli.output import console
from trainlint.components.base import ComponentError
from trainlint.report.model import write_atomic
from trainlint.spec.errors import SpecError
from trainlint.spec.loader import load_spec
from trainlint.spec.validate import as_spec_error, check_names
from trainlint.workflow import output_dir

StartLr = Annotated[float, typer.Option("--start-lr", min=0.0, help="First LR of the sweep.")]
EndLr = Annotated[float, typer.Option("--end-lr", help="Last LR of the sweep.")]
NumSteps = Annotated[int, typer.Option("--num-steps", min=2, help="Steps of the sweep (one batch each).")]
StopFactor = Annotated[float, typer.Option("--stop-factor", min=1.0, help="Stop once the smoothed "
                                           "loss exceeds this multiple of its best.")]


def lr_find_command(
    config: o.Config,
    out: o.Out = None,
    start_lr: StartLr = 1e-7,
    end_lr: EndLr = 10.0,
    num_steps: NumSteps = 100,
    stop_factor: StopFactor = 4.0,
    device: o.Device = None,
    seed: o.Seed = None,
    threads: o.Threads = None,
    fmt: o.Format = o.OutputFormat.text,
    set_: o.Set = None,
    no_plots: o.NoPlots = False,
    quiet: o.Quiet = False,
) -> None:
    """Sweep the LR exponentially on a fresh copy of the model; suggest an LR and plot the curve."""
    from trainlint.analysis.lr_suggest import suggest_lr
    from trainlint.probe.range_test import run_range_test, summary

    with handle_errors():
        loaded = load_spec(config, o.overrides(set_, None, seed, device, threads))
        check_names(loaded)
        if not 0 < start_lr < end_lr or stop_factor <= 1:
            raise SpecError(f"the sweep {start_lr:g} → {end_lr:g} is not an increasing positive range "
                            "(or --stop-factor ≤ 1)", field="--start-lr/--end-lr",
                            accepted="0 < --start-lr < --end-lr, e.g. --start-lr 1e-7 --end-lr 10")
        out_dir = output_dir(loaded, out)
        try:
            test = run_range_test(loaded, start_lr, end_lr, num_steps, stop_factor)
        except ComponentError as exc:
            raise as_spec_error(loaded, exc) from None
        verdict = suggest_lr(test.lrs, test.losses)
        data = summary(test, verdict)
        write_atomic(out_dir / "lr_find.json", json.dumps(data, indent=2))
        written = ["lr_find.json"]
        if not no_plots:
            from trainlint.plots.lr_find import plot_lr_find

            title = f"{loaded.name}: LR range test ({test.steps_run} of {num_steps} steps)"
            plot_lr_find(test.lrs, test.losses, verdict.smoothed, data["suggested_lr"], verdict.valley,
                         test.current_lr, title, data["reason"], out_dir / "lr_find.png")
            written.append("lr_find.png")
        if fmt == o.OutputFormat.json:
            typer.echo(json.dumps(data, indent=2))
        else:
            _render(loaded, data, verdict.notes, quiet, out_dir, written)
        raise typer.Exit(EXIT_FINDINGS if test.crash is not None else 0)


def _render(loaded, data: dict, notes: list[str], quiet: bool, out_dir, written: list[str]) -> None:
    from rich.markup import escape

    out = console()
    current, lr = data["current_lr"], data["suggested_lr"]
    pos = loaded.position("optimizer.lr")
    where = f" ({loaded.path}:{pos[0]})" if pos else ""
    if not quiet:
        stops = {"completed": "ran all steps", "diverged": f"stopped when the smoothed loss exceeded "
                 f"{data['stop_factor']:g}× its best", "non_finite_loss": "stopped at a non-finite loss",
                 "crashed": "the model crashed"}
        out.print(f"lr-find [bold]{escape(loaded.name)}[/]: lr {data['start_lr']:g} → {data['end_lr']:g} over "
                  f"{data['num_steps']} steps; {data['steps_run']} run, {stops[data['stop_reason']]}")
    if lr is None:
        out.print(f"[yellow]no suggestion[/]: {escape(data['reason'])}")
        out.print(f"current optimizer.lr {current:g}{where}")
    else:
        ratio = lr / current
        relation = f"{ratio:.2g}× the current" if ratio >= 1 else f"{1 / ratio:.2g}× below the current"
        out.print(f"[green]suggested lr {lr:g}[/]: {relation} optimizer.lr {current:g}{where}")
        if not quiet:
            out.print(f"  how: {escape(data['reason'])}")
    for note in notes if lr is not None and not quiet else []:
        out.print(f"  note: {escape(note)}")
    if not quiet:
        out.print(f"wrote {', '.join(written)} to {out_dir}")
