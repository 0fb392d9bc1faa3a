"""metrics.jsonl for a record rebuilt after the fact, when the run left none of its own."""

from __future__ import annotations

import json
from pathlib import Path

from trainlint.probe.record import RunRecord, json_safe
from trainlint.report.model import write_atomic


def write_metrics(record: RunRecord, path: Path) -> None:
    """One line per step the record holds (training loss, LR, and the evaluations at their steps),
    with the probe's keys."""
    rows: dict[int, dict] = {}
    for i, step in enumerate(record.steps):
        rows[step] = {"step": step, "train_loss": record.train_loss[i],
                      "lr": record.lr_series[i] if i < len(record.lr_series) else None}
    e = record.evals
    for j, step in enumerate(e.steps):
        rows.setdefault(step, {"step": step}).update(
            val_loss=e.val_loss[j] if j < len(e.val_loss) else None,
            val_metric=e.val_metric[j] if j < len(e.val_metric) else None)
    write_atomic(path, "".join(json.dumps(json_safe(rows[s])) + "\n" for s in sorted(rows)))
