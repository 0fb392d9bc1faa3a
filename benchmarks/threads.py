"""`probe.threads`: a whole `trainlint probe`, as a user runs it, at 1 thread, PyTorch's default and `auto`.

Each probe is a fresh process (`python -m trainlint probe CONFIG --no-plots -q --set
probe.threads=...`) timed from start to exit, so the numbers include start-up, as a user sees
them; report.json gives the training loop's steps per second and the threads the probe ran with
and why (`environment.threads`, `environment.threads_reason`). Every workload runs every setting
twice over: on the machine as it is ("idle") and with one competing busy process (a Python loop
spinning on one core, started by this script and killed after). Within a repeat the settings run
back to back, in an order rotated from workload to workload and repeat to repeat, so drift on a
shared machine and a first probe's cold caches hit them alike. OMP_NUM_THREADS and MKL_NUM_THREADS
are removed from the probes' environment, so "PyTorch's default" is what a user gets.

Why: with PyTorch's default threads (one per core), every op of a small model is split across
all cores; when another process holds one of them, each op waits for the thread that was
descheduled, and the whole probe runs several times slower than on one thread.

    python benchmarks/threads.py                # 3 workloads x 3 settings x idle/busy, a few minutes
    python benchmarks/threads.py --repeats 3    # medians of 3
    python benchmarks/threads.py --tiny         # one short probe: proves the script runs, numbers meaningless
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
# Above the `auto` threshold (5e7 forward FLOPs per batch): ~6.7e8 per batch of 256.
LARGE_MLP = """\
name: large-mlp
seed: 0
device: cpu
dataset: {name: synthetic-classification, args: {n_samples: 4000, n_features: 256}, batch_size: 256}
model: {name: mlp, args: {hidden: [1024, 1024], activation: relu}}
loss: {name: cross_entropy}
optimizer: {name: adam, lr: 0.001}
probe: {steps: 30, eval_every: 15}
"""


@dataclass(frozen=True)
class Workload:
    name: str
    config: str  # relative to the repository, or "LARGE_MLP" (written to a temporary folder)
    steps: int  # training steps per probe (the quickstart runs its full 300)


WORKLOADS = (
    Workload("quickstart-mlp", "configs/quickstart.yaml", 300),
    Workload("images-cnn", "configs/healthy/images-cnn.yaml", 100),
    Workload("large-mlp", "LARGE_MLP", 30),
)


@dataclass
class Run:
    wall_s: float
    steps_per_second: float | None
    threads: int | None
    reason: str
    others: float  # cores used by other processes (the spinner included) during the run


def probe_env() -> dict[str, str]:
    drop = {"OMP_NUM_THREADS", "MKL_NUM_THREADS"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def torch_default_threads() -> int:
    """PyTorch's intra-op thread count in a fresh process with the probes' environment."""
    result = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                            env=probe_env(), capture_output=True, text=True, check=True)
    return int(result.stdout)


def busy_cores() -> tuple[float, float, float]:
    """(monotonic time, busy CPU seconds of the machine, CPU seconds of reaped children)."""
    t = psutil.cpu_times()
    idle = t.idle + getattr(t, "iowait", 0.0)
    children = os.times()
    return time.monotonic(), sum(t) - idle, children.children_user + children.children_system


def probe(config: Path, steps: int, setting: str, out: Path) -> Run:
    """One `trainlint probe` in a fresh process; wall time from start to exit."""
    command = [sys.executable, "-m", "trainlint", "probe", str(config), "--no-plots", "-q", "--out", str(out),
               "--steps", str(steps), "--set", f"probe.threads={setting}", "--set", "device=cpu"]
    wall0, busy0, child0 = busy_cores()
    result = subprocess.run(command, cwd=ROOT, env=probe_env(), capture_output=True, text=True)
    wall1, busy1, child1 = busy_cores()
    if result.returncode not in (0, 1):  # 1: findings, still a complete probe
        raise SystemExit(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    report = json.loads((out / "report.json").read_text())
    env = report["environment"]
    others = max(0.0, (busy1 - busy0) - (child1 - child0)) / max(wall1 - wall0, 1e-9)
    return Run(wall1 - wall0, report["metrics"].get("steps_per_second"), env.get("threads"),
               env.get("threads_reason", ""), others)


def spinner() -> subprocess.Popen:
    """A competing process that keeps one core busy until killed."""
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.5)  # let it reach the loop before the first probe starts
    return process


def measure(workloads, settings, loads, repeats: int, folder: Path):
    """{(load, workload, setting): [Run per repeat]}; the spinner runs only during the `busy` load."""
    runs: dict[tuple[str, str, str], list[Run]] = {}
    for load in loads:
        competitor = spinner() if load == "busy" else None
        try:
            for repeat in range(repeats):
                for i, w in enumerate(workloads):
                    config = folder / "large-mlp.yaml" if w.config == "LARGE_MLP" else ROOT / w.config
                    k = (repeat + i) % len(settings)  # rotated, so that no setting always goes first
                    order = settings[k:] + settings[:k]
                    for setting in order:
                        run = probe(config, w.steps, setting, folder / "out")
                        runs.setdefault((load, w.name, setting), []).append(run)
                        print(f"  {load:<4} {w.name:<15} threads={setting:<4} {run.wall_s:6.2f} s", file=sys.stderr,
                              flush=True)
        finally:
            if competitor is not None:
                competitor.kill()
                competitor.wait()
    return runs


def table(runs, workloads, settings, loads) -> list[str]:
    """One row per load x workload: wall time per setting, its ratio to auto's, loop steps/s, auto's choice."""
    def med(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else float("nan")

    label = {s: "auto" if s == "auto" else f"{s} thr" for s in settings}
    fixed = [s for s in settings if s != "auto"]
    def group(title: str, n: int) -> str:  # a column group's heading over its n columns of 8 characters
        return f"{title:<{8 * n}}  " if n else ""

    lines = [f"{'':<28}  {group('probe wall s', len(settings))}{group('x auto', len(fixed))}"
             f"{group('loop steps/s', len(settings))}{'others':>6}  auto chose",
             f"{'load':<5} {'workload':<16} {'steps':>5}  " + "".join(f"{label[s]:>8}" for s in settings) + "  "
             + "".join(f"{label[s]:>8}" for s in fixed) + ("  " if fixed else "")
             + "".join(f"{label[s]:>8}" for s in settings) + f"  {'cores':>6}"]
    for load in loads:
        for w in workloads:
            cell = {s: runs[(load, w.name, s)] for s in settings}
            wall = {s: med([r.wall_s for r in cell[s]]) for s in settings}
            rate = {s: med([r.steps_per_second for r in cell[s]]) for s in settings}
            others = med([r.others for s in settings for r in cell[s]])
            auto = cell["auto"][-1] if "auto" in cell else None
            lines.append(f"{load:<5} {w.name:<16} {w.steps:>5}  " + "".join(f"{wall[s]:>8.2f}" for s in settings)
                         + "  " + "".join(f"{wall[s] / wall.get('auto', math.nan):>8.2f}" for s in fixed)
                         + ("  " if fixed else "") + "".join(f"{rate[s]:>8.1f}" for s in settings)
                         + f"  {others:>6.2f}  " + (f"{auto.threads}: {short(auto.reason)}" if auto else "-"))
    return lines


def short(reason: str) -> str:
    """The `auto` reason without its explanation: the thread count's cause and the FLOPs."""
    flops = re.search(r"([\d.]+e[+-]\d+) forward FLOPs", reason)
    busy = re.search(r"([\d.]+) of (\d+) cores busy", reason)
    kind = "small model" if "small model" in reason else "large model" if flops else reason
    return kind + (f", {flops.group(1)} FLOPs" if flops else "") + (f", {busy.group(0)}" if busy else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true",
                        help="one probe (the quickstart, 3 steps, auto, next to the busy process): proves it runs")
    parser.add_argument("--steps", type=int, help="training steps of every probe (default: per workload)")
    parser.add_argument("--repeats", type=int, default=1, help="probes per cell; the table shows medians")
    parser.add_argument("--only", nargs="+", choices=[w.name for w in WORKLOADS], help="run these workloads only")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workloads = [w for w in WORKLOADS if not args.only or w.name in args.only]
    if args.tiny:
        workloads, settings, steps, default, loads = workloads[:1], ["auto"], 3, None, ["busy"]
    else:
        default = torch_default_threads()
        settings, steps, loads = ["1", str(default), "auto"], args.steps, ["idle", "busy"]
        if default == 1:
            settings = ["1", "auto"]  # nothing to compare: PyTorch already runs on one thread here
    if steps is not None:
        workloads = [Workload(w.name, w.config, steps) for w in workloads]
    print(f"machine: {platform.processor() or platform.machine()}, {cores} cores available, "
          f"load average {os.getloadavg()[0]:.2f} before the run; PyTorch's default here: "
          f"{default if default else '?'} thread(s); {args.repeats} repeat(s)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "large-mlp.yaml").write_text(LARGE_MLP)
        started = time.perf_counter()
        runs = measure(workloads, settings, loads, args.repeats, folder)
        elapsed = time.perf_counter() - started
    for line in table(runs, workloads, settings, loads):
        print(line)
    print(f"{len(runs) * args.repeats} probes in {elapsed:.0f} s. probe wall s = the whole `trainlint probe` "
          "process, start-up included (median over repeats); x auto = that wall time / auto's; loop steps/s = "
          "the training loop's (report.json); others = cores used by other processes during the probes (the "
          "spinner included under busy); auto chose = environment.threads and the gist of threads_reason.")


if __name__ == "__main__":
    main()
