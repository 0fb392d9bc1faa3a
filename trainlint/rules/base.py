"""What a rule is and what it returns: Severity, Stage, Fix, Finding, Thresholds, and the `rule` decorator.

A rule is a pure function of a read-only RunRecord and its own typed thresholds; it yields
Findings carrying a message, evidence and fixes. The engine stamps the code, rule name,
severity and spec line, so a rule cannot mislabel itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trainlint.analysis.wording import no_negative_zero


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "info": 1}[self.value]


class Stage(str, Enum):
    """When a rule can run: on the spec alone, after the first batch, or after the run."""

    STATIC = "static"
    FIRST_BATCH = "first_batch"
    RUN = "run"


class Fix(BaseModel):
    """One piece of advice; a spec edit when `config_key` is set (machine-applicable with `value`).

    A fix that needs several edits at once (e.g. a warmup without a scheduler section:
    `scheduler.name` and `scheduler.warmup_steps`) lists them all in `edits`; `config_key` and
    `value` stay the primary one.
    """

    model_config = ConfigDict(extra="forbid")

    text: str
    config_key: str | None = None
    value: Any = None
    applicable: bool = Field(False, description="True when `config_key`=`value` (or `edits`) is a complete edit.")
    edits: dict[str, Any] | None = Field(None, description="Every edit of a multi-key fix, applied together.")

    def __init__(self, text: str, config_key: str | None = None, value: Any = None,
                 applicable: bool | None = None, edits: dict[str, Any] | None = None):
        if edits and config_key is None:
            config_key, value = next(iter(edits.items()))
        if applicable is None:  # an edit to null (e.g. `scheduler: null`) must say applicable=True
            applicable = bool(edits) or (config_key is not None and value is not None)
        super().__init__(text=text, config_key=config_key, value=value, applicable=applicable, edits=edits)

    _no_negative_zero = field_validator("text")(no_negative_zero)

    @property
    def spec_edits(self) -> dict[str, Any]:
        """The spec edits this fix makes (dotted key → value); empty when it is advice only."""
        if not self.applicable or self.config_key is None:
            return {}
        return dict(self.edits) if self.edits else {self.config_key: self.value}


class Finding(BaseModel):
    """A problem a rule found. `code`, `rule`, `severity` and `config_line` are set by the engine."""

    model_config = ConfigDict(extra="forbid")

    code: str = ""
    rule: str = ""
    severity: Severity = Severity.WARNING
    message: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    fixes: list[Fix] = Field(default_factory=list)
    step: int | None = None
    config_key: str | None = None
    config_line: int | None = None
    config_column: int | None = None
    caused_by: str | None = Field(
        None, description="The code of the finding this one is a consequence of (set by the engine from the "
                          "record: rules.causes); null for a root cause.")

    # A rule's `{x:.0%}` of a tiny negative number reads "-0%": people are shown "0%".
    _no_negative_zero = field_validator("message")(no_negative_zero)


class NotEvaluated(BaseModel):
    """A selected rule that could not run, and why (never a silent pass).

    `internal_error` is set when the rule itself raised: a bug in trainlint, not in the run. The
    rest of the report still stands; the command exits 3 after writing it.
    """

    code: str
    rule: str
    reason: str
    internal_error: str | None = Field(
        None, description="The rule's exception and traceback, when trainlint failed inside the rule.")


class Thresholds(BaseModel):
    """Base of every rule's thresholds model: typos in `rules.thresholds` are errors."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Rule:
    """A registered rule: its identity, when it runs, what it needs, and its check."""

    code: str
    name: str
    severity: Severity
    stage: Stage
    requires: tuple[str, ...]
    thresholds: type[Thresholds]
    check: Callable[..., Iterator[Finding]]
    summary: str

    @property
    def doc(self) -> str:
        return self.check.__doc__ or ""


def rule(*, code: str, name: str, severity: Severity, stage: Stage, requires: tuple[str, ...] = (),
         thresholds: type[Thresholds] = Thresholds) -> Callable[[Callable], Rule]:
    """Declare a rule; the decorated function becomes `Rule.check`."""

    def wrap(fn: Callable[..., Iterator[Finding]]) -> Rule:
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        return Rule(code, name, severity, stage, tuple(requires), thresholds, fn, summary)

    return wrap
