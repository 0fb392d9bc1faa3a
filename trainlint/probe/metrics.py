"""metrics.jsonl: one JSON record per step, streamed as the probe flushes its recorders."""

from __future__ import annotations

import json
import math
from pathlib import Path

from trainlint.probe.record import LayerSeries, RunRecord


def _clean(value: float) -> float | None:
    return value if isinstance(value, int | float) and math.isfinite(value) else None


class MetricsWriter:
    """Writes the steps whose statistics have reached the host, in order, exactly once."""

    def __init__(self, path: Path | None):
        self.path = path
        self._file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("wb", buffering=0)  # whole lines per write(), see write_available
        self._written = 0
        self._cursors: dict[str, int] = {}

    def _take(self, key: str, series: LayerSeries, step: int) -> dict[str, float | None] | None:
        i = self._cursors.get(key, 0)
        if i < len(series.steps) and series.steps[i] == step:
            self._cursors[key] = i + 1
            return {n: _clean(v) for n, v in zip(series.names, series.values[i], strict=True)}
        return None

    def write_available(self, record: RunRecord) -> None:
        if self._file is None:
            return
        ready = len(record.train_loss)
        evals = dict(zip(record.evals.steps, range(len(record.evals.steps)), strict=True))
        lines: list[str] = []
        while self._written < ready:
            i = self._written
            step = record.steps[i]
            row: dict = {
                "step": step,
                "train_loss": _clean(record.train_loss[i]),
                "lr": _clean(record.lr_series[i]),
                "step_time_s": record.step_time_s[i],
                "data_wait_s": record.data_wait_s[i],
            }
            if i < len(record.grad_norm):
                row["grad_norm"] = _clean(record.grad_norm[i])
            for key, series in (("layer_grad_norm", record.layer_grad_norm),
                                ("layer_param_norm", record.layer_param_norm),
                                ("update_ratio", record.update_ratio),
                                ("dead_fraction", record.dead_fraction),
                                ("saturated_fraction", record.saturated_fraction),
                                ("activation_mean", record.activation_mean),
                                ("activation_std", record.activation_std)):
                values = self._take(key, series, step)
                if values is not None:
                    row[key] = values
            j = evals.get(step)
            if j is not None:
                e = record.evals
                row.update(val_loss=_clean(e.val_loss[j]), val_metric=_clean(e.val_metric[j]),
                           train_eval_loss=_clean(e.train_loss[j]), train_eval_metric=_clean(e.train_metric[j]))
            lines.append(json.dumps(row) + "\n")
            self._written += 1
        # One unbuffered write of whole lines: a killed process leaves no half line behind.
        data = memoryview("".join(lines).encode("utf-8"))
        while data:
            data = data[self._file.write(data):]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
