"""What every human-facing writer says about a report: locations, number formats, summary rows.

Text and markdown both render these, so the terminal and report.md never disagree.
"""

from __future__ import annotations

import math
from typing import Any

from trainlint.analysis.generalization import fmt_metric
from trainlint.analysis.wording import num, stop_text
from trainlint.report.model import Report
from trainlint.rules.base import Finding


def location(report: Report, finding: Finding) -> str:
    """``spec.yaml:14:7`` for a finding blamed on a spec field, the spec path alone otherwise."""
    loc = report.config_path
    if finding.config_line is not None:
        loc += f":{finding.config_line}"
        if finding.config_column is not None:
            loc += f":{finding.config_column}"
    return loc


def fmt(value: Any, spec: str = ".4g") -> str:
    """A number for people: 4 significant digits, `–` for missing; lists and dicts recursively."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return num(value, spec) if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {fmt(v, spec)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(fmt(v, spec) for v in value) + "]"
    return str(value)


def evidence_text(finding: Finding) -> str:
    return ", ".join(f"{k}={fmt(v)}" for k, v in finding.evidence.items())


def groups(report: Report) -> list[tuple[Finding, list[Finding]]]:
    """Each root cause with the findings it explains, most important first; then any finding that
    is neither (an info note), in report order. Every finding appears exactly once."""
    out = [(report.findings[r.finding], [report.findings[k] for k in r.consequence_findings])
           for r in report.root_causes]
    placed = {id(f) for root, members in out for f in (root, *members)}
    return out + [(f, []) for f in report.findings if id(f) not in placed]


def roots_text(report: Report) -> str:
    """``1 root cause (TL301), 4 consequences``; empty when no finding explains another."""
    n = sum(len(r.consequences) for r in report.root_causes)
    if not n:
        return ""
    roots = [r.code for r in report.root_causes]
    return (f"{len(roots)} root cause{'s' if len(roots) != 1 else ''} ({', '.join(roots)}), "
            f"{n} consequence{'s' if n != 1 else ''}")


def counts_text(report: Report) -> str:
    c = report.summary.counts
    text = f"{c.error} error, {c.warning} warning, {c.info} info"
    if roots := roots_text(report):
        text += f"; {roots}"
    n = len(report.not_evaluated)
    if n:
        text += f"; {n} rule{'s' if n != 1 else ''} not evaluated"
    return text


def summary_rows(report: Report, out_dir: str | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs of the summary table, in display order."""
    s, m = report.summary, report.metrics
    is_check = report.command == "check"
    budget = None if is_check else (report.config.get("probe") or {}).get("max_seconds")  # probe.max_seconds
    stopped = stop_text(s.stop_reason, budget) or (f"within the {num(budget, 'g')} s time budget" if budget else "")
    stopped = f" ({stopped})" if stopped else ""
    chance_loss = f"  (chance level {fmt(m.expected_initial_loss)})" if m.expected_initial_loss else ""
    rows = [("status", s.status)]
    if is_check:
        rows.append(("checked", f"{s.steps_run} step on one batch{stopped}; static and first-batch rules"))
        rows.append(("initial loss", fmt(m.initial_loss) + chance_loss))
        rows.append(("wall time", f"{s.wall_seconds:.1f} s"))
    else:
        rows.append(("steps", f"{s.steps_run}/{s.steps_planned}{stopped}"))
        rows.append(("wall time", f"{s.wall_seconds:.1f} s"))
        first = m.initial_loss if m.initial_loss is not None else m.first_train_loss  # a log has no first batch
        start = f"{fmt(first)} → " if first is not None else ""
        rows.append(("train loss", f"{start}{fmt(m.final_train_loss)}{chance_loss}"))
        chance = f"  (chance {fmt_metric(m.chance_metric)})" if m.chance_metric is not None else ""
        rows.append((f"val {m.metric_name}", fmt_metric(m.final_val_metric) + chance))
        rows.append(("val loss", fmt(m.final_val_loss)))
        if m.steps_per_second is not None:  # a TensorBoard log (diagnose) has no step times
            rows.append(("speed", f"{fmt(m.steps_per_second, '.1f')} steps/s"))
    if m.peak_rss_mb is not None:  # nor memory samples
        rows.append(("peak memory", f"{fmt(m.peak_rss_mb, '.0f')} MB RSS"))
    rows.append(("findings", counts_text(report)))
    if out_dir is not None:
        rows.append(("artifacts", f"{out_dir.rstrip('/')}/ ({', '.join(report.artifacts)})"))
    return rows
