"""The shipped benchmarks still run (tiny sizes: their numbers mean nothing here, and no test asserts a timing)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NUMBER = r"\d+\.\d+"


def _run(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_overhead_benchmark_runs_in_tiny_mode():
    out = _run("benchmarks/overhead.py", "--tiny")
    assert "1 thread(s); 5 steps x 1 repeats" in out
    row = next(line for line in out.splitlines() if line.startswith("mlp-digits "))
    assert len(re.findall(NUMBER, row)) >= 12  # ms, ratios, min-max, family columns
    ledger = next(line for line in out.splitlines() if line.startswith("mlp-digits") and "probe - plain" in line)
    for part in ("gradients", "activations", "updates", "resources", "metrics.jsonl", "the rest"):
        assert part in ledger
    assert re.search(rf"first training step {NUMBER} s; whole `trainlint probe` {NUMBER} s", out)


def test_threads_benchmark_runs_in_tiny_mode():
    out = _run("benchmarks/threads.py", "--tiny")
    row = next(line for line in out.splitlines() if line.startswith("busy  quickstart-mlp"))
    assert len(re.findall(NUMBER, row)) >= 3  # wall time, steps/s, other processes' load
    assert row.endswith("1: small model, 2.2e+06 FLOPs")  # what auto chose, from report.json


def test_threads_benchmark_table_compares_each_setting_with_auto(monkeypatch):
    spec = importlib.util.spec_from_file_location("threads_benchmark", ROOT / "benchmarks" / "threads.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # dataclasses look their module up there
    spec.loader.exec_module(bench)
    large = "auto: 1 thread (6.7e+08 forward FLOPs per batch, 1.0 of 2 cores busy with other processes)"
    runs = {("busy", w.name, s): [bench.Run(wall, 100.0, 1, large if s == "auto" else "", 1.0),
                                  bench.Run(wall + 2, None, 1, large if s == "auto" else "", 1.2)]
            for w in bench.WORKLOADS for s, wall in (("1", 4.0), ("2", 16.0), ("auto", 4.0))}
    head, columns, *rows = bench.table(runs, bench.WORKLOADS, ["1", "2", "auto"], ["busy"])
    assert columns.split()[3:] == ["1", "thr", "2", "thr", "auto", "1", "thr", "2", "thr", "1", "thr", "2", "thr",
                                   "auto", "cores"]
    assert len(rows) == len(bench.WORKLOADS)
    assert rows[0].split()[3:11] == ["5.00", "17.00", "5.00", "1.00", "3.40", "100.0", "100.0", "100.0"]
    assert rows[0].endswith("1.10  1: large model, 6.7e+08 FLOPs, 1.0 of 2 cores busy")


def test_long_probe_benchmark_runs_small():
    out = _run("benchmarks/long_probe.py", "--steps", "30", "--layers", "3", "--no-plots")
    assert "MB" in out


def test_api_overhead_benchmark_runs_in_tiny_mode():
    out = _run("benchmarks/api_overhead.py", "--tiny")
    rows = {line.split()[0]: line for line in out.splitlines() if line and line.split()[0] in
            ("mlp-digits", "lightning", "hf-trainer")}
    assert set(rows) == {"mlp-digits", "lightning", "hf-trainer"}  # the loop and both callbacks, side by side
    assert len(re.findall(NUMBER, rows["mlp-digits"])) >= 5  # bare, watched, ratio, min-max, close
    assert re.search(r"long run: 2,000 steps at \d+ µs/step; the record holds [\d.]+ MiB of series \(bound", out)


def test_sweep_benchmark_runs_in_tiny_mode():
    out = _run("benchmarks/sweep.py", "--tiny")
    for setting in ("local --jobs 1", "local --jobs 2", "ray (local instance)"):
        assert any(line.startswith(setting) for line in out.splitlines()), setting
    assert "same ranking, metrics and tuned LRs in all three: yes" in out
