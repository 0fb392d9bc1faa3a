"""Where compare variants run: this machine (`local`) or a Ray cluster (`ray`), behind one interface.

Every command that runs several probes (compare-*, `--tune-lr`, `--verify-fixes`, `fix`) reaches
its executor through `compare.runner.run_variants`, so each gets both. An executor takes picklable
`VariantTask`s and returns one `VariantResult` per task, in task order, whatever happened to it:

- a variant whose worker process dies (killed, out of memory) or whose node goes away is run once
  more, then reported in its row as failed with the reason; the other variants' results stand;
- after Ctrl-C (`trainlint.probe.interrupt`), no further variant starts; running ones stop after
  their current step (locally) or are cancelled (on Ray), and their rows say "interrupted", so the
  caller can still rank and write what finished.

Why the local default is adaptive: a spawned worker pays Python, torch and trainlint start-up
again (seconds), while a small probe takes under a second. Without `--jobs`, the first variant
runs in this process; the others go to up to one worker per core only when the time that saves
exceeds a worker's start-up (estimated by this process's own). `--jobs N` always uses N
processes; every variant runs with the same torch thread count either way (`runner.plan_jobs`),
so results are identical, and identical again on Ray, which gets the same thread count.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.managers import BaseManager
from typing import Protocol

from trainlint.compare.pruning import AshaDecider, PruneHook, PruneRule
from trainlint.compare.ranking import VariantResult
from trainlint.compare.worker import VariantTask, result_of, run_variant, warm_up
from trainlint.probe import interrupt
from trainlint.spec.errors import SpecError

DEFAULT_STARTUP_S = 5.0  # a worker's start-up when this process is too old to tell
POLL_S = 0.25  # how often a wait for results looks at the Ctrl-C flag
EXECUTORS = ("local", "ray")

OnDone = Callable[[VariantResult], None] | None


@dataclass
class ExecutorSettings:
    """How the command line asked for its variants to run (`--executor` and friends)."""

    kind: str = "local"  # local | ray
    jobs: int | None = None  # local: processes (None: adaptive, module docstring)
    ray_address: str | None = None  # ray: None starts a local instance; "auto" or HOST:PORT joins one
    cpus_per_variant: float | None = None  # ray: None reserves the variant's torch threads
    gpus_per_variant: float = 0.0
    prune: bool = False


@dataclass
class Execution:
    """What an executor did: the results in task order and how they ran."""

    results: list[VariantResult]
    jobs: int  # processes (local) or variants at once the cluster could hold (ray)
    description: str  # one line, for the terminal and comparison.json
    interrupted: bool = False
    startup_seconds: float | None = None  # ray: starting or joining the cluster
    threads: int = 1  # torch threads per variant (set by the runner)


class Executor(Protocol):
    name: str

    def run(self, tasks: list[VariantTask], planned_jobs: int, on_done: OnDone,
            prune: PruneRule | None) -> Execution: ...


def make_executor(settings: ExecutorSettings) -> Executor:
    if settings.kind == "ray":
        from trainlint.compare.ray_executor import RayExecutor

        return RayExecutor(settings)
    if settings.kind != "local":
        raise SpecError(f"unknown executor `{settings.kind}`", field="--executor", accepted=", ".join(EXECUTORS))
    return LocalExecutor(settings.jobs)


def interrupted_result(task: VariantTask, why: str = "not run: interrupted (Ctrl-C)") -> VariantResult:
    return result_of(task, status="interrupted", error=why)


def with_hooks(tasks: list[VariantTask], decider, rule: PruneRule | None) -> list[VariantTask]:
    """The tasks, each with its own `PruneHook` on the shared `decider` (unchanged without `rule`)."""
    if rule is None:
        return tasks
    return [dataclasses.replace(t, prune=PruneHook(decider, t.index, rule)) for t in tasks]


class LocalExecutor:
    """This process, or a pool of spawned worker processes on this machine (module docstring)."""

    name = "local"

    def __init__(self, requested_jobs: int | None):
        self.requested = requested_jobs

    def run(self, tasks: list[VariantTask], planned_jobs: int, on_done: OnDone,
            prune: PruneRule | None) -> Execution:
        manager = None
        if prune is not None:
            decider, manager = _local_decider(prune, shared=planned_jobs > 1)
            tasks = with_hooks(tasks, decider, prune)
        try:
            execution = self._run(tasks, planned_jobs, on_done)
        finally:
            if manager is not None:
                manager.shutdown()
        execution.interrupted = interrupt.requested()
        for result in execution.results:
            result.placement = {"executor": self.name, **result.placement}
        return execution

    def _run(self, tasks: list[VariantTask], jobs: int, on_done: OnDone) -> Execution:
        if jobs == 1:
            return Execution(_run_serial(tasks, on_done), 1, "in this process")
        if self.requested is not None:
            return Execution(_run_parallel(tasks, jobs, on_done), jobs, f"in {jobs} worker processes")
        first = _run_serial(tasks[:1], on_done)
        rest = tasks[1:]
        workers = min(jobs, len(rest))
        startup = _startup_seconds()
        saved = first[0].wall_seconds * len(rest) * (1 - 1 / workers)
        if saved <= startup:
            return Execution(first + _run_serial(rest, on_done, warm=False), 1, (
                f"in this process: a variant took {first[0].wall_seconds:.1f} s, so worker processes "
                f"(≈{startup:.0f} s to start) would not save time; --jobs N forces them"))
        return Execution(first + _run_parallel(rest, workers, on_done), workers,
                         f"first variant in this process, the other {len(rest)} in {workers} worker processes")


class _DeciderManager(BaseManager):
    """Holds the one ASHA decider of a sweep that worker processes share (through proxies)."""


_DeciderManager.register("AshaDecider", AshaDecider)


def _local_decider(rule: PruneRule, shared: bool):
    """The sweep's ASHA decider: here, or in a manager process that worker processes reach by proxy."""
    if not shared:
        return AshaDecider(rule), None
    manager = _DeciderManager(ctx=multiprocessing.get_context("spawn"))
    manager.start()
    return manager.AshaDecider(rule), manager


