"""TL304 weight-decay-too-high (proposed, not yet registered) on fabricated decay-vs-gradient histories."""

import math

import pytest
from loss_factory import LAYERS, decaying, noisy, record

from trainlint.probe.record import LayerSeries
from trainlint.rules.engine import evaluate
from trainlint.rules.lr.weight_decay_too_high import weight_decay_too_high

FLAT = noisy([2.3] * 100)


def coupled(wd: float, *, val, loss=FLAT, weight: float = 1.4, grad: float = 0.1, optimizer: str = "SGD"):
    """Coupled decay measured against the gradient: pull = wd·‖w‖/‖g‖ = wd·14 by default."""
    run = record(loss, lr=0.05, ratio=0.25, val_metric=val)
    s = run.update_ratio.steps
    run.layer_param_norm = LayerSeries(list(LAYERS), list(s), [[weight] * 3 for _ in s])
    run.layer_grad_norm = LayerSeries(list(LAYERS), list(s), [[grad] * 3 for _ in s])
    run.optimizer_class, run.weight_decay = optimizer, wd
    return run


def decoupled(wd: float, lr: float, ratio: float, val):
    run = record(FLAT, lr=lr, ratio=ratio, val_metric=val)
    run.optimizer_class, run.weight_decay, run.decoupled_weight_decay = "AdamW", wd, True
    return run


AT_CHANCE = [0.1] * 4
GOOD = [0.5, 0.8, 0.9, 0.97]  # 97 % of the way: trains well

FIRES = [
    ("sgd_wd_5_units_slip", coupled(5.0, val=AT_CHANCE)),
    ("adam_wd_0_1_damaged", coupled(0.1, val=[0.4, 0.6, 0.7, 0.72], optimizer="Adam")),  # pull 1.4
    ("pull_just_above", coupled(1.01 / 14, val=AT_CHANCE)),
    ("adamw_wd_100", decoupled(100.0, 0.005, 0.5, AT_CHANCE)),
    ("no_evals_flat_loss", coupled(5.0, val=None)),
]

QUIET = [
    ("usual_sgd_decay", coupled(5e-4, val=AT_CHANCE)),  # pull 7e-3: not the decay
    ("pull_just_below", coupled(0.99 / 14, val=AT_CHANCE)),
    ("strong_pull_but_trains_well", coupled(0.1, val=GOOD)),
    ("usual_adamw", decoupled(0.01, 1e-3, 5e-3, AT_CHANCE)),
    ("no_decay", coupled(0.0, val=AT_CHANCE)),
    ("no_evals_loss_fell", coupled(5.0, val=None, loss=decaying(100))),
]


def findings(run):
    found, skipped = evaluate(run, rules=[weight_decay_too_high])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL304" and f.severity.value == "warning"
    assert f.evidence["decay_pull"] >= f.evidence["min_pull"] == 1.0
    assert f.config_key == f.fixes[0].config_key == "optimizer.args.weight_decay"
    assert 0 < f.fixes[0].value < run.weight_decay


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_units_slip_is_read_as_a_thousandth():
    (f,) = findings(coupled(5.0, val=AT_CHANCE))
    assert f.evidence["units_slip"] and f.fixes[0].value == pytest.approx(5e-4)
    assert f.evidence["shrink_per_step"] == pytest.approx(0.25) and "25% per step" in f.message
    assert "coupled" in f.message and "keep optimizer.lr" in f.fixes[1].text


def test_a_deliberate_value_is_brought_to_a_tenth_of_the_gradient():
    (f,) = findings(coupled(0.1, val=[0.4, 0.6, 0.7, 0.72], optimizer="Adam"))
    assert not f.evidence["units_slip"]
    assert f.fixes[0].value == pytest.approx(0.1 * 0.1 / 1.4, rel=0.3)  # one significant digit
    assert math.isclose(f.evidence["decay_pull"], 1.4)
