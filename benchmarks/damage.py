"""Calibrate by damage: does a rule fire exactly when a knob's setting measurably hurts the run?

For a few sane base configs (healthy zoo configs), each knob is turned through a ladder of
magnitudes with `--set` and probed over seeds 0-1, each probe a fresh
`python -m trainlint probe BASE --set KEY=VALUE --seed S --no-plots -q` process (one thread,
`--jobs` at a time). A rung is compared with the base's own setting at the same seed:

- **damaged** when its final validation metric is worse than the base's by more than the margin
  ``max(noise, floor)``: ``noise`` is `trainlint.compare.ranking.metric_noise` of the base run
  (the spread of its last 3 evaluations, at least 1 % of its metric), and ``floor`` is 0.02
  absolute for accuracy, 5 % of the base's value for an error metric (MAE); a run that ends
  without a finite metric (NaN loss, crash) is damaged;
- **loud** when any rule raised a warning or an error (the codes are listed).

A rung *disagrees* when it is damaged but silent (a miss) or undamaged but loud (a false alarm).
Knobs: the LR (×3 … ×1000 and ÷100, ÷1000 of the base's), weight decay (1e-3 … 10, replacing
the base's), dropout (0.3 … 0.95; every built-in model takes `dropout`) and the initialisation.
The built-in models expose no continuous init scale, only `init` schemes, so the init ladder is
`small_normal` (N(0, 0.01)), `normal` (N(0, 1)) and `zeros`.

    python benchmarks/damage.py                                  # the whole ladder (~200 probes)
    python benchmarks/damage.py --base iris --knob dropout --seeds 0   # one knob, quick
    python benchmarks/damage.py --write benchmarks/damage.md
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainlint.compare.ranking import metric_noise  # noqa: E402 - after the path is set

BASES = ("wine-mlp-adamw", "digits-cnn", "images-resnet-sgd", "iris-mlp-sgd", "diabetes-regression")
LR_FACTORS = (3, 10, 30, 100, 300, 1000, 1 / 100, 1 / 1000)
WEIGHT_DECAYS = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
DROPOUTS = (0.3, 0.5, 0.7, 0.9, 0.95)
INITS = ("small_normal", "normal", "zeros")
KNOBS = ("lr", "weight_decay", "dropout", "init")
ACCURACY_FLOOR, ERROR_FLOOR = 0.02, 0.05  # absolute for accuracy; relative for MAE
SEEDS = (0, 1)


@dataclass(frozen=True)
class Rung:
    """One setting of one knob on one base config (`edit` None: the base's own setting)."""

    base: str
    knob: str
    label: str
    edit: str | None  # `key=value` for --set


@dataclass
class Result:
    rung: Rung
    seed: int
    metric: float | None = None
    metric_name: str = "accuracy"
    noise: float | None = None
    loud: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def base_lr(base: str) -> float:
    from trainlint.spec.loader import load_spec

    return load_spec(ROOT / "configs" / "healthy" / f"{base}.yaml").spec.optimizer.lr


def ladder(base: str, knob: str) -> list[Rung]:
    """The rungs of `knob` on `base`."""
    if knob == "lr":
        lr = base_lr(base)
        return [Rung(base, knob, f"×{f:g}" if f >= 1 else f"÷{1 / f:g}", f"optimizer.lr={lr * f:.6g}")
                for f in LR_FACTORS]
    if knob == "weight_decay":
        return [Rung(base, knob, f"{v:g}", f"optimizer.args.weight_decay={v:g}") for v in WEIGHT_DECAYS]
    if knob == "dropout":
        return [Rung(base, knob, f"{v:g}", f"model.args.dropout={v:g}") for v in DROPOUTS]
    return [Rung(base, knob, v, f"model.args.init={v}") for v in INITS]


def run(rung: Rung, seed: int, scratch: str) -> Result:
    """Probe one rung at one seed in a fresh process; read its metric, noise and loud findings."""
    out = Path(tempfile.mkdtemp(dir=scratch))
    config = ROOT / "configs" / "healthy" / f"{rung.base}.yaml"
    edits = ["--set", rung.edit] if rung.edit else []
    command = [sys.executable, "-m", "trainlint", "probe", str(config), *edits, "--seed", str(seed),
               "--out", str(out), "--no-plots", "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode not in (0, 1) or not (out / "report.json").exists():
        last = next((line.strip() for line in reversed((done.stdout + done.stderr).splitlines()) if line.strip()), "")
        return Result(rung, seed, error=f"exit {done.returncode}: {last[:200]}")
    report = json.loads((out / "report.json").read_text())
    metrics = report["metrics"]
    values = [r["val_metric"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
              if r.get("val_metric") is not None]
    metric = metrics.get("final_val_metric")
    metric = metric if metric is not None and math.isfinite(metric) else None
    loud = {f["code"]: f["severity"] for f in report["findings"] if f["severity"] in ("warning", "error")}
    return Result(rung, seed, metric, metrics.get("metric_name", "accuracy"), metric_noise(values, metric), loud)


def margin(sane: Result) -> float:
    """How much worse than the sane run a metric must be to count as damage (module docstring)."""
    floor = ACCURACY_FLOOR if sane.metric_name == "accuracy" else ERROR_FLOOR * abs(sane.metric or 0.0)
    return max(sane.noise or 0.0, floor)


def damaged(result: Result, sane: Result) -> bool | None:
    """Whether `result` ends measurably worse than `sane` (None: the sane run has no metric)."""
    if sane.metric is None:
        return None
    if result.metric is None:
        return True
    worse = sane.metric - result.metric if sane.metric_name == "accuracy" else result.metric - sane.metric
    return worse > margin(sane)


def verdict(result: Result, sane: Result) -> str:
    """ok, miss (damaged, silent), false alarm (undamaged, loud) or ? (cannot judge)."""
    hurt = damaged(result, sane)
    if result.error is not None or hurt is None:
        return "?"
    if hurt and not result.loud:
        return "miss"
    if not hurt and result.loud:
        return "false alarm"
    return "ok"


def _metric(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}" if abs(value) < 10 else f"{value:.4g}"


def render(results: list[Result]) -> str:
    """Markdown: one row per rung and seed, then the disagreements."""
    sane = {(r.rung.base, r.seed): r for r in results if r.rung.edit is None}
    rows, disagreements = [], []
    for r in results:
        if r.rung.edit is None:
            continue
        base = sane.get((r.rung.base, r.seed))
        if base is None:
            continue
        hurt, call = damaged(r, base), verdict(r, base)
        codes = ", ".join(f"{c} {s[0].upper()}" for c, s in sorted(r.loud.items())) or "—"
        if r.error:
            codes = f"no report ({r.error[:60]})"
        rows.append(f"| {r.rung.base} | {r.rung.knob} | {r.rung.label} | {r.seed} | {_metric(base.metric)} "
                    f"| {_metric(r.metric)} | {_metric(margin(base))} | {'yes' if hurt else 'no'} | {codes} "
                    f"| {call} |")
        if call in ("miss", "false alarm"):
            disagreements.append(f"- {call}: {r.rung.base} {r.rung.knob} {r.rung.label} seed {r.seed} "
                                 f"(metric {_metric(r.metric)} vs {_metric(base.metric)}; {codes})")
    loud_bases = [f"- {b} seed {s}: " + ", ".join(sorted(r.loud)) for (b, s), r in sorted(sane.items()) if r.loud]
    lines = ["# Damage ladder", "",
             "Damaged: final validation metric worse than the base setting's (same seed) by more than "
             "max(noise, 0.02 accuracy / 5 % of the MAE). Loud: any warning (W) or error (E).", "",
             "| base | knob | setting | seed | base metric | metric | margin | damaged | loud | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|", *rows, "",
             f"## Disagreements ({len(disagreements)})", "", *(disagreements or ["none"])]
    if loud_bases:
        lines += ["", "## Base settings that are loud themselves", "", *loud_bases]
    return "\n".join(lines) + "\n"


def _seeds(text: str) -> tuple[int, ...]:
    if "-" in text:
        low, high = text.split("-")
        return tuple(range(int(low), int(high) + 1))
    return tuple(int(s) for s in text.split(","))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", action="append", help="base configs (healthy zoo names; substring), repeatable")
    parser.add_argument("--knob", action="append", choices=KNOBS, help="knobs to turn, repeatable (default all)")
    parser.add_argument("--seeds", default="0-1", help="e.g. 0-1 or 0,2 (default 0-1)")
    parser.add_argument("--jobs", type=int, default=2, help="probe processes at a time (default 2)")
    parser.add_argument("--write", type=Path, help="also write the Markdown table to this file")
    args = parser.parse_args(argv)
    bases = [b for b in BASES if not args.base or any(p in b for p in args.base)]
    knobs = args.knob or list(KNOBS)
    seeds = _seeds(args.seeds)
    rungs = [Rung(b, "base", "as written", None) for b in bases]
    rungs += [r for b in bases for k in knobs for r in ladder(b, k)]
    work = [(rung, seed) for rung in rungs for seed in seeds]
    scratch = tempfile.mkdtemp(prefix="trainlint-damage-")
    results: list[Result] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run, rung, seed, scratch) for rung, seed in work]
        for i, future in enumerate(as_completed(futures), 1):
            results.append(future.result())
            print(f"\r{i}/{len(work)} probes", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    order = {key: i for i, key in enumerate(work)}
    results.sort(key=lambda r: order[(r.rung, r.seed)])
    text = render(results)
    print(text)
    if args.write:
        args.write.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
