"""TL303 scheduler-collapse: the schedule drives the LR to ~0 early, or never lets it warm up."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from pydantic import Field

from trainlint.analysis.attribution import looks_per_epoch, steps_per_epoch
from trainlint.analysis.lr import drop_steps, first_collapse, stays_below, stretched_schedule_args
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class SchedulerCollapseThresholds(Thresholds):
    floor_fraction: float = Field(
        0.01, gt=0, lt=1, description="An LR below this fraction of its peak so far counts as ~0.")
    before_fraction: float = Field(
        0.5, gt=0, le=1,
        description="Collapses before this fraction of the planned steps are flagged: with their default "
                    "lengths (the probe's), cosine, exponential, step, multistep, polynomial, plateau and "
                    "onecycle schedules first reached 1 % of their peak at 86 % of the steps or later.")
    min_collapsed_fraction: float = Field(
        0.2, gt=0, le=1,
        description="The LR must stay at the floor this fraction of the planned steps (or to the end); "
                    "a cosine restart that dips and climbs back is not a collapse.")
    min_peak_fraction: float = Field(
        0.25, gt=0, le=1,
        description="A probe whose LR never exceeds this fraction of optimizer.lr never warmed up (healthy "
                    "warmups of 20-30 steps reached 99 %; a 20000-step warmup in 200 steps, 1 %).")
    min_steps: int = Field(10, ge=2, description="Fewest steps needed to judge.")


def _loss_drop(loss: list[float], c: int) -> float | None:
    """Relative drop of the typical loss from the first to the second half of the steps before `c`
    (evidence only: the LR at ~0 stops training whatever the loss did); None when too short."""
    w = c // 2
    if w < 3 or len(loss) < c:
        return None
    older, recent = float(np.median(loss[:w])), float(np.median(loss[w:c]))
    drop = (older - recent) / abs(older) if older else math.nan
    return drop if math.isfinite(drop) else None


def _collapse_fixes(run: RunRecord, c: int) -> list[Fix]:
    """Per-epoch stepping first when the schedule reads as written in epochs; else a slower schedule."""
    lrs = run.lr_series
    stretch = run.steps_planned / max(c, 1)
    slower = [Fix(f"slow the schedule {stretch:.0f}x: set scheduler.args.{k} to {v}", f"scheduler.args.{k}", v)
              for k, v in stretched_schedule_args(run.scheduler_class, lrs, stretch).items()]
    fixes: list[Fix] = []
    spe = steps_per_epoch(run)
    if spe and spe > 1 and looks_per_epoch(run, c):
        fixes.append(Fix(f"step the scheduler once per epoch ({spe} optimizer steps here), as its lengths read: "
                         "set scheduler.interval: epoch", "scheduler.interval", "epoch"))
        fixes += [Fix(f"or keep stepping per optimizer step and convert epochs to steps: set scheduler.args.{k} "
                      f"to {v}", f"scheduler.args.{k}", v)
                  for k, v in stretched_schedule_args(run.scheduler_class, lrs, spe).items()]
    else:
        fixes += slower
        drops = drop_steps(lrs[: c + 1])
        already_per_epoch = bool(drops) and spe is not None and all(d % spe == 0 for d in drops)
        if spe and spe > 1 and not already_per_epoch:
            fixes += [Fix(f"if it was meant in epochs ({spe} optimizer steps each; the probe steps the "
                          f"scheduler every step): set scheduler.args.{k} to {v}", f"scheduler.args.{k}", v)
                      for k, v in stretched_schedule_args(run.scheduler_class, lrs, spe).items()] or [
                Fix(f"the probe steps the scheduler every optimizer step: multiply lengths meant in epochs "
                    f"by {spe} steps per epoch, or set scheduler.interval: epoch")]
    fixes.append(Fix("remove the scheduler", "scheduler", None, applicable=True))
    return fixes


def _never_warms_up(run: RunRecord, t: SchedulerCollapseThresholds) -> Finding | None:
    peak = max(run.lr_series)
    if peak >= t.min_peak_fraction * run.lr or run.stop_reason != "completed":
        return None  # warmed up, or stopped before the ramp could finish
    evidence = {"peak_lr": peak, "configured_lr": run.lr, "peak_fraction": peak / run.lr,
                "min_peak_fraction": t.min_peak_fraction, "warmup_steps": run.warmup_steps,
                "steps_run": run.steps_run}
    fixes = []
    if run.warmup_steps > 0:
        warmup = max(1, round(0.1 * run.steps_planned))
        fixes.append(Fix(f"shorten scheduler.warmup_steps from {run.warmup_steps} to {warmup} (~10 % of "
                         f"the {run.steps_planned} steps)", "scheduler.warmup_steps", warmup))
    fixes.append(Fix("remove the scheduler", "scheduler", None, applicable=True))
    ramp = f"warmup of {run.warmup_steps} steps" if run.warmup_steps else f"{run.scheduler_class} schedule"
    return Finding(
        message=f"the LR never warmed up: over {run.steps_run} steps it peaked at {peak:.3g}, "
                f"{peak / run.lr:.1%} of optimizer.lr {run.lr:g} (the {ramp} outlasts the probe)",
        evidence=evidence, step=run.steps[-1] if run.steps else None,
        config_key="scheduler.warmup_steps" if run.warmup_steps else "scheduler", fixes=fixes)


@rule(code="TL303", name="scheduler-collapse", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("lr_series", "train_loss"), thresholds=SchedulerCollapseThresholds)
def scheduler_collapse(run: RunRecord, t: SchedulerCollapseThresholds) -> Iterator[Finding]:
    """The LR schedule drives the LR to ~0 early, or never lets it warm up.

    ## What it checks
    The LR the probe applied at each step, whatever the loss did: the first step where it falls
    below `floor_fraction` of its peak so far, if that happens before `before_fraction` of the
    planned steps and lasts `min_collapsed_fraction` of them; and whether the LR ever exceeds
    `min_peak_fraction` of `optimizer.lr` (a warmup longer than the run). Why not the loss: a
    collapse before the loss started falling (StepLR(step_size=1, gamma=0.7) stepped per batch:
    1 % by step 13) freezes the run just as surely as one after.
    ## Why it matters
    With the LR at ~0 the remaining steps change nothing: training stops while the model still
    learns. A schedule written in epochs but stepped per optimizer step collapses this way.
    ## How to fix
    When the LR changed more often than once per epoch and, stepped per epoch, would collapse
    only after `before_fraction` of the run, the schedule reads as written in epochs: step it
    per epoch (`scheduler.interval: epoch`) or convert its lengths to steps. Otherwise slow it
    down (lengths such as `step_size` are in scheduler steps), shorten
    `scheduler.warmup_steps`, or drop the schedule (`scheduler: null`).
    ## Not flagged
    A cosine or exponential schedule reaching ~0 at the end of the run, by design; a restart
    schedule that dips and recovers.
    """
    lrs = run.lr_series
    if len(lrs) < t.min_steps or run.lr <= 0:
        return
    if (finding := _never_warms_up(run, t)) is not None:
        yield finding
        return
    c = first_collapse(lrs, t.floor_fraction)
    if c is None or c >= t.before_fraction * run.steps_planned:
        return
    peak = max(lrs[: c + 1])
    if not stays_below(lrs, c, t.floor_fraction * peak, max(1, int(t.min_collapsed_fraction * run.steps_planned))):
        return
    drop = _loss_drop(run.train_loss, c)
    evidence = {"collapse_step": c, "lr_at_collapse": lrs[c], "peak_lr": peak, "floor_fraction": t.floor_fraction,
                "collapse_at_fraction": c / run.steps_planned, "before_fraction": t.before_fraction,
                "loss_drop_before_collapse": drop, "steps_per_epoch": steps_per_epoch(run),
                "looks_per_epoch": looks_per_epoch(run, c)}
    fixes = _collapse_fixes(run, c)
    loss = ("" if drop is None else f"; the loss fell {drop:.0%} over the steps before" if drop > 0
            else "; the loss had not started falling")
    yield Finding(
        message=f"the {run.scheduler_class or 'LR'} schedule cut the LR to {lrs[c]:.2g} "
                f"({lrs[c] / peak:.1e} of its peak {peak:.3g}) at step {c}, {c / run.steps_planned:.0%} "
                f"into the run: the remaining steps barely change the weights{loss}",
        evidence=evidence, step=c, config_key=fixes[0].config_key or "scheduler", fixes=fixes)
