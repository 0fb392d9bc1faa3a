"""Ctrl-C (SIGINT) during a real `trainlint probe` process: partial report, exit 130; twice: exit at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import CONFIGS, ROOT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def start(out: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "trainlint", "probe", *map(str, args), "--out", str(out), "-q"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"exited early ({proc.returncode}): {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("timed out waiting for the probe")
        time.sleep(0.05)


def metric_lines(out: Path) -> list[str]:
    path = out / "metrics.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def test_ctrl_c_writes_a_partial_report_and_exits_130(tmp_path):
    out = tmp_path / "out"
    proc = start(out, CONFIGS / "quickstart.yaml", "--steps", "200000")
    wait_for(lambda: len(metric_lines(out)) >= 50, proc)  # flushed every 25 steps
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr + stdout
    assert "partial report written" in stderr
    report = json.loads((out / "report.json").read_text())
    summary = report["summary"]
    assert summary["stop_reason"] == "interrupted"
    assert 50 <= summary["steps_run"] < 200000
    assert report["metrics"]["final_train_loss"] is not None
    assert "TL203" in {r["code"] for r in report["rules_evaluated"]}  # judged on what was recorded
    rows = [json.loads(line) for line in metric_lines(out)]  # every line is whole JSON
    assert [r["step"] for r in rows] == list(range(summary["steps_run"]))
    assert (out / "loss.png").exists() and (out / "report.md").exists()
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


SLOW_MODEL = """\
import time
from pathlib import Path

from torch import nn


class Slow(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls > 3:
            Path(__file__).with_name("sleeping").touch()
            time.sleep(30)  # a step that takes far longer than the user will wait
        return self.fc(x)
"""


def test_second_ctrl_c_exits_at_once(tmp_path):
    (tmp_path / "slow.py").write_text(SLOW_MODEL)
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent("""\
        dataset: {name: digits, batch_size: 32}
        model: {target: slow.py:Slow}
        loss: {name: cross_entropy}
        optimizer: {name: sgd, lr: 0.1}
        probe: {steps: 1000, eval_every: 1000}
    """))
    out = tmp_path / "out"
    (out / "report.json").parent.mkdir()
    (out / "report.json").write_text('{"from": "an earlier run"}')
    proc = start(out, spec)
    wait_for((tmp_path / "sleeping").exists, proc)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert proc.poll() is None  # the first Ctrl-C waits for the step in progress
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert time.monotonic() - started < 5
    assert "exiting now" in stderr and "Traceback" not in stderr
    assert (out / "report.json").read_text() == '{"from": "an earlier run"}'  # the earlier one, untouched

