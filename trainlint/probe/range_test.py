"""The learning-rate range test: train a fresh copy of the spec's setup while the LR grows exponentially.

Each step sets the LR on every parameter group (keeping the groups' ratios to the first one; no
scheduler), trains on the next batch of the spec's own data with its own loss, and records the
loss. The sweep stops when the loss turns non-finite or its smoothed value exceeds `stop_factor`
times the best smoothed value seen. What to make of the curve is decided elsewhere
(`trainlint.analysis.lr_suggest`).

Why it leaves no trace: the model, optimizer and loaders are built fresh from the spec with its
seed (`build_components`), and the global RNG state is restored afterwards (`fork_rng`), so a
probe run after a range test in the same process sees exactly what it would have seen without it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from trainlint.components.build import build_components, resolve_device
from trainlint.probe.crash import capture
from trainlint.probe.record import CrashInfo
from trainlint.probe.threads import choose_threads
from trainlint.spec.loader import LoadedSpec

SMOOTHING = 0.1  # EMA weight of the newest loss, for the stop rule only


@dataclass
class RangeTest:
    """What one sweep recorded. `lrs[i]` was applied at the step that produced `losses[i]`."""

    start_lr: float
    end_lr: float
    num_steps: int
    stop_factor: float
    current_lr: float
    lrs: list[float]
    losses: list[float]  # finite losses only; the sweep stops at the first non-finite one
    stop_reason: str  # completed | diverged | non_finite_loss | crashed
    crash: CrashInfo | None = None

    @property
    def steps_run(self) -> int:
        return len(self.losses)


def lr_at(step: int, start_lr: float, end_lr: float, num_steps: int) -> float:
    """The exponential sweep: `start_lr` at step 0, `end_lr` at step `num_steps - 1`."""
    if num_steps <= 1:
        return start_lr
    return start_lr * (end_lr / start_lr) ** (step / (num_steps - 1))


def run_range_test(loaded: LoadedSpec, start_lr: float = 1e-7, end_lr: float = 10.0, num_steps: int = 100,
                   stop_factor: float = 4.0, progress: Callable[[int, int], None] | None = None,
                   threads: int | None = None) -> RangeTest:
    """Sweep the LR from `start_lr` to `end_lr` over `num_steps` steps on a fresh build of the spec.

    `threads`: PyTorch threads for the sweep (default: as `probe.threads` decides for a probe);
    PyTorch's setting is restored afterwards.

    Raises:
        ValueError: the range is not increasing and positive, or `num_steps` < 2.
        ComponentError: the spec names something that cannot be built (a user error).
    """
    if not 0 < start_lr < end_lr or num_steps < 2 or stop_factor <= 1:
        raise ValueError("need 0 < start_lr < end_lr, num_steps >= 2 and stop_factor > 1")
    device = resolve_device(loaded.spec.device)
    forked = [device.index or 0] if device.type == "cuda" else []
    before = torch.get_num_threads()
    try:
        with torch.random.fork_rng(devices=forked):
            comps = build_components(loaded, device)
            result = RangeTest(start_lr, end_lr, num_steps, stop_factor, loaded.spec.optimizer.lr, [], [],
                               "completed")
            _sweep(result, comps, loaded.spec.probe.clip_grad_norm, progress, threads or loaded.spec.probe.threads)
    finally:
        torch.set_num_threads(before)
    return result


def _sweep(result: RangeTest, comps, clip: float | None, progress, threads: int | str) -> None:
    model, loss_fn, optimizer, device, reader = comps.model, comps.loss_fn, comps.optimizer, comps.device, comps.reader
    groups = optimizer.param_groups
    base = groups[0]["lr"] or 1.0
    ratios = [(g["lr"] or base) / base for g in groups]
    params = [p for g in groups for p in g["params"]]
    batches = iter(comps.train_loader)
    smoothed = best = math.inf
    acc = weight = 0.0
    model.train()
    for step in range(result.num_steps):
        lr = lr_at(step, result.start_lr, result.end_lr, result.num_steps)
        for group, ratio in zip(groups, ratios, strict=True):
            group["lr"] = lr * ratio
        x = y = out = None
        phase = "data"
        try:
            try:
                raw_batch = next(batches)
            except StopIteration:
                batches = iter(comps.train_loader)
                raw_batch = next(batches)
            batch = reader.batch(raw_batch).to(device)
            x, y = batch.primary, batch.target
            phase = "forward"
            if step == 0:
                torch.set_num_threads(choose_threads(threads, device, model, batch, None, reader).threads)
            optimizer.zero_grad(set_to_none=True)
            raw, out = reader.forward(model, batch)
            phase = "loss"
            loss = reader.loss(loss_fn, raw, out, batch)
            phase = "backward"
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(params, clip)
            phase = "optimizer"
            optimizer.step()
        except Exception as exc:  # noqa: BLE001 - the user's model/data/loss raised
            result.crash, result.stop_reason = capture(exc, phase, step, input=x, target=y, output=out), "crashed"
            return
        value = float(loss.detach())
        if not math.isfinite(value):
            result.stop_reason = "non_finite_loss"
            return
        result.lrs.append(lr)
        result.losses.append(value)
        acc, weight = (1 - SMOOTHING) * acc + SMOOTHING * value, (1 - SMOOTHING) * weight + SMOOTHING
        smoothed = acc / weight
        best = min(best, smoothed)
        if progress is not None:
            progress(step + 1, result.num_steps)
        if smoothed > result.stop_factor * best:
            result.stop_reason = "diverged"
            return


def summary(test: RangeTest, verdict) -> dict:
    """The content of `lr_find.json` for a range test and its `LrSuggestion`."""
    crash = test.crash
    reason = verdict.reason
    if crash is not None:
        reason = f"the model raised {crash.exc_type} in {crash.phase} at step {crash.step}: {crash.message}"
    suggested = verdict.lr if crash is None else None
    return {
        "suggested_lr": suggested,
        "reason": reason,
        "status": verdict.status if crash is None else "crashed",
        "current_lr": test.current_lr,
        "ratio_to_current": suggested / test.current_lr if suggested else None,
        "method": {"descent_midpoint_lr": verdict.lr_descent_midpoint, "min_loss_lr": verdict.lr_min_loss,
                   "valley": list(verdict.valley) if verdict.valley else None, "notes": verdict.notes},
        "start_lr": test.start_lr, "end_lr": test.end_lr, "num_steps": test.num_steps,
        "steps_run": test.steps_run, "stop_reason": test.stop_reason, "stop_factor": test.stop_factor,
        "lrs": test.lrs, "losses": test.losses, "smoothed_losses": verdict.smoothed,
    }
