"""metrics.jsonl: one JSON record per step, streamed as the probe flushes its recorders.

Why rows are formatted by hand: the writer runs inside the timed training loop (at each
flush), and `json.dumps` of a dict per step cost ~12 µs a step, 1.5 % of a small MLP's step.
Rows are formatted directly instead: `repr` of a finite float is valid JSON (it is what
`json.dumps` writes), non-finite values become null, and layer names are JSON-quoted once.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from trainlint.probe.record import RunRecord


def _clean(value: float) -> float | None:
    return value if isinstance(value, int | float) and math.isfinite(value) else None


def _num(value) -> str:
    """A number as JSON text; null for NaN, ±inf and anything that is not a number."""
    if type(value) is float:  # noqa: E721 - exact type: the fast path for what the probe records
        return repr(value) if math.isfinite(value) else "null"
    return json.dumps(_clean(value))


SERIES = ("layer_grad_norm", "layer_param_norm", "update_ratio", "dead_fraction", "saturated_fraction",
          "activation_mean", "activation_std")


class MetricsWriter:
    """Writes the steps whose statistics have reached the host, in order, exactly once."""

    def __init__(self, path: Path | None):
        self.path = path
        self._file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("wb", buffering=0)  # whole lines per write(), see write_available
        self._written = 0
        self._cursors = dict.fromkeys(SERIES, 0)
        self._evals = 0

    def _extras(self, record: RunRecord, last_step: int) -> dict[int, list[str]]:
        """JSON fragments (`"key": value`) of the sampled series and evaluations up to `last_step`."""
        extras: dict[int, list[str]] = {}
        for key in SERIES:
            series = getattr(record, key)
            i = self._cursors[key]
            if i < len(series.steps) and series.steps[i] <= last_step:
                names = [json.dumps(n) for n in series.names]
                while i < len(series.steps) and series.steps[i] <= last_step:
                    body = ", ".join(f"{n}: {_num(v)}" for n, v in zip(names, series.values[i], strict=True))
                    extras.setdefault(series.steps[i], []).append(f'"{key}": {{{body}}}')
                    i += 1
            self._cursors[key] = i
        e = record.evals
        while self._evals < len(e.steps) and e.steps[self._evals] <= last_step:
            j = self._evals
            extras.setdefault(e.steps[j], []).append(
                f'"val_loss": {_num(e.val_loss[j])}, "val_metric": {_num(e.val_metric[j])}, '
                f'"train_eval_loss": {_num(e.train_loss[j])}, "train_eval_metric": {_num(e.train_metric[j])}')
            self._evals += 1
        return extras

    def write_available(self, record: RunRecord) -> None:
        if self._file is None:
            return
        ready = len(record.train_loss)
        if self._written >= ready:
            return
        extras = self._extras(record, record.steps[ready - 1])
        steps, losses, lrs = record.steps, record.train_loss, record.lr_series
        times, waits, grads = record.step_time_s, record.data_wait_s, record.grad_norm
        lines: list[str] = []
        for i in range(self._written, ready):
            step = steps[i]
            parts = [f'{{"step": {step}, "train_loss": {_num(losses[i])}, "lr": {_num(lrs[i])}, '
                     f'"step_time_s": {_num(times[i])}, "data_wait_s": {_num(waits[i])}']
            if i < len(grads):
                parts.append(f'"grad_norm": {_num(grads[i])}')
            parts.extend(extras.get(step, ()))
            lines.append(", ".join(parts) + "}\n")
        self._written = ready
        # One unbuffered write of whole lines: a killed process leaves no half line behind.
        data = memoryview("".join(lines).encode("utf-8"))
        while data:
            data = data[self._file.write(data):]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
