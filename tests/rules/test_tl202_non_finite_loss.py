"""TL202 non-finite-loss on fabricated loss histories."""

import math

import pytest
from loss_factory import decaying, record

from trainlint.rules.engine import evaluate
from trainlint.rules.loss.non_finite_loss import non_finite_loss

CALM = [1.0] * 45
SPIKE = CALM + [1.0, 1.2, 30.0, 900.0, 5e4]  # 5e4x the earlier median in the last 5 steps
NAN_AFTER_SPIKE = decaying(50) + [math.nan]

FIRES = [
    ("nan_after_grad_spike", record(NAN_AFTER_SPIKE, grad_norm=SPIKE + [math.nan])),
    ("nan_without_spike", record(NAN_AFTER_SPIKE, ratio=0.1, grad_norm=[1.0] * 51)),
    ("spike_just_above_factor", record(NAN_AFTER_SPIKE, grad_norm=CALM + [1.0] * 4 + [10.1, math.nan])),
    ("inf_loss", record(decaying(20) + [math.inf])),
    ("nan_at_first_step", record([math.nan])),
    ("clip_already_set", record(NAN_AFTER_SPIKE, grad_norm=SPIKE + [math.nan], clip=1.0)),
]

QUIET = [
    ("finite_decay", record(decaying(100))),
    ("huge_but_finite", record([2.3, 1e10, 1e30, 1e38])),
    ("flat", record([2.3] * 50)),
]


def findings(run):
    found, skipped = evaluate(run, rules=[non_finite_loss])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL202" and f.severity.value == "error"
    assert not math.isfinite(f.evidence["loss"]) and f.step == f.evidence["step"]


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_grad_spike_puts_clipping_first():
    (f,) = findings(record(NAN_AFTER_SPIKE, lr=0.1, grad_norm=SPIKE + [math.nan]))
    assert f.step == 50 and f.evidence["grad_norm_spike"] == pytest.approx(5e4)
    assert "peaked at 5e+04" in f.message
    clip, lower = f.fixes[0], f.fixes[1]
    assert f.config_key == clip.config_key == "probe.clip_grad_norm" and clip.applicable
    assert clip.value == 1.0  # 90th percentile of the calm norms before the blow-up
    assert lower.config_key == "optimizer.lr" and lower.value == pytest.approx(0.01)  # lr / 10


def test_large_updates_put_the_lr_first_with_a_computed_value():
    (f,) = findings(record(NAN_AFTER_SPIKE, lr=0.1, ratio=0.1, grad_norm=[1.0] * 51))
    assert f.evidence["update_ratio_median"] == pytest.approx(0.1)
    assert f.evidence["grad_norm_spike"] == pytest.approx(1.0)
    assert f.config_key == "optimizer.lr"
    assert f.fixes[0].value == pytest.approx(1e-3)  # 0.1 * 1e-3 / 0.1
    assert f.fixes[1].config_key == "probe.clip_grad_norm"


def test_spike_just_below_factor_is_not_called_a_spike():
    (f,) = findings(record(NAN_AFTER_SPIKE, grad_norm=CALM + [1.0] * 4 + [9.9, math.nan]))
    assert f.evidence["grad_norm_spike"] == pytest.approx(9.9)
    assert f.fixes[0].config_key == "optimizer.lr" and "no gradient spike" in f.message


def test_first_step_blames_data_or_loss_not_the_lr():
    (f,) = findings(record([math.nan]))
    assert f.step == 0 and f.config_key == "loss"
    assert all(fix.config_key is None for fix in f.fixes)


def test_clip_already_set_offers_only_the_lr():
    (f,) = findings(record(NAN_AFTER_SPIKE, grad_norm=SPIKE + [math.nan], clip=1.0))
    assert [fix.config_key for fix in f.fixes] == ["optimizer.lr"]


def test_not_evaluated_without_a_loss():
    found, skipped = evaluate(record([]), rules=[non_finite_loss])
    assert found == [] and skipped[0].reason == "not recorded: the training loss"


def test_raw_regression_targets_come_before_the_lr():
    """Diabetes targets (RMS 170) under SGD: standardising them is the first fix, the LR's later."""
    run = record([2.9e4, 3e4, 5e5, 1e9, float("inf")], lr=0.01, ratio=6.6)
    run.optimizer_class = "SGD"
    run.task, run.data.target_rms, run.data.target_mean, run.data.target_std = "regression", [170.0], [151.0], [77.0]
    (f,) = evaluate(run, rules=[non_finite_loss])[0]
    assert "standardise the regression targets" in f.fixes[0].text and f.config_key == "dataset"
    assert any(x.config_key == "optimizer.lr" for x in f.fixes[1:])
    assert f.evidence["cause_before_lr"]
