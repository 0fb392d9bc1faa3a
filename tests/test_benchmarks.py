"""The shipped benchmarks still run (tiny sizes: their numbers mean nothing here, and no test asserts a timing)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_overhead_benchmark_runs_in_tiny_mode():
    out = _run("benchmarks/overhead.py", "--tiny", "--only", "mlp-digits", "--threads", "1")
    row = next(line for line in out.splitlines() if line.startswith("mlp-digits "))
    assert len(re.findall(r"\d+\.\d+", row)) >= 12  # ms, ratios, min-max, family columns
    ledger = next(line for line in out.splitlines() if line.startswith("mlp-digits") and "probe - plain" in line)
    for part in ("gradients", "activations", "updates", "resources", "metrics.jsonl", "the rest"):
        assert part in ledger
    assert re.search(r"first training step \d+\.\d+ s; whole `trainlint probe` \d+\.\d+ s", out)


def test_long_probe_benchmark_runs_small():
    out = _run("benchmarks/long_probe.py", "--steps", "30", "--layers", "3", "--no-plots")
    assert "MB" in out
