"""`trainlint compare-losses` / `compare-optimizers`: one probe per variant, ranked on a validation metric.

Ctrl-C stops the variants that are running (after their current step, or by cancelling their Ray
tasks) and starts no more; the ones that finished are ranked, printed and written to
comparison.json as usual, and the exit status is 130.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from trainlint.analysis.wording import no_negative_zero, status_word
from trainlint.cli import options as o
from trainlint.cli.errors import EXIT_INTERRUPTED, handle_errors, stop_on_interrupt
from trainlint.cli.output import console
from trainlint.rules.base import Severity
from trainlint.spec.loader import load_spec
from trainlint.spec.validate import check_names

Jobs = Annotated[int | None, typer.Option("--jobs", "-j", min=1, help="Parallel processes with --executor local "
                                          "(default: up to one per core and per variant, when that saves time).")]
Losses = Annotated[list[str] | None, typer.Option("--loss", metavar="<variant>", help="A loss variant: name or "
                   "name:key=value,... (repeatable) (default: compare.losses, else defaults for the task).")]
Optimizers = Annotated[list[str] | None, typer.Option("--optimizer", metavar="<variant>", help="An optimizer variant: name or "
                       "name:lr=...,key=value (repeatable) (default: compare.optimizers, else SGD+momentum, "
                       "Adam, AdamW, RMSprop, Adagrad).")]
TuneLr = Annotated[bool, typer.Option("--tune-lr", help="Give each optimizer its own LR range test and "
                                      "run it at the suggested LR.")]


def compare_losses_command(
    config: o.Config, loss: Losses = None, out: o.Out = None, steps: o.Steps = None, jobs: Jobs = None,
    executor: o.Executor = o.ExecutorKind.local, ray_address: o.RayAddress = None,
    cpus_per_variant: o.CpusPerVariant = None, gpus_per_variant: o.GpusPerVariant = None, prune: o.Prune = False,
    device: o.Device = None, seed: o.Seed = None, threads: o.Threads = None,
    fmt: o.Format = o.OutputFormat.text, fail_on: o.FailOnOpt = o.FailOn.error, select: o.Select = None, ignore: o.Ignore = None,
    set_: o.Set = None, no_plots: o.NoPlots = False, quiet: o.Quiet = False, verbose: o.Verbose = False,
) -> None:
    """Probe the spec once per loss (same init and data order); rank on the validation metric."""
    where = (executor, jobs, ray_address, cpus_per_variant, gpus_per_variant, prune)
    _compare("losses", config, loss or [], False, out, steps, where, device, seed, threads, fmt, fail_on, select,
             ignore, set_, no_plots, quiet, verbose)


def compare_optimizers_command(
    config: o.Config, optimizer: Optimizers = None, tune_lr: TuneLr = False, out: o.Out = None,
    steps: o.Steps = None, jobs: Jobs = None, executor: o.Executor = o.ExecutorKind.local,
    ray_address: o.RayAddress = None, cpus_per_variant: o.CpusPerVariant = None,
    gpus_per_variant: o.GpusPerVariant = None, prune: o.Prune = False, device: o.Device = None, seed: o.Seed = None,
    threads: o.Threads = None, fmt: o.Format = o.OutputFormat.text, fail_on: o.FailOnOpt = o.FailOn.error, select: o.Select = None,
    ignore: o.Ignore = None, set_: o.Set = None, no_plots: o.NoPlots = False, quiet: o.Quiet = False,
    verbose: o.Verbose = False,
) -> None:
    """Probe the spec once per optimizer (same init and data order); rank on the validation metric."""
    where = (executor, jobs, ray_address, cpus_per_variant, gpus_per_variant, prune)
    _compare("optimizers", config, optimizer or [], tune_lr, out, steps, where, device, seed, threads, fmt, fail_on,
             select, ignore, set_, no_plots, quiet, verbose)


def _compare(kind, config, cli_variants, tune_lr, out, steps, where, device, seed, threads, fmt, fail_on, select,
             ignore, set_, no_plots, quiet, verbose) -> None:
    from trainlint.compare.runner import CompareOptions, RangeSettings, data_task, run_comparison
    from trainlint.compare.variants import loss_variants, optimizer_variants

    with handle_errors(), stop_on_interrupt():
        execution = o.executor_settings(*where)
        loaded = load_spec(config, o.overrides(set_, steps, seed, device, threads))
        check_names(loaded)
        if kind == "losses":
            variants = loss_variants(loaded, cli_variants, data_task(loaded))
        else:
            variants = optimizer_variants(loaded, cli_variants)
        text = fmt == o.OutputFormat.text
        done = []

        def on_done(result) -> None:
            done.append(result)
            if text and not quiet and sys.stderr.isatty():
                typer.echo(f"  {len(done)}/{len(variants)} {result.label}: {status_word(result.status)}", err=True)

        options = CompareOptions(out=out, execution=execution, tune_lr=RangeSettings() if tune_lr else None,
                                 select=select or [], ignore=ignore or [], on_done=on_done)
        comparison = run_comparison(loaded, variants, kind, options)
        if not no_plots:
            from trainlint.plots.compare import plot_comparison

            plot_comparison(comparison, comparison.out_dir / f"compare_{kind}.png")
        if fmt == o.OutputFormat.json:
            typer.echo(json.dumps(comparison.to_json(), indent=2))
        else:
            _render(comparison, quiet, verbose, no_plots)
        if comparison.interrupted:
            typer.echo(f"interrupted: partial comparison written to {comparison.out_dir / 'comparison.json'}", err=True)
            raise typer.Exit(EXIT_INTERRUPTED)
        raise typer.Exit(_exit_code(comparison, fail_on.value))


def _exit_code(comparison, fail_on: str) -> int:
    """1 when the top-ranked variant has a finding at or above `fail_on`, or no variant could be ranked."""
    if fail_on == "never":
        return 0
    top = comparison.rows[0] if comparison.rows and comparison.rows[0].rank else None
    if top is None:
        return 1
    return int(any(Severity(f["severity"]).rank >= Severity(fail_on).rank for f in top.findings))


def _render(comparison, quiet: bool, verbose: bool, no_plots: bool) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    out = console()
    if not out.is_terminal:  # a log or CI: room for the whole table rather than 80 columns
        out = Console(highlight=False, soft_wrap=True, width=160)
    metric = comparison.metric_name
    table = Table(title=f"compare-{comparison.kind}: ranked on validation {metric} "
                        f"({'higher' if comparison.higher_is_better else 'lower'} is better)",
                  title_justify="left", show_lines=False)
    for name, justify in (("#", "right"), ("variant", "left"), ("lr", "right"), (metric, "right"),
                          ("noise", "right"), ("steps→90%", "right"), ("final loss", "right"),
                          ("loss CV", "right"), ("wall s", "right"), ("findings", "left")):
        table.add_column(name, justify=justify, overflow="fold", no_wrap=name == "variant")
    for row in comparison.rows:
        findings = " ".join(row.codes) or ("–" if row.status == "completed" else "")
        if row.status != "completed":
            findings = f"[{_style(row)}]{status_word(row.status)}[/] {findings}".strip()
        table.add_row(str(row.rank or "–"), escape(row.label) + (" (current)" if row.is_current else ""),
                      _num(row.lr, "{:.1g}"), _num(row.metric, "{:.3f}" if comparison.higher_is_better else "{:.4g}"),
                      _num(row.noise, "{:.3f}" if comparison.higher_is_better else "{:.4g}"), _num(row.steps_to_target, "{}"), _num(row.final_train_loss, "{:.3g}"),
                      _num(row.stability, "{:.2f}"), f"{row.wall_seconds:.1f}", findings)
    out.print(table)
    for row in comparison.rows:  # notes (what was adapted or tuned), then what went wrong
        lines = [] if quiet else [("", note) for note in row.notes]
        lines += [(_style(row), row.error)] if row.error else []
        if verbose:
            lines += [("", f"{f['code']} {f['rule']}: {f['message']}") for f in row.findings]
            lines += [("dim", "ran " + ", ".join(f"{k} {v}" for k, v in row.placement.items()))] if row.placement else []
        for style, line in lines:
            text = f"[{style}]{escape(line)}[/]" if style else escape(line)
            out.print(f"  [dim]{escape(row.label)}:[/] {text}")
    style = "green" if comparison.recommendation.clear_winner else "yellow"
    out.print(f"[{style}]{escape(comparison.recommendation.reason)}[/]")
    if not quiet:
        files = ["comparison.json"] + ([] if no_plots else [f"compare_{comparison.kind}.png"])
        out.print(f"{len(comparison.rows)} variants in {comparison.wall_seconds:.1f} s, "
                  f"{comparison.threads} torch thread(s) each, run {escape(comparison.execution)}.")
        out.print(f"wrote {', '.join(files)} and per-variant reports under compare_{comparison.kind}/ "
                  f"to {comparison.out_dir}")


def _style(row) -> str:
    """Pruned is a decision, not a failure."""
    return "yellow" if row.status == "pruned" else "red"


def _num(value, pattern: str) -> str:
    return "–" if value is None else no_negative_zero(pattern.format(value))
