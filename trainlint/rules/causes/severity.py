"""Severity follows consequence: a run whose validation metric ended good gets no run-stage error."""

from __future__ import annotations

from collections.abc import Iterable

from trainlint.analysis.generalization import final_val_metric, fmt_metric, progress_over_chance
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Severity

GOOD_PROGRESS = 0.75  # share of the way from chance to perfect a good run reaches
NEVER_SOFTENED = frozenset({"TL001", "TL202"})  # a crash, a non-finite loss: errors whatever the metric


def is_good_run(run: RunRecord) -> bool:
    """The validation metric ended *good*: it closed at least `GOOD_PROGRESS` of the gap between chance
    and perfect (accuracy ≥ chance + 0.75 (1 - chance); an error metric ≤ 25 % of chance's).

    Why a single threshold on the final metric: a rule's instability evidence says something may
    be wrong; a model that nonetheless reached a good metric shows it did not break the run, so
    it deserves a warning, not a failing build. Without evaluations or a chance level: not good.
    """
    e = run.evals
    final = final_val_metric(e.val_metric)
    if final is None or e.chance_metric is None:
        return False
    return progress_over_chance(final, e.chance_metric, e.higher_is_better) >= GOOD_PROGRESS


def soften_when_good(findings: Iterable[Finding], run: RunRecord, run_stage_codes: set[str]) -> None:
    """Lower run-stage errors to warnings on a run that ended good (`is_good_run`); crashes,
    non-finite losses and static/first-batch findings are left as they are."""
    if not is_good_run(run):
        return
    e = run.evals
    why = (f"validation {e.metric_name} {fmt_metric(final_val_metric(e.val_metric))} at the end is good "
           f"(chance {fmt_metric(e.chance_metric)}): a warning, not an error")
    for f in findings:
        if f.severity == Severity.ERROR and f.code in run_stage_codes and f.code not in NEVER_SOFTENED:
            f.severity = Severity.WARNING
            f.evidence["severity_lowered"] = why
