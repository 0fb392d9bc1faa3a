"""TL201 initial-loss-off on fabricated first-batch losses."""

import math

import pytest
from data_factory import LN10, data_run

from trainlint.rules.engine import evaluate
from trainlint.rules.loss.initial_loss_off import initial_loss_off


def start(initial, expected=LN10, **kw):
    return data_run(fb={"initial_loss": initial, "expected_initial_loss": expected, "output_min": -40.0,
                        "output_max": 38.0}, **kw)


FIRES = [
    ("normal_init_10x", start(10 * LN10)),
    ("just_above", start(3.01 * LN10)),
    ("regression_outputs_too_large", start(50.0, 1.0, task="regression", loss="MSELoss", num_outputs=1)),
    ("binary_logits_huge", start(8.0, math.log(2), task="binary", loss="BCEWithLogitsLoss", num_outputs=1)),
    ("user_model", start(30.0, model_builtin=False)),
    ("raw_inputs", start(30.0, data={"feature_rms_max": 826.0})),
]

QUIET = [
    ("at_chance", start(2.31)),
    ("resnet_like_1_2x", start(1.22 * LN10)),
    ("just_below", start(2.99 * LN10)),
    ("below_chance_prior_bias", start(0.5)),
    ("regression_raw_targets", start(29399.0, 29420.0, task="regression", loss="MSELoss", num_outputs=1)),
    ("loss_raised", start(None)),
    ("non_finite", start(math.inf)),
    ("chance_is_zero", start(0.0, 0.0)),
]


def findings(run, **thresholds):
    found, skipped = evaluate(run, rules=[initial_loss_off], thresholds={"initial-loss-off": thresholds})
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL201" and f.severity.value == "warning" and f.step == 0
    assert f.evidence["ratio"] > f.evidence["max_ratio"] == 3.0


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_builtin_model_gets_default_init():
    (f,) = findings(FIRES[0][1])
    assert f.evidence["initial_loss"] == pytest.approx(10 * LN10) and f.evidence["ratio"] == pytest.approx(10)
    assert f.config_key == "model.args.init"
    assert f.fixes[0].config_key == "model.args.init" and f.fixes[0].value == "default"
    assert "10x" in f.fixes[1].text


def test_user_model_gets_code_fix():
    (f,) = findings(FIRES[4][1])
    assert f.config_key == "model" and f.fixes[0].config_key is None


def test_raw_inputs_point_at_standardize():
    (f,) = findings(FIRES[5][1])
    assert f.fixes[0].config_key == "dataset.args.standardize" and f.fixes[0].value is True


def test_regression_suggests_standardising_targets():
    (f,) = findings(FIRES[2][1])
    assert any("targets" in fix.text for fix in f.fixes)


def test_threshold_override():
    assert findings(start(2.0 * LN10), max_ratio=1.5)
