"""Root cause first: link findings that are consequences of another, reconcile their fixes, and let
severity follow the run's outcome. Run by the engine once every rule has spoken.

Modules: `onset` (when each quantity went bad), `support` (the record checks), `links` (the
table and the linking), `fixes` (reconciling advice), `severity` (a good run gets no error).

Why one place: a rule sees only its own evidence, so one LR mistake used to come out as six
findings of equal rank (TL204, TL301, TL106, TL401, TL403, TL502), one of them advising "more
capacity". Which finding explains which is decided here, from the record, never from message text:

1. `LINKS` says which codes *can* be consequences of which (the mechanism, documented per link,
   shown by `trainlint explain`).
2. Each candidate link is made only when the record supports it: the cause's quantity went bad
   first (`onset`: the step where it crossed its threshold; -1 for a fault present before the
   first update, such as the data, the loss or the configured LR), and, for end-of-run findings,
   the cause's measured effect explains the consequence (the applied LR stayed near zero, most
   weights were frozen, the train subset never fitted either...). An unsupported link is not
   made: the finding stays a root of its own.
3. Under its root cause, a consequence keeps only the fixes that do not contradict the root's,
   and a fix that would merely mask the root (a lower LR under unscaled data) moves last
   (`reconcile_fixes`).
4. A run whose validation metric ended good gets no error from a run-stage rule (`is_good_run`).
"""

from __future__ import annotations

from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding
from trainlint.rules.causes.fixes import reconcile_fixes
from trainlint.rules.causes.links import (
    KNOB_SYMPTOMS,
    LINKS,
    RANK,
    Link,
    causes_of,
    consequences_of,
    link_causes,
    rank,
    root_of,
)
from trainlint.rules.causes.severity import is_good_run, soften_when_good

__all__ = ["KNOB_SYMPTOMS", "LINKS", "RANK", "Link", "causes_of", "consequences_of", "is_good_run", "link_causes",
           "rank", "reconcile_fixes", "root_of", "settle", "soften_when_good"]


def settle(findings: list[Finding], run: RunRecord, run_stage_codes: set[str]) -> None:
    """Everything this module does, in order: severity, links, then the fixes under each root."""
    soften_when_good(findings, run, run_stage_codes)
    link_causes(findings, run)
    reconcile_fixes(findings, run)
