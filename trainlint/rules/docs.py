"""A rule's user documentation: its docstring plus a thresholds table generated from its model."""

from __future__ import annotations

import inspect

from trainlint.rules.base import Rule

REQUIRED_SECTIONS = ("## What it checks", "## Why it matters", "## How to fix", "## Not flagged")


def thresholds_table(rule: Rule) -> list[tuple[str, str, str]]:
    """(name, default, description) for each threshold of the rule."""
    rows = []
    for name, field in rule.thresholds.model_fields.items():
        rows.append((name, repr(field.default), field.description or ""))
    return rows


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
    lines.append(f"Override in the spec: rules.thresholds.{rule.name}.<name>: <value>")
    return "\n".join(lines)
