"""Memory of a long probe: peak RSS and RSS growth of a 5,000-step probe of a 50-layer MLP.

The run record keeps per-step and per-layer statistics in Python lists, so its memory grows
linearly with steps x layers. This measures how fast: the process RSS before the probe, its
growth over the training loop (the probe's own resource samples), the peak, the size of the
record itself, and that size extrapolated to 20,000 steps x 100 layers.

    python benchmarks/long_probe.py                       # 5,000 steps, 50 hidden layers
    python benchmarks/long_probe.py --steps 500 --layers 10 --no-plots   # quick
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
from pathlib import Path

import psutil
import torch


def deep_size(obj, seen: set[int] | None = None) -> int:
    """Bytes held by `obj` and everything it references (lists, dicts, dataclasses, floats)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or isinstance(obj, type | torch.nn.Module | torch.Tensor):
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set | frozenset):
        size += sum(deep_size(v, seen) for v in obj)
    elif hasattr(obj, "__dict__"):
        size += deep_size(vars(obj), seen)
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--layers", type=int, default=50, help="hidden layers of the MLP")
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from trainlint.spec.loader import load_spec
    from trainlint.workflow import ProbeOptions, probe

    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "long.yaml"
        spec.write_text(
            "dataset: {name: synthetic-classification, args: {n_samples: 4000, n_features: 32}, batch_size: 64}\n"
            f"model: {{name: mlp, args: {{hidden: {[args.width] * args.layers}, activation: relu}}}}\n"
            "loss: {name: cross_entropy}\noptimizer: {name: adam, lr: 0.0005}\n"
            f"probe: {{steps: {args.steps}, eval_every: 500}}\n")
        loaded = load_spec(spec)
        gc.collect()
        process = psutil.Process()
        rss_before = process.memory_info().rss / 2**20
        started = time.perf_counter()
        outcome = probe(loaded, ProbeOptions(out=Path(folder) / "out", plots=not args.no_plots))
        wall = time.perf_counter() - started
        gc.collect()
        rss_after = process.memory_info().rss / 2**20
        jsonl_mb = (Path(folder) / "out" / "metrics.jsonl").stat().st_size / 2**20
    record = outcome.record
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    samples = list(zip(record.resources.steps, record.resources.rss_mb, strict=True))
    first = next((r for s, r in samples if s >= min(100, record.steps_run - 1)), samples[0][1])
    growth = samples[-1][1] - first
    record_mb = deep_size(record) / 2**20
    layers = len(record.layer_grad_norm.names)
    per_step_layer = deep_size(record) / max(1, record.steps_run * layers)

    print(f"probe            {record.steps_run} steps, {layers} layers with parameters, "
          f"{len(record.dead_fraction.names)} activation modules; stop: {record.stop_reason}")
    print(f"wall time        {wall:.1f} s ({record.steps_run / max(record.loop_seconds, 1e-9):.0f} steps/s in the loop)")
    print(f"RSS              {rss_before:.0f} MB before the probe, {rss_after:.0f} MB after, peak {peak:.0f} MB")
    print(f"RSS growth       {growth:+.1f} MB over the training loop (from step ~100 to the end; "
          f"{growth / max(1, record.steps_run - 100) * 1000:+.2f} MB per 1,000 steps)")
    print(f"run record       {record_mb:.1f} MB ({per_step_layer:.0f} bytes per step per layer)")
    print(f"metrics.jsonl    {jsonl_mb:.1f} MB on disk")
    print(f"extrapolated     {per_step_layer * 20_000 * 100 / 2**20:.0f} MB of run record for 20,000 steps x 100 layers")


if __name__ == "__main__":
    main()
