"""`--prune`: stop a compared variant early when its validation metric at a third of the steps is hopeless.

Why Ray Tune's ASHA rather than a rule of our own: asynchronous successive halving is the engine's
answer to exactly this question (stop a trial whose metric at a milestone is not among the best
seen there), and users who run sweeps on Ray already know it. The decision is made by
`ray.tune.schedulers.AsyncHyperBandScheduler` through its public trial callbacks
(`on_trial_add`, `on_trial_result`), wherever the variants run: in this process, in local worker
processes (through a multiprocessing manager that holds the one scheduler) or on Ray (in an actor).
So local and Ray runs apply the same rule; only the order in which variants reach the milestone
can differ, which is what makes ASHA asynchronous (with `--jobs 1` the order is the variant order).

Why the scheduler is driven directly instead of through a Tune run: a variant stays a plain task
(`VariantTask` → `VariantResult`) with the same retries, placement and result on every executor,
and a pruned variant still returns what it recorded; a Tune trial that the scheduler stops is
killed with its report unwritten.

The rule: one rung, at `probe.steps // 3` steps. The first evaluation at or after it is compared
with the metrics earlier variants had there; below ASHA's cutoff (the `1 - 1/reduction_factor`
quantile of those, so with the default 3 the variant must be in the top third) it is pruned.
The first variant to reach the rung always continues. ASHA needs the `ray` extra, locally too.

The probe tells the hook about each evaluation through `ProbeOptions.on_eval` (`EvalHook`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

EvalHook = Callable[[int, float], bool]  # (steps done, validation metric) -> stop the probe now
REDUCTION_FACTOR = 3
RUNG_FRACTION = 1 / 3
WORST = 1e30  # stands for a NaN metric: ASHA's percentile needs finite numbers


@dataclass(frozen=True)
class PruneRule:
    """What the scheduler needs to know about a sweep: its length and the metric's direction."""

    steps: int
    higher_is_better: bool
    reduction_factor: float = REDUCTION_FACTOR

    @property
    def rung(self) -> int:
        return max(1, int(self.steps * RUNG_FRACTION))


class Decider(Protocol):
    def decide(self, variant: int, step: int, metric: float) -> bool: ...


class AshaDecider:
    """One sweep's ASHA scheduler, asked once per evaluation whether a variant should stop."""

    def __init__(self, rule: PruneRule):
        from ray.tune.schedulers import AsyncHyperBandScheduler

        # max_t = grace period: a single rung, at a third of the steps; stop_last_trials=False:
        # reaching it is not a reason to stop by itself.
        self.scheduler = AsyncHyperBandScheduler(
            time_attr="step", metric="val_metric", mode="max" if rule.higher_is_better else "min",
            max_t=rule.rung, grace_period=rule.rung, reduction_factor=rule.reduction_factor,
            stop_last_trials=False)
        self.added: set[str] = set()

    def decide(self, variant: int, step: int, metric: float) -> bool:
        import numpy as np
        from ray.tune.schedulers import TrialScheduler

        trial = _Trial(str(variant))
        state = np.random.get_state()  # ASHA draws a bracket from NumPy's global generator:
        try:  # keep the probe running in this process on the numbers it would have drawn
            if trial.trial_id not in self.added:
                self.added.add(trial.trial_id)
                self.scheduler.on_trial_add(None, trial)
            action = self.scheduler.on_trial_result(None, trial, {"step": step, "val_metric": metric})
        finally:
            np.random.set_state(state)
        return action == TrialScheduler.STOP


@dataclass(frozen=True)
class _Trial:
    """All of a Tune trial that the ASHA scheduler reads."""

    trial_id: str


@dataclass
class PruneHook:
    """The `EvalHook` one variant's probe calls; picklable, so it travels with the variant's task.

    `decider` is the sweep's `AshaDecider`, or a handle to it (a manager proxy, a Ray actor).
    """

    decider: Any
    variant: int
    rule: PruneRule
    stopped_at: dict[str, Any] | None = None

    def __call__(self, step: int, metric: float) -> bool:
        if self.stopped_at is not None or step >= self.rule.steps:
            return False
        worst = -WORST if self.rule.higher_is_better else WORST
        if not self.decider.decide(self.variant, step, metric if math.isfinite(metric) else worst):
            return False
        self.stopped_at = {"step": step, "metric": metric if math.isfinite(metric) else None}
        return True


def describe(stopped_at: dict[str, Any], metric_name: str, rule: PruneRule) -> str:
    """The pruned row's reason, one line."""
    value = stopped_at["metric"]
    shown = "non-finite" if value is None else f"{value:.4g}"
    return (f"pruned at step {stopped_at['step']}: val {metric_name} {shown} was not in the top "
            f"1/{rule.reduction_factor:g} of the variants that reached step {rule.rung} before it (ASHA)")
