"""Recording: the recorders of one training run and the bookkeeping that turns them into a RunRecord.

One recording path for every way a run reaches trainlint: the YAML probe's loop drives it
step by step (`probe/loop.py`), and the Python API (`trainlint.watch`) and its Lightning and
Hugging Face callbacks drive it from hooks on the user's optimizer and model (`trainlint/api.py`).
Either way the same recorders take the same statistics, flushed to the host on the same cadence,
into the same RunRecord, which the same rule engine reads.

Why flushes are rare: every host read of a device tensor (`.item()`, `.tolist()`) waits for
the GPU, and on CPU each flush costs a fixed ~0.5 ms of small tensor and array ops (more right
after a training step, whose caches it shares). Recorders keep their statistics on device and
the session copies them to the host every `FLUSH_SECONDS` (so metrics.jsonl and progress still
move twice a second), or after `FLUSH_STEPS` steps on very fast models, which bounds what is
pending. On CPU the loss is read every step (it is free there) so a NaN is seen at once; off
CPU it is checked at each flush.

Why long runs are decimated: a user's run may last 100k steps or more, where the probe runs
hundreds. Past `MAX_STEPS` per-step points the per-step series are halved by merging neighbours
(the mean loss and times, the largest gradient norm, so a spike or a NaN survives), and past
`MAX_ROWS` rows the per-layer series keep every other row. What metrics.jsonl already holds is
not affected: it is written before each decimation. The bound is stated in `memory_bound`.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from contextlib import contextmanager

import torch

from trainlint.probe.metrics import MetricsWriter
from trainlint.probe.record import LayerSeries, RunRecord
from trainlint.probe.recorders.activations import ActivationRecorder, name_series
from trainlint.probe.recorders.gradients import GradientRecorder
from trainlint.probe.recorders.host import to_host
from trainlint.probe.recorders.layers import LayerIndex
from trainlint.probe.recorders.resources import ResourceRecorder
from trainlint.probe.recorders.updates import UpdateRecorder

FLUSH_SECONDS = 0.5
FLUSH_STEPS = 1000
RESOURCE_EVERY = 50  # a sample costs ~0.1 ms in the loop; memory growth shows over hundreds of steps
FAMILIES = frozenset({"gradients", "updates", "activations", "resources"})
MAX_STEPS = 65_536  # per-step points kept before neighbours are merged
MAX_ROWS = 2_048  # rows of each per-layer series kept before every other one is dropped
LAYER_SERIES = ("layer_grad_norm", "layer_param_norm", "update_ratio", "dead_fraction", "saturated_fraction",
                "activation_mean", "activation_std")

Progress = Callable[[int, int, float], None]  # (steps done, steps planned, latest loss)


def memory_bound(n_layers: int, n_activations: int) -> int:
    """Bytes the record's series can hold at most, however long the run (Python floats, list slots)."""
    per_float = 32  # a float object and its list slot
    per_step = 6 * per_float  # step, loss, lr, step time, data wait, gradient norm
    per_row = per_float * (3 * n_layers + 4 * n_activations + 1)
    return 2 * MAX_STEPS * per_step + 2 * MAX_ROWS * per_row


