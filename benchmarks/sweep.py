"""A sweep as users run it: `compare-optimizers --tune-lr` locally (1 and 2 processes) and on Ray.

Each run is a fresh `python -m trainlint compare-optimizers CONFIG --tune-lr` process (5 default
optimizers, each with its own LR range test, then its probe), timed from start to exit, as a user
sees it. Ray starts its own local instance with this machine's cores, so its start-up is part of
the wall time; comparison.json gives it separately (`executor_startup_seconds`), and each
variant's own time (`wall_seconds`: range test and probe, without the worker's start-up).

The expected time on N machines comes from those per-variant times: the variants are dealt
longest first to N × (cores per machine) slots, the longest slot is the sweep's compute time,
and the overhead measured here on top of the compute (Ray's start-up, worker processes importing
torch and trainlint) is added once. Joining a running cluster (`--ray-address`) instead of
starting one skips the start-up.

    python benchmarks/sweep.py                 # digits-cnn at 400 steps: a few minutes
    python benchmarks/sweep.py --tiny          # the quickstart at 20 steps: proves the script runs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = (("local --jobs 1", ["--jobs", "1"]), ("local --jobs 2", ["--jobs", "2"]),
            ("ray (local instance)", ["--executor", "ray"]))


@dataclass
class Run:
    name: str
    wall_s: float
    data: dict

    @property
    def variant_s(self) -> list[float]:
        return [v["wall_seconds"] for v in self.data["variants"]]

    @property
    def startup_s(self) -> float:
        return self.data.get("executor_startup_seconds") or 0.0

    @property
    def answer(self) -> list[tuple]:
        return [(v["label"], v["rank"], v["metric"], v["lr"]) for v in self.data["variants"]]


def run(name: str, config: Path, steps: int, extra: list[str], folder: Path) -> Run:
    out = folder / name.split()[0] / name.replace(" ", "_")
    args = [sys.executable, "-m", "trainlint", "compare-optimizers", str(config), "--tune-lr", "--steps", str(steps),
            "--no-plots", "-q", "--fail-on", "never", "--out", str(out), *extra]
    started = time.perf_counter()
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{name} failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return Run(name, wall, json.loads((out / "comparison.json").read_text()))


def makespan(times: list[float], slots: int) -> float:
    """Longest-first dealing of `times` to `slots` parallel slots: when the last one finishes."""
    loads = [0.0] * slots
    for t in sorted(times, reverse=True):
        loads[loads.index(min(loads))] += t
    return max(loads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="the quickstart at 20 steps: only proves the script runs")
    parser.add_argument("--config", default="configs/healthy/digits-cnn.yaml")
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args()
    config, steps = (ROOT / "configs/quickstart.yaml", 20) if args.tiny else (ROOT / args.config, args.steps)
    cores = len(os.sched_getaffinity(0))
    import torch

    print(f"machine: {platform.machine()}, {cores} cores, torch {torch.__version__}; "
          f"compare-optimizers {config.relative_to(ROOT)} --tune-lr --steps {steps} (5 optimizers)")
    with tempfile.TemporaryDirectory() as tmp:
        runs = [run(name, config, steps, extra, Path(tmp)) for name, extra in SETTINGS]
    base = runs[0]
    print(f"{'setting':22} {'wall s':>7} {'x jobs 1':>8} {'startup s':>9} {'variants s':>10} {'max var s':>9}  where")
    for r in runs:
        print(f"{r.name:22} {r.wall_s:7.1f} {base.wall_s / r.wall_s:8.2f} {r.startup_s:9.1f} {sum(r.variant_s):10.1f} "
              f"{max(r.variant_s):9.1f}  {r.data['execution']}")
    same = all(r.answer == base.answer for r in runs)
    print(f"same ranking, metrics and tuned LRs in all three: {'yes' if same else 'NO'}")
    ray = runs[-1]
    times = ray.variant_s
    overhead = ray.wall_s - makespan(times, cores)  # process, Ray and worker start-up, ranking, writing
    print(f"\nexpected on N machines of {cores} cores (Ray), from these per-variant times "
          f"({', '.join(f'{t:.1f}' for t in times)} s): overhead {overhead:.1f} s here, "
          f"of which Ray's start-up {ray.startup_s:.1f} s")
    print(f"{'machines':>8} {'slots':>5} {'compute s':>9} {'+ overhead s':>12} {'- ray start-up s':>16}")
    for n in (1, 2, 4, 8):
        compute = makespan(times, n * cores)
        print(f"{n:8d} {n * cores:5d} {compute:9.1f} {compute + overhead:12.1f} {compute + overhead - ray.startup_s:16.1f}")
    print(f"(a sweep is never faster than its longest variant, {max(times):.1f} s: with {len(times)} variants, "
          f"more than {len(times)} slots add nothing)")


if __name__ == "__main__":
    main()
