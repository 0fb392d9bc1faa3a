"""Run every variant of a comparison as a full probe, through an executor, and rank the results.

Why variants travel as (spec path, `--set` expressions): a spawned process or a Ray worker rebuilds
everything from the spec with the same seed, so each variant starts from the same initial weights
and sees the same data order (`build_components` builds in a fixed, seeded order), and nothing
live or unpicklable crosses the process boundary. A variant that crashes, cannot be built or loses
its worker is reported in its row; only a malformed variant (caught before anything runs) stops
the comparison. Where variants run (this process, worker processes, Ray) is the executor's
business (`compare.executors`); every command that runs several probes comes through
`run_variants`, so each gets every executor.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trainlint.compare.executors import Execution, ExecutorSettings, make_executor
from trainlint.compare.pruning import PruneRule
from trainlint.compare.ranking import Recommendation, Row, VariantResult, rank_variants, recommend
from trainlint.compare.variants import Variant
from trainlint.compare.worker import RangeSettings, VariantTask
from trainlint.components.base import ComponentError
from trainlint.report.model import write_atomic
from trainlint.spec.errors import SpecError
from trainlint.spec.loader import LoadedSpec, load_spec
from trainlint.spec.validate import as_spec_error, check_names
from trainlint.workflow import ProbeOptions, check_rules, output_dir


@dataclass
class CompareOptions:
    out: Path | None = None
    execution: ExecutorSettings = field(default_factory=ExecutorSettings)  # where and how many at once
    tune_lr: RangeSettings | None = None
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    on_done: Callable[[VariantResult], None] | None = None


@dataclass
class Comparison:
    kind: str  # losses | optimizers
    metric_name: str
    higher_is_better: bool
    rows: list[Row]  # rank order
    recommendation: Recommendation
    results: list[VariantResult]  # variant order, with the series for the plots
    jobs: int  # processes used (local), variants at once (ray)
    threads: int
    execution: str  # how the variants ran, one line
    wall_seconds: float
    out_dir: Path
    config_path: str
    executor: str = "local"
    executor_startup_seconds: float | None = None  # ray: starting or joining the cluster
    interrupted: bool = False  # Ctrl-C: the rows of variants that did not finish say "interrupted"

    def to_json(self) -> dict[str, Any]:
        startup = self.executor_startup_seconds
        return _clean({
            "kind": self.kind, "metric_name": self.metric_name, "higher_is_better": self.higher_is_better,
            "config_path": self.config_path, "executor": self.executor, "jobs": self.jobs,
            "threads_per_job": self.threads, "execution": self.execution,
            "executor_startup_seconds": None if startup is None else round(startup, 3),
            "interrupted": self.interrupted,
            "wall_seconds": round(self.wall_seconds, 3),
            "variants": [asdict(row) for row in self.rows],
            "recommendation": asdict(self.recommendation),
        })


def _clean(value: Any) -> Any:
    """JSON-safe: non-finite floats become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def plan_jobs(requested: int | None, n_variants: int) -> tuple[int, int]:
    """(processes, torch threads per variant), processes × threads ≤ available cores.

    Why threads do not follow `--jobs`: CPU kernels may split reductions by thread count, which
    changes the last bits of the losses. Threads are set from the cores and the default number of
    processes, so `--jobs 1` and `--jobs N` run every variant with the same threads, bit for bit.
    """
    cores = available_cores()
    default = max(1, min(cores, n_variants))
    jobs = max(1, min(requested or default, n_variants))
    return jobs, max(1, cores // max(jobs, default))


def data_task(loaded: LoadedSpec) -> str:
    """The task (multiclass | binary | regression): from the spec, else from the built dataset."""
    if loaded.spec.dataset.task is not None:
        return loaded.spec.dataset.task
    from trainlint.components import losses
    from trainlint.components.datasets import build_dataset

    spec = loaded.spec
    loss_class = losses.lookup(spec.loss.name) if spec.loss.name else None  # 0/1 floats under BCE are binary
    try:
        return build_dataset(spec.dataset, spec.seed, loaded.base_dir,
                             loss_class.__name__ if loss_class else None).info.task
    except ComponentError as exc:
        raise as_spec_error(loaded, exc) from None


def validate(loaded: LoadedSpec, variants: list[Variant]) -> None:
    """Each variant's edited spec must load and name known components (exit 2 before anything runs)."""
    for variant in variants:
        try:
            check_names(load_spec(loaded.path, [*loaded.overrides, *variant.overrides]))
        except SpecError as exc:
            raise SpecError(f"variant `{variant.label}`: {exc.message}", path=exc.path, line=exc.line,
                            col=exc.col, field=exc.field, accepted=exc.accepted,
                            suggestions=exc.suggestions, origin=exc.origin) from None


def _check_device(loaded: LoadedSpec) -> None:
    """An unavailable device fails every variant alike: say so once, as a spec error (exit 2)."""
    from trainlint.components.build import resolve_device

    try:
        resolve_device(loaded.spec.device)
    except ComponentError as exc:
        raise as_spec_error(loaded, exc) from None


def run_comparison(loaded: LoadedSpec, variants: list[Variant], kind: str, options: CompareOptions) -> Comparison:
    """Probe every variant (where `options.execution` says), rank them, write `comparison.json`.

    After Ctrl-C, the variants that finished are ranked and written as usual (`interrupted` is set).
    """
    started = time.perf_counter()
    check_names(loaded)
    select, ignore = check_rules(loaded, ProbeOptions(select=options.select, ignore=options.ignore))
    validate(loaded, variants)
    _check_device(loaded)
    out_dir = output_dir(loaded, options.out)
    metric_name, higher = ("mae", False) if data_task(loaded) == "regression" else ("accuracy", True)
    done = run_variants(loaded, variants, out_dir / f"compare_{kind}", select, ignore, (metric_name, higher),
                        options.execution, options.tune_lr, options.on_done)
    rows = rank_variants(done.results)
    comparison = Comparison(kind, metric_name, higher, rows, recommend(rows, metric_name, higher), done.results,
                            done.jobs, done.threads, done.description, time.perf_counter() - started, out_dir,
                            str(loaded.path), options.execution.kind, done.startup_seconds, done.interrupted)
    write_atomic(out_dir / "comparison.json", json.dumps(comparison.to_json(), indent=2))
    return comparison


def run_variants(loaded: LoadedSpec, variants: list[Variant], folder: Path, select: list[str], ignore: list[str],
                 metric: tuple[str, bool], execution: ExecutorSettings | None = None,
                 tune_lr: RangeSettings | None = None, on_done: Callable[[VariantResult], None] | None = None,
                 ) -> Execution:
    """Probe each variant (its outputs in `folder`/NN-label) on the executor `execution` names.

    Returns:
        The results in variant order, with how they ran (`Execution`).
    """
    settings = execution or ExecutorSettings()
    planned, threads = plan_jobs(settings.jobs, len(variants))
    tasks = [VariantTask(i, v, str(loaded.path), list(loaded.overrides), str(variant_dir(folder, i, v.label)),
                         select, ignore, threads, metric, tune_lr)
             for i, v in enumerate(variants)]
    prune = PruneRule(loaded.spec.probe.steps, metric[1]) if settings.prune else None
    done = make_executor(settings).run(tasks, planned, on_done, prune)
    done.threads = threads
    return done


def variant_dir(folder: Path, index: int, label: str) -> Path:
    """Where variant number `index` (0-based) writes its report: ``folder/NN-label``."""
    return folder / f"{index + 1:02d}-{_slug(label)}"


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)[:60].strip("_") or "variant"
