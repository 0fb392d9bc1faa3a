"""Probe overhead against a plain PyTorch loop, measured side by side in one process.

For each workload the same training steps (same model, data, seed, device, threads) run as
(a) a plain loop `zero_grad / forward / loss / backward / step / scheduler.step` and (b)
trainlint's probe with default recording, writing metrics.jsonl as `trainlint probe` does.
Each repeat runs every variant once, in turn (A B A B ...), so drift on a shared machine hits
them alike; ratios are taken within a repeat and their median is reported with min-max.

Probe time is its training loop minus the evaluations, which a plain loop does not do. An
evaluation still leaves the caches cold for the next few steps; the `+eval` column divides by
a plain loop that also evaluates every `eval_every` steps (timed out the same way), so it
shows the instrumentation alone. Each recorder family is also timed alone, so the costly one
is visible. Finally the start-up of `trainlint probe configs/quickstart.yaml` (process start
to first training step) and its total wall time are measured in a subprocess.

Both loops run with `--threads` threads: the probe is given them as `probe.threads`, since its
`auto` default would otherwise pick its own count for the probe but not for the plain loop.

    python benchmarks/overhead.py            # full: 9 repeats x 300 steps, torch's default threads
    python benchmarks/overhead.py --tiny     # a few seconds: proves it runs, numbers meaningless
                                             # (mlp-digits only unless --only, 5 steps, 1 repeat,
                                             # 1 thread, no warm-up; the start-up probe runs
                                             # alongside, 3 steps without plots)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from trainlint.components.build import build_components
from trainlint.probe.loop import FAMILIES, run_probe
from trainlint.probe.metrics import MetricsWriter
from trainlint.probe.recorders import activations
from trainlint.probe.recorders.activations import ActivationRecorder
from trainlint.probe.recorders.evaluation import Evaluator
from trainlint.probe.recorders.gradients import GradientRecorder
from trainlint.probe.recorders.resources import ResourceRecorder
from trainlint.probe.recorders.updates import UpdateRecorder
from trainlint.spec.loader import load_spec

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = {
    "mlp-digits": "configs/quickstart.yaml",
    "cnn-images": "configs/healthy/images-cnn.yaml",
    "transformer-tokens": "configs/healthy/tokens-transformer.yaml",
    "lstm-sequences": "configs/healthy/sequences-lstm.yaml",
}


def plain_loop(loaded, evaluate: bool = False) -> float:
    """Seconds per step of the plain loop on freshly built components (evaluations timed out)."""
    comps = build_components(loaded, torch.device("cpu"))
    model, loss_fn, opt, sched = comps.model, comps.loss_fn, comps.optimizer, comps.schedule
    probe = loaded.spec.probe
    clip, steps, every = probe.clip_grad_norm, probe.steps, probe.eval_every
    evaluator = Evaluator(model, loss_fn, comps.val_loader, comps.data.train, comps.info.task,
                          type(loss_fn).__name__, comps.device, loaded.spec.seed,
                          comps.data.tensors) if evaluate else None
    model.train()
    batches = iter(comps.train_loader)
    eval_seconds = 0.0
    start = time.perf_counter()
    for step in range(steps):
        try:
            x, y = next(batches)
        except StopIteration:
            batches = iter(comps.train_loader)
            x, y = next(batches)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        sched.step(loss.detach())
        if evaluator is not None and ((step + 1) % every == 0 or step == steps - 1):
            t = time.perf_counter()
            evaluator.evaluate()
            eval_seconds += time.perf_counter() - t
    return (time.perf_counter() - start - eval_seconds) / steps


def probe_loop(loaded, families=FAMILIES) -> float:
    """Seconds per step of the probe's training loop (evaluations excluded), metrics.jsonl written."""
    comps = build_components(loaded, torch.device("cpu"))
    with tempfile.TemporaryDirectory() as out:
        record = run_probe(loaded, Path(out), components=comps, families=families)
    return (record.loop_seconds - record.eval_seconds) / record.steps_run


def load(config: str, steps: int, threads: int):
    return load_spec(ROOT / config, [f"probe.steps={steps}", "device=cpu", f"probe.threads={threads}"])


def measure(config: str, steps: int, repeats: int, threads: int, warm_up: bool = True) -> dict:
    loaded = load(config, steps, threads)
    variants = {"probe": lambda: probe_loop(loaded), "plain+eval": lambda: plain_loop(loaded, evaluate=True),
                "loop": lambda: probe_loop(loaded, frozenset()),
                **{f: (lambda f=f: probe_loop(loaded, frozenset({f}))) for f in sorted(FAMILIES)}}
    if warm_up:  # allocator, caches, lazy imports
        plain_loop(loaded)
        for run in variants.values():
            run()
    times: dict[str, list[float]] = {"plain": [], **{k: [] for k in variants}}
    for _ in range(repeats):  # in turn, so drift hits every variant alike
        times["plain"].append(plain_loop(loaded))
        for name, run in variants.items():
            times[name].append(run())
    ratios = {name: [b / a for a, b in zip(times["plain"], times[name], strict=True)] for name in variants}
    with_eval = [b / a for a, b in zip(times["plain+eval"], times["probe"], strict=True)]
    return {"plain_s": statistics.median(times["plain"]), "probe_s": statistics.median(times["probe"]),
            "ratio": statistics.median(ratios["probe"]), "ratio_min": min(ratios["probe"]),
            "ratio_max": max(ratios["probe"]), "vs_eval": statistics.median(with_eval),
            "best_of": min(times["probe"]) / min(times["plain"]),
            "loop_only": statistics.median(ratios["loop"]),
            "families": {f: statistics.median(ratios[f]) for f in FAMILIES}}


