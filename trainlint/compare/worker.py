"""One compare variant, run wherever an executor puts it: load the edited spec, optionally tune its LR, probe it.

Everything here takes and returns plain, picklable data (`VariantTask` → `VariantResult`), because
it runs in processes started with "spawn" or in Ray workers: the spec is re-read from its path, and
each variant is built fresh from the spec's seed, so all variants start from the same weights and
data order, on whichever machine.
"""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from trainlint.compare.pruning import PruneHook, describe
from trainlint.compare.ranking import VariantResult
from trainlint.compare.variants import Variant
from trainlint.components.base import ComponentError
from trainlint.spec.errors import SpecError
from trainlint.spec.loader import LoadedSpec, load_spec
from trainlint.spec.validate import as_spec_error
from trainlint.workflow import ProbeOptions


@dataclass
class RangeSettings:
    """The LR range test each optimizer gets with `--tune-lr`."""

    start_lr: float = 1e-7
    end_lr: float = 10.0
    num_steps: int = 100


@dataclass
class VariantTask:
    """Everything a worker needs, picklable: the spec is re-read from its path."""

    index: int
    variant: Variant
    spec_path: str
    base_overrides: list[str]
    out_dir: str
    select: list[str]
    ignore: list[str]
    threads: int
    metric: tuple[str, bool] = ("accuracy", True)  # name, higher is better
    tune_lr: RangeSettings | None = None
    prune: PruneHook | None = None  # --prune: asked after each evaluation whether to stop


def warm_up(spec_path: str, overrides: list[str]) -> None:
    """Pay one-time costs (imports, the dataset's first load, torch's lazy modules) before any variant
    is timed, so the first variant of each process does not look slower than the others."""
    import torch

    from trainlint.components.datasets import build_dataset
    from trainlint.probe import loop  # noqa: F401
    from trainlint.rules.catalog import all_rules

    all_rules()
    with contextlib.suppress(Exception):  # a spec that cannot build is reported in each variant's row
        loaded = load_spec(spec_path, overrides)
        build_dataset(loaded.spec.dataset, loaded.spec.seed, loaded.base_dir)
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 2)).sum().backward()
    optimizer.step()


def result_of(task: VariantTask, **kwargs) -> VariantResult:
    v = task.variant
    return VariantResult(v.label, dict(v.edits), list(v.notes), v.is_current, metric_name=task.metric[0],
                         higher_is_better=task.metric[1], **kwargs)


def run_variant(task: VariantTask) -> VariantResult:
    """Probe one variant (optionally after its own LR range test). Runs in a worker process."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(task.threads)
    started = time.perf_counter()
    result = result_of(task)
    result.placement = {"node": socket.gethostname()}
    try:
        overrides = [*task.base_overrides, *task.variant.overrides]
        loaded = load_spec(task.spec_path, overrides)
        if task.tune_lr is not None:
            loaded = _tune_lr(loaded, overrides, task.tune_lr, result)
        _probe(loaded, task, result)
    except SpecError as exc:  # the variant's spec cannot be built (e.g. a bad loss argument)
        result.status, result.error = "failed", f"could not build: {exc}"
    except Exception as exc:  # noqa: BLE001 - a trainlint bug must not end the comparison
        result.status, result.error = "failed", f"trainlint failed: {type(exc).__name__}: {exc}"
    finally:
        torch.set_num_threads(previous)
    result.wall_seconds = time.perf_counter() - started
    return result


def _tune_lr(loaded: LoadedSpec, overrides: list[str], settings: RangeSettings,
             result: VariantResult) -> LoadedSpec:
    """Run the variant's own range test and use its suggestion as `optimizer.lr` when there is one."""
    from trainlint.analysis.lr_suggest import suggest_lr
    from trainlint.probe.range_test import run_range_test

    try:
        test = run_range_test(loaded, settings.start_lr, settings.end_lr, settings.num_steps)
    except ComponentError as exc:
        raise as_spec_error(loaded, exc) from None
    before = loaded.spec.optimizer.lr
    if test.crash is not None:
        reason = f"the range test crashed ({test.crash.exc_type}: {test.crash.message[:120]})"
        suggestion = None
    else:
        verdict = suggest_lr(test.lrs, test.losses)
        suggestion, reason = verdict.lr, verdict.reason
    result.tuning = {"suggested_lr": suggestion, "reason": reason, "previous_lr": before}
    if suggestion is None:
        result.notes.append(f"--tune-lr: no suggestion ({reason}); kept lr {before:g}")
        return loaded
    result.notes = [n for n in result.notes if not n.startswith("lr ")]  # how the untuned LR was chosen
    result.notes.append(f"--tune-lr: lr {suggestion:g} from its own range test (was {before:g})")
    result.edits["optimizer.lr"] = suggestion
    return load_spec(loaded.path, [*overrides, f"optimizer.lr={suggestion!r}"])


def _probe(loaded: LoadedSpec, task: VariantTask, result: VariantResult) -> None:
    from trainlint.workflow import probe

    result.lr = loaded.spec.optimizer.lr
    hook = {"on_eval": task.prune} if task.prune is not None else {}  # asked after each evaluation
    outcome = probe(loaded, ProbeOptions(out=Path(task.out_dir), select=task.select, ignore=task.ignore,
                                         plots=False, **hook))
    record = outcome.record
    result.status = record.stop_reason
    result.placement["device"] = outcome.report.environment.device
    if task.prune is not None and task.prune.stopped_at is not None:
        result.status, result.pruned = "pruned", task.prune.stopped_at
        result.error = describe(task.prune.stopped_at, task.metric[0], task.prune.rule)
    elif record.crash is not None:
        c = record.crash
        result.error = f"{c.exc_type} in {c.phase} at step {c.step}: {c.message.splitlines()[0][:200]}"
    elif record.stop_reason == "non_finite_loss":
        result.error = f"the loss became non-finite at step {record.steps[-1] if record.steps else 0}"
    result.steps, result.train_loss = list(record.steps), list(record.train_loss)
    result.eval_steps, result.val_metric = list(record.evals.steps), list(record.evals.val_metric)
    result.findings = [{"code": f.code, "rule": f.rule, "severity": f.severity.value, "message": f.message}
                       for f in outcome.report.findings if f.severity.value in ("warning", "error")]