class Recording:
    """Recorders attached to one model, filling `record`; driven step by step by its owner.

    Per step the owner calls, in order: `forward(step)` around the training forward pass (on
    sampled steps it records activations), `after_backward()`, `before_update(step)` and
    `after_update(step)` around `optimizer.step()`, then `end_step(...)`, then `flush_if_due(...)`.
    """

    def __init__(self, record: RunRecord, model: torch.nn.Module, device: torch.device, *, stats_every: int,
                 writer: MetricsWriter | None = None, progress: Progress | None = None,
                 families: frozenset[str] = FAMILIES):
        self.record, self.device, self.stats_every = record, device, max(1, stats_every)
        self.writer = writer or MetricsWriter(None)
        self.progress = progress
        self.index = LayerIndex.of(model)
        self.grads, self.updates = GradientRecorder(self.index), UpdateRecorder(self.index)
        self.acts, self.resources = ActivationRecorder(model), ResourceRecorder(device)
        self.use_grads, self.use_updates = "gradients" in families, "updates" in families
        self.use_acts, self.use_resources = "activations" in families, "resources" in families
        for series in (record.layer_grad_norm, record.layer_param_norm, record.update_ratio):
            series.names = list(self.index.layers)
        name_series(record, self.acts)  # functional activations join after the first sampled pass
        self.cpu = device.type == "cpu"
        self._pending_loss: list[torch.Tensor] = []  # off CPU: losses not yet copied to the host
        self._unflushed = self._flushes = 0
        self._last_flush = time.perf_counter()

    def sampled(self, step: int, last: bool = False) -> bool:
        """Whether `step` records the sampled statistics (update ratios, activations)."""
        return step % self.stats_every == 0 or last

    @contextmanager
    def forward(self, step: int, sampled: bool):
        """Around a training forward pass; on a sampled step the activations are recorded."""
        if not (sampled and self.use_acts):
            yield
            return
        with self.acts.recording(step):  # detached even when the forward pass raises
            yield
        if step == 0:  # the first pass named the functional activations (F.relu, ...)
            name_series(self.record, self.acts)

    def arm_activations(self, running: torch.nn.Module | None = None) -> None:
        """For hooks: attach the activation recorder from inside the model's forward pre-hook."""
        if self.use_acts:
            self.acts.arm(running)

    def disarm_activations(self, step: int, ok: bool) -> None:
        if self.use_acts:
            first = not self.acts.named
            self.acts.disarm(step, keep=ok)
            if first and ok:
                name_series(self.record, self.acts)

    def after_backward(self) -> None:
        if self.use_grads:
            self.grads.after_backward()

    def before_update(self, sampled: bool) -> None:
        if sampled and self.use_updates:
            self.updates.before_step()

    def after_update(self, step: int, sampled: bool) -> None:
        if sampled and self.use_updates:
            self.updates.after_step(step)

    def drop_step(self) -> None:
        """The step whose gradients were just recorded is not appended (see trainlint/api.py)."""
        if self.use_grads:
            self.grads.drop_last()

    def end_step(self, step: int, loss: torch.Tensor | float, lr: float, step_time: float, data_wait: float) -> bool:
        """Append one finished step; False when its loss is known to be non-finite already (CPU)."""
        r = self.record
        r.steps.append(step)
        r.step_time_s.append(step_time)
        r.data_wait_s.append(data_wait)
        r.lr_series.append(lr)
        if self.cpu or not isinstance(loss, torch.Tensor):
            value = float(loss)
            r.train_loss.append(value)
            return math.isfinite(value)
        self._pending_loss.append(loss.detach())
        return True

    def flush_if_due(self, step: int, last: bool) -> tuple[bool, bool]:
        """Flush when due (always on the `last` step): (flushed, every loss so far finite)."""
        self._unflushed += 1
        if not (last or self._unflushed >= FLUSH_STEPS or time.perf_counter() - self._last_flush >= FLUSH_SECONDS):
            return False, True
        finite = self.flush()
        if self.progress is not None and self.record.train_loss:
            self.progress(step + 1, self.record.steps_planned, self.record.train_loss[-1])
        return True, finite

    def flush(self) -> bool:
        """Copy the pending statistics to the host; False when a loss that just arrived is not finite."""
        self._unflushed = 0
        r = self.record
        checked = len(r.train_loss)
        if self._pending_loss:
            r.train_loss.extend(to_host([self._pending_loss], len(self._pending_loss)).reshape(-1).tolist())
            self._pending_loss.clear()
        # A step that crashed after backward left a gradient row without a step: drop it.
        for row in self.grads.flush()[: len(r.steps) - len(r.grad_norm)]:
            r.grad_norm.append(row[0])
            r.layer_grad_norm.append(r.steps[len(r.grad_norm) - 1], row[1:])
        for step, param_norms, ratios in self.updates.flush():
            r.layer_param_norm.append(step, param_norms)
            r.update_ratio.append(step, ratios)
        for step, rows in self.acts.flush():
            r.dead_fraction.append(step, [x[0] for x in rows])
            r.saturated_fraction.append(step, [x[1] for x in rows])
            r.activation_mean.append(step, [x[2] for x in rows])
            r.activation_std.append(step, [x[3] for x in rows])
        self._flushes += 1
        if not gc.isenabled():  # the probe turns automatic collection off during its loop
            gc.collect(1 if self._flushes % 10 == 0 else 0)
        self._last_flush = time.perf_counter()
        return all(math.isfinite(v) for v in r.train_loss[checked:])

    def write(self) -> None:
        """Write the flushed steps to metrics.jsonl, then decimate a run grown past the bounds."""
        self.writer.write_available(self.record)
        if len(self.record.steps) > MAX_STEPS or any(len(getattr(self.record, k)) > MAX_ROWS for k in LAYER_SERIES):
            self._decimate()

    def sample_resources(self, step: int, last: bool = False) -> None:
        if not self.use_resources or not (step % RESOURCE_EVERY == 0 or last):
            return
        rss, cpu, mem, util = self.resources.sample()
        res = self.record.resources
        res.steps.append(step)
        res.rss_mb.append(rss)
        res.cpu_percent.append(cpu)
        res.cuda_mem_mb.append(mem)
        res.gpu_util_percent.append(util)

    def finish(self) -> None:
        """After the last step: flush and write what is pending, name the parameters never given a gradient."""
        self.flush()
        self.write()
        if self.record.steps and self.use_grads:
            self.record.params_never_grad = self.grads.never_grad()
        if self.record.steps and self.use_resources:
            self.sample_resources(self.record.steps[-1], last=True)
        self.writer.close()

    def _decimate(self) -> None:
        """Halve what grew past the bounds (see the module docstring); everything is written already."""
        r = self.record
        n = len(r.steps) - len(r.steps) % 2  # an odd last point stays as it is
        if len(r.steps) > MAX_STEPS and len(r.train_loss) == len(r.steps) and len(r.grad_norm) in (0, len(r.steps)):
            r.steps[:n] = r.steps[:n:2]
            r.lr_series[:n] = r.lr_series[:n:2]
            for series in (r.train_loss, r.step_time_s, r.data_wait_s):
                series[:n] = [(a + b) / 2 for a, b in zip(series[:n:2], series[1:n:2], strict=True)]
            if r.grad_norm:
                r.grad_norm[:n] = [_largest(a, b) for a, b in zip(r.grad_norm[:n:2], r.grad_norm[1:n:2], strict=True)]
        for key in LAYER_SERIES:
            series: LayerSeries = getattr(r, key)
            if len(series) > MAX_ROWS:
                series.steps[:] = series.steps[::2]
                series.values[:] = series.values[::2]
        self.writer.rebase(r)


def _largest(a: float, b: float) -> float:
    """The larger of two gradient norms; NaN when either is (a NaN must survive decimation)."""
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return max(a, b)
