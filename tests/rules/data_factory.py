"""Fabricated RunRecords for the data rules (TL1xx) and TL201/TL206: no torch, built in microseconds.

Defaults describe a healthy run: standardised digits-like data (10 balanced classes, 64 features),
a built-in MLP emitting (64, 10) logits, cross-entropy at ln(10) on the first batch.
"""

from __future__ import annotations

import math
from typing import Any

from trainlint.probe.record import (
    CrashInfo,
    DataFacts,
    EvalSeries,
    FirstBatch,
    ModelFacts,
    RunRecord,
)

LN10 = math.log(10)


def data_facts(**overrides: Any) -> DataFacts:
    """Whole-split statistics of standardised, balanced 10-class data, with `overrides` applied."""
    base: dict[str, Any] = dict(
        n_train=1000, n_val=250, input_kind="tabular", input_shape=[64], class_counts={c: 100 for c in range(10)},
        target_min=0.0, target_max=9.0, feature_mean_abs_max=0.0, feature_std_min=1.0, feature_std_max=1.0,
        input_abs_max=4.0, n_features=64, samples_scanned=1000, is_builtin=True, feature_rms_max=1.0,
        feature_rms_min=1.0, feature_rms_argmax=0, target_is_integer_valued=True, n_target_values=10)
    return DataFacts(**(base | overrides))


def first_batch(**overrides: Any) -> FirstBatch:
    """First-batch facts of an MLP emitting (64, 10) logits at ln(10), with `overrides` applied."""
    base: dict[str, Any] = dict(
        input_shape=[64, 64], input_dtype="float32", target_shape=[64], target_dtype="int64",
        output_shape=[64, 10], output_dtype="float32", output_min=-0.4, output_max=0.4,
        output_rows_sum_to_one=False, output_is_log_prob=False, initial_loss=2.31, expected_initial_loss=LN10,
        output_sensitivity=0.77, loss_warnings=[])
    return FirstBatch(**(base | overrides))


def data_run(*, task: str = "multiclass", loss: str = "CrossEntropyLoss", num_outputs: int | None = 10,
             data: dict[str, Any] | None = None, fb: dict[str, Any] | None = None, no_first_batch: bool = False,
             last_module: str = "Linear", model_builtin: bool = True, eval_sensitivity: list[float] | None = None,
             crash: CrashInfo | None = None, lr: float = 1e-3) -> RunRecord:
    """A run with the given data facts, first batch, model end and (optionally) evaluation sensitivities."""
    evals = EvalSeries()
    if eval_sensitivity:
        evals.steps = [25 * (i + 1) - 1 for i in range(len(eval_sensitivity))]
        evals.output_sensitivity = list(eval_sensitivity)
        evals.val_loss = evals.train_loss = [1.0] * len(eval_sensitivity)
    return RunRecord(
        task=task, num_classes=num_outputs if task != "regression" else None, num_outputs=num_outputs,
        loss_class=loss, lr=lr, data=data_facts(**(data or {})),
        first_batch=None if no_first_batch else first_batch(**(fb or {})),
        model=ModelFacts(class_name="MLP", last_module=last_module, is_builtin=model_builtin),
        evals=evals, crash=crash, stop_reason="crashed" if crash else "completed",
        steps=list(range(100)), train_loss=[1.0] * 100)


def crash(message: str = "Target 10 is out of bounds.", phase: str = "loss") -> CrashInfo:
    """A crash of the user's loss at step 0."""
    return CrashInfo(phase=phase, step=0, exc_type="IndexError", message=message)
