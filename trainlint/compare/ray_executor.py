"""`--executor ray`: each variant is a Ray task; Ray places it, retries it once if its worker dies.

Why plain tasks: a variant is already a picklable function call (`run_variant(VariantTask)`), so
Ray only has to place it (`num_cpus`, `num_gpus`) and keep it alive (`max_retries=1` reruns a task
whose worker process or node died; a Python error inside trainlint is caught by `run_variant` and
is not retried). The task re-reads the spec from its path and sets the same torch thread count as
a local worker (`runner.plan_jobs`), so a variant gives the same numbers on Ray as locally.

What the cluster must provide: trainlint (and the user's `target:` modules' own imports) installed
on every node, and the spec, its data files and `--out` on a path every node sees as this machine
does (a shared filesystem, or the local instance that `--executor ray` starts by default).

Ray is imported only here, and only when this executor runs (`pip install "trainlint[ray]"`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from typing import Any

from trainlint.compare.executors import (
    POLL_S,
    Execution,
    ExecutorSettings,
    OnDone,
    interrupted_result,
    with_hooks,
)
from trainlint.compare.pruning import AshaDecider, PruneRule
from trainlint.compare.ranking import VariantResult
from trainlint.compare.worker import VariantTask, result_of, run_variant, warm_up
from trainlint.probe import interrupt
from trainlint.spec.errors import SpecError

INSTALL = 'pip install "trainlint[ray]" (in a checkout: pip install -e ".[ray]")'
_warm: set[tuple[str, tuple[str, ...]]] = set()  # per Ray worker process: specs already warmed up


def import_ray():
    """The `ray` module, or a usage error (exit 2) that says how to install it."""
    try:
        import ray
    except ImportError:
        raise SpecError("`ray` is not installed", field="--executor",
                        accepted=f"local, or ray after {INSTALL}") from None
    return ray


def connect(settings: ExecutorSettings) -> tuple[Any, float | None]:
    """Start a local Ray instance or join a cluster (once per process); (ray, seconds it took or None)."""
    ray = import_ray()
    if ray.is_initialized():
        return ray, None
    started = time.perf_counter()
    try:
        ray.init(address=settings.ray_address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise SpecError(f"could not reach a Ray cluster at `{settings.ray_address}`: {exc}", field="--ray-address",
                        accepted="empty (start a local instance), auto (the cluster this machine belongs to) "
                        "or HOST:PORT of a running cluster's head") from None
    return ray, time.perf_counter() - started


def _check_resources(ray, cpus: float, gpus: float) -> int:
    """How many variants the cluster can run at once; a usage error when it cannot run even one."""
    total = ray.cluster_resources()
    have_cpus, have_gpus = total.get("CPU", 0.0), total.get("GPU", 0.0)
    if gpus > have_gpus:
        raise SpecError(f"each variant asks for {gpus:g} GPU(s) but the Ray cluster has {have_gpus:g}",
                        field="--gpus-per-variant", accepted=f"a number of GPUs up to {have_gpus:g}")
    if cpus > have_cpus:
        raise SpecError(f"each variant asks for {cpus:g} CPU(s) but the Ray cluster has {have_cpus:g}",
                        field="--cpus-per-variant", accepted=f"a number of CPUs up to {have_cpus:g}")
    fits = [have_cpus / cpus if cpus else float("inf"), have_gpus / gpus if gpus else float("inf")]
    return max(1, int(min(fits)))


def run_on_ray(task: VariantTask) -> VariantResult:
    """A variant inside a Ray worker: warmed up once per worker process and spec, then probed."""
    import ray

    key = (task.spec_path, tuple(task.base_overrides))
    if key not in _warm:
        warm_up(task.spec_path, task.base_overrides)
        _warm.add(key)
    result = run_variant(task)
    context = ray.get_runtime_context()
    result.placement.update(node_ip=ray.util.get_node_ip_address(), node_id=context.get_node_id()[:12],
                            worker_pid=os.getpid())
    return result


class RayExecutor:
    name = "ray"

    def __init__(self, settings: ExecutorSettings):
        self.settings = settings

    def run(self, tasks: list[VariantTask], planned_jobs: int, on_done: OnDone,
            prune: PruneRule | None) -> Execution:
        ray, startup = connect(self.settings)
        cpus = self.settings.cpus_per_variant or float(tasks[0].threads)
        gpus = self.settings.gpus_per_variant
        at_once = _check_resources(ray, cpus, gpus)
        if prune is not None:
            decider = _RemoteDecider(ray.remote(num_cpus=0)(AshaDecider).remote(prune))
            tasks = with_hooks(tasks, decider, prune)
        remote = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=1)(run_on_ray)
        refs = {remote.options(name=f"trainlint:{t.variant.label}"[:120]).remote(_absolute(t)): t for t in tasks}
        results = self._collect(ray, refs, on_done)
        nodes = len({r.placement["node_id"] for r in results if "node_id" in r.placement})
        started = "" if startup is None else f"; Ray started or joined in {startup:.1f} s"
        where = f"on {nodes} node(s)" if nodes else "on Ray"
        description = (f"as Ray tasks {where} ({cpus:g} CPU{'s' if cpus != 1 else ''}"
                       + (f", {gpus:g} GPU" if gpus else "") + f" each, up to {min(at_once, len(tasks))} at once"
                       + started + ")")
        return Execution(results, min(at_once, len(tasks)), description, interrupt.requested(), startup)

    def _collect(self, ray, refs: dict, on_done: OnDone) -> list[VariantResult]:
        """Results in task order as they arrive; Ctrl-C cancels the tasks still outstanding."""
        results: dict[int, VariantResult] = {}
        pending = list(refs)
        while pending:
            if interrupt.requested():
                for ref in pending:
                    ray.cancel(ref)
                for ref in pending:
                    results[refs[ref].index] = interrupted_result(refs[ref], "cancelled by Ctrl-C before it finished")
                break
            done, pending = ray.wait(pending, num_returns=1, timeout=POLL_S)
            for ref in done:
                task = refs[ref]
                results[task.index] = self._result(ray, ref, task)
                if on_done is not None:
                    on_done(results[task.index])
        ordered = [results[t.index] for t in refs.values()]
        for result in ordered:
            result.placement = {"executor": self.name, **result.placement}
        return ordered

    @staticmethod
    def _result(ray, ref, task: VariantTask) -> VariantResult:
        from ray import exceptions as rx

        try:
            return ray.get(ref)
        except rx.TaskCancelledError:
            return interrupted_result(task, "cancelled by Ctrl-C before it finished")
        except (rx.WorkerCrashedError, rx.NodeDiedError, rx.OutOfMemoryError, rx.ObjectLostError) as exc:
            what = {rx.NodeDiedError: "the Ray node running it went away",
                    rx.OutOfMemoryError: "Ray stopped its worker: the node ran out of memory"}.get(
                        type(exc), "its Ray worker process died (killed or out of memory)")
            return result_of(task, status="failed", error=f"{what}, also when retried once "
                             f"({type(exc).__name__}: {_first_line(exc)})")
        except rx.RayError as exc:  # a task Ray could not run (e.g. it could not unpickle trainlint)
            return result_of(task, status="failed", error=f"Ray could not run it: {type(exc).__name__}: "
                             f"{_first_line(exc)}")


class _RemoteDecider:
    """The sweep's `AshaDecider` living in a Ray actor, asked synchronously from each variant's probe."""

    def __init__(self, actor):
        self.actor = actor

    def decide(self, variant: int, step: int, metric: float) -> bool:
        import ray

        return ray.get(self.actor.decide.remote(variant, step, metric))


def _absolute(task: VariantTask) -> VariantTask:
    """Paths a worker elsewhere can open (a Ray worker does not share this process's working directory)."""
    return dataclasses.replace(task, spec_path=os.path.abspath(task.spec_path), out_dir=os.path.abspath(task.out_dir))


def _first_line(exc: BaseException, limit: int = 200) -> str:
    lines = str(exc).strip().splitlines() or [""]
    return lines[0][:limit]
