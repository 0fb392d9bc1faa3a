"""Fabricated RunRecords for the resource rules (TL6xx): step timings, memory and device samples."""

from __future__ import annotations

import math

from trainlint.probe.record import Resources, RunRecord


def timing_run(wait_s: float, step_s: float, n: int = 100, *, first_wait_s: float | None = None) -> RunRecord:
    """`n` steps, each waiting `wait_s` for data out of `step_s` (the first optionally slower)."""
    wait, step = [wait_s] * n, [step_s] * n
    if first_wait_s is not None and n:
        wait[0], step[0] = first_wait_s, first_wait_s + step_s
    return RunRecord(steps=list(range(n)), data_wait_s=wait, step_time_s=step, batch_size=32)


def memory_run(values: list[float], *, every: int = 20, field: str = "rss_mb",
               device_type: str = "cpu") -> RunRecord:
    """Memory samples every `every` steps, in MB, recorded as `field` (rss_mb or cuda_mem_mb)."""
    steps = [i * every for i in range(len(values))]
    res = Resources(steps=steps, rss_mb=[400.0] * len(values), cpu_percent=[50.0] * len(values),
                    cuda_mem_mb=[math.nan] * len(values), gpu_util_percent=[math.nan] * len(values),
                    device_type=device_type, cuda_available=device_type == "cuda")
    setattr(res, field, list(values))
    return RunRecord(steps=list(range(steps[-1] + 1 if steps else 0)), resources=res)


def device_run(*, cuda_available: bool, device: str = "cpu", util: list[float] | None = None,
               batch_size: int = 64) -> RunRecord:
    """A run on `device` with CUDA available or not, and NVML utilisation samples (percent)."""
    util = util if util is not None else []
    res = Resources(steps=[i * 20 for i in range(len(util))], gpu_util_percent=list(util),
                    cuda_available=cuda_available, device_type=device.split(":")[0])
    return RunRecord(device=device, batch_size=batch_size, steps=list(range(100)), resources=res)
