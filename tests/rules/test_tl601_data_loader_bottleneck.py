"""TL601 data-loader-bottleneck on fabricated step timings."""

import pytest
from resources_factory import timing_run

from trainlint.rules.engine import evaluate
from trainlint.rules.resources.data_loader_bottleneck import data_loader_bottleneck

FIRES = [
    ("slow_getitem", timing_run(0.030, 0.032)),  # 94% waiting
    ("just_above", timing_run(0.0101, 0.020)),  # 50.5%
    ("at_min_wait", timing_run(0.002, 0.003)),
]

QUIET = [
    ("in_memory_tensors", timing_run(0.0003, 0.020)),
    ("just_below", timing_run(0.0099, 0.020)),  # 49.5%
    ("tiny_model_fast_loader", timing_run(0.0015, 0.002)),  # 75% but only 1.5 ms per step
    ("slow_first_batch_only", timing_run(0.0003, 0.020, first_wait_s=2.0)),
    ("too_few_steps", timing_run(0.030, 0.032, n=12)),
]


def findings(run):
    found, skipped = evaluate(run, rules=[data_loader_bottleneck])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL601" and f.evidence["wait_share"] >= f.evidence["max_wait_share"] == 0.5
    assert f.config_key == "dataset.num_workers"


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_evidence_and_workers_fix():
    (f,) = findings(timing_run(0.030, 0.032))
    assert f.evidence["median_data_wait_s"] == 0.030 and f.evidence["median_compute_s"] == pytest.approx(0.002)
    assert f.evidence["wait_share"] == pytest.approx(0.9375)
    fix = f.fixes[0]
    assert (fix.config_key, fix.value, fix.applicable) == ("dataset.num_workers", 8, True)  # 15 + 1, capped


def test_workers_from_wait_over_compute():
    (f,) = findings(timing_run(0.012, 0.020))  # wait 12 ms, compute 8 ms: ceil(1.5) + 1
    assert f.fixes[0].value == 3


def test_not_evaluated_without_timings():
    from trainlint.probe.record import RunRecord

    _, skipped = evaluate(RunRecord(), rules=[data_loader_bottleneck])
    assert "data-loading times" in skipped[0].reason
