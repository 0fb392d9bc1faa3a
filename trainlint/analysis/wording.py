"""Numbers, counts, lists and stop reasons written for people: the pieces every message and report shares.

Why here: rules, report writers, plots and the CLI all print them; one place keeps them
consistent (no "-0%", no "1 modules", no 31-name lists inline, no "non_finite_loss").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# A minus sign before a number that reads as zero once formatted: -0, -0.000, -0%, -0e+00.
# Not inside words or longer numbers (`cuda-0`, `0-0`, `-0.05`, `1e-0`).
_NEGATIVE_ZERO = re.compile(r"(?<![\w.])-(?=(?:0+(?:\.0*)?|\.0+)(?:e[+-]?\d+)?(?![\w.]|\.\d))")


def no_negative_zero(text: str) -> str:
    """``text`` with every number that reads as a negative zero written without its sign.

    >>> no_negative_zero("fell -0% (train loss -0 → 0, change -0.0%)")
    'fell 0% (train loss 0 → 0, change 0.0%)'
    """
    return _NEGATIVE_ZERO.sub("", text) if "-" in text else text


def num(value: float, spec: str = ".4g") -> str:
    """``format(value, spec)`` without a minus sign on a result that reads as zero (-0.0, -0.001 as ".0%")."""
    return no_negative_zero(format(value, spec))


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun in the right number: ``count(1, "layer")`` → "1 layer", 3 → "3 layers"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def some_of(items: Sequence[str], limit: int = 3) -> str:
    """The first ``limit`` items joined by commas, and "and N more" for the rest (callers sort worst first)."""
    shown = ", ".join(items[:limit])
    rest = len(items) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


# Why a run ended before its last step (RunRecord.stop_reason), in the words the summary uses.
STOPPED = {
    "non_finite_loss": "stopped early: the loss became non-finite",
    "crashed": "stopped early: the training code raised an error",
    "interrupted": "interrupted",
    "time_budget": "stopped at the time budget",
    "pruned": "pruned: stopped early by the sweep's pruner, far behind the other variants",
}


def stop_text(reason: str, max_seconds: float | None = None) -> str:
    """Why a run stopped, for people ("" when it ran every step); unknown reasons lose their underscores.

    With the run's time budget (`probe.max_seconds`) it is named: "stopped at the 10 s time budget".
    """
    if reason == "completed":
        return ""
    if reason == "time_budget" and max_seconds is not None:
        return f"stopped at the {num(max_seconds, 'g')} s time budget"
    return STOPPED.get(reason, reason.replace("_", " "))


def status_word(reason: str) -> str:
    """A run's status or stop reason in a word or two, for table cells: "non-finite loss", "crashed"."""
    return "non-finite loss" if reason == "non_finite_loss" else reason.replace("_", " ")
