"""TL103 unnormalized-inputs on fabricated per-feature statistics."""

import pytest
from data_factory import data_run

from trainlint.rules.data.unnormalized_inputs import unnormalized_inputs
from trainlint.rules.engine import evaluate

WINE_RAW = {"feature_rms_max": 826.6, "feature_rms_min": 0.39, "feature_rms_argmax": 12, "feature_mean_abs_max": 757.5,
            "feature_std_min": 0.12, "feature_std_max": 330.8}
DIGITS_RAW = {"feature_rms_max": 12.9, "feature_rms_min": 0.026, "feature_rms_argmax": 35,
              "feature_mean_abs_max": 12.2, "feature_std_min": 0.026, "feature_std_max": 6.57}

FIRES = [
    ("wine_raw", data_run(data=WINE_RAW)),
    ("digits_raw", data_run(data=DIGITS_RAW)),
    ("scale_just_above", data_run(data={"feature_rms_max": 5.01})),
    ("images_0_255_user", data_run(data={"input_kind": "image", "feature_rms_max": 134.0, "feature_rms_min": 120.0,
                                         "is_builtin": False})),
    ("tiny_inputs", data_run(data={"feature_rms_max": 0.002, "feature_rms_min": 0.001})),
    ("scales_spread", data_run(data={"feature_rms_max": 2.0, "feature_rms_min": 0.0019})),
]

QUIET = [
    ("standardised", data_run()),
    ("scale_just_below", data_run(data={"feature_rms_max": 4.99})),
    ("pixels_in_0_1", data_run(data={"feature_rms_max": 0.52, "feature_rms_min": 0.3})),
    ("rare_binary_feature", data_run(data={"feature_rms_max": 1.0, "feature_rms_min": 0.007})),
    ("small_but_not_tiny", data_run(data={"feature_rms_max": 0.011, "feature_rms_min": 0.005})),
    ("tokens", data_run(data={"input_kind": "tokens", "feature_rms_max": None, "feature_rms_min": None})),
]


def findings(run, **thresholds):
    found, skipped = evaluate(run, rules=[unnormalized_inputs], thresholds={"unnormalized-inputs": thresholds})
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL103" and f.severity.value == "warning"


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_builtin_gets_standardize_edit():
    (f,) = findings(FIRES[0][1])
    assert f.evidence["feature_rms_max"] == 826.6 and f.evidence["max_scale"] == 5.0
    assert "feature 12" in f.message
    assert f.config_key == "dataset.args.standardize"
    assert f.fixes[0].config_key == "dataset.args.standardize" and f.fixes[0].value is True


def test_user_data_gets_code_advice_per_channel():
    (f,) = findings(FIRES[3][1])
    assert "channel" in f.message and f.config_key == "dataset"
    assert f.fixes[0].config_key is None and "Normalize" in f.fixes[0].text


def test_tiny_and_spread_name_their_threshold():
    (tiny,) = findings(FIRES[4][1])
    (spread,) = findings(FIRES[5][1])
    assert tiny.evidence["min_scale"] == 0.01
    assert spread.evidence["max_scale_spread"] == 1000.0 and spread.evidence["scale_spread"] > 1000


def test_threshold_override():
    assert findings(data_run(data={"feature_rms_max": 4.0}), max_scale=3.0)
