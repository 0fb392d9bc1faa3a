"""TL604 straggler-rank: in a multi-process (DDP) run, one rank does its own share of each step much slower."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator

from pydantic import Field

from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class StragglerRankThresholds(Thresholds):
    max_ratio: float = Field(
        1.5, gt=1,
        description="A rank's own time per step (data wait + forward) over the other ranks' median above which "
                    "it is a straggler. Ranks of a healthy 2-process gloo run on one CPU measure ≤ 1.2x.")
    min_share: float = Field(
        0.1, gt=0, lt=1,
        description="The excess (its own time minus the others') as a share of the median step, below which "
                    "the job is barely slowed and the rank is not flagged.")


@rule(code="TL604", name="straggler-rank", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("step_time_s",), thresholds=StragglerRankThresholds)
def straggler_rank(run: RunRecord, t: StragglerRankThresholds) -> Iterator[Finding]:
    """One process of a distributed run is slower than the others, and they wait for it.

    ## What it checks
    Under `torchrun`/DDP every rank records its own steps; at the end the ranks exchange their
    medians per step: the whole step, the data wait, and the rank's *own* time (data wait +
    forward pass). The whole step cannot tell: DDP synchronises the gradients in every backward
    pass, so every rank's step lasts as long as the slowest one's. The own time is spent before
    that synchronisation, so a slow rank's is longer and the others' are not.
    ## Why it matters
    Every rank runs at the pace of the slowest: one slow rank makes the whole job that much
    slower, and the other devices idle in the all-reduce meanwhile.
    ## How to fix
    Find what differs on that rank: its data loading (its data wait is reported beside its own
    time), uneven batches or sequence lengths, another job on its device or host, a slower
    device, or extra work done only on that rank (logging, checkpoints, evaluation on rank 0).
    ## Not flagged
    Single-process runs (nothing to compare); a rank within `max_ratio` of the others, or whose excess is under
    `min_share` of a step.
    """
    own = run.rank_own_time_s
    if len(own) < 2 or not all(math.isfinite(v) for v in own):
        return
    worst = max(range(len(own)), key=own.__getitem__)
    others = statistics.median(v for i, v in enumerate(own) if i != worst)
    steps = [v for v in run.rank_step_time_s if math.isfinite(v)]
    step = statistics.median(steps) if steps else math.nan
    excess = own[worst] - others
    if others <= 0 or own[worst] / others < t.max_ratio or not excess >= t.min_share * step:
        return
    waits = run.rank_data_wait_s
    wait = waits[worst] if worst < len(waits) else math.nan
    other_wait = statistics.median(w for i, w in enumerate(waits) if i != worst) if len(waits) > 1 else math.nan
    data_bound = math.isfinite(wait) and math.isfinite(other_wait) and wait - other_wait >= 0.5 * excess
    if data_bound:
        why = f"most of it is waiting for data ({wait * 1e3:.1f} ms against {other_wait * 1e3:.1f} ms)"
        where = "its data loading: more loader workers, a local copy of the data, less per-sample work"
    else:
        why = "its data wait is like the others': its forward pass is slower"
        where = "another process on its device or host, a slower device, or work only that rank does"
    yield Finding(
        message=f"rank {worst} is a straggler: its own share of each step (data wait + forward) takes "
                f"{own[worst] * 1e3:.1f} ms against {others * 1e3:.1f} ms on the other ranks ({own[worst] / others:.1f}x, "
                f"≥ {t.max_ratio:g}x), {excess / step:.0%} of the {step * 1e3:.1f} ms step that every rank waits "
                f"through; {why}",
        evidence={"rank": worst, "rank_own_time_s": own, "rank_step_time_s": run.rank_step_time_s,
                  "rank_data_wait_s": waits, "others_own_time_s": others, "median_step_time_s": step,
                  "ratio": own[worst] / others, "max_ratio": t.max_ratio, "data_bound": data_bound},
        fixes=[Fix(f"find what is slow on rank {worst}: {where}"),
               Fix("balance the work per rank (equal batch sizes; bucket sequences by length)")],
    )
