"""Fabricated RunRecords for the loss-dynamics (TL20x) and learning-rate (TL30x) rule tests."""

from __future__ import annotations

import math
import random

from trainlint.probe.record import EvalSeries, FirstBatch, LayerSeries, RunRecord

LAYERS = ["net.0", "net.2", "net.4"]


def noisy(levels: list[float], noise: float = 0.02, seed: int = 0) -> list[float]:
    """`levels` times (1 ± `noise`) multiplicative minibatch noise, reproducibly."""
    rng = random.Random(seed)
    return [v * (1 + noise * (2 * rng.random() - 1)) for v in levels]


def decaying(n: int, start: float = 2.3, end: float = 0.1, tau: float = 30.0) -> list[float]:
    """A healthy exponential decay from `start` towards `end`."""
    return [end + (start - end) * math.exp(-i / tau) for i in range(n)]


def record(loss: list[float], *, lr: float = 1e-3, lr_series: list[float] | None = None,
           ratio: float | list[float] | None = 1e-3, stats_every: int = 10,
           grad_norm: list[float] | None = None, val_metric: list[float] | None = None,
           chance_metric: float | None = 0.1, higher_is_better: bool = True,
           expected_initial_loss: float | None = 2.3, steps_planned: int | None = None,
           scheduler_class: str | None = None, warmup_steps: int = 0, batch_size: int = 64,
           n_train: int = 1000, clip: float | None = None, stop_reason: str | None = None) -> RunRecord:
    """A RunRecord with `loss` per step and everything the TL20x/TL30x rules read.

    `ratio` is the update ratio of every layer at every sampled step (a list: one value per
    sample), measured at the applied LR; None records no update ratios.
    """
    n = len(loss)
    run = RunRecord(lr=lr, batch_size=batch_size, steps_planned=steps_planned or n,
                    stats_every=stats_every, scheduler_class=scheduler_class, warmup_steps=warmup_steps,
                    clip_grad_norm=clip)
    run.steps = list(range(n))
    run.train_loss = list(loss)
    run.lr_series = list(lr_series) if lr_series is not None else [lr] * n
    run.grad_norm = list(grad_norm) if grad_norm is not None else [1.0] * n
    run.data.n_train = n_train
    run.first_batch = FirstBatch(initial_loss=loss[0] if loss else None,
                                 expected_initial_loss=expected_initial_loss)
    if ratio is not None:
        sampled = list(range(0, n, stats_every))
        values = ratio if isinstance(ratio, list) else [ratio] * len(sampled)
        run.update_ratio = LayerSeries(names=list(LAYERS), steps=sampled[: len(values)],
                                       values=[[v] * len(LAYERS) for v in values[: len(sampled)]])
    if val_metric is not None:
        every = max(1, n // len(val_metric))
        run.evals = EvalSeries(higher_is_better=higher_is_better, chance_metric=chance_metric,
                               steps=[every * (i + 1) - 1 for i in range(len(val_metric))],
                               val_metric=list(val_metric), val_loss=[1.0] * len(val_metric),
                               metric_name="accuracy" if higher_is_better else "mae")
    bad = next((i for i, v in enumerate(loss) if not math.isfinite(v)), None)
    run.stop_reason = stop_reason or ("non_finite_loss" if bad is not None else "completed")
    return run
