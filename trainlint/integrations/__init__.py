"""Callbacks that lint a Lightning or Hugging Face `Trainer` run, and the helpers they share.

    from trainlint.integrations.lightning import TrainlintCallback      # pip install "trainlint[lightning]"
    from trainlint.integrations.transformers import TrainlintCallback   # pip install "trainlint[hf]"

Each callback is a thin driver of `trainlint.watch`: it creates the Watch when training starts,
feeds it the framework's losses, batches and validation metrics, and closes it when training
ends, so the record, rules, report and plots are the plain loop's own. The framework is imported
by its callback's module only: `import trainlint` never needs Lightning or transformers.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

# Names of a validation metric's prefix (`val_loss`, `val/accuracy`, `eval_f1`), for `eval_metrics`.
LIGHTNING_PREFIXES = ("val", "valid", "validation")
HF_PREFIXES = ("eval",)
_HF_TIMINGS = ("runtime", "samples_per_second", "steps_per_second", "model_preparation_time")


def require(modules: tuple[str, ...], extra: str) -> ModuleType:
    """The first of `modules` that imports; else an ImportError that names the extra to install."""
    for name in modules:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError(f"this trainlint callback needs {' or '.join(f'`{m}`' for m in modules)}, which is not "
                      f'installed: pip install "trainlint[{extra}]"')


def check_options(options: dict[str, Any]) -> None:
    """Fail when the callback is made, not when training starts, on an option `trainlint.watch` lacks.

    Raises:
        TypeError: an unknown option (or model, optimizer, scheduler: the callback finds them itself).
    """
    from trainlint.api import watch

    allowed = [p for p in inspect.signature(watch).parameters if p not in ("model", "optimizer", "out", "scheduler")]
    for key in options:
        if key not in allowed:
            raise TypeError(f"TrainlintCallback() got an unexpected option {key!r}; it takes out and "
                            f"trainlint.watch's options: {', '.join(allowed)}")


def caller(depth: int = 2) -> str:
    """`file:line` of the user's code `depth` frames up: where the report points its findings.

    Why: a callback creates its Watch from inside the framework, so `watch()`'s own guess (its
    caller) would name this package; the line that made the callback is the one the user wrote.
    """
    frame = sys._getframe(depth)
    path = Path(frame.f_code.co_filename)
    try:
        shown = path.resolve().relative_to(Path.cwd())
    except ValueError:
        shown = path
    return f"{shown}:{frame.f_lineno}"


def inputs_and_targets(batch: Any) -> tuple[Any, Any]:
    """A batch's first input tensor and its target, as `Watch.log` takes them; (None, None) for a
    batch trainlint cannot read (the data checks are then listed as not evaluated)."""
    from trainlint.probe.adapters import AdapterError, split_batch

    try:
        parts = split_batch(batch)
    except AdapterError:
        return None, None
    return parts.primary, parts.target


def eval_metrics(logged: dict[str, Any], prefixes: tuple[str, ...]) -> dict[str, Any]:
    """The validation loss and one validation metric among what a framework logged, as
    `Watch.log_eval` keywords: `{"val_loss": ..., "val_accuracy": ...}`.

    Keys count when they start with one of `prefixes` and a separator (`val_loss`, `val/acc`,
    `eval_accuracy`); Lightning's `_step` copies are skipped and `_epoch` ones read as the metric.
    Of several metrics the accuracy is kept, else the first logged: the report follows one.
    """
    pattern = re.compile(rf"^(?:{'|'.join(prefixes)})[_/.\-](.+?)(?:_epoch)?$")
    loss, metrics = None, {}
    for key, value in logged.items():
        match = pattern.match(key)
        if match is None or key.endswith("_step") or not _is_number(value):
            continue
        name = re.sub(r"\W+", "_", match.group(1)).strip("_").lower()
        if name in _HF_TIMINGS or name == "epoch":
            continue
        if name == "loss":
            loss = value
        elif "loss" not in name:
            metrics.setdefault("accuracy" if name == "acc" else name, value)
    found = {} if loss is None else {"val_loss": loss}
    if metrics:
        name = "accuracy" if "accuracy" in metrics else next(iter(metrics))
        found[f"val_{name}"] = metrics[name]
    return found


def _is_number(value: Any) -> bool:
    numel = getattr(value, "numel", None)
    return numel() == 1 if callable(numel) else isinstance(value, int | float) and not isinstance(value, bool)
