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


# --- regression targets on a raw scale (issue 12) -----------------------------------------------

def raw_targets(loss: list[float], *, rms: float = 170.0, builtin: bool = True, val: float | None = None):
    """Diabetes-like targets (mean 151, std 77) on standardised inputs, with a training history."""
    run = data_run(task="regression", loss="MSELoss", num_outputs=1,
                   data={"target_rms": [rms], "target_mean": [151.0], "target_std": [77.0], "is_builtin": builtin},
                   fb={"initial_loss": 2.9e4, "expected_initial_loss": 5.9e3})
    run.steps, run.train_loss, run.grad_norm = list(range(len(loss))), list(loss), [800.0] * len(loss)
    if val is not None:
        run.evals.steps, run.evals.val_metric, run.evals.chance_metric = [len(loss) - 1], [val], 68.0
        run.evals.higher_is_better, run.evals.metric_name = False, "mae"
    return run


BLEW_UP = [2.9e4, 3e4, 5e5, 1e9, float("inf")]
FITTED = [2.9e4 * 0.97**i + 2.5e3 for i in range(100)]


def test_raw_targets_that_blew_up_are_flagged_with_a_target_fix():
    (f,) = findings(raw_targets(BLEW_UP))
    assert f.evidence["target_rms"] == 170.0 and f.evidence["max_target_scale"] == 10.0
    assert "non-finite" in f.evidence["harm"] and "before lowering the LR" in f.message
    assert f.config_key == "dataset" and "(y - 151) / 77" in f.fixes[0].text


def test_raw_targets_on_a_flat_loss_are_flagged():
    (f,) = findings(raw_targets([2.9e4] * 100, builtin=False))
    assert "fell only" in f.evidence["harm"] and "built-in" not in f.fixes[0].text


def test_raw_targets_fitted_well_are_quiet():
    """Adam fits diabetes's raw targets well (the healthy config): scale alone is no fault."""
    assert findings(raw_targets(FITTED, val=45.0)) == []


def test_raw_targets_before_training_are_quiet():
    assert findings(raw_targets([2.9e4])) == []  # `check`: one step, no consequence to judge


def test_scaled_targets_are_quiet():
    assert findings(raw_targets(BLEW_UP, rms=1.0)) == []


def test_raw_targets_in_a_check_with_one_evaluation_are_quiet():
    """`trainlint check`: one step and one validation batch at chance is no harm yet."""
    assert findings(raw_targets([2.9e4], val=68.0)) == []


def _first_step(run, optimizer: str, ratio: float):
    from trainlint.probe.record import LayerSeries

    run.optimizer_class = optimizer
    run.update_ratio = LayerSeries(["net.0", "net.2"], [0], [[ratio, ratio]])
    return run


def test_raw_targets_seen_on_the_first_sgd_step():
    """`check`: under SGD the first step is on the targets' scale (6.6x the weights' norm)."""
    (f,) = findings(_first_step(raw_targets([2.9e4]), "SGD", 6.6))
    assert "first SGD step moved the weights by 6.6x their norm" in f.message


def test_raw_targets_under_adam_are_not_judged_on_the_first_step():
    assert findings(_first_step(raw_targets([2.9e4]), "Adam", 6.6)) == []  # Adam's step ignores the scale
    assert findings(_first_step(raw_targets([2.9e4]), "SGD", 0.01)) == []  # a small first step: no harm yet
