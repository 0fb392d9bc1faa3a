"""TL203 loss-not-decreasing on fabricated loss histories."""

import math

import pytest
from loss_factory import decaying, noisy, record

from trainlint.rules.engine import evaluate
from trainlint.rules.loss.loss_not_decreasing import loss_not_decreasing

FLAT = noisy([2.3] * 100)  # stuck at chance (ln 10)
AT_CHANCE = [0.1] * 4  # validation accuracy = chance (0.1)


def ramp(start: float, end: float, n: int = 100) -> list[float]:
    """A loss going linearly from `start` to `end` (median of the last 10 points ≈ end)."""
    return [start + (end - start) * min(1.0, i / (n - 10)) for i in range(n)]


FIRES = [
    ("flat_at_chance", record(FLAT, val_metric=AT_CHANCE)),
    ("flat_no_metric", record(FLAT)),
    ("drop_just_below_threshold", record(ramp(2.3, 2.3 * 0.91), val_metric=AT_CHANCE)),  # 9 %
    ("tiny_updates", record(FLAT, lr=1e-7, ratio=1e-6, val_metric=AT_CHANCE)),
    ("rising_slightly", record(ramp(2.3, 2.6), val_metric=AT_CHANCE)),
    ("metric_just_below_gain", record(FLAT, val_metric=[0.1, 0.2, 0.3, 0.32])),  # gain 0.244
]

QUIET = [
    ("healthy_decay", record(decaying(100), val_metric=[0.5, 0.8, 0.9, 0.95])),
    ("drop_just_above_threshold", record(ramp(2.3, 2.3 * 0.89), val_metric=AT_CHANCE)),  # 11 %
    ("metric_well_above_chance", record(FLAT, val_metric=[0.4, 0.5, 0.6, 0.7])),
    ("metric_just_above_gain", record(FLAT, val_metric=[0.1, 0.2, 0.3, 0.33])),  # gain 0.256
    ("converged_at_once_metric", record([2.3] + [0.02] * 99, val_metric=[0.99] * 4)),
    ("converged_at_once_far_below_chance", record([2.3] + [0.02] * 99)),
    ("too_short", record(FLAT[:15])),
    ("non_finite", record(FLAT[:50] + [math.nan])),
    ("blew_up_then_flat", record([2.3, 180.0, 95.0, 40.0] + FLAT[4:], val_metric=AT_CHANCE)),
]


def findings(run):
    found, skipped = evaluate(run, rules=[loss_not_decreasing])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL203" and f.severity.value == "warning"
    assert f.evidence["relative_drop"] < f.evidence["min_relative_drop"] == 0.1


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_moving_weights_point_at_the_data_not_the_lr():
    (f,) = findings(record(FLAT, val_metric=AT_CHANCE))
    assert f.evidence["update_ratio_median"] == pytest.approx(1e-3)
    assert f.evidence["metric_gain"] == pytest.approx(0.0)
    assert f.evidence["chance_loss"] == 2.3 and abs(f.evidence["initial_loss"] - 2.3) < 0.05
    assert f.config_key is None and f.fixes[0].config_key is None
    assert "update ratio 1.0e-03" in f.message and "chance level 2.3" in f.message


def test_tiny_updates_blame_the_lr_with_a_computed_value():
    (f,) = findings(record(FLAT, lr=1e-7, ratio=1e-6, val_metric=AT_CHANCE))
    assert f.config_key == "optimizer.lr"
    assert f.fixes[0].config_key == "optimizer.lr" and f.fixes[0].value == pytest.approx(1e-4)
    assert f.evidence["update_ratio_peak"] == pytest.approx(1e-6)


def test_large_first_update_does_not_blame_a_low_lr():
    # Tiny ratios late, but a large one at the first sampled step: the LR is not too low.
    (f,) = findings(record(FLAT, ratio=[0.05] + [1e-6] * 9, val_metric=AT_CHANCE))
    assert f.config_key is None and f.evidence["update_ratio_peak"] == pytest.approx(0.05)


def test_threshold_override():
    run = record(ramp(2.3, 2.3 * 0.89), val_metric=AT_CHANCE)
    found, _ = evaluate(run, rules=[loss_not_decreasing],
                        thresholds={"loss-not-decreasing": {"min_relative_drop": 0.2}})
    assert len(found) == 1 and found[0].evidence["min_relative_drop"] == 0.2


