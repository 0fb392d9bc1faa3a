"""The explicit list of every rule, by family. A new rule is one line in its family's `RULES`."""

from __future__ import annotations

from functools import cache

from trainlint.rules.base import Rule


@cache
def all_rules() -> tuple[Rule, ...]:
    """Every rule, ordered by code."""
    from trainlint.rules import data, generalization, gradients, loss, lr, probe, resources

    rules = [*probe.RULES, *data.RULES, *loss.RULES, *lr.RULES, *gradients.RULES,
             *generalization.RULES, *resources.RULES]
    return tuple(sorted(rules, key=lambda r: r.code))


def find(code_or_name: str) -> Rule | None:
    """The rule with this code (`TL301`) or name (`lr-too-high`), case-insensitive."""
    key = code_or_name.strip().lower()
    return next((r for r in all_rules() if key in (r.code.lower(), r.name)), None)
