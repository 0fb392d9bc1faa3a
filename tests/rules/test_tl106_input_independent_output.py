"""TL106 input-independent-output on fabricated output sensitivities."""

import math

import pytest
from data_factory import data_run

from trainlint.rules.data.input_independent_output import input_independent_output
from trainlint.rules.engine import evaluate


def sens(first, evals=None, **fb):
    return data_run(fb={"output_sensitivity": first} | fb, eval_sensitivity=evals, lr=0.01)


FIRES = [
    ("batch_pooled_never_depends", sens(1e-7, [2e-8, 1e-8, 3e-8, 1e-8])),
    ("just_below_throughout", sens(9.9e-4, [9.9e-4, 9.9e-4])),
    ("collapsed_during_training", sens(0.8, [0.5, 1e-5, 0.0, 0.0])),
    ("first_batch_only_constant_bias", sens(0.0, output_min=0.3, output_max=0.3)),
]

QUIET = [
    ("healthy", sens(0.77, [1.1, 1.2])),
    ("resnet_pooling_at_init", sens(0.035, [0.88, 1.29])),
    ("just_above", sens(1.01e-3, [1.01e-3])),
    ("starts_constant_then_learns", sens(0.0, [0.2, 0.9])),
    ("zero_init_output_no_evals", sens(0.0, output_min=0.0, output_max=0.0)),
    ("single_sample_batch", sens(math.nan)),
    ("no_output", sens(None)),
    ("nan_evals_fall_back_to_first_batch", sens(0.5, [math.nan])),
    ("kelvin_regression", data_run(task="regression", loss="MSELoss", num_outputs=1, eval_sensitivity=[3e-4],
                                   data={"target_min": 295.0, "target_max": 305.0}, fb={"output_sensitivity": 0.5})),
]


def findings(run):
    found, skipped = evaluate(run, rules=[input_independent_output])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL106" and f.evidence["min_sensitivity"] == 1e-3


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_never_depends_is_error_on_model():
    (f,) = findings(FIRES[0][1])
    assert f.severity.value == "error" and f.config_key == "model" and f.step == 0
    assert f.evidence["final_sensitivity"] == 1e-8 and f.evidence["final_step"] == 99
    assert "dim 0" in f.fixes[0].text


def test_collapse_points_at_step_and_lr():
    (f,) = findings(FIRES[2][1])
    assert f.severity.value == "warning" and f.step == 49 and f.evidence["collapse_step"] == 49
    assert f.config_key == "optimizer.lr"
    assert f.fixes[0].config_key == "optimizer.lr" and f.fixes[0].value == pytest.approx(0.001)


def test_first_batch_only_is_a_warning():
    (f,) = findings(FIRES[3][1])
    assert f.severity.value == "warning" and "final_sensitivity" not in f.evidence


def test_regression_limit_scales_with_target_range():
    run = data_run(task="regression", loss="MSELoss", num_outputs=1, eval_sensitivity=[1e-5],
                   data={"target_min": 295.0, "target_max": 305.0}, fb={"output_sensitivity": 0.5})
    (f,) = findings(run)
    assert f.evidence["effective_limit"] == pytest.approx(1e-3 * 10 / 305)
