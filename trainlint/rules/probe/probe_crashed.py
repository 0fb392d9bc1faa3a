"""TL001 probe-crashed: the user's model, data or loss raised during the probe."""

from __future__ import annotations

import re
from collections.abc import Iterator

from trainlint.probe.record import CrashInfo, RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule

_MATMUL = re.compile(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)")
_BATCH = re.compile(r"Expected input batch_size \((\d+)\) to match target batch_size \((\d+)\)")
_TARGET_OOB = re.compile(r"Target (-?\d+) is out of bounds|index out of range|out of bounds")
_DTYPE = re.compile(r"expected scalar type (\w+) but found (\w+)|Found dtype (\w+) but expected (\w+)|"
                    r"result type (\w+) can't be cast to the desired output type (\w+)|"
                    r"not implemented for '(\w+)'", re.I)
_DEVICE = re.compile(r"Expected all tensors to be on the same device|device-side|on different devices", re.I)
_OOM = re.compile(r"out of memory|OutOfMemoryError|DefaultCPUAllocator: can't allocate", re.I)


def _where(crash: CrashInfo) -> str:
    f = crash.user_frame
    if not f:
        return f"during {crash.phase} at step {crash.step}"
    return f"in {f['function']}() at {f['file']}:{f['line']} (`{f['code']}`), during {crash.phase} at step {crash.step}"


def _shape(crash: CrashInfo, key: str) -> str:
    d = crash.shapes.get(key)
    return f"{tuple(d['shape'])} {d['dtype']} on {d['device']}" if d else "unknown"


def explain(crash: CrashInfo, record: RunRecord) -> tuple[str, list[Fix], str | None]:
    """(diagnosis, fixes, blamed spec key) for a captured exception."""
    text = f"{crash.exc_type}: {crash.message}"
    model_key = "model"
    if m := _MATMUL.search(text):
        got, expected = int(m.group(2)), int(m.group(3))
        return (f"a Linear layer expects {expected} input features but receives {got}",
                [Fix(f"make the layer's in_features {got} (the input has {got} features), or reshape the input")],
                model_key)
    if m := _BATCH.search(text):
        return (f"output batch {m.group(1)} ≠ target batch {m.group(2)}: the model reshapes away the batch "
                "dimension, or the targets are not one per sample",
                [Fix("keep the batch dimension first in forward (use x.flatten(1), not x.view(-1, ...))")], model_key)
    if _OOM.search(text):
        half = max(1, record.batch_size // 2)
        return ("out of memory", [Fix(f"halve the batch size to {half}", "dataset.batch_size", half),
                                  Fix("use a smaller model (fewer or narrower layers)")], "dataset.batch_size")
    if _TARGET_OOB.search(text) and record.task != "regression":
        lo, hi = record.data.target_min, record.data.target_max
        found = f"labels found in [{lo:g}, {hi:g}]" if lo is not None and hi is not None else "labels out of range"
        n = record.num_outputs or record.num_classes
        return (f"class labels do not fit the model's {n} outputs ({found})",
                [Fix("relabel classes as 0..C-1 (e.g. subtract 1 from 1-based labels)"),
                 Fix("give the model one output per class")], "dataset")
    if m := _DTYPE.search(text):
        target = _shape(crash, "target")
        return (f"dtype mismatch ({m.group(0)}); target is {target}",
                [Fix("class-index losses (cross_entropy, nll) need int64 targets; regression and BCE "
                     "losses need float targets shaped like the output: convert the targets in your dataset"),
                 Fix("or choose a loss that matches your targets", "loss.name")], "loss")
    if _DEVICE.search(text):
        return ("tensors on different devices",
                [Fix("create tensors inside forward with device=x.device; do not hard-code .cuda() or 'cpu'"),
                 Fix("run on one device", "device", "cpu")], "device")
    if "a scalar is expected" in text:
        return ("the loss is not a scalar",
                [Fix("reduce the loss to a scalar (reduction='mean'), or call .mean() on it", "loss.args.reduction", "mean")],
                "loss")
    return (f"{crash.exc_type} raised",
            [Fix(f"fix the error {_where(crash)}; rerun `trainlint check` for a one-batch reproduction")], None)


@rule(code="TL001", name="probe-crashed", severity=Severity.ERROR, stage=Stage.FIRST_BATCH)
def probe_crashed(run: RunRecord, t: Thresholds) -> Iterator[Finding]:
    """The user's model, data or loss raised an exception during the probe.

    ## What it checks
    Whether the probe caught an exception from user code (dataset `__getitem__`, model forward,
    loss, backward, optimizer step, evaluation), and what kind: shape mismatch, class labels out
    of range, dtype Long/Float mismatch, tensors on different devices, out of memory, a loss
    that is not a scalar.
    ## Why it matters
    The setup cannot train at all; the raw traceback rarely says which spec field or line is at fault.
    ## How to fix
    Follow the targeted fix; the evidence gives the user frame, the tensors' shapes and dtypes.
    ## Not flagged
    Nothing else: this rule has no thresholds; any crash is an error.
    """
    crash = run.crash
    if crash is None:
        return
    diagnosis, fixes, key = explain(crash, run)
    yield Finding(
        message=f"{diagnosis} — {crash.exc_type} {_where(crash)}",
        evidence={"exception": crash.exc_type, "error": crash.message[:500], "phase": crash.phase,
                  "user_frame": crash.user_frame, "tensors": crash.shapes},
        fixes=fixes, step=crash.step, config_key=key,
    )
