"""TL602 memory-growth: memory keeps growing step over step, as when tensors or graphs are kept alive."""

from __future__ import annotations

import math
from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.resources import memory_trend
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class MemoryGrowthThresholds(Thresholds):
    min_mb_per_1k_steps: float = Field(
        100.0, gt=0,
        description="Growth rate (least-squares slope) that counts, in MB per 1000 steps. Healthy configs "
                    "grow ≤ 6 MB per 1000 steps after start-up; keeping 0.5 MB of activations per step, 580.")
    min_growth_mb: float = Field(
        20.0, gt=0, description="Fewest MB grown over the judged samples (below: allocator noise).")
    min_r2: float = Field(
        0.8, ge=0, le=1, description="Fit of the straight line (R²): steady growth, not a one-off jump.")
    min_samples: int = Field(5, ge=3, description="Fewest memory samples after start-up.")


def _series(run: RunRecord) -> tuple[str, list[float]]:
    """CUDA allocated memory when measured (it sees tensors only), else the process RSS."""
    r = run.resources
    cuda = [v for v in r.cuda_mem_mb if math.isfinite(v)]
    if r.device_type == "cuda" and len(cuda) == len(r.steps) and cuda:
        return "cuda_mem_mb", r.cuda_mem_mb
    return "rss_mb", r.rss_mb


@rule(code="TL602", name="memory-growth", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("resources",), thresholds=MemoryGrowthThresholds)
def memory_growth(run: RunRecord, t: MemoryGrowthThresholds) -> Iterator[Finding]:
    """Memory grows steadily step over step: something keeps tensors (or whole graphs) alive.

    ## What it checks
    The process RSS (or, on CUDA, the allocated device memory) sampled during the probe: after
    the start-up samples, the least-squares slope in MB per 1000 steps against
    `min_mb_per_1k_steps`, the total growth against `min_growth_mb`, and how straight the
    growth is (R² against `min_r2`).
    ## Why it matters
    A run that leaks a little per step runs out of memory hours later. Usual causes: appending
    the loss or outputs to a list without `.detach()`/`.item()` (each keeps its whole autograd
    graph alive), tensors cached on the module in `forward`, or a growing history in a callback.
    ## How to fix
    Store `loss.item()` or `tensor.detach().cpu()`, not the live tensors; do not keep per-step
    tensors on the module; clear caches you fill during training.
    ## Not flagged
    One-off allocations at start-up (optimizer state, the first evaluation); a step change
    followed by a plateau (low R²); growth below `min_growth_mb` in total.
    """
    which, values = _series(run)
    trend = memory_trend(run.resources.steps, values)
    if trend is None or trend.samples < t.min_samples:
        return  # too few samples to judge
    rate = trend.slope_mb_per_step * 1000
    if rate < t.min_mb_per_1k_steps or trend.growth_mb < t.min_growth_mb or trend.r2 < t.min_r2:
        return
    yield Finding(
        message=f"{which} grew {trend.growth_mb:.0f} MB between steps {trend.first_step} and {trend.last_step} "
                f"({rate:.0f} MB per 1000 steps, steady: R² {trend.r2:.2f}); something keeps tensors alive "
                "from step to step",
        evidence={"series": which, "mb_per_1k_steps": rate, "growth_mb": trend.growth_mb, "r2": trend.r2,
                  "first_step": trend.first_step, "last_step": trend.last_step, "samples": trend.samples,
                  "min_mb_per_1k_steps": t.min_mb_per_1k_steps, "min_growth_mb": t.min_growth_mb,
                  "min_r2": t.min_r2},
        step=trend.last_step,
        fixes=[Fix("store loss.item() / tensor.detach().cpu() in histories, never the live tensors (each keeps "
                   "its autograd graph)"),
               Fix("do not keep per-step tensors on the module or in globals inside forward(); clear caches "
                   "you fill during training")],
        config_key="model",
    )
