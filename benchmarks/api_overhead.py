"""Overhead of `trainlint.watch` (and the Lightning / Hugging Face callbacks) against the same loop without it.

The method is `benchmarks/overhead.py`'s: on each workload the same training steps (same model,
data, seed, threads) run bare and watched, in turn within each repeat (A B A B ...), so drift on
a shared machine hits both alike; the ratio is taken within a repeat and its median reported with
min-max. Time is the training loop's alone: building the components, and the diagnosis and
plots written at `close()`, are outside it (they are paid once, not per step; `close` is timed
apart). The watched loop logs what the README's snippet logs: the loss, the inputs and the targets.

The callbacks are timed the same way inside their frameworks: the Lightning and Hugging Face
`Trainer` examples (examples/*_digits.py, the digits MLP) with and without `TrainlintCallback`,
from the first training step's start to the last one's end (the evaluations between included in
both; set-up and the report at the end left out).

It also runs a long watched loop (`--long` steps, default 100,000, of a tiny model) and reports
the record's size against the bound `probe/session.memory_bound` states.

    python benchmarks/api_overhead.py           # full: 9 repeats x 300 steps (+ frameworks, + long run)
    python benchmarks/api_overhead.py --tiny    # a few seconds: proves it runs, numbers meaningless
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

import trainlint
from trainlint.components.build import build_components
from trainlint.spec.loader import load_spec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORKLOADS = {
    "mlp-digits": "configs/quickstart.yaml",
    "cnn-images": "configs/healthy/images-cnn.yaml",
    "transformer-tokens": "configs/healthy/tokens-transformer.yaml",
    "lstm-sequences": "configs/healthy/sequences-lstm.yaml",
}


def loop(loaded, watched: bool) -> tuple[float, float]:
    """(seconds per step, seconds in `close`) of a hand-written loop on freshly built components."""
    comps = build_components(loaded, torch.device("cpu"))
    model, loss_fn, opt, sched, reader = comps.model, comps.loss_fn, comps.optimizer, comps.schedule, comps.reader
    steps = loaded.spec.probe.steps
    with tempfile.TemporaryDirectory() as out:
        tl = trainlint.watch(model, opt, task=comps.info.task, out=out, echo=False) if watched else None
        model.train()
        batches = iter(comps.train_loader)
        start = time.perf_counter()
        for _ in range(steps):
            try:
                raw = next(batches)
            except StopIteration:
                batches = iter(comps.train_loader)
                raw = next(batches)
            batch = reader.batch(raw)
            opt.zero_grad(set_to_none=True)
            raw_out, pred = reader.forward(model, batch)
            loss = reader.loss(loss_fn, raw_out, pred, batch)
            loss.backward()
            opt.step()
            sched.step(loss.detach())
            if tl is not None:
                tl.log(loss=loss, inputs=batch.primary, targets=batch.target)
        per_step = (time.perf_counter() - start) / steps
        closing = time.perf_counter()
        if tl is not None:
            tl.close()
        return per_step, time.perf_counter() - closing


def measure(config: str, steps: int, repeats: int, threads: int, warm_up: bool) -> dict:
    loaded = load_spec(ROOT / config, [f"probe.steps={steps}", "device=cpu", f"probe.threads={threads}"])
    if warm_up:
        loop(loaded, False)
        loop(loaded, True)
    bare, watched, closes = [], [], []
    for _ in range(repeats):
        bare.append(loop(loaded, False)[0])
        w, c = loop(loaded, True)
        watched.append(w)
        closes.append(c)
    ratios = [b / a for a, b in zip(bare, watched, strict=True)]
    return {"bare_s": statistics.median(bare), "watched_s": statistics.median(watched),
            "ratio": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
            "close_s": statistics.median(closes)}


def frameworks(repeats: int, epochs: int) -> dict[str, dict]:
    """Lightning and HF Trainer examples with and without the callback, in turn: seconds per step."""
    import logging

    found = {}
    for name, module in (("lightning", "examples.lightning_digits"), ("hf-trainer", "examples.hf_trainer_digits")):
        try:
            example = __import__(module, fromlist=["main"])
        except ImportError as exc:
            print(f"{name}: skipped ({exc})")
            continue
        for logger in ("lightning.pytorch", "pytorch_lightning"):  # start-up notices at every fit (set on import)
            logging.getLogger(logger).setLevel(logging.ERROR)

        def run(watched: bool, example=example, name=name) -> float:
            timer = _timer(name)
            with tempfile.TemporaryDirectory() as out:
                argv = ["--epochs", str(epochs), "--out", out, *([] if watched else ["--without-trainlint"])]
                with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
                    example.main(argv, callbacks=(timer,))
            return timer.per_step()

        run(False)  # warm-up
        run(True)
        bare, watched = [], []
        for _ in range(repeats):
            bare.append(run(False))
            watched.append(run(True))
        ratios = [b / a for a, b in zip(bare, watched, strict=True)]
        found[name] = {"bare_s": statistics.median(bare), "watched_s": statistics.median(watched),
                       "ratio": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}
    return found


def _timer(framework: str):
    """A callback timing the training steps: from the first step's start to the last step's end
    (evaluations in between included, as in both variants; set-up and the report at the end not)."""
    class Timer:
        def __init__(self):
            self.start = self.end = None
            self.steps = 0

        def begin(self, *args, **kwargs) -> None:
            if self.start is None:
                self.start = time.perf_counter()

        def done(self, *args, **kwargs) -> None:
            self.end = time.perf_counter()
            self.steps += 1

        def per_step(self) -> float:
            return (self.end - self.start) / self.steps

    if framework == "lightning":
        import lightning.pytorch as L

        class LightningTimer(Timer, L.Callback):
            on_train_batch_start, on_train_batch_end = Timer.begin, Timer.done

        return LightningTimer()
    from transformers import TrainerCallback

    class HfTimer(Timer, TrainerCallback):
        on_step_begin, on_step_end = Timer.begin, Timer.done

    return HfTimer()


def long_run(steps: int) -> tuple[int, int, float]:
    """(record bytes held at the end, the stated bound, seconds per step) of a long watched loop."""
    from trainlint.probe.session import memory_bound

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(64, 8), torch.randint(0, 2, (64,))
    with tempfile.TemporaryDirectory() as out:
        tl = trainlint.watch(model, opt, out=out, echo=False, plots=False)
        start = time.perf_counter()
        for _ in range(steps):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tl.log(loss=loss)
        per_step = (time.perf_counter() - start) / steps
        held = _record_bytes(tl.record)
        tl.close()
    return held, memory_bound(len(tl.record.layer_grad_norm.names), len(tl.record.dead_fraction.names)), per_step


def _record_bytes(record) -> int:
    """Bytes of the record's per-step and per-layer series (float objects and list slots)."""
    per = 32
    n = sum(len(getattr(record, k)) for k in ("steps", "train_loss", "lr_series", "step_time_s", "data_wait_s",
                                              "grad_norm"))
    for key in ("layer_grad_norm", "layer_param_norm", "update_ratio", "dead_fraction", "saturated_fraction",
                "activation_mean", "activation_std"):
        series = getattr(record, key)
        n += len(series.steps) + sum(len(row) for row in series.values)
    return n * per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a few seconds, to prove the script runs")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's; 1 with --tiny)")
    parser.add_argument("--long", type=int, default=100_000, help="steps of the long run (memory bound)")
    parser.add_argument("--no-frameworks", action="store_true", help="skip Lightning and the HF Trainer")
    args = parser.parse_args()
    steps, repeats = (5, 1) if args.tiny else (args.steps, args.repeats)
    threads = args.threads or (1 if args.tiny else torch.get_num_threads())
    torch.set_num_threads(threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {threads} thread(s); {steps} steps x {repeats} repeats")
    print(f"{'workload':<20} {'bare ms':>9} {'watched ms':>11} {'ratio':>6} {'min-max':>11} {'close s':>8}")
    for name, config in WORKLOADS.items():
        if args.tiny and name != "mlp-digits":
            continue
        m = measure(config, steps, repeats, threads, warm_up=not args.tiny)
        print(f"{name:<20} {m['bare_s'] * 1e3:>9.3f} {m['watched_s'] * 1e3:>11.3f} {m['ratio']:>6.3f} "
              f"{m['min']:>5.2f}-{m['max']:<5.2f} {m['close_s']:>8.2f}", flush=True)
    if not args.no_frameworks:
        for name, m in frameworks(1 if args.tiny else max(3, repeats // 3), 1 if args.tiny else 3).items():
            print(f"{name:<20} {m['bare_s'] * 1e3:>9.3f} {m['watched_s'] * 1e3:>11.3f} {m['ratio']:>6.3f} "
                  f"{m['min']:>5.2f}-{m['max']:<5.2f}      –   (digits MLP, framework loop)", flush=True)
    n = 2_000 if args.tiny else args.long
    held, bound, per_step = long_run(n)
    print(f"\nlong run: {n:,} steps at {per_step * 1e6:.0f} µs/step; the record holds {held / 2**20:.2f} MiB of "
          f"series (bound for this model {bound / 2**20:.1f} MiB, whatever the length)")
    print("ms = median seconds per step x 1000 (training loop only); ratio = median over repeats of watched / bare "
          "(same repeat), min-max of those ratios; close = diagnosis, report and plots at the end, once per run.")


if __name__ == "__main__":
    main()
