"""Terminal writer: a linter-style list of findings, then a summary table."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from trainlint.report.model import Report
from trainlint.rules.base import Finding

STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def location(report: Report, finding: Finding) -> str:
    loc = report.config_path
    if finding.config_line is not None:
        loc += f":{finding.config_line}"
        if finding.config_column is not None:
            loc += f":{finding.config_column}"
    return loc


def _fmt(value: float | None, spec: str = ".4g") -> str:
    return "–" if value is None else format(value, spec)


def render_text(report: Report, console: Console, verbose: bool = False, quiet: bool = False,
                out_dir: str | None = None) -> None:
    for f in report.findings:
        style = STYLE[f.severity.value]
        console.print(f"{location(report, f)} [{style}]{f.code} {f.rule}[/]  {f.message}", highlight=False)
        fixes = f.fixes if verbose else f.fixes[:1]
        for fix in fixes:
            console.print(f"    [dim]fix:[/] {fix.text}", highlight=False)
        if verbose and f.evidence:
            evidence = ", ".join(f"{k}={_fmt(v) if isinstance(v, float) else v}" for k, v in f.evidence.items())
            console.print(f"    [dim]evidence: {evidence}[/]", highlight=False)
    if quiet:
        return
    if report.findings:
        console.print()
    s, m = report.summary, report.metrics
    status_style = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red"}[s.status]
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_row("status", f"[{status_style}]{s.status}[/]")
    stopped = "" if s.stop_reason == "completed" else f" (stopped: {s.stop_reason})"
    table.add_row("steps", f"{s.steps_run}/{s.steps_planned}{stopped}")
    table.add_row("wall time", f"{s.wall_seconds:.1f} s")
    table.add_row("train loss", f"{_fmt(m.initial_loss)} → {_fmt(m.final_train_loss)}"
                  + (f"  (chance level {_fmt(m.expected_initial_loss)})" if m.expected_initial_loss else ""))
    metric = _fmt(m.final_val_metric, ".3f")
    chance = f"  (chance {_fmt(m.chance_metric, '.3f')})" if m.chance_metric is not None else ""
    table.add_row(f"val {m.metric_name}", metric + chance)
    table.add_row("val loss", _fmt(m.final_val_loss))
    table.add_row("speed", f"{_fmt(m.steps_per_second, '.1f')} steps/s")
    table.add_row("peak memory", f"{_fmt(m.peak_rss_mb, '.0f')} MB RSS")
    c = s.counts
    table.add_row("findings", f"{c.error} error, {c.warning} warning, {c.info} info"
                  + (f"; {len(report.not_evaluated)} rule(s) not evaluated" if report.not_evaluated else ""))
    if out_dir:
        table.add_row("artifacts", f"{out_dir}/ ({', '.join(report.artifacts)})")
    console.print(table)
