"""TL302 lr-too-low on fabricated loss and update-ratio histories."""

import pytest
from loss_factory import decaying, noisy, record

from trainlint.rules.engine import evaluate
from trainlint.rules.lr.lr_too_low import lr_too_low

FLAT = noisy([2.3] * 100)


def vanishing(run):
    """First layers barely move, the last one moves normally (1e-6, 1e-5, 1e-3 of its norm)."""
    run.update_ratio.values = [[1e-6, 1e-5, 1e-3] for _ in run.update_ratio.values]
    return run
AT_CHANCE = [0.1] * 4
SLOW = [2.3 - 0.5 * i / 90 for i in range(100)]  # 20 % drop

FIRES = [
    ("tiny_updates_flat", record(FLAT, lr=1e-7, ratio=1e-6, val_metric=AT_CHANCE)),
    ("slow_progress", record(SLOW, lr=1e-5, ratio=2e-5)),
    ("ratio_just_below", record(FLAT, ratio=2.9e-4, val_metric=AT_CHANCE)),
    # Adam at LR/100: a sign-step first update 2e-4, then 1e-4 (the peak alone would hide it)
    ("adam_lr_div100", record(FLAT, lr=1e-5, ratio=[2e-4] + [1e-4] * 9, val_metric=AT_CHANCE)),
    # Adagrad at LR/100: its first step (no accumulated squares yet) is 20x its later ones
    ("adagrad_lr_div100", record(FLAT, lr=2e-4, ratio=[4e-3] + [2e-4] * 9, val_metric=AT_CHANCE)),
]

QUIET = [
    ("ratio_just_above", record(FLAT, ratio=3.1e-4, val_metric=AT_CHANCE)),
    ("one_layer_moves", record(FLAT, ratio=1e-5, val_metric=AT_CHANCE)),  # patched below: the last layer 1e-3
    ("first_step_blew_the_weights_up", record(FLAT, ratio=[1e-2] + [1e-5] * 9, val_metric=AT_CHANCE)),
    ("healthy", record(noisy(decaying(100), 0.1), ratio=1e-3, val_metric=[0.5, 0.8, 0.9, 0.95])),
    ("small_updates_good_progress", record(noisy(decaying(100), 0.1), ratio=1e-6)),
    ("metric_well_above_chance", record(FLAT, ratio=1e-6, val_metric=[0.4, 0.5, 0.6, 0.7])),
    ("blew_up_first", record(FLAT, ratio=[2.0] + [1e-7] * 9)),  # tiny late ratios: huge weights
    ("long_warmup", record(FLAT, lr=1e-3, lr_series=[1e-3 * (i + 1) / 20000 for i in range(100)],
                           ratio=[1e-3 * (i * 10 + 1) / 20000 for i in range(10)])),
    ("too_short", record(FLAT[:15], ratio=1e-6)),
    ("vanishing_gradients", vanishing(record(FLAT, ratio=1e-6, val_metric=AT_CHANCE))),
]


QUIET[1][1].update_ratio.values = [[1e-5, 1e-5, 1e-3] for _ in QUIET[1][1].update_ratio.values]


def findings(run):
    found, skipped = evaluate(run, rules=[lr_too_low])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL302" and f.severity.value == "warning"
    assert f.evidence["update_ratio_median"] < f.evidence["max_update_ratio"] == 3e-4
    assert f.evidence["update_ratio_largest_layer"] < 3 * 3e-4 and f.evidence["update_ratio_peak"] < 30 * 3e-4
    assert f.config_key == f.fixes[0].config_key == "optimizer.lr"
    assert f.fixes[0].value == f.evidence["suggested_lr"] > run.lr


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_suggested_lr_closes_the_ratio_gap():
    (f,) = findings(record(FLAT, lr=1e-7, ratio=1e-6, val_metric=AT_CHANCE))
    assert f.evidence["update_ratio_median"] == pytest.approx(1e-6)
    assert f.fixes[0].value == pytest.approx(1e-4)  # 1e-7 * 1e-3 / 1e-6
    assert "1000x under" in f.message


def test_slow_progress_evidence():
    (f,) = findings(record(SLOW, lr=1e-5, ratio=2e-5))
    assert f.evidence["relative_drop"] == pytest.approx(0.217, abs=0.01)
    assert f.evidence["metric_gain"] is None
    assert f.fixes[0].value == pytest.approx(5e-4)


def test_not_evaluated_without_update_ratios():
    found, skipped = evaluate(record(FLAT, ratio=None), rules=[lr_too_low])
    assert found == [] and "update ratios" in skipped[0].reason
