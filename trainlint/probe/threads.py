"""How many CPU threads a probe gives PyTorch's intra-op parallelism (`probe.threads`, `--threads`).

Why not PyTorch's default (one thread per physical core): a small model's ops are too short to
split, so extra threads only add hand-over cost (a 64-wide MLP step: 0.8 ms on one thread, 1.0 ms
on two), and when another process keeps a core busy, the threads of every op wait for the one
that was descheduled: a probe that takes 8 s on one thread took 33–48 s on two cores with one
busy neighbour. So `auto` gives one thread to models whose forward pass is small, and to larger
ones the cores that were idle while the probe was being set up, never more than PyTorch's
current setting (a compare worker or the user may have lowered it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from trainlint.probe.adapters import Batch, Reader

# Forward FLOPs per batch above which a second thread starts to pay off. Measured on a 2-core
# x86_64 VM, torch 2.13 CPU, training steps of MLPs and small CNNs at 1 and 2 threads: an MLP at
# 2e7 forward FLOPs per batch ran 0.9x as fast on 2 threads as on 1, at 7e7 1.14x, a small CNN at
# 1e8 1.24x. benchmarks/threads.py shows the effect on whole probes, idle and next to a busy process.
PARALLEL_FLOPS = 5e7


@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    reason: str


class CpuLoad:
    """CPU time spent by other processes between `start` and `idle_cores()`, from /proc/stat via psutil."""

    def __init__(self) -> None:
        self._start = _times()

    def idle_cores(self) -> float | None:
        """Cores left idle by other processes since construction; None when too little time passed."""
        end = _times()
        if self._start is None or end is None:
            return None
        (wall0, busy0, own0), (wall1, busy1, own1) = self._start, end
        if wall1 - wall0 < 0.05:
            return None
        others = max(0.0, (busy1 - busy0) - (own1 - own0)) / (wall1 - wall0)
        return max(0.0, _cores() - others)


def choose_threads(setting: int | str, device: torch.device, model: torch.nn.Module, batch: object,
                   load: CpuLoad | None, reader: Reader | None = None) -> ThreadChoice:
    """The thread count for this probe, and why (reported in report.json's `environment`)."""
    current = torch.get_num_threads()
    if setting != "auto":
        return ThreadChoice(int(setting), f"probe.threads: {setting}")
    if device.type != "cpu":
        return ThreadChoice(current, f"auto: the model runs on {device.type}; PyTorch's setting kept")
    if current <= 1:
        return ThreadChoice(1, "auto: PyTorch was already set to 1 thread")
    flops = forward_flops(model, batch, reader)
    if flops is None:
        return ThreadChoice(current, "auto: the forward pass could not be measured; PyTorch's setting kept")
    if flops < PARALLEL_FLOPS:
        return ThreadChoice(1, f"auto: 1 thread for a small model ({flops:.1e} forward FLOPs per batch "
                               f"< {PARALLEL_FLOPS:.0e}: more threads cost more than they save)")
    idle = load.idle_cores() if load is not None else None
    if idle is None:
        return ThreadChoice(current, f"auto: {current} threads ({flops:.1e} forward FLOPs per batch)")
    threads = max(1, min(current, int(idle + 0.25)))
    busy = f", {_cores() - idle:.1f} of {_cores()} cores busy with other processes" if threads < current else ""
    return ThreadChoice(threads, f"auto: {threads} thread{'s' if threads > 1 else ''} "
                                 f"({flops:.1e} forward FLOPs per batch{busy})")


def forward_flops(model: torch.nn.Module, batch: object, reader: Reader | None = None) -> float | None:
    """FLOPs of one forward pass over the whole batch (a tensor or a `Batch`), counted on its first two samples.

    Counted in eval mode, without gradients and with the RNG state restored, so the probe's
    training (BatchNorm statistics, dropout masks, data order) is exactly what it would have been.
    """
    if isinstance(batch, torch.Tensor):
        batch = Batch((batch,))
    if not isinstance(batch, Batch) or batch.primary is None or batch.primary.dim() == 0 or batch.size == 0:
        return None
    from torch.utils.flop_counter import FlopCounterMode

    n = min(2, batch.size)
    reader = reader or Reader()
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad(), FlopCounterMode(display=False) as counter:
            reader.forward(model, batch.head(n))
        return counter.get_total_flops() * batch.size / n
    except Exception:  # noqa: BLE001 - the training step will run (and diagnose) the same forward
        return None
    finally:
        model.train(was_training)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _times() -> tuple[float, float, float] | None:
    """(wall, busy CPU seconds of the machine, CPU seconds of this process)."""
    import time

    import psutil

    try:
        t = psutil.cpu_times()
    except Exception:  # noqa: BLE001 - no /proc: no load estimate
        return None
    idle = t.idle + getattr(t, "iowait", 0.0)
    busy = sum(t) - idle - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
    return time.monotonic(), busy, time.process_time()
