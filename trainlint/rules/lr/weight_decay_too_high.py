"""TL304 weight-decay-too-high: weight decay pulls the weights harder than the loss gradient moves them,
and the run is measurably worse for it.

Added with issue 12 beyond DESIGN §4's minimum catalog: the damage ladders showed runs crippled by
weight decay whose loss still falls (AdamW wd 20 on digits: validation 0.78 against 0.97), which
no other code names; TL203 only sees the flat-loss half, and the LR rules would blame the LR.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.attribution import decay_pull
from trainlint.analysis.generalization import fmt_metric, judged_val_metric, progress_over_chance
from trainlint.analysis.loss import progress
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class WeightDecayTooHighThresholds(Thresholds):
    min_pull: float = Field(
        1.0, gt=0,
        description="Weight decay's term over the loss gradient's at the first sample (coupled: wd·‖w‖/‖g‖; "
                    "decoupled: lr·wd over the rest of the update ratio) from which decay, not the loss, sets "
                    "where the weights go. Healthy configs: at most 0.024; digits MLP ladders: Adam wd 0.1 "
                    "1.4 (val 0.72 vs 0.97), AdamW wd 10 1.3 (0.90), SGD wd 0.15 2.1 (0.57 vs 0.89).")
    max_progress: float = Field(
        0.9, gt=0, le=1,
        description="The run counts as damaged while its best recent validation metric is less than this "
                    "far from chance to perfect (healthy digits/wine runs: 0.96-1.00).")
    max_relative_drop: float = Field(
        0.5, gt=0, lt=1,
        description="Without evaluations: damaged while the typical loss fell less than this fraction.")
    last_evals: int = Field(2, ge=1, description="Evaluations at the end; the best of them is judged.")


def _damage(run: RunRecord, t: WeightDecayTooHighThresholds) -> tuple[str, float] | None:
    """(what the run reached, in words; its progress) when it is short of `max_progress`; else None."""
    e = run.evals
    best = judged_val_metric(e, t.last_evals)
    if e.chance_metric is not None and best is not None:
        gain = progress_over_chance(best, e.chance_metric, e.higher_is_better)
        if gain < t.max_progress:
            return (f"validation {e.metric_name} reached {fmt_metric(best)} (chance {fmt_metric(e.chance_metric)}: "
                    f"{gain:.0%} of the way to perfect)"), gain
        return None
    p = progress(run.train_loss)
    if p is not None and p.relative_drop < t.max_relative_drop:
        return f"the loss fell only {max(p.relative_drop, 0.0):.0%}", p.relative_drop
    return None


@rule(code="TL304", name="weight-decay-too-high", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("train_loss",), thresholds=WeightDecayTooHighThresholds)
def weight_decay_too_high(run: RunRecord, t: WeightDecayTooHighThresholds) -> Iterator[Finding]:
    """Weight decay pulls the weights harder than the loss gradient moves them, and the run suffers for it.

    ## What it checks
    At the first sampled step, weight decay's term against the loss gradient's
    (`analysis.attribution.decay_pull`): coupled decay (SGD/Adam `weight_decay`, L2 added to the
    gradient) as wd·‖w‖/‖g‖ per layer, the recorded ‖g‖ being the loss gradient alone; decoupled
    decay (AdamW) as lr·wd against the rest of the first update ratio. It flags a pull of
    `min_pull` or more when the validation metric stays under `max_progress` of the way from
    chance to perfect (without evaluations: the loss fell less than `max_relative_drop`).
    ## Why it matters
    When decay dominates, every step shrinks the weights towards zero faster than the loss can
    grow them: the model stays small and near chance, and the large update ratio it causes reads
    like an LR that is too high. Lowering the LR only slows the collapse.
    ## How to fix
    Lower `optimizer.args.weight_decay`: a value ≥ 0.5 coupled (≥ 5 decoupled) reads as a units
    slip (5 for 5e-4) and the fix is a thousandth of it, capped at 5e-4 (SGD/Adam) or 1e-2
    (AdamW); otherwise the value that brings the pull to a tenth of the gradient's.
    ## Not flagged
    Usual decay (5e-4 with SGD, 1e-2 with AdamW: pulls of 0.001-0.03); a strong pull on a run
    that still reached `max_progress` (deliberate heavy regularisation that works).
    """
    d = decay_pull(run)
    if d is None or not d.pull >= t.min_pull:
        return
    found = _damage(run, t)
    if found is None:
        return
    reached, gain = found
    r = d.remedy()
    kind = "coupled (L2 in the gradient)" if d.coupled else "decoupled (AdamW)"
    shrink = f", shrinking them by {d.shrink_per_step:.0%} per step" if d.shrink_per_step >= 5e-3 else ""
    yield Finding(
        message=f"weight_decay {d.weight_decay:g} ({kind}) pulls the weights to zero {d.pull:.3g}x as hard as the "
                f"loss gradient moves them{shrink}; {reached}",
        evidence={"decay_pull": d.pull, "min_pull": t.min_pull, "weight_decay": d.weight_decay,
                  "coupled": d.coupled, "shrink_per_step": d.shrink_per_step, "progress": gain,
                  "max_progress": t.max_progress, "suggested_weight_decay": d.suggested, "units_slip": d.units_slip,
                  "measured_at_step": d.step},
        step=d.step, config_key="optimizer.args.weight_decay",
        fixes=[Fix(r.text, r.config_key, r.value),
               Fix("keep optimizer.lr: the large updates are the decay's, and a lower LR only slows the collapse")])
