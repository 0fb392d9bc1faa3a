"""Probe overhead against a plain PyTorch loop, measured side by side in one process.

For each workload the same training steps (same model, data, seed, device, threads) run as
(a) a plain loop `zero_grad / forward / loss / backward / step / scheduler.step` and (b)
trainlint's probe with default recording, interleaved A B A B over several repeats. Probe
time is its training loop minus the evaluations (which a plain loop does not do). Each
recorder family is then timed alone, so the costly one is visible. Finally the start-up of
`trainlint probe configs/quickstart.yaml` (process start → first training step) and its
total wall time are measured in a subprocess.

    python benchmarks/overhead.py            # full: 5 repeats x 300 steps
    python benchmarks/overhead.py --tiny     # CI smoke: proves it runs, numbers meaningless
"""

from __future__ import annotations

import argparse
import json
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
from trainlint.spec.loader import load_spec

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = {
    "mlp-digits": "configs/quickstart.yaml",
    "cnn-images": "configs/healthy/images-cnn.yaml",
    "transformer-tokens": "configs/healthy/tokens-transformer.yaml",
    "lstm-sequences": "configs/healthy/sequences-lstm.yaml",
}


def plain_loop(loaded) -> float:
    """Seconds per step of the plain loop on freshly built components."""
    comps = build_components(loaded, torch.device("cpu"))
    model, loss_fn, opt, sched = comps.model, comps.loss_fn, comps.optimizer, comps.schedule
    clip, steps = loaded.spec.probe.clip_grad_norm, loaded.spec.probe.steps
    model.train()
    batches = iter(comps.train_loader)
    start = time.perf_counter()
    for _ in range(steps):
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
    return (time.perf_counter() - start) / steps


def probe_loop(loaded, families=FAMILIES) -> float:
    """Seconds per step of the probe's training loop (evaluations excluded)."""
    comps = build_components(loaded, torch.device("cpu"))
    record = run_probe(loaded, components=comps, families=families)
    return (record.loop_seconds - record.eval_seconds) / record.steps_run


def measure(config: str, steps: int, repeats: int) -> dict:
    loaded = load_spec(ROOT / config, [f"probe.steps={steps}", "device=cpu"])
    plain_loop(loaded)  # warm-up: allocator, caches, lazy imports
    probe_loop(loaded)
    plain, probe = [], []
    for _ in range(repeats):  # interleaved A B A B so drift hits both alike
        plain.append(plain_loop(loaded))
        probe.append(probe_loop(loaded))
    ratios = [b / a for a, b in zip(plain, probe, strict=True)]
    per_family = {}
    for family in sorted(FAMILIES):
        a, b = [], []
        for _ in range(repeats):
            a.append(plain_loop(loaded))
            b.append(probe_loop(loaded, frozenset({family})))
        per_family[family] = min(b) / min(a)
    a, b = [], []
    for _ in range(repeats):
        a.append(plain_loop(loaded))
        b.append(probe_loop(loaded, frozenset()))
    # Best-of-N: on a shared machine other processes only ever add time, so the fastest
    # repeat is the best estimate of each loop's own cost (as `timeit` recommends).
    return {"plain_s": min(plain), "probe_s": min(probe), "ratio": min(probe) / min(plain),
            "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "loop_only": min(b) / min(a), "families": per_family}


def startup(steps: int) -> tuple[float, float]:
    """(process start → first step, total wall) of `trainlint probe configs/quickstart.yaml`."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "trainlint", "probe", "configs/quickstart.yaml", "--out", out,
                        "--steps", str(steps), "-q"], cwd=ROOT, check=False, capture_output=True)
        wall = time.perf_counter() - start
        record_path = Path(out) / "report.json"
        first = json.loads(record_path.read_text())["metrics"].get("first_step_after_process_start_s")
    return first, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a few steps, to prove the script runs")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    steps, repeats = (10, 1) if args.tiny else (args.steps, args.repeats)
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {args.threads} thread(s); {steps} steps x {repeats} repeats")
    header = (f"{'workload':<20} {'plain ms':>9} {'probe ms':>9} {'ratio':>6} {'median':>7} {'min-max':>11}"
              f" {'loop':>6}")
    families = sorted(FAMILIES)
    print(header + "".join(f" {f[:10]:>10}" for f in families))
    for name, config in WORKLOADS.items():
        m = measure(config, steps, repeats)
        row = (f"{name:<20} {m['plain_s'] * 1e3:>9.3f} {m['probe_s'] * 1e3:>9.3f} {m['ratio']:>6.3f} "
               f"{m['ratio_median']:>7.3f} {m['ratio_min']:>5.2f}-{m['ratio_max']:<5.2f} {m['loop_only']:>6.3f}")
        print(row + "".join(f" {m['families'][f]:>10.3f}" for f in families), flush=True)
    first, wall = startup(steps=300 if not args.tiny else 20)
    print(f"quickstart: process start -> first training step {first:.2f} s; whole `trainlint probe` {wall:.2f} s")
    print("ratio = best-of-repeats probe / plain seconds per step; median, min-max = of the per-repeat ratios;"
          " loop = probe with every recorder off; family columns = that recorder alone / plain (best of repeats).")


if __name__ == "__main__":
    main()
