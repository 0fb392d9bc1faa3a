"""Checks the spec's `rules:` section against the catalog (unknown rules, threshold typos)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from trainlint.rules.catalog import all_rules
from trainlint.rules.selection import unknown_patterns


class RuleSettingError(ValueError):
    """A `rules:` entry that names no rule or no threshold; `field` is its dotted spec path."""

    def __init__(self, message: str, field: str, accepted: str, suggestions: list[str] | None = None):
        super().__init__(message)
        self.field, self.accepted, self.suggestions = field, accepted, suggestions or []


def check_rule_settings(select: list[str], ignore: list[str], thresholds: dict[str, dict[str, Any]],
                        where: str = "rules") -> None:
    """Raise RuleSettingError for the first unknown rule pattern or bad threshold."""
    from trainlint.spec.errors import close_matches

    rules = all_rules()
    names = [r.name for r in rules]
    for key, patterns in (("select", select), ("ignore", ignore)):
        unknown = set(unknown_patterns(patterns, rules))
        for idx, pattern in enumerate(patterns):
            if pattern in unknown:
                raise RuleSettingError(f"`{pattern}` matches no rule", f"{where}.{key}.{idx}",
                                       "rule codes (TL301), names (lr-too-high) or code prefixes (TL3)",
                                       close_matches(pattern, names)
                                       or close_matches(pattern, [r.code for r in rules], n=1))
    by_name = {r.name: r for r in rules}
    for name, values in thresholds.items():
        rule = by_name.get(name)
        if rule is None:
            raise RuleSettingError(f"no rule is named `{name}`", f"{where}.thresholds.{name}",
                                   "rule names, e.g. exploding-gradients", close_matches(name, names))
        fields = list(rule.thresholds.model_fields)
        try:
            rule.thresholds.model_validate(values or {})
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            param = ".".join(str(p) for p in err["loc"])
            unknown = err["type"] == "extra_forbidden"
            given = (values or {}).get(param)
            msg = (f"unknown threshold `{param}` for {rule.name}" if unknown
                   else f"threshold `{param}` of {rule.name} {err['msg'].lower()} (got {given!r})")
            raise RuleSettingError(msg, f"{where}.thresholds.{name}.{param}",
                                   ", ".join(fields) or "none (this rule has no thresholds)",
                                   close_matches(param, fields) if unknown else []) from None