def test_a_schedule_that_kept_the_lr_tiny_is_blamed():
    warmup = [1e-3 * (i + 1) / 20000 for i in range(100)]  # a 20000-step warmup, 0.5 % at the end
    (f,) = findings(record(FLAT, lr_series=warmup, ratio=1e-5, val_metric=AT_CHANCE))
    assert f.config_key == "scheduler" and f.fixes[0].config_key == "scheduler"
    assert f.evidence["peak_lr_fraction"] == pytest.approx(0.005)
    assert "TL303" in f.fixes[0].text


def test_fading_gradients_put_the_gradient_check_first():
    run = record(FLAT, ratio=1e-6, val_metric=AT_CHANCE)
    run.update_ratio.values = [[1e-8, 1e-6, 1e-2] for _ in run.update_ratio.values]  # last layer moves
    (f,) = findings(run)
    assert f.config_key is None and "TL402" in f.fixes[0].text
    assert f.evidence["update_ratio_peak"] == pytest.approx(1e-2)


# --- the differential diagnosis: the first fix names the measured cause (issue 12) --------------

def _decay(run, wd: float):
    from trainlint.probe.record import LayerSeries

    s = run.update_ratio.steps
    run.layer_param_norm = LayerSeries(list(run.update_ratio.names), list(s), [[1.4] * 3 for _ in s])
    run.layer_grad_norm = LayerSeries(list(run.update_ratio.names), list(s), [[0.1] * 3 for _ in s])
    run.optimizer_class, run.weight_decay = "SGD", wd
    return run


def test_weight_decay_that_dominates_comes_first():
    (f,) = findings(_decay(record(FLAT, lr=0.05, ratio=0.25, val_metric=AT_CHANCE), 5.0))
    assert f.evidence["cause"] == "weight_decay" and f.config_key == "optimizer.args.weight_decay"
    assert f.fixes[0].value == pytest.approx(5e-4) and "wrong units" in f.fixes[0].text
    assert "weight decay pulls" in f.message


def test_usual_weight_decay_is_not_blamed():
    (f,) = findings(_decay(record(FLAT, val_metric=AT_CHANCE), 5e-4))
    assert f.evidence["cause"] == "unexplained" and f.config_key is None


def test_per_epoch_schedule_collapse_comes_first_even_on_a_flat_loss():
    lrs = [1e-3 * 0.7**i for i in range(100)]
    (f,) = findings(record(FLAT, lr_series=lrs, ratio=1e-3, val_metric=AT_CHANCE, n_train=1437))
    assert f.evidence["cause"] == "schedule"
    assert (f.fixes[0].config_key, f.fixes[0].value) == ("scheduler.interval", "epoch")


def test_a_frozen_backbone_is_named():
    run = record(FLAT, val_metric=AT_CHANCE)
    run.model.n_trainable, run.model.n_params = 650, 11_000_000
    (f,) = findings(run)
    assert f.evidence["cause"] == "frozen" and f.config_key == "model" and "unfreeze" in f.fixes[0].text


def test_lr_div100_median_ratios_blame_the_lr():
    """Adam at LR/100: a sign-step first sample 2e-4, then 1e-4: every layer crawls."""
    (f,) = findings(record(FLAT, lr=1e-5, ratio=[2e-4] + [1e-4] * 9, val_metric=AT_CHANCE))
    assert f.evidence["cause"] == "lr_too_low" and f.fixes[0].value == pytest.approx(1e-4)


def test_train_subset_fitted_points_at_the_labels():
    run = record(ramp(2.3, 2.2), val_metric=AT_CHANCE)
    run.evals.train_metric = [0.3, 0.5, 0.6, 0.7]
    (f,) = findings(run)
    assert f.evidence["cause"] == "labels" and "targets belong to the inputs" in f.fixes[0].text


def test_train_subset_at_chance_with_healthy_steps_points_at_regularisation():
    run = record(FLAT, val_metric=AT_CHANCE)
    run.evals.train_metric = [0.1] * 4
    run.weight_decay = 1e-4  # some regularisation, too weak to dominate the update
    (f,) = findings(run)
    assert f.evidence["cause"] == "regularisation" and "regularisation" in f.fixes[0].text
    assert "targets belong" in f.fixes[1].text


def test_train_subset_at_chance_without_regulariser_blames_size_or_data():
    run = record(FLAT, val_metric=AT_CHANCE)
    run.evals.train_metric = [0.1] * 4
    run.data.n_train, run.model.n_trainable = 1000, 500  # too few weights to memorise: capacity first
    (f,) = findings(run)
    assert f.evidence["cause"] == "cannot_fit" and "capacity" in f.fixes[0].text
    run.model.n_trainable = 50_000  # could memorise the data and still fits nothing: the data first
    (f,) = findings(run)
    assert "targets belong" in f.fixes[0].text
