"""The `verification` section of report.json: which fixes were re-run, what each changed, what was applied.

Why a section of its own rather than a `verified` field on each Fix: findings often share a fix
(lowering the LR answers TL301, TL204 and TL403 alike), one re-run answers all of them, and a
fix is tried in the context of the finding it was tried for (attempt 1, 2, ...). Each entry of
`verified_fixes` names its finding (`code`, index `finding`) and fix (index `fix` into that
finding's `fixes`), so a reader can join them; findings and their fixes stay as the rules made them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FixCheck(BaseModel):
    """What one re-run with a fix applied showed, against the original probe (the `verified` object)."""

    resolved: bool = Field(description="The run completed, the finding's code is gone, the validation metric is "
                                       "not worse beyond noise nor still at chance, no new error appeared, and no "
                                       "new warning unless the metric improved beyond noise.")
    improved: bool = Field(description="The validation metric got better by more than the noise tolerance.")
    still_at_chance: bool = Field(False, description="The re-run's validation metric is still at (or near) chance: "
                                                     "never resolved (`judge.at_chance`).")
    reason: str = Field(description="Why it counts as resolved or not, with the numbers.")
    status: str = Field(description="How the re-run ended: completed | non_finite_loss | crashed | failed.")
    findings_removed: list[str] = Field(default_factory=list, description="Warning/error codes gone.")
    findings_remaining: list[str] = Field(default_factory=list, description="Warning/error codes still there.")
    findings_added: list[str] = Field(default_factory=list, description="Warning/error codes that appeared.")
    worst_after: str | None = Field(None, description="Highest severity left after the fix (error | warning), "
                                                      "null when none.")
    metric_name: str = "accuracy"
    higher_is_better: bool = True
    metric_before: float | None = None
    metric_after: float | None = None
    metric_tolerance: float | None = Field(None, description="The change that counts as noise (see `judge`).")
    train_loss_before: float | None = None
    train_loss_after: float | None = None
    wall_seconds: float = 0.0
    run_dir: str | None = Field(None, description="The re-run's own report folder.")


class VerifiedFix(BaseModel):
    """One fix of one finding, re-run (attempt 1 is the finding's best machine-applicable fix)."""

    code: str
    rule: str
    finding: int = Field(description="Index of the finding in `findings`.")
    fix: int = Field(description="Index of the fix in that finding's `fixes`.")
    attempt: int
    text: str
    edits: dict[str, Any] = Field(description="The spec edits made: dotted key → value.")
    before: dict[str, Any] = Field(default_factory=dict, description="The spec's values at those keys.")
    verified: FixCheck


class NotTried(BaseModel):
    """A warning or error whose best fix is not a spec edit (a code change), so nothing could be re-run."""

    code: str
    rule: str
    finding: int
    reason: str


class ClearedByRoot(BaseModel):
    """A consequence that its root cause's fix made disappear: resolved by that fix, not re-run on its own."""

    code: str
    rule: str
    finding: int = Field(description="Index of the consequence in `findings`.")
    root: str = Field(description="Code of the root cause whose fix cleared it.")
    root_finding: int = Field(description="Index of the root cause in `findings`.")
    edits: dict[str, Any] = Field(description="The root cause's fix that cleared it: dotted key → value.")


class FixedSpec(BaseModel):
    """The spec with every resolving fix applied (`fixed.yaml`, or `<stem>.fixed.yaml` from `trainlint fix`)."""

    path: str | None = Field(None, description="Where it was written; null when it could not be.")
    backup: str | None = Field(None, description="The original's copy, when the spec was fixed in place.")
    edits: dict[str, Any] = Field(default_factory=dict, description="Every edit applied: dotted key → value.")
    sources: dict[str, list[str]] = Field(default_factory=dict, description="Edited key → the codes it resolves.")
    check: FixCheck | None = Field(None, description="The run of all applied fixes together (when more than one; "
                                                     "a single fix's own run otherwise).")
    dropped: list[str] = Field(default_factory=list, description="Resolving fixes left out, and why.")
    diff: str = Field("", description="Unified diff from the original spec.")
    note: str | None = Field(None, description="E.g. why comments could not be kept.")


class Verification(BaseModel):
    """Everything `--verify-fixes` did (null in report.json when it was not asked for)."""

    attempts: int = Field(description="Most fixes tried per finding.")
    runs: int = Field(0, description="Probes re-run (a fix shared by several findings runs once).")
    wall_seconds: float = 0.0
    execution: str = ""
    verified_fixes: list[VerifiedFix] = Field(default_factory=list)
    cleared_by_root: list[ClearedByRoot] = Field(
        default_factory=list, description="Consequences resolved by their root cause's fix (tried first).")
    not_tried: list[NotTried] = Field(default_factory=list)
    fixed_spec: FixedSpec | None = None

    def resolving(self, finding: int) -> VerifiedFix | None:
        """The attempt that resolved finding number `finding`, if any."""
        return next((v for v in self.verified_fixes if v.finding == finding and v.verified.resolved), None)
