"""Fabricated RunRecords for the generalization rules (TL5xx): evaluation histories only."""

from __future__ import annotations

from trainlint.probe.record import EvalSeries, ModelFacts, RunRecord


def eval_run(val_loss: list[float], train_loss: list[float], val_metric: list[float],
             train_metric: list[float] | None = None, *, chance: float | None = 0.1,
             higher_is_better: bool = True, every: int = 25, builtin: bool = True) -> RunRecord:
    """A run evaluated every `every` steps; `train_metric` defaults to `val_metric`."""
    n = len(val_loss)
    steps = [(i + 1) * every - 1 for i in range(n)]
    evals = EvalSeries(metric_name="accuracy" if higher_is_better else "mae", higher_is_better=higher_is_better,
                       chance_metric=chance, steps=steps, val_loss=list(val_loss), val_metric=list(val_metric),
                       train_loss=list(train_loss),
                       train_metric=list(train_metric if train_metric is not None else val_metric))
    return RunRecord(steps=list(range(n * every)), eval_every=every, evals=evals,
                     model=ModelFacts(is_builtin=builtin))
