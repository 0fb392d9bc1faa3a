"""TL604 straggler-rank on fabricated per-rank medians (the 2-process gloo run is in tests/test_ddp.py)."""

import pytest

from trainlint.probe.record import RunRecord
from trainlint.rules.engine import evaluate
from trainlint.rules.resources.straggler_rank import straggler_rank


def ranks(own, step=None, wait=None) -> RunRecord:
    """A record whose ranks spent `own` seconds per step on their own work (data wait + forward)."""
    n = len(own)
    return RunRecord(steps=list(range(50)), step_time_s=[0.02] * 50, rank_own_time_s=list(own),
                     rank_step_time_s=list(step or [max(own) + 0.003] * n),
                     rank_data_wait_s=list(wait or [0.0002] * n))


FIRES = [
    ("slow_loader_on_rank1", ranks([0.0006, 0.0197], wait=[0.0004, 0.0194]), 1, True),
    ("slow_forward_on_rank2", ranks([0.004, 0.004, 0.012, 0.0042]), 2, False),
    ("just_above_ratio", ranks([0.010, 0.0151], step=[0.03, 0.03]), 1, False),
]

QUIET = [
    ("single_process", RunRecord(steps=[0], step_time_s=[0.01])),
    ("balanced_gloo", ranks([0.00045, 0.00044])),
    ("just_below_ratio", ranks([0.010, 0.0149], step=[0.03, 0.03])),
    ("large_ratio_small_share", ranks([0.0002, 0.0009], step=[0.5, 0.5])),  # 0.7 ms of a 500 ms step
    ("unknown_rank", ranks([0.001, float("nan")])),
]


def findings(run):
    found, skipped = evaluate(run, rules=[straggler_rank])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run, rank, data_bound", FIRES, ids=[f[0] for f in FIRES])
def test_fires(name, run, rank, data_bound):
    (f,) = findings(run)
    assert f.code == "TL604" and f.evidence["rank"] == rank and f.evidence["data_bound"] == data_bound
    assert f"rank {rank} is a straggler" in f.message
    assert ("waiting for data" in f.message) == data_bound


@pytest.mark.parametrize("name, run", QUIET, ids=[q[0] for q in QUIET])
def test_quiet(name, run):
    assert findings(run) == []
