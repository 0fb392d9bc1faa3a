"""A TensorBoard run as a RunRecord: the training loss, the LR and the validation curves, as logged.

Nothing is interpolated: the record's per-step series hold one point per logged training loss
(at its own step, often every `logging_steps` optimizer steps), so a sparsely logged run has
fewer points and the rules judge it on those. The rules count points, not optimizer steps
(windows, `min_steps`, `steps_planned` are all in points), which keeps their fractions right
whatever the logging interval.
"""

from __future__ import annotations

import bisect
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from trainlint.diagnose.logdir import Point
from trainlint.diagnose.tags import TagOptions, Tags
from trainlint.probe.record import EvalSeries, RunRecord

LOGGED = frozenset({"train_loss", "lr_series", "evals"})  # what a log can give the rules


@dataclass
class LoggedRun(RunRecord):
    """A RunRecord rebuilt from a TensorBoard log.

    Why `has` is narrowed: the base answers from the fields, where an empty dataset scan or
    resource sample still counts (a probe always takes them); a log never had them, so the rules
    that need them are listed as not evaluated instead of passing on empty defaults. `source`
    words their reason ("not in the TensorBoard log: gradient norms").
    """

    source: str = "the TensorBoard log"

    def has(self, quantity: str) -> bool:
        return quantity in LOGGED and super().has(quantity)


def build_record(run: Path, scalars: dict[str, list[Point]], tags: Tags, opts: TagOptions) -> LoggedRun:
    """The record of one run: train loss (and the LR at those steps), plus the evaluations."""
    loss = scalars[tags.loss]
    steps = [p.step for p in loss]
    lr = _held(scalars[tags.lr], steps) if tags.lr else []
    used = [p for tag in (tags.loss, tags.lr, tags.val_loss, tags.val_metric) if tag for p in scalars[tag]]
    seconds = max(p.wall_time for p in used) - min(p.wall_time for p in used)
    regression = opts.task == "regression" or (tags.val_metric is not None and not tags.higher_is_better)
    record = LoggedRun(
        spec_name=run.name, task=opts.task or ("regression" if regression else "multiclass"),
        num_classes=opts.num_classes, num_outputs=opts.num_classes, lr=max(lr, default=0.0),
        steps_planned=len(steps), device="unknown", steps=steps, train_loss=[p.value for p in loss],
        lr_series=lr, wall_seconds=seconds, loop_seconds=seconds,
        stop_reason="completed" if all(math.isfinite(p.value) for p in loss) else "non_finite_loss")
    record.evals = _evals(scalars, tags, loss, opts)
    return record


def _held(points: list[Point], steps: list[int]) -> list[float]:
    """The LR in force at each step: the last value logged at or before it (the first one before that).

    Why hold rather than interpolate: an LR is set, not measured; between two logs it is the
    one last logged (Lightning's LearningRateMonitor logs once per epoch for epoch schedules).
    """
    at = [p.step for p in points]
    return [points[max(bisect.bisect_right(at, s) - 1, 0)].value for s in steps]


def _evals(scalars: dict[str, list[Point]], tags: Tags, loss: list[Point], opts: TagOptions) -> EvalSeries:
    """Validation loss and metric on the union of their steps (NaN where one was not logged).

    The log has no train-subset evaluation: the train side of each evaluation is the median
    training loss logged since the previous one, which is what a TensorBoard user compares.
    """
    val_loss = {p.step: p.value for p in scalars[tags.val_loss]} if tags.val_loss else {}
    metric = {p.step: p.value for p in scalars[tags.val_metric]} if tags.val_metric else {}
    steps = sorted(val_loss.keys() | metric.keys())
    classes = opts.num_classes or (2 if opts.task == "binary" else None)
    chance = 1 / classes if classes and tags.metric_name == "accuracy" else None  # uniform: a lower bound
    e = EvalSeries(metric_name=tags.metric_name, higher_is_better=tags.higher_is_better, chance_metric=chance,
                   steps=steps, val_loss=[val_loss.get(s, math.nan) for s in steps],
                   val_metric=[metric.get(s, math.nan) for s in steps])
    e.train_loss = [_train_side(loss, previous, s) for previous, s in zip([None, *steps], steps, strict=False)]
    return e


def _train_side(loss: list[Point], after: int | None, upto: int) -> float:
    window = [p.value for p in loss if (after is None or p.step > after) and p.step <= upto and math.isfinite(p.value)]
    if window:
        return statistics.median(window)
    before = [p.value for p in loss if p.step <= upto]
    return before[-1] if before else math.nan


def config_of(run: Path, tags: Tags, opts: TagOptions) -> dict:
    """What report.json's `config` holds for a log: where it was read and how (there is no spec)."""
    return {"name": run.name, "tensorboard": {
        "logdir": str(run), "train_loss": tags.loss, "lr": tags.lr, "val_loss": tags.val_loss,
        "val_metric": tags.val_metric, "metric_name": tags.metric_name,
        "higher_is_better": tags.higher_is_better, "task": opts.task, "num_classes": opts.num_classes}}


def read_note(tags: Tags, scalars: dict[str, list[Point]]) -> str:
    """One line on what was read, e.g. ``read train/loss (50 points, steps 10-500), train/learning_rate, ...``."""
    parts = []
    for role, tag in (("train loss", tags.loss), ("LR", tags.lr), ("val loss", tags.val_loss),
                      (f"val {tags.metric_name}", tags.val_metric)):
        if tag is None:
            parts.append(f"{role}: none found")
            continue
        points = scalars[tag]
        span = f"step {points[0].step}" if len(points) == 1 else f"steps {points[0].step}-{points[-1].step}"
        parts.append(f"{role}: {tag} ({len(points)} point{'s' if len(points) != 1 else ''}, {span})")
    return "read " + "; ".join(parts)
