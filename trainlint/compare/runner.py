"""Run every variant of a comparison as a full probe, in parallel processes, and rank the results.

Why variants travel as (spec path, `--set` expressions): a spawned process rebuilds everything
from the spec with the same seed, so each variant starts from the same initial weights and sees
the same data order (`build_components` builds in a fixed, seeded order), and nothing live or
unpicklable crosses the process boundary. A variant that crashes or cannot be built is reported
in its row; only a malformed variant (caught before anything runs) stops the comparison.

Why the default is adaptive: a spawned worker pays Python, torch and trainlint start-up again
(seconds), while a small probe takes under a second. Without `--jobs`, the first variant runs in
this process; the others go to up to one worker per core only when the time that saves exceeds
a worker's start-up (estimated by this process's own). `--jobs N` always uses N processes; every
variant runs with the same torch thread count either way (`plan_jobs`), so results are identical.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trainlint.compare.ranking import Recommendation, Row, VariantResult, rank_variants, recommend
from trainlint.compare.variants import Variant
from trainlint.compare.worker import RangeSettings, VariantTask, result_of, run_variant, warm_up
from trainlint.components.base import ComponentError
from trainlint.report.model import write_atomic
from trainlint.spec.errors import SpecError
from trainlint.spec.loader import LoadedSpec, load_spec
from trainlint.spec.validate import as_spec_error, check_names
from trainlint.workflow import ProbeOptions, check_rules, output_dir

DEFAULT_STARTUP_S = 5.0  # a worker's start-up when this process is too old to tell


@dataclass
class CompareOptions:
    out: Path | None = None
    jobs: int | None = None  # None: adaptive, up to one process per core (module docstring)
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
    jobs: int  # processes used
    threads: int
    execution: str  # how the variants ran, one line
    wall_seconds: float
    out_dir: Path
    config_path: str

    def to_json(self) -> dict[str, Any]:
        return _clean({
            "kind": self.kind, "metric_name": self.metric_name, "higher_is_better": self.higher_is_better,
            "config_path": self.config_path, "jobs": self.jobs, "threads_per_job": self.threads,
            "execution": self.execution,
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
    """Probe every variant (in parallel when `jobs` > 1), rank them, write `comparison.json`."""
    started = time.perf_counter()
    check_names(loaded)
    select, ignore = check_rules(loaded, ProbeOptions(select=options.select, ignore=options.ignore))
    validate(loaded, variants)
    _check_device(loaded)
    out_dir = output_dir(loaded, options.out)
    metric_name, higher = ("mae", False) if data_task(loaded) == "regression" else ("accuracy", True)
    results, used, threads, execution = run_variants(
        loaded, variants, out_dir / f"compare_{kind}", select, ignore, (metric_name, higher), options.jobs,
        options.tune_lr, options.on_done)
    rows = rank_variants(results)
    comparison = Comparison(kind, metric_name, higher, rows, recommend(rows, metric_name, higher), results,
                            used, threads, execution, time.perf_counter() - started, out_dir, str(loaded.path))
    write_atomic(out_dir / "comparison.json", json.dumps(comparison.to_json(), indent=2))
    return comparison


def run_variants(loaded: LoadedSpec, variants: list[Variant], folder: Path, select: list[str], ignore: list[str],
                 metric: tuple[str, bool], jobs: int | None = None, tune_lr: RangeSettings | None = None,
                 on_done: Callable[[VariantResult], None] | None = None,
                 ) -> tuple[list[VariantResult], int, int, str]:
    """Probe each variant (its outputs in `folder`/NN-label), in parallel when it pays (module docstring).

    Returns:
        The results in variant order, the processes used, the torch threads per variant, and how
        they ran (one line).
    """
    planned, threads = plan_jobs(jobs, len(variants))
    tasks = [VariantTask(i, v, str(loaded.path), list(loaded.overrides), str(variant_dir(folder, i, v.label)),
                         select, ignore, threads, metric, tune_lr)
             for i, v in enumerate(variants)]
    results, used, execution = _execute(tasks, jobs, planned, on_done)
    return results, used, threads, execution


def variant_dir(folder: Path, index: int, label: str) -> Path:
    """Where variant number `index` (0-based) writes its report: ``folder/NN-label``."""
    return folder / f"{index + 1:02d}-{_slug(label)}"


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)[:60].strip("_") or "variant"


def _execute(tasks: list[VariantTask], requested: int | None, jobs: int, on_done
             ) -> tuple[list[VariantResult], int, str]:
    """Results in task order, the number of processes used, and how they ran (module docstring)."""
    if jobs == 1:
        return _run_serial(tasks, on_done), 1, "in this process"
    if requested is not None:
        return _run_parallel(tasks, jobs, on_done), jobs, f"in {jobs} worker processes"
    first = _run_serial(tasks[:1], on_done)
    rest = tasks[1:]
    workers = min(jobs, len(rest))
    startup = _startup_seconds()
    saved = first[0].wall_seconds * len(rest) * (1 - 1 / workers)
    if saved <= startup:
        return first + _run_serial(rest, on_done, warm=False), 1, (
            f"in this process: a variant took {first[0].wall_seconds:.1f} s, so worker processes "
            f"(≈{startup:.0f} s to start) would not save time; --jobs N forces them")
    return first + _run_parallel(rest, workers, on_done), workers, (
        f"first variant in this process, the other {len(rest)} in {workers} worker processes")


def _startup_seconds() -> float:
    """How long this process took to get here: what a fresh worker pays before its first variant."""
    import psutil

    age = time.time() - psutil.Process().create_time()
    return age if 0 < age < 60 else DEFAULT_STARTUP_S


def _run_serial(tasks: list[VariantTask], on_done, warm: bool = True) -> list[VariantResult]:
    if warm:
        warm_up(tasks[0].spec_path, tasks[0].base_overrides)
    results = []
    for task in tasks:
        results.append(run_variant(task))
        if on_done is not None:
            on_done(results[-1])
    return results


def _run_parallel(tasks: list[VariantTask], jobs: int, on_done) -> list[VariantResult]:
    """Run `tasks` in `jobs` spawned processes; results in task order, whatever order they finish in."""
    results: dict[int, VariantResult] = {}
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=warm_up, initargs=(tasks[0].spec_path, tasks[0].base_overrides))
    try:
        futures = {pool.submit(run_variant, task): task for task in tasks}
        for future in as_completed(futures):
            task = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - the worker process died (killed, out of memory)
                result = result_of(task, status="failed",
                                   error=f"the worker process died: {type(exc).__name__}: {exc}")
            results[task.index] = result
            if on_done is not None:
                on_done(result)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return [results[task.index] for task in tasks]
