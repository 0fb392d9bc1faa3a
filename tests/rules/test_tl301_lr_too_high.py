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


# --- attribution: large steps or instability that another knob explains (issue 12) ---------------

def _norms(run, weight: float = 1.4, grad: float = 0.1):
    from trainlint.probe.record import LayerSeries

    s = run.update_ratio.steps
    run.layer_param_norm = LayerSeries(list(run.update_ratio.names), list(s), [[weight] * 3 for _ in s])
    run.layer_grad_norm = LayerSeries(list(run.update_ratio.names), list(s), [[grad] * 3 for _ in s])
    return run


def coupled_decay(wd: float):
    """SGD lr 0.05 at a stalled loss, steps of 25 % of the weights; wd·‖w‖ vs ‖g‖ = wd·14."""
    run = _norms(record(DEAD, lr=0.05, ratio=0.25))
    run.optimizer_class, run.weight_decay = "SGD", wd
    return run


def frozen_backbone(kind):
    run = record(kind, lr=1e-3, ratio=0.05)
    run.model.n_trainable, run.model.n_params = 650, 11_000_000
    return run


def raw_targets():
    run = record(NAN, lr=0.01, ratio=6.6)
    run.optimizer_class = "SGD"
    run.task, run.data.target_rms, run.data.target_mean, run.data.target_std = "regression", [170.0], [151.0], [77.0]
    return run


def test_decay_that_makes_the_steps_is_not_the_lr():
    assert findings(coupled_decay(5.0)) == []  # pull 70: the gradient's share of 0.25 is 3.5e-3


def test_usual_decay_keeps_the_lr_blamed():
    (f,) = findings(coupled_decay(5e-4))  # pull 7e-3: the steps are the gradient's
    assert f.config_key == "optimizer.lr"


def test_a_handful_of_trainable_weights_stalled_is_not_the_lr():
    assert findings(frozen_backbone(DEAD)) == []
    assert findings(frozen_backbone(BOUNCE)) == []


def test_a_frozen_backbone_that_blew_up_still_overshot():
    (f,) = findings(frozen_backbone(NAN))
    assert f.severity.value == "error"


def test_raw_regression_targets_are_left_to_tl103():
    assert findings(raw_targets()) == []


def test_a_run_that_trains_well_is_not_flagged():
    """Bounces with large steps, yet validation reached 95 % of the way to perfect (raw pixels at 94 %)."""
    assert findings(record(BOUNCE, lr=0.5, ratio=0.05, val_metric=[0.5, 0.8, 0.9, 0.955])) == []


def test_severity_follows_the_consequence():
    (f,) = findings(record(BOUNCE, lr=0.5, ratio=0.05, val_metric=[0.3, 0.5, 0.6, 0.7]))  # 67 % of the way
    assert f.severity.value == "warning"
    (g,) = findings(record(BOUNCE, lr=0.5, ratio=0.05, val_metric=[0.1, 0.1, 0.1, 0.2]))
    assert g.severity.value == "error"


def test_a_stall_under_a_collapsed_schedule_is_left_to_tl303():
    """Adadelta at lr 1 with StepLR(1, 0.7) per step: steps of 5 % before the LR vanished, then a flat loss."""
    lrs = [1.0 * 0.7**i for i in range(100)]
    assert findings(record(DEAD, lr=1.0, lr_series=lrs, ratio=0.05)) == []
    assert findings(record(DEAD, lr=1.0, ratio=0.05))  # the same steps without the collapse: the LR


def test_raw_targets_under_adam_leave_the_lr_blamed():
    """Adam's step does not grow with the targets' scale: a blow-up there is the LR's."""
    run = raw_targets()
    run.optimizer_class = "Adam"
    (f,) = findings(run)
    assert f.config_key == "optimizer.lr"
