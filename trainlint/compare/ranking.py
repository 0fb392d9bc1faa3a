"""Score, rank and recommend among compared variants (pure: no torch, testable on fabricated results).

Ranking uses only the loss-independent validation metric (accuracy, or MAE for regression) at
the end of each probe, never a variant's own loss: losses of different kinds are not comparable.

How noise is judged: the *noise* of a variant (`metric_noise`, the table's "noise" column) is
the larger of the spread (max − min) of its last `NOISE_EVALS` validation evaluations, i.e. how
much its metric still moves at the end of the probe, and `MIN_RELATIVE_GAP` of its metric (a floor
for curves that have converged to a constant, where a lead of a sample or two is still luck).
The best variant is a *clear winner* only when its lead over every other ranked variant exceeds
both variants' noise (`noise_margin`). Otherwise the variants within that margin of the best are
reported as "no clear winner", and the spec's own setting is kept when it is among them.
`--verify-fixes` judges a fix's change of the metric with the same two functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from trainlint.analysis.generalization import final_val_metric, fmt_metric
from trainlint.analysis.series import coefficient_of_variation, finite
from trainlint.report.model import FINAL_WINDOW

TARGET_FRACTION = 0.9  # steps to reach 90 % of the best variant's final metric
NOISE_EVALS = 3
MIN_RELATIVE_GAP = 0.01
STABILITY_FRACTION = 0.2  # stability: CV of the train loss over the last 20 % of steps ...
STABILITY_MIN_STEPS = 10  # ... and at least 10 steps


@dataclass
class VariantResult:
    """What one variant's probe produced, as plain data (it crosses process boundaries)."""

    label: str
    edits: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    is_current: bool = False
    status: str = "completed"  # completed | non_finite_loss | crashed | failed | interrupted | pruned
    error: str | None = None  # what crashed, failed or was pruned, one line
    lr: float | None = None
    metric_name: str = "accuracy"
    higher_is_better: bool = True
    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)  # code, rule, severity, message
    wall_seconds: float = 0.0
    tuning: dict[str, Any] | None = None  # --tune-lr: suggested_lr (or None) and reason
    pruned: dict[str, Any] | None = None  # --prune: the step and metric at which it was stopped
    placement: dict[str, Any] = field(default_factory=dict)  # where it ran: executor, node, device

    @property
    def final_metric(self) -> float | None:
        return final_val_metric(self.val_metric)


def last_finite(values: list[float]) -> float | None:
    """The last value when it is finite, else None (an empty list too): the final validation metric."""
    return final_val_metric(values)


@dataclass
class Row:
    """One line of the comparison table (and of `comparison.json`'s `variants`)."""

    label: str
    edits: dict[str, Any]
    notes: list[str]
    is_current: bool
    status: str
    error: str | None
    lr: float | None
    metric: float | None
    noise: float | None  # `metric_noise`: what the verdict counts as noise for this variant
    steps_to_target: int | None
    final_train_loss: float | None
    stability: float | None
    wall_seconds: float
    findings: list[dict[str, Any]]
    tuning: dict[str, Any] | None = None
    pruned: dict[str, Any] | None = None
    placement: dict[str, Any] = field(default_factory=dict)
    rank: int | None = None

    @property
    def codes(self) -> list[str]:
        return [f["code"] for f in self.findings]


@dataclass
class Recommendation:
    variant: str | None
    clear_winner: bool
    reason: str
    edits: dict[str, Any] = field(default_factory=dict)


def steps_to_target(eval_steps: list[int], values: list[float], target: float, higher: bool) -> int | None:
    """Optimizer steps done when the metric first reached `target` (None if it never did)."""
    for step, value in zip(eval_steps, values, strict=True):
        if math.isfinite(value) and (value >= target if higher else value <= target):
            return step + 1
    return None


def target_of(best: float, higher: bool) -> float:
    """90 % of the best final metric: 0.9 × accuracy; for an error (MAE), best / 0.9."""
    return best * TARGET_FRACTION if higher else best / TARGET_FRACTION


def stability(train_loss: list[float]) -> float | None:
    """Coefficient of variation of the train loss over the last window (lower is steadier)."""
    window = max(STABILITY_MIN_STEPS, int(len(train_loss) * STABILITY_FRACTION))
    value = coefficient_of_variation(train_loss[-window:])
    return value if math.isfinite(value) else None


def noise_band(values: list[float], k: int = NOISE_EVALS) -> float | None:
    """Spread (max − min) of the last `k` finite evaluations; None with fewer than 2."""
    tail = finite(values)[-k:]
    return float(tail.max() - tail.min()) if len(tail) >= 2 else None