def ledger(config: str, steps: int, threads: int, runs: int = 3) -> dict[str, float]:
    """Microseconds per step spent inside each part of the probe (direct time; least of `runs`).

    Each part's calls are wrapped in a timer for these runs only. Direct time leaves out what a
    part costs the rest of the step (code and data it pushes out of the caches), which is why
    the parts add up to less than probe minus plain.
    """
    parts = {
        "gradients": [(GradientRecorder, "after_backward"), (GradientRecorder, "flush")],
        "activations": [(ActivationRecorder, "arm"), (activations, "_stats"), (ActivationRecorder, "disarm"),
                        (ActivationRecorder, "flush")],
        "updates": [(UpdateRecorder, "before_step"), (UpdateRecorder, "after_step"), (UpdateRecorder, "flush")],
        "resources": [(ResourceRecorder, "sample")],
        "metrics.jsonl": [(MetricsWriter, "write_available")],
    }
    spent = dict.fromkeys(parts, 0.0)
    originals = []

    def timed(function, part):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[part] += time.perf_counter() - start

        return wrapper

    for part, targets in parts.items():
        for owner, name in targets:
            originals.append((owner, name, getattr(owner, name)))
            setattr(owner, name, timed(getattr(owner, name), part))
    loaded = load(config, steps, threads)
    best = dict.fromkeys(parts, math.inf)
    try:
        for _ in range(runs):
            for part in spent:
                spent[part] = 0.0
            probe_loop(loaded)
            best = {part: min(best[part], spent[part] / steps * 1e6) for part in parts}
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
    return best


class Startup:
    """`trainlint probe configs/quickstart.yaml` in a subprocess: (process start → first step, total wall).

    Started by the constructor and read by `result()`, so tiny mode can run it alongside the rest.
    """

    def __init__(self, steps: int, plots: bool = True) -> None:
        self._out = tempfile.TemporaryDirectory()
        self._start = time.perf_counter()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "trainlint", "probe", "configs/quickstart.yaml", "--out", self._out.name,
             "--steps", str(steps), "-q", *([] if plots else ["--no-plots"])],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def result(self) -> tuple[float, float]:
        with self._out:
            self._process.wait()
            wall = time.perf_counter() - self._start
            report = json.loads((Path(self._out.name) / "report.json").read_text())
        return report["metrics"].get("first_step_after_process_start_s"), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a few seconds, to prove the script runs")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, help="torch threads for both loops (default: torch's; 1 with --tiny)")
    parser.add_argument("--only", nargs="+", choices=sorted(WORKLOADS), help="run these workloads only")
    args = parser.parse_args()
    steps, repeats = (5, 1) if args.tiny else (args.steps, args.repeats)
    threads = args.threads or (1 if args.tiny else torch.get_num_threads())
    only = args.only or (["mlp-digits"] if args.tiny else None)
    late_start = Startup(steps=3, plots=False) if args.tiny else None  # runs alongside: its numbers mean nothing
    torch.set_num_threads(threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {threads} thread(s); {steps} steps x {repeats} repeats")
    families = sorted(FAMILIES)
    print(f"{'workload':<20} {'plain ms':>9} {'probe ms':>9} {'ratio':>6} {'min-max':>11} {'+eval':>6}"
          f" {'best':>6} {'loop':>6}" + "".join(f" {f[:10]:>10}" for f in families))
    overheads = {}
    for name, config in WORKLOADS.items():
        if only and name not in only:
            continue
        m = measure(config, steps, repeats, threads, warm_up=not args.tiny)
        overheads[name] = (m["ratio"] - 1) * m["plain_s"] * 1e6  # the median ratio, in µs of the median plain step
        row = (f"{name:<20} {m['plain_s'] * 1e3:>9.3f} {m['probe_s'] * 1e3:>9.3f} {m['ratio']:>6.3f} "
               f"{m['ratio_min']:>5.2f}-{m['ratio_max']:<5.2f} {m['vs_eval']:>6.3f} {m['best_of']:>6.3f}"
               f" {m['loop_only']:>6.3f}")
        print(row + "".join(f" {m['families'][f]:>10.3f}" for f in families), flush=True)
    runs = 1 if args.tiny else 3
    print(f"\nwhere the time goes, µs per step spent inside each part (direct time, least of {runs} runs):")
    for name, overhead in overheads.items():
        parts = ledger(WORKLOADS[name], steps, threads, runs=runs)
        listing = ", ".join(f"{part} {us:.1f}" for part, us in parts.items())
        print(f"{name:<20} probe - plain {overhead:6.1f}: {listing}; the rest {overhead - sum(parts.values()):.1f}",
              flush=True)
    first, wall = (late_start or Startup(steps=300)).result()
    print(f"quickstart: process start -> first training step {first:.2f} s; whole `trainlint probe` {wall:.2f} s")
    print("ms = median seconds per step x 1000; ratio = median over repeats of probe / plain (same repeat),"
          " min-max of those ratios; +eval = probe / a plain loop that also evaluates every eval_every steps;"
          " best = fastest probe / fastest plain; loop = probe with every recorder off;"
          " family columns = that recorder alone / plain; the rest = loop bookkeeping, evaluation"
          " after-effects and the caches the parts evict.")


if __name__ == "__main__":
    main()
