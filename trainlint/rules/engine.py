"""Runs the selected rules over a RunRecord and stamps each finding with its identity and spec line."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, NotEvaluated, Rule, Stage
from trainlint.rules.catalog import all_rules
from trainlint.rules.selection import is_selected

STAGE_ORDER = {Stage.STATIC: 0, Stage.FIRST_BATCH: 1, Stage.RUN: 2}
Locate = Callable[[str], "tuple[int, int] | None"]


def evaluate(record: RunRecord, *, select: Iterable[str] = (), ignore: Iterable[str] = (),
             thresholds: dict[str, dict[str, Any]] | None = None, locate: Locate | None = None,
             up_to: Stage = Stage.RUN, rules: Iterable[Rule] | None = None
             ) -> tuple[list[Finding], list[NotEvaluated]]:
    """Findings of every selected rule, and the rules that could not be evaluated (with why).

    Args:
        record: what the probe measured.
        select, ignore: codes, names or prefixes (empty select = all).
        thresholds: per rule name, threshold overrides (already validated by the spec).
        locate: dotted spec key → (line, column), to point findings at the spec.
        up_to: the last stage to run (`check` stops at FIRST_BATCH).
        rules: the rules to consider (default: the whole catalog).
    """
    select, ignore, thresholds = list(select), list(ignore), thresholds or {}
    findings: list[Finding] = []
    skipped: list[NotEvaluated] = []
    for rule in rules if rules is not None else all_rules():
        if not is_selected(rule, select, ignore) or STAGE_ORDER[rule.stage] > STAGE_ORDER[up_to]:
            continue
        missing = [q for q in rule.requires if not record.has(q)]
        if missing:
            skipped.append(NotEvaluated(code=rule.code, rule=rule.name,
                                        reason="not recorded: " + ", ".join(missing)))
            continue
        params = rule.thresholds.model_validate(thresholds.get(rule.name, {}))
        for finding in rule.check(record, params) or ():
            findings.append(_stamp(finding, rule, locate))
    findings.sort(key=lambda f: (-f.severity.rank, f.code))
    return findings, skipped


def _stamp(finding: Finding, rule: Rule, locate: Locate | None) -> Finding:
    finding.code, finding.rule = rule.code, rule.name
    if "severity" not in finding.model_fields_set:
        finding.severity = rule.severity
    if finding.config_key and locate is not None:
        pos = locate(finding.config_key)
        if pos is not None:
            finding.config_line, finding.config_column = pos
    return finding
