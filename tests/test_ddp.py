"""trainlint.watch under torchrun: 2 processes on CPU with gloo; every rank records, rank 0 reports (TL604)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch.distributed

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")


def torchrun(out, *args: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(ROOT / "examples" / "ddp_loop.py"), "--epochs", "1", "--out", str(out), *args],
                          env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("trainlint: diagnosis of ddp-loop") == 1  # rank 0 alone reports
    return json.loads((out / "report.json").read_text())


def test_a_straggler_rank_is_named(tmp_path):
    report = torchrun(tmp_path / "slow", "--straggler")
    (f,) = [f for f in report["findings"] if f["code"] == "TL604"]
    assert f["evidence"]["rank"] == 1 and f["evidence"]["data_bound"]
    record = json.loads((tmp_path / "slow" / "record.json").read_text())
    assert len(record["rank_own_time_s"]) == 2 and record["steps"] == list(range(23))


def test_balanced_ranks_are_not_flagged(tmp_path):
    report = torchrun(tmp_path / "even")
    assert not [f for f in report["findings"] if f["code"] == "TL604"]
    assert report["summary"]["steps_run"] == 23
