"""TensorBoard export: the recorded scalars as event files under `--out/tensorboard`.

Optional: needs the `tensorboard` package (`pip install 'trainlint[tensorboard]'`), checked
before the probe starts so a missing extra costs nothing. Tags group by quantity
(`loss/train`, `grad_norm/<layer>`, `update_ratio/<layer>`, ...) so TensorBoard's panels stay
tidy; non-finite values are left out (TensorBoard would draw them as gaps anyway).
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterator
from pathlib import Path

from trainlint.probe.record import LayerSeries, RunRecord

INSTALL_HINT = "install it with `pip install 'trainlint[tensorboard]'`"


def available() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


def scalars(record: RunRecord) -> Iterator[tuple[str, int, float]]:
    """(tag, step, value) for every recorded scalar worth plotting."""
    per_step = (("loss/train", record.train_loss), ("lr", record.lr_series),
                ("grad_norm/global", record.grad_norm), ("time/step_time_s", record.step_time_s),
                ("time/data_wait_s", record.data_wait_s))
    for tag, values in per_step:
        for step, value in zip(record.steps, values, strict=False):
            yield tag, step, value
    e = record.evals
    for tag, values in (("loss/val", e.val_loss), ("loss/train_eval", e.train_loss),
                        (f"{e.metric_name}/val", e.val_metric), (f"{e.metric_name}/train_eval", e.train_metric)):
        for step, value in zip(e.steps, values, strict=False):
            yield tag, step, value
    layered: tuple[tuple[str, LayerSeries], ...] = (
        ("grad_norm", record.layer_grad_norm), ("param_norm", record.layer_param_norm),
        ("update_ratio", record.update_ratio), ("dead_fraction", record.dead_fraction),
        ("saturated_fraction", record.saturated_fraction))
    for prefix, series in layered:
        for step, row in zip(series.steps, series.values, strict=False):
            for name, value in zip(series.names, row, strict=False):
                yield f"{prefix}/{name}", step, value


def write_tensorboard(record: RunRecord, log_dir: Path) -> int:
    """Write the event files; returns how many scalars were written."""
    from torch.utils.tensorboard import SummaryWriter

    if log_dir.is_dir():  # one run per folder: events of an earlier probe would mix with these
        for old in log_dir.glob("events.out.tfevents.*"):
            old.unlink()
    count = 0
    writer = SummaryWriter(log_dir=str(log_dir))
    try:
        for tag, step, value in scalars(record):
            if value is None or not math.isfinite(value):
                continue
            writer.add_scalar(tag, float(value), global_step=step)
            count += 1
    finally:
        writer.close()
    return count
