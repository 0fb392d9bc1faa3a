"""Which fixes to try: the warnings and errors whose best fix is a spec edit, and their fixes in order.

A finding is verified when its *top* fix is machine-applicable: the rule ranked that edit best, so
trying it answers "does the advice work?". A finding whose top fix is a code change (remove a
Softmax from forward) is reported as not tried: a lesser spec edit would not test the advice.
After a fix that does not resolve its finding, the finding's next machine-applicable fix is tried,
up to `probe.verify_attempts`. Edits that would not change the spec (the value is already set)
are skipped. Pure functions of the report's findings and the resolved config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from trainlint.rules.base import Finding, Fix
from trainlint.verify.model import NotTried


@dataclass
class Plan:
    """Per finding (by index): the indices of its fixes to try, best first; and the findings not tried."""

    queues: dict[int, list[int]]
    not_tried: list[NotTried]


def plan(findings: list[Finding], config: dict[str, Any]) -> Plan:
    """The fixes to try for each warning/error finding (module docstring)."""
    queues: dict[int, list[int]] = {}
    not_tried: list[NotTried] = []
    for i, finding in enumerate(findings):
        if finding.severity.value not in ("warning", "error"):
            continue
        if not finding.fixes:
            not_tried.append(NotTried(code=finding.code, rule=finding.rule, finding=i, reason="it has no fix"))
            continue
        top = finding.fixes[0]
        if not top.spec_edits:
            not_tried.append(NotTried(code=finding.code, rule=finding.rule, finding=i,
                                      reason=f"its best fix is not a spec edit: {top.text}"))
            continue
        queue = [j for j, fix in enumerate(finding.fixes) if fix.spec_edits and changes(fix, config)]
        if not queue:
            not_tried.append(NotTried(code=finding.code, rule=finding.rule, finding=i,
                                      reason="its spec edits are already in the spec"))
            continue
        queues[i] = queue
    return Plan(queues, not_tried)


def root_first(findings: list[Finding], indices: list[int]) -> tuple[list[int], list[int]]:
    """`indices` split into root causes and consequences (`Finding.caused_by`), each in report order.

    Why: a root cause's fix often clears its consequences too (lowering the LR ends the divergence,
    the dead units and the underfitting alike); trying it first spares their re-runs and reports
    them as resolved by the fix that actually mattered.
    """
    roots = [i for i in indices if findings[i].caused_by is None]
    return roots, [i for i in indices if findings[i].caused_by is not None]


def changes(fix: Fix, config: dict[str, Any]) -> bool:
    """Whether applying `fix` changes the (resolved) spec."""
    return any(value_at(config, key) != value for key, value in fix.spec_edits.items())


def value_at(config: dict[str, Any], key: str) -> Any:
    """The resolved config's value at a dotted key (None when absent)."""
    node: Any = config
    for part in key.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def edits_key(edits: dict[str, Any]) -> str:
    """A stable identity for a set of edits (the same edits run once, whoever proposed them)."""
    return json.dumps(sorted(edits.items()), default=str)


def conflicts(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Keys of `a` that clash with `b`: the same key set to another value, or one inside the other
    (`scheduler` and `scheduler.args.step_size`)."""
    out = []
    for ka, va in a.items():
        for kb, vb in b.items():
            if (ka == kb and va != vb) or kb.startswith(ka + ".") or ka.startswith(kb + "."):
                out.append(ka)
                break
    return out


def label(edits: dict[str, Any]) -> str:
    """``optimizer.lr=7e-05, probe.clip_grad_norm=1000`` (run folders, progress lines)."""
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in edits.items())
