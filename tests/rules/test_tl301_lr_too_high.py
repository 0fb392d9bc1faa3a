"""TL301 lr-too-high on fabricated loss and update-ratio histories."""

import math
import random

import pytest
from loss_factory import decaying, noisy, record

from trainlint.rules.engine import evaluate
from trainlint.rules.lr.lr_too_high import lr_too_high

rng = random.Random(3)
BLOW_UP = [2.3, 180.0, 110.0, 60.0, 20.0, 6.0] + noisy([2.31] * 94)  # jumps at step 1, ends dead
NAN = decaying(40) + [math.nan]
CLIMB = [2.3 - 1.8 * i / 20 for i in range(20)] + [0.5] * 20 + [0.5 + 1.5 * i / 30 for i in range(30)] + [2.0] * 30
BOUNCE = [2.3] * 5 + [1.4 + 1.6 * rng.random() for _ in range(95)]
DEAD = noisy([2.3] * 100)

FIRES = [
    ("blow_up_then_dead", record(BLOW_UP, lr=0.3, ratio=[4.0] + [1e-5] * 9)),
    ("non_finite", record(NAN, lr=0.1, ratio=0.1)),
    ("diverging", record(CLIMB, lr=0.5, ratio=[0.05] * 4 + [1e-5] * 6)),
    ("oscillating", record(BOUNCE, lr=0.5, ratio=0.05)),
    ("stalled_with_huge_updates", record(DEAD, lr=3.0, ratio=0.2)),
    ("ratio_just_above", record(NAN, ratio=0.031)),
    ("large_under_warmup", record(NAN, lr=0.1, lr_series=[0.001] * 41, ratio=1e-3)),  # 0.1 at full LR
]

QUIET = [
    ("stable_with_large_updates", record(noisy(decaying(100), 0.1), ratio=0.05)),
    ("non_finite_with_normal_updates", record(NAN, ratio=2e-3)),
    ("ratio_just_below", record(NAN, ratio=0.029)),
    ("blow_up_with_normal_first_update", record(BLOW_UP, ratio=[5e-3] + [1e-5] * 9)),
]


def findings(run):
    found, skipped = evaluate(run, rules=[lr_too_high])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL301" and f.severity.value == "error"
    assert f.evidence["update_ratio_median"] >= f.evidence["min_update_ratio"] == 0.03
    assert f.config_key == f.fixes[0].config_key == "optimizer.lr" and f.fixes[0].applicable
    assert f.fixes[0].value == f.evidence["suggested_lr"] < run.lr


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_blow_up_uses_the_ratio_before_it():
    run = record(BLOW_UP, lr=0.3, ratio=[5.0] + [1e-5] * 9)
    run.optimizer_class = "Adam"
    (f,) = findings(run)
    assert f.evidence["ratios_before_step"] == 1 and f.step == 1
    assert f.evidence["update_ratio_median"] == pytest.approx(5.0)
    assert f.fixes[0].value == pytest.approx(9e-4)  # 0.3 * 1.5e-2 / 5: Adam's first update is its largest
    assert "first update of Adam" in f.fixes[0].text
    assert "jumped above 3x its start at step 1" in f.message


@pytest.mark.parametrize("optimizer", ["SGD", "RMSprop"])
def test_other_optimizers_aim_at_the_plain_target(optimizer):
    run = record(BLOW_UP, lr=0.3, ratio=[5.0] + [1e-5] * 9)
    run.optimizer_class = optimizer
    (f,) = findings(run)
    assert f.fixes[0].value == pytest.approx(6e-5)  # 0.3 * 1e-3 / 5
    assert "first update of" not in f.fixes[0].text


def test_suggested_lr_from_the_ratio_gap():
    (f,) = findings(record(BOUNCE, lr=0.5, ratio=0.05))
    assert f.fixes[0].value == pytest.approx(0.01)  # 0.5 * 1e-3 / 0.05
    assert "swings between" in f.evidence["instability"]
    assert set(f.evidence["update_ratio_by_layer"]) == {"net.0", "net.2", "net.4"}


def test_ratio_is_rescaled_to_the_configured_lr():
    (f,) = findings(record(NAN, lr=0.1, lr_series=[0.001] * 41, ratio=1e-3))
    assert f.evidence["update_ratio_median"] == pytest.approx(0.1)
    assert f.fixes[0].value == pytest.approx(1e-3)


def test_diverging_uses_ratios_before_the_best_level():
    (f,) = findings(record(CLIMB, lr=0.5, ratio=[0.05] * 4 + [1e-5] * 6))
    assert "climbed back" in f.evidence["instability"]
    assert f.evidence["update_ratio_median"] == pytest.approx(0.05)


def test_not_evaluated_without_update_ratios():
    found, skipped = evaluate(record(NAN, ratio=None), rules=[lr_too_high])
    assert found == [] and "update ratios" in skipped[0].reason
