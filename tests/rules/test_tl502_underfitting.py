"""TL502 underfitting on fabricated evaluation histories."""

import pytest
from generalization_factory import eval_run

from trainlint.probe.record import LayerSeries
from trainlint.rules.engine import evaluate
from trainlint.rules.generalization.underfitting import underfitting


def acc_run(val, train=None, chance=0.1):
    n = len(val)
    return eval_run([1.0] * n, [1.0] * n, val, train, chance=chance)


def mae_run(val, train=None, chance=10.0):
    n = len(val)
    return eval_run([1.0] * n, [1.0] * n, val, train, chance=chance, higher_is_better=False)


FIRES = [
    ("at_chance", acc_run([0.1, 0.11, 0.1, 0.1])),
    ("just_below", acc_run([0.1, 0.1, 0.18, 0.189])),  # 9.9% of the way
    ("imbalanced_majority", acc_run([0.9, 0.9, 0.9], chance=0.9)),
    ("regression_mean_predictor", mae_run([10.0, 9.8, 9.5])),
    ("train_fits_val_does_not", acc_run([0.12] * 4, [0.4, 0.6, 0.9, 0.99])),
]

QUIET = [
    ("learned", acc_run([0.3, 0.6, 0.8, 0.9])),
    ("just_above", acc_run([0.1, 0.1, 0.18, 0.191])),  # 10.1%
    ("best_of_last_two", acc_run([0.1, 0.1, 0.5, 0.15])),
    ("regression_learned", mae_run([8.0, 6.0, 5.0])),
    ("no_chance_level", acc_run([0.1] * 4, chance=None)),
    ("one_evaluation", acc_run([0.1])),
]


def findings(run):
    found, skipped = evaluate(run, rules=[underfitting])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL502" and f.evidence["progress"] < f.evidence["min_progress"] == 0.1


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def with_update_ratio(run, ratio):
    run.update_ratio = LayerSeries(names=["fc1", "head"], steps=[0, 10, 20, 30],
                                   values=[[ratio, ratio], [ratio, 0.0], [ratio, ratio], [ratio, ratio]])
    return run


def test_cannot_fit_with_moving_weights_blames_capacity():
    (f,) = findings(with_update_ratio(acc_run([0.1, 0.11, 0.1, 0.1]), 1e-3))
    assert f.evidence["val_metric"] == 0.1 and f.evidence["chance_metric"] == 0.1
    assert f.evidence["progress"] == pytest.approx(0.0) and f.step == 99
    assert f.evidence["median_update_ratio"] == pytest.approx(1e-3)
    assert f.config_key == "model.args" and "does not fit" in f.message
    assert (f.fixes[1].config_key, f.fixes[1].value) == ("optimizer.args.weight_decay", 0.0)


def test_cannot_fit_with_frozen_weights_blames_lr():
    (f,) = findings(with_update_ratio(acc_run([0.1, 0.11, 0.1, 0.1]), 1e-6))
    assert f.config_key == "optimizer.lr" and "1.0e-06" in f.fixes[0].text


def test_user_model_capacity_fix_blames_model():
    run = acc_run([0.1] * 4)
    run.model.is_builtin = False
    (f,) = findings(run)
    assert f.config_key == "model"


def test_fits_train_only_puts_data_check_first():
    (f,) = findings(acc_run([0.12] * 4, [0.4, 0.6, 0.9, 0.99]))
    assert f.evidence["train_progress"] == pytest.approx(0.989, abs=1e-3)
    assert f.config_key is None and "labels" in f.fixes[0].text


def test_regression_progress_is_share_of_error_removed():
    (f,) = findings(mae_run([10.0, 9.8, 9.5]))
    assert f.evidence["progress"] == pytest.approx(0.05) and f.evidence["metric_name"] == "mae"