def _startup_seconds() -> float:
    """How long this process took to get here: what a fresh worker pays before its first variant."""
    import psutil

    age = time.time() - psutil.Process().create_time()
    return age if 0 < age < 60 else DEFAULT_STARTUP_S


def _run_serial(tasks: list[VariantTask], on_done: OnDone, warm: bool = True) -> list[VariantResult]:
    if warm and tasks:
        warm_up(tasks[0].spec_path, tasks[0].base_overrides)
    results = []
    for task in tasks:
        results.append(interrupted_result(task) if interrupt.requested() else run_variant(task))
        if on_done is not None:
            on_done(results[-1])
    return results


_started = None  # in a pool worker: the queue that tells the parent which variants began


def _worker_init(spec_path: str, overrides: list[str], threads: int, started) -> None:
    """A pool worker: Ctrl-C (which the terminal sends to the whole process group) stops its probe
    after the current step, as in the main process, instead of killing the worker.

    Why the threads are set before the warm-up: a worker left at PyTorch's default (one thread per
    core) starts an OpenMP team whose idle threads spin on the cores the other workers need; two
    workers on two cores ran their probes 1.6x slower that way.
    """
    import torch

    global _started
    _started = started
    signal.signal(signal.SIGINT, lambda signum, frame: interrupt.request())
    torch.set_num_threads(threads)
    warm_up(spec_path, overrides)


def _run_in_pool(task: VariantTask) -> VariantResult:
    _started.put((task.index, os.getpid()))  # before anything that could kill the process
    return run_variant(task)


def _run_parallel(tasks: list[VariantTask], jobs: int, on_done: OnDone) -> list[VariantResult]:
    """Run `tasks` in `jobs` spawned processes; results in task order, whatever order they finish in.

    A worker that dies breaks the whole pool, and every variant not finished by then is lost with
    it. A try is counted only for a variant whose own worker died (`_pool_round`): the others, queued
    or stopped by the pool beside it, simply run again. Later rounds run in a fresh one-process pool,
    so a variant that kills its worker again takes at most the queued ones, which run again, with it.
    A variant whose worker died twice gets a failed row.
    """
    results: dict[int, VariantResult] = {}
    deaths: dict[int, str] = {}
    tries: dict[int, int] = dict.fromkeys((t.index for t in tasks), 0)
    todo, workers = list(tasks), jobs
    for _ in range(len(tasks) + 2):  # each round after the first finishes or fails at least one variant
        if not todo or interrupt.requested():
            break
        lost = _pool_round(todo, workers, results, on_done, deaths, tries)
        todo, workers = [t for t in lost if tries[t.index] < 2], 1
    for task in tasks:
        if task.index not in results:
            why = deaths.get(task.index)
            results[task.index] = (result_of(task, status="failed", error=f"the worker process died, also when "
                                             f"retried once: {why}") if why else interrupted_result(task))
            if on_done is not None:
                on_done(results[task.index])
    return [results[task.index] for task in tasks]


def _pool_round(tasks: list[VariantTask], jobs: int, results: dict[int, VariantResult], on_done: OnDone,
                deaths: dict[int, str], tries: dict[int, int]) -> list[VariantTask]:
    """One pool over `tasks`, filling `results` (and telling `on_done`); returns the tasks lost to a dead
    worker, whose reason goes to `deaths`; `tries` counts the variants that began."""
    context = multiprocessing.get_context("spawn")
    started = context.SimpleQueue()
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context, initializer=_worker_init,
                               initargs=(tasks[0].spec_path, tasks[0].base_overrides, tasks[0].threads, started))
    # Why the pool's own process table: when a worker dies, the pool stops the others (SIGTERM), and
    # only their exit codes tell the variant that died from those stopped beside it. The dict is
    # filled as workers start and kept through a breakdown; `shutdown` only drops the reference.
    processes = getattr(pool, "_processes", None)
    lost: list[VariantTask] = []
    try:
        futures: dict[Future, VariantTask] = {pool.submit(_run_in_pool, task): task for task in tasks}
        pending = set(futures)
        while pending:
            if interrupt.requested():
                for future in pending:
                    future.cancel()  # not started yet; running ones stop after their current step
            done, pending = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
            for future in done:
                task = futures[future]
                if future.cancelled():
                    continue
                try:
                    results[task.index] = future.result()
                except (BrokenProcessPool, OSError) as exc:  # the worker process died (killed, out of memory)
                    deaths[task.index] = f"{type(exc).__name__}: {exc}"
                    lost.append(task)
                    continue
                if on_done is not None:
                    on_done(results[task.index])
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    died = {pid for pid, process in (processes or {}).items() if process.exitcode not in (0, -signal.SIGTERM)}
    while not started.empty():
        index, pid = started.get()
        if processes is None or pid in died:  # without the table, every start counts
            tries[index] += 1
    return lost
