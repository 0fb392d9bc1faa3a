"""A rule's user documentation: its docstring plus a thresholds table generated from its model."""

from __future__ import annotations

import inspect

from trainlint.rules.base import Rule
from trainlint.rules.causes import KNOB_SYMPTOMS, causes_of, consequences_of

REQUIRED_SECTIONS = ("## What it checks", "## Why it matters", "## How to fix", "## Not flagged")


def thresholds_table(rule: Rule) -> list[tuple[str, str, str]]:
    """(name, default, description) for each threshold of the rule."""
    rows = []
    for name, field in rule.thresholds.model_fields.items():
        rows.append((name, repr(field.default), field.description or ""))
    return rows


def _name(code: str) -> str:
    from trainlint.rules.catalog import find

    found = find(code)
    return f"{code} {found.name}" if found else code


def links_section(rule: Rule) -> list[str]:
    """"Often caused by / often causes", from the table the engine links findings with (rules.causes).

    Why from the table: the documentation says exactly which links a report can show, and each
    is made only when the run's record supports it (the cause went bad first, or explains it).
    """
    lines = ["## Root cause and consequences"]
    by, causes = causes_of(rule.code), consequences_of(rule.code)
    knobs = [k for k, codes in KNOB_SYMPTOMS.items() if rule.code in codes]
    if not by and not causes and not knobs:
        return [*lines, "Not linked to other rules: always reported as a root cause of its own."]
    if by or knobs:
        lines.append("Often caused by (reported under it when the record shows it came first):")
        lines += [f"- {_name(lk.cause)}: {lk.why}" for lk in by]
        lines += [f"- `{k}`, when a finding's best fix changes it and the record shows it at work" for k in knobs]
    if causes:
        lines.append("Often causes (reported under this rule when the record shows this came first):")
        lines += [f"- {_name(lk.consequence)}: {lk.why}" for lk in causes]
    return lines


def render_doc(rule: Rule) -> str:
    """Plain-text documentation, as printed by `trainlint explain`."""
    doc = inspect.cleandoc(rule.doc)
    lines = [f"{rule.code} {rule.name}  (default severity: {rule.severity.value}; stage: {rule.stage.value})",
             "", doc, "", "## Thresholds"]
    rows = thresholds_table(rule)
    if not rows:
        lines.append("None.")
    for name, default, description in rows:
        lines.append(f"- {name} = {default}: {description}")
    lines.append("")
    lines += links_section(rule)
    lines.append("")
    lines.append(f"Override in the spec: rules.thresholds.{rule.name}.<name>: <value>")
    return "\n".join(lines)
