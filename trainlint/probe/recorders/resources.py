"""Resource recorder: process RSS and CPU use, CUDA memory and GPU utilisation (pynvml).

Why not psutil on the hot path: `Process.memory_info()` and `cpu_percent()` cost ~40 µs
together, ~0.2 ms inside a training loop whose caches they evict. On Linux the RSS is read
from /proc/self/statm with three system calls, and CPU use is the process CPU time
(`time.process_time`, user + system of every thread, as psutil reports it) over wall time
since the last sample: together ~2 µs. Elsewhere psutil is used for the RSS.
"""

from __future__ import annotations

import math
import os
import time

import psutil
import torch

STATM = "/proc/self/statm"  # size resident shared text lib data dt, in pages
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class ResourceRecorder:
    def __init__(self, device: torch.device):
        self.device = device
        self._process = None if os.path.exists(STATM) else psutil.Process()
        self._cpu, self._wall = time.process_time(), time.perf_counter()
        self._nvml = None
        if device.type == "cuda":
            try:
                import pynvml

                pynvml.nvmlInit()
                index = device.index if device.index is not None else torch.cuda.current_device()
                self._nvml = (pynvml, pynvml.nvmlDeviceGetHandleByIndex(index))
            except Exception:  # noqa: BLE001 - NVML missing or unusable: utilisation not recorded
                self._nvml = None

    def rss_bytes(self) -> int:
        if self._process is not None:
            return self._process.memory_info().rss
        fd = os.open(STATM, os.O_RDONLY)
        try:
            return int(os.read(fd, 128).split()[1]) * _PAGE
        finally:
            os.close(fd)

    def sample(self) -> tuple[float, float, float, float]:
        """(rss_mb, cpu_percent, cuda_mem_mb, gpu_util_percent); NaN where not measurable.

        `cpu_percent` is the process's CPU time over the wall time since the previous sample
        (or since the recorder was made), in percent of one core: 200 means two busy cores.
        """
        rss = self.rss_bytes() / 2**20
        cpu_now, wall_now = time.process_time(), time.perf_counter()
        elapsed = wall_now - self._wall
        cpu = 100.0 * (cpu_now - self._cpu) / elapsed if elapsed > 0 else math.nan
        self._cpu, self._wall = cpu_now, wall_now
        mem = util = math.nan
        if self.device.type == "cuda":
            mem = torch.cuda.memory_allocated(self.device) / 2**20
            if self._nvml is not None:
                pynvml, handle = self._nvml
                try:
                    util = float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                except Exception:  # noqa: BLE001
                    util = math.nan
        return rss, cpu, mem, util
