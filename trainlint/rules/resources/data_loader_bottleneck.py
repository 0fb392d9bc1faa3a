"""TL601 data-loader-bottleneck: much of each training step is spent waiting for the next batch."""

from __future__ import annotations

import math
from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.resources import wait_share
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class DataLoaderBottleneckThresholds(Thresholds):
    max_wait_share: float = Field(
        0.5, gt=0, lt=1,
        description="Median data wait over median step time above which loading dominates. Healthy "
                    "configs (in-memory tensors) measure ≤ 0.14 on a loaded 2-core machine, a 1 ms-per-sample "
                    "__getitem__ 0.96.")
    min_wait_s: float = Field(
        0.002, ge=0, description="Median wait per step below which loading is not worth optimising, in seconds "
                                  "(healthy configs wait ≤ 0.5 ms).")
    skip_steps: int = Field(3, ge=0, description="Start-up steps ignored (iterator and worker start).")
    min_steps: int = Field(10, ge=2, description="Fewest judged steps.")


@rule(code="TL601", name="data-loader-bottleneck", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("data_wait_s", "step_time_s"), thresholds=DataLoaderBottleneckThresholds)
def data_loader_bottleneck(run: RunRecord, t: DataLoaderBottleneckThresholds) -> Iterator[Finding]:
    """Much of each training step is spent waiting for the data loader.

    ## What it checks
    Per step, the time to get the next batch (and move it to the device) against the whole
    step's time; the medians over the probe (after `skip_steps` start-up steps) against
    `max_wait_share`, and the median wait against `min_wait_s`.
    ## Why it matters
    While the loader prepares a batch the model does nothing: the run takes longer than the
    model needs, and on a GPU the device sits idle. Usual causes: expensive per-sample work in
    `__getitem__` (file reads, decoding, augmentation, Python loops) with `num_workers: 0`.
    ## How to fix
    Load in worker processes (`dataset.num_workers`), precompute or cache per-sample work in
    `__init__`, and batch the work (a `__getitems__` or a tensor dataset).
    ## Not flagged
    A slow first step or epoch boundary (medians ignore them); waits under `min_wait_s` per step;
    a loader that is fast next to the model even if the model is tiny.
    """
    share = wait_share(run.data_wait_s, run.step_time_s, t.skip_steps)
    if share is None or share.steps < t.min_steps:
        return  # too few steps to judge
    if not (share.share >= t.max_wait_share and share.wait_s >= t.min_wait_s):
        return
    compute = max(share.step_s - share.wait_s, 1e-6)
    workers = int(min(8, max(2, math.ceil(share.wait_s / compute) + 1)))
    yield Finding(
        message=f"{share.share:.0%} of each training step is spent waiting for data (median {share.wait_s * 1e3:.1f} ms "
                f"of {share.step_s * 1e3:.1f} ms; ≥ {t.max_wait_share:.0%}): the data loader is the bottleneck",
        evidence={"wait_share": share.share, "median_data_wait_s": share.wait_s, "median_step_time_s": share.step_s,
                  "median_compute_s": compute, "steps": share.steps, "max_wait_share": t.max_wait_share,
                  "min_wait_s": t.min_wait_s},
        fixes=[Fix(f"load batches in {workers} worker processes (≈ wait/compute + 1, capped at 8)",
                   config_key="dataset.num_workers", value=workers),
               Fix("move expensive per-sample work (file reads, decoding, augmentation, sleeps) out of "
                   "__getitem__: precompute it in __init__ or cache it"),
               Fix("return whole batches at once (a __getitems__ method or a TensorDataset)")],
        config_key="dataset.num_workers",
    )
