"""TL603 device-underused: a CUDA GPU is available but the run is on CPU, or the GPU is mostly idle."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from pydantic import Field

from trainlint.analysis.series import finite
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class DeviceUnderusedThresholds(Thresholds):
    min_gpu_util_percent: float = Field(
        30.0, ge=0, le=100,
        description="Median GPU utilisation (NVML: share of time a kernel was running) below which the GPU "
                    "counts as mostly idle. Reported at info level: tiny models cannot fill a GPU.")
    min_samples: int = Field(3, ge=1, description="Fewest utilisation samples to judge.")


@rule(code="TL603", name="device-underused", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("resources",), thresholds=DeviceUnderusedThresholds)
def device_underused(run: RunRecord, t: DeviceUnderusedThresholds) -> Iterator[Finding]:
    """A CUDA GPU is available but the run is on CPU, or the GPU it runs on is mostly idle.

    ## What it checks
    Whether CUDA was available to the probe while it trained on CPU (warning), and on CUDA the
    median GPU utilisation reported by NVML (pynvml) against `min_gpu_util_percent` (info).
    ## Why it matters
    Training on CPU next to an idle GPU is typically 10-100x slower. A GPU that computes only
    a small share of the time waits for the data loader, for Python overhead between small
    kernels, or for host synchronisations.
    ## How to fix
    Run on the GPU (`device: auto` or `cuda`). For low utilisation: larger batches, data loading
    in worker processes, fewer host syncs (`.item()` each step), mixed precision.
    ## Not flagged
    Machines without CUDA; runs where NVML is not installed (utilisation not recorded); fewer
    than `min_samples` utilisation samples.
    """
    r = run.resources
    if r.cuda_available and r.device_type == "cpu":
        yield Finding(
            message=f"CUDA is available but the probe ran on {run.device}: the GPU sits unused",
            evidence={"cuda_available": True, "device": run.device},
            fixes=[Fix("run on the GPU", config_key="device", value="cuda"),
                   Fix("or let trainlint pick the device", config_key="device", value="auto")],
            config_key="device",
        )
        return
    util = finite(r.gpu_util_percent)
    if r.device_type != "cuda" or len(util) < t.min_samples:
        return  # not on CUDA, or utilisation not recorded
    median = float(np.median(util))
    if median >= t.min_gpu_util_percent:
        return
    batch = run.batch_size * 4 if run.batch_size else None
    yield Finding(
        severity=Severity.INFO,
        message=f"the GPU was busy a median {median:.0f}% of the time (< {t.min_gpu_util_percent:.0f}%, "
                f"{len(util)} samples): it mostly waits for data, Python or host syncs",
        evidence={"median_gpu_util_percent": median, "samples": len(util),
                  "min_gpu_util_percent": t.min_gpu_util_percent, "batch_size": run.batch_size},
        fixes=[Fix(f"use larger batches (e.g. {batch}, scaling the LR with them)", config_key="dataset.batch_size",
                   value=batch),
               Fix("load data in worker processes", config_key="dataset.num_workers", value=4),
               Fix("avoid per-step host syncs (.item(), .cpu(), printing tensors) and use mixed precision")],
        config_key="dataset.batch_size",
    )
