"""Rule selection by code, name or code prefix: the more specific match wins, ignore wins ties."""

from __future__ import annotations

from collections.abc import Iterable

from trainlint.rules.base import Rule

NAME_MATCH = 100  # a full name is as specific as a full code


def _specificity(rule: Rule, patterns: Iterable[str]) -> int:
    """How specifically `patterns` name `rule` (-1: not at all)."""
    best = -1
    for raw in patterns:
        p = raw.strip()
        if not p:
            continue
        if p.lower() == rule.name or p.upper() == rule.code:
            best = max(best, NAME_MATCH)
        elif p.upper() == "ALL":
            best = max(best, 0)
        elif rule.code.startswith(p.upper()):
            best = max(best, len(p))
    return best


def is_selected(rule: Rule, select: Iterable[str], ignore: Iterable[str]) -> bool:
    select = [s for s in select if s.strip()]
    chosen = _specificity(rule, select) if select else 0
    return chosen >= 0 and chosen > _specificity(rule, ignore)


def unknown_patterns(patterns: Iterable[str], rules: Iterable[Rule]) -> list[str]:
    """Patterns that match no rule at all (a typo, reported as a usage error)."""
    rules = list(rules)
    return [p for p in patterns if p.strip() and not any(_specificity(r, [p]) >= 0 for r in rules)]
