"""TL502 underfitting on fabricated evaluation histories."""

import math

import pytest
from generalization_factory import eval_run

from trainlint.analysis.attribution import decay_pull
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


def with_update_ratio(run, ratio, lr=1e-3):
    """Update ratios sampled every 10 steps at a constant LR (a zero: a layer that did not move)."""
    run.lr, run.lr_series = lr, [lr] * len(run.steps)
    run.update_ratio = LayerSeries(names=["fc1", "head"], steps=[0, 10, 20, 30],
                                   values=[[ratio, ratio], [ratio, 0.0], [ratio, ratio], [ratio, ratio]])
    return run


def test_cannot_fit_with_moving_weights_blames_capacity():
    (f,) = findings(with_update_ratio(acc_run([0.1, 0.11, 0.1, 0.1]), 1e-3))
    assert f.evidence["val_metric"] == 0.1 and f.evidence["chance_metric"] == 0.1
    assert f.evidence["progress"] == pytest.approx(0.0) and f.step == 99
    assert f.evidence["update_ratio_median"] == pytest.approx(1e-3)
    assert f.config_key == "model.args" and "does not fit" in f.message and "capacity" in f.fixes[0].text
    assert not any(x.config_key == "optimizer.args.weight_decay" for x in f.fixes)  # no weight decay: no no-op edit


def test_moderate_weight_decay_is_removed_while_debugging():
    run = with_update_ratio(acc_run([0.1, 0.11, 0.1, 0.1]), 1e-3)
    run.weight_decay = 1e-4
    (f,) = findings(run)
    assert (f.fixes[0].config_key, f.fixes[0].value) == ("optimizer.args.weight_decay", 0.0)
    assert math.isnan(f.evidence["decay_pull"])  # no norms recorded: no pull measured


def with_norms(run, weight_decay, w=(6.0, 2.0), g=(0.3, 0.2), decoupled=False, ratio=1e-2):
    """First-step parameter and gradient norms of two layers (gradient norms every step, params every 10)."""
    run.weight_decay, run.decoupled_weight_decay, run.lr = weight_decay, decoupled, 1e-3
    run.layer_param_norm = LayerSeries(names=["fc1", "head"], steps=[0, 10], values=[list(w), list(w)])
    run.layer_grad_norm = LayerSeries(names=["fc1", "head"], steps=[0, 1, 2], values=[list(g)] * 3)
    return with_update_ratio(run, ratio)


def test_crushing_weight_decay_is_blamed_first_with_a_value_from_the_norms():
    # pulls: 1.0 * 6/0.3 = 20 and 1.0 * 2/0.2 = 10, median 15; 1.0 coupled reads as a units slip -> 5e-4
    (f,) = findings(with_norms(acc_run([0.1, 0.11, 0.1, 0.1]), 1.0))
    assert f.evidence["decay_pull"] == pytest.approx(15.0) and f.evidence["weight_decay"] == 1.0
    assert f.config_key == "optimizer.args.weight_decay"
    assert (f.fixes[0].config_key, f.fixes[0].value) == ("optimizer.args.weight_decay", 5e-4)
    assert f.fixes[0].applicable and "15x" in f.fixes[0].text


def test_weight_decay_below_the_gradient_pull_is_not_blamed_first():
    (f,) = findings(with_norms(acc_run([0.1, 0.11, 0.1, 0.1]), 0.02))  # pull 0.3
    assert f.evidence["decay_pull"] == pytest.approx(0.3)
    assert f.config_key == "optimizer.args.weight_decay" and f.fixes[0].value == 0.0  # removed, not "lowered to"


def test_decoupled_weight_decay_pull_is_against_the_update_ratio():
    # AdamW: lr*wd = 1e-3 * 50 = 0.05 of the weights per step against an update ratio of 0.06 -> pull 0.05/0.01 = 5
    run = with_norms(acc_run([0.1, 0.11, 0.1, 0.1]), 50.0, decoupled=True, ratio=0.06)
    (f,) = findings(run)
    assert f.evidence["decay_pull"] == pytest.approx(5.0)
    assert (f.fixes[0].config_key, f.fixes[0].value) == ("optimizer.args.weight_decay", 0.01)


def test_decoupled_pull_uses_the_lr_the_measured_step_ran_at():
    # A healthy AdamW under warmup: step 0 ran at lr/100, so its decay was 1e-5 * 0.1 of the weights,
    # against an update ratio of 1e-4 at that step: pull 1e-6 / 9.9e-5 ≈ 0.01, not the 2.2 that the
    # configured lr (1e-3 * 0.1 = 1e-4, as large as the whole update) would give.
    run = with_norms(acc_run([0.1, 0.11, 0.1, 0.1]), 0.1, decoupled=True, ratio=1e-4)
    run.lr_series = [1e-5] + [1e-3] * (len(run.steps) - 1)
    pull = decay_pull(run).pull
    assert pull == pytest.approx(1e-6 / (1e-4 - 1e-6))


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


def test_cannot_fit_with_overshooting_updates_blames_lr_first():
    (f,) = findings(with_update_ratio(acc_run([0.1, 0.11, 0.1, 0.1]), 0.05))  # 50x the ~1e-3 rule of thumb
    assert f.config_key == "optimizer.lr" and "update ratio 5.0e-02" in f.fixes[0].text


def test_quotes_the_last_evaluation_and_names_the_best_one_it_judged():
    (f,) = findings(acc_run([0.1, 0.1, 0.15, 0.12]))  # judged: 0.15 (5.6% of the way), shown: 0.12 as the summary
    assert (f.evidence["val_metric"], f.evidence["val_metric_judged"], f.evidence["last_evals"]) == (0.12, 0.15, 2)
    assert f.message.startswith("validation accuracy 0.120 at the end (0.150 at best over the last 2 evaluations) "
                                "is near chance (0.100)")
