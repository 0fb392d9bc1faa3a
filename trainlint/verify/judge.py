"""Judge a re-run with a fix applied against the original probe: did the fix resolve the finding?

A fix **resolves** a finding when all of these hold:

1. the re-run completed (no crash, no non-finite loss, no trainlint failure);
2. the finding's code is no longer reported (at warning or error);
3. the validation metric (accuracy, or MAE for regression; never the loss, which a fix such as
   `loss.name` changes the meaning of) is not worse than before by more than the noise tolerance;
4. no error appeared that the original run did not have, and a new warning appeared only if the
   metric *improved* beyond noise. A fix must not trade one problem for another (an LR cut so
   deep that the divergence becomes a flat loss), but a fix that makes the run clearly better may
   uncover what the old problem hid (a model that now trains, and now overfits).

The noise tolerance is the larger of the two runs' noise (`compare.ranking.metric_noise`: the
spread of the last `NOISE_EVALS` validation evaluations, how much the metric still moves at the
end, or `MIN_RELATIVE_GAP` of the metric, whichever is larger) — the same number the compare
commands rank by and print in their "noise" column. A fix also
**improved** the run when the metric got better by more than that tolerance. Both runs use the
same seed, hence the same initial weights and data order, so the difference is the fix's.
An original run that ended without a finite metric (its loss turned NaN before an evaluation)
is compared as if it were at chance level: a fix must then beat a trivial predictor, not nothing.

5. the re-run's validation metric is not still at chance (`at_chance`): a fix that silences a
   finding while the model still predicts no better than a trivial predictor (0.085 → 0.094
   accuracy, chance 0.1) has not fixed the run, whatever the codes say.

Pure functions of plain data: testable on fabricated results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trainlint.analysis.generalization import progress_over_chance
from trainlint.analysis.wording import no_negative_zero
from trainlint.compare.ranking import (
    VariantResult,
    final_train_loss,
    fmt_metric,
    last_finite,
    metric_noise,
    noise_margin,
)
from trainlint.verify.model import FixCheck

LOUD = ("warning", "error")
NEAR_CHANCE_PROGRESS = 0.1  # TL502's default `min_progress`: under 10 % of the way from chance to perfect


@dataclass
class Baseline:
    """The original probe, as the judge needs it."""

    findings: list[dict] = field(default_factory=list)  # code, rule, severity (warnings and errors)
    metric_name: str = "accuracy"
    higher_is_better: bool = True
    val_metric: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    chance_metric: float | None = None  # stands in for a missing metric (module docstring)

    @property
    def codes(self) -> list[str]:
        return codes_of(self.findings)

    @property
    def metric(self) -> float | None:
        return last_finite(self.val_metric)


def codes_of(findings: list[dict]) -> list[str]:
    """Distinct warning/error codes, in report order."""
    out: list[str] = []
    for f in findings:
        if f.get("severity") in LOUD and f["code"] not in out:
            out.append(f["code"])
    return out


def at_chance(metric: float | None, chance: float | None, noise: float | None, higher_is_better: bool) -> bool:
    """Whether a final validation metric is at (or near) the chance level: no further above it than
    the run's own noise (`compare.ranking.metric_noise`), or less than `NEAR_CHANCE_PROGRESS` of the
    way from chance to perfect (where TL502 calls a run underfitting). False without a chance level.
    """
    if metric is None or chance is None:
        return False
    above = (metric - chance) if higher_is_better else (chance - metric)
    return above <= (noise or 0.0) or not progress_over_chance(metric, chance, higher_is_better) >= NEAR_CHANCE_PROGRESS


def judge(targets: list[str], before: Baseline, after: VariantResult, run_dir: str | None = None) -> FixCheck:
    """Whether the re-run `after` resolved every code in `targets` (module docstring), with the numbers."""
    now = codes_of(after.findings)
    was = before.codes
    removed = [c for c in was if c not in now]
    remaining = [c for c in was if c in now]
    added = [c for c in now if c not in was]
    new = {f["code"]: (f.get("severity"), f"{f['code']} {f['rule']}") for f in after.findings if f["code"] in added}
    new_errors = [name for severity, name in new.values() if severity == "error"]
    new_warnings = [name for severity, name in new.values() if severity == "warning"]
    m0, m1 = before.metric, after.final_metric
    reference = m0 if m0 is not None else before.chance_metric
    tolerance = noise_margin(metric_noise(before.val_metric, reference), metric_noise(after.val_metric, m1))
    sign = 1 if before.higher_is_better else -1
    delta = (m1 - reference) * sign if reference is not None and m1 is not None else None
    worse = m0 is not None and (m1 is None or (delta is not None and delta < -tolerance))
    improved = m1 is not None and (reference is None or (delta is not None and delta > tolerance))
    still = [c for c in targets if c in now]
    completed = after.status == "completed"
    traded = new_errors or (new_warnings if not improved else [])
    chance = at_chance(m1, before.chance_metric, metric_noise(after.val_metric, m1), before.higher_is_better)
    resolved = completed and not still and not traded and not worse and not chance
    name = f"val {before.metric_name}"
    change = _change(name, m0, m1, delta * sign if delta is not None else None, tolerance)
    if m0 is None and reference is not None:
        change += f", against the chance level {fmt_metric(reference)} (no finite value before)"
    if not completed:
        reason = f"the re-run did not complete ({after.status}{': ' + after.error if after.error else ''})"
    elif still:
        reason = f"{' and '.join(still)} still {'fires' if len(still) == 1 else 'fire'}; {change}"
    elif chance:
        reason = (f"{', '.join(targets)} gone, but val {before.metric_name} is still at chance "
                  f"({fmt_metric(before.chance_metric)}): {change}")
    elif traded:
        kind = "error" if new_errors else "warning, and the metric did not improve beyond noise"
        reason = f"{', '.join(targets)} gone, but {', '.join(traded)} appeared ({kind}); {change}"
    elif worse:
        reason = f"{', '.join(targets)} gone, but {change}: worse beyond noise"
    else:
        reason = f"{', '.join(targets)} gone; {change}"
    return FixCheck(
        resolved=resolved, improved=improved, reason=reason, status=after.status, still_at_chance=chance,
        findings_removed=removed, findings_remaining=remaining, findings_added=added,
        worst_after=_worst(after.findings),
        metric_name=before.metric_name, higher_is_better=before.higher_is_better,
        metric_before=m0, metric_after=m1, metric_tolerance=tolerance,
        train_loss_before=final_train_loss(before.train_loss), train_loss_after=final_train_loss(after.train_loss),
        wall_seconds=round(after.wall_seconds, 3), run_dir=run_dir,
    )


def _worst(findings: list[dict]) -> str | None:
    severities = {f.get("severity") for f in findings}
    return next((s for s in ("error", "warning") if s in severities), None)


def _change(name: str, m0: float | None, m1: float | None, diff: float | None, tolerance: float) -> str:
    if m0 is None and m1 is None:
        return f"no finite {name} before or after"
    if diff is None:
        return no_negative_zero(f"{name} {fmt_metric(m0)} → {fmt_metric(m1)}")
    return no_negative_zero(f"{name} {fmt_metric(m0)} → {fmt_metric(m1)} ({diff:+.3g}; noise ±{fmt_metric(tolerance)})")
