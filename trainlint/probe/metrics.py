"""metrics.jsonl: one JSON record per step, streamed as the probe flushes its recorders.

Why rows are assembled from column text: the writer runs inside the timed training loop (at
each flush), and `json.dumps` of one dict per step cost ~12 µs a step, 1.5 % of a small MLP's
step. Each column of numbers is encoded by one C-level `json.dumps` of the whole list (the
same float text `json.dumps` writes in a dict), non-finite values are turned into null, and
the layer dicts are `str.format`s of a template made once per layer list. What remains,
~5 µs a step, is mostly the shortest-round-trip text of each float (~0.4 µs apiece).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

from trainlint.probe.record import RunRecord

_NON_FINITE = frozenset({"NaN", "Infinity", "-Infinity"})
SERIES = ("layer_grad_norm", "layer_param_norm", "update_ratio", "dead_fraction", "saturated_fraction",
          "activation_mean", "activation_std")


def _clean(value: float) -> float | None:
    return value if isinstance(value, int | float) and math.isfinite(value) else None


def _encode(values: Sequence) -> list[str]:
    """The JSON text of each number; null for NaN, ±inf and anything that is not a number."""
    if not values:
        return []
    try:
        parts = json.dumps(list(values))[1:-1].split(", ")
    except TypeError:  # a tensor or other object (e.g. a tensor learning rate): one at a time
        return [json.dumps(_clean(v)) for v in values]
    if len(parts) != len(values):  # not numbers after all (a string holding ", "): one at a time
        return [json.dumps(_clean(v)) for v in values]
    return [p if p not in _NON_FINITE else "null" for p in parts]


def _template(names: list[str]) -> str:
    """`{"name": {}, ...}` with a format field per name (names JSON-quoted, braces escaped)."""
    fields = ", ".join(json.dumps(n).replace("{", "{{").replace("}", "}}") + ": {}" for n in names)
    return "{{" + fields + "}}"


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
        self._templates: dict[str, str] = {}

    def _extras(self, record: RunRecord, last_step: int) -> dict[int, list[str]]:
        """JSON fragments (`"key": value`) of the sampled series and evaluations up to `last_step`."""
        extras: dict[int, list[str]] = {}
        for key in SERIES:
            series = getattr(record, key)
            start = end = self._cursors[key]
            while end < len(series.steps) and series.steps[end] <= last_step:
                end += 1
            if end == start:
                continue
            width = len(series.names)
            template = self._templates.get(key)
            if template is None:
                template = self._templates[key] = f'"{key}": ' + _template(series.names)
            numbers = _encode([v for row in series.values[start:end] for v in row])
            for k, step in enumerate(series.steps[start:end]):
                extras.setdefault(step, []).append(template.format(*numbers[k * width:(k + 1) * width]))
            self._cursors[key] = end
        e = record.evals
        while self._evals < len(e.steps) and e.steps[self._evals] <= last_step:
            j = self._evals
            loss, metric, train_loss, train_metric = _encode(
                [e.val_loss[j], e.val_metric[j], e.train_loss[j], e.train_metric[j]])
            extras.setdefault(e.steps[j], []).append(
                f'"val_loss": {loss}, "val_metric": {metric}, '
                f'"train_eval_loss": {train_loss}, "train_eval_metric": {train_metric}')
            self._evals += 1
        return extras

    def write_available(self, record: RunRecord) -> None:
        if self._file is None:
            return
        first, ready = self._written, len(record.train_loss)
        if first >= ready:
            return
        extras = self._extras(record, record.steps[ready - 1])
        columns = zip(record.steps[first:ready], _encode(record.train_loss[first:ready]),
                      _encode(record.lr_series[first:ready]), _encode(record.step_time_s[first:ready]),
                      _encode(record.data_wait_s[first:ready]), strict=True)
        grads = _encode(record.grad_norm[first:ready])
        lines: list[str] = []
        for k, (step, loss, lr, step_time, wait) in enumerate(columns):
            parts = [f'{{"step": {step}, "train_loss": {loss}, "lr": {lr}, "step_time_s": {step_time}, '
                     f'"data_wait_s": {wait}']
            if k < len(grads):
                parts.append(f'"grad_norm": {grads[k]}')
            parts.extend(extras.get(step, ()))
            lines.append(", ".join(parts) + "}\n")
        self._written = ready
        # One unbuffered write of whole lines: a killed process leaves no half line behind.
        data = memoryview("".join(lines).encode("utf-8"))
        while data:
            data = data[self._file.write(data):]

    def rebase(self, record: RunRecord) -> None:
        """After the record was decimated: everything it holds is written, so every cursor is at its end."""
        self._written = len(record.train_loss)
        self._cursors = {key: len(getattr(record, key).steps) for key in SERIES}
        self._evals = len(record.evals.steps)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
