"""Resource recorder: process RSS and CPU (psutil), CUDA memory and GPU utilisation (pynvml)."""

from __future__ import annotations

import math

import psutil
import torch


class ResourceRecorder:
    def __init__(self, device: torch.device):
        self.process = psutil.Process()
        self.process.cpu_percent(None)  # prime: the next call reports usage since now
        self.device = device
        self._nvml = None
        if device.type == "cuda":
            try:
                import pynvml

                pynvml.nvmlInit()
                index = device.index if device.index is not None else torch.cuda.current_device()
                self._nvml = (pynvml, pynvml.nvmlDeviceGetHandleByIndex(index))
            except Exception:  # noqa: BLE001 - NVML missing or unusable: utilisation not recorded
                self._nvml = None

    def sample(self) -> tuple[float, float, float, float]:
        """(rss_mb, cpu_percent, cuda_mem_mb, gpu_util_percent); NaN where not measurable."""
        rss = self.process.memory_info().rss / 2**20
        cpu = self.process.cpu_percent(None)
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