def metric_noise(values: list[float], metric: float | None) -> float | None:
    """The change of a run's final `metric` that counts as noise: the larger of the spread of its
    last `NOISE_EVALS` evaluations (`values`) and `MIN_RELATIVE_GAP` of the metric; None without one.

    The one definition behind the compare tables' "noise" column, the ranking verdict and the
    `--verify-fixes` tolerance (module docstring).
    """
    if metric is None or not math.isfinite(metric):
        return None
    return max(noise_band(values) or 0.0, MIN_RELATIVE_GAP * abs(metric))


def noise_margin(*noises: float | None) -> float:
    """The difference between two runs' metrics that is still noise: the larger of their noises."""
    return max((n for n in noises if n is not None), default=0.0)


def final_train_loss(train_loss: list[float]) -> float | None:
    tail = finite(train_loss)[-FINAL_WINDOW:]
    return float(tail.mean()) if len(tail) else None


def rank_variants(results: list[VariantResult]) -> list[Row]:
    """Rows in rank order: completed variants with a finite metric by metric (then speed, stability),
    then the others unranked, in their original order."""
    if not results:
        return []
    higher = results[0].higher_is_better
    finals = [r.final_metric for r in results]
    rankable = [f for r, f in zip(results, finals, strict=True) if f is not None and r.status == "completed"]
    best = (max(rankable) if higher else min(rankable)) if rankable else None
    rows = []
    for r, final in zip(results, finals, strict=True):
        reach = steps_to_target(r.eval_steps, r.val_metric, target_of(best, higher), higher) if best else None
        rows.append(Row(r.label, r.edits, r.notes, r.is_current, r.status, r.error, r.lr, final,
                        metric_noise(r.val_metric, final), reach, final_train_loss(r.train_loss),
                        stability(r.train_loss), r.wall_seconds, r.findings, r.tuning, r.pruned, r.placement))

    def key(item: tuple[int, Row]):
        i, row = item
        sign = -1 if higher else 1
        return (sign * row.metric, row.steps_to_target or math.inf, row.stability or math.inf, i)

    ranked = sorted(((i, row) for i, row in enumerate(rows)
                     if row.metric is not None and row.status == "completed"), key=key)
    for position, (_, row) in enumerate(ranked, start=1):
        row.rank = position
    return [row for _, row in ranked] + [row for row in rows if row.rank is None]


def recommend(rows: list[Row], metric_name: str, higher: bool) -> Recommendation:
    """The best variant, or "no clear winner" when the leaders are within noise (module docstring)."""
    ranked = [r for r in rows if r.rank is not None]
    if not ranked:
        return Recommendation(None, False, f"No recommendation: no variant completed its probe with a "
                                           f"finite {metric_name} (see each row's status and findings).")
    best = ranked[0]
    if len(ranked) == 1:
        return Recommendation(best.label, True, f"Use {best.label}: it is the only variant that completed "
                                                f"({metric_name} {fmt_metric(best.metric)}).", best.edits)

    tied = [r for r in ranked[1:] if abs(best.metric - r.metric) <= noise_margin(best.noise, r.noise)]
    if not tied:
        second = ranked[1]
        noise = noise_margin(best.noise, second.noise)
        return Recommendation(best.label, True, (
            f"Use {best.label}: its {metric_name} {fmt_metric(best.metric)} beats the runner-up "
            f"{second.label} ({fmt_metric(second.metric)}) by {fmt_metric(abs(best.metric - second.metric))}, "
            f"more than the noise of either ({fmt_metric(noise)}: the larger of the spread of the last "
            f"{NOISE_EVALS} evaluations and {MIN_RELATIVE_GAP:.0%} of the metric)."), best.edits)
    group = [best, *tied]
    values = [r.metric for r in group]
    noise = noise_margin(*(r.noise for r in group))
    current = next((r for r in group if r.is_current), None)
    names = ", ".join(r.label for r in group[:-1]) + f" and {group[-1].label}"
    if current is None:
        keep = f"{best.label} ranks first but any of them will do"
    elif current.edits:  # the spec's own choice, changed by the comparison (e.g. a tuned LR)
        keep = f"keep the spec's {current.label}, with " + ", ".join(f"{k}={v}" for k, v in current.edits.items())
    else:
        keep = f"keep the current setup ({current.label})"
    why = (f"closer than their noise, {fmt_metric(noise)}: the larger of the spread of the last {NOISE_EVALS} "
           f"evaluations and {MIN_RELATIVE_GAP:.0%} of the metric")
    return Recommendation(current.label if current else best.label, False, (
        f"No clear winner: {names} are within noise of each other ({metric_name} "
        f"{fmt_metric(min(values))}–{fmt_metric(max(values))}, {why}); {keep}."), (current or best).edits)
