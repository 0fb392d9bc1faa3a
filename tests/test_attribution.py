"""Attribution to the knob that is wrong: the measurements in analysis/attribution.py on fabricated
records (each one way and the other), then end to end on fault configs of each kind.

End to end, each case asserts what the user is told first, not only which code fired: the
weight-decay fault must not be blamed on the LR, raw targets must be blamed on the targets, a
per-epoch schedule stepped per batch must be told to step per epoch.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
from conftest import CONFIGS, read_report

sys.path.insert(0, str(Path(__file__).parent / "rules"))
from loss_factory import LAYERS, decaying, noisy, record  # noqa: E402

from trainlint.analysis.attribution import (  # noqa: E402
    before_lowering_lr,
    decay_dominance,
    decay_pull,
    flat_loss_cause,
    looks_per_epoch,
    schedule_collapse,
    suggest_weight_decay,
    target_scale,
    target_scale_harm,
)
from trainlint.probe.record import LayerSeries  # noqa: E402

FLAT = noisy([2.3] * 100)
AT_CHANCE = [0.1] * 4


def with_norms(run, weight: float, grad: float):
    """Per-layer weight and (loss-only) gradient norms at every sampled step."""
    steps = run.update_ratio.steps or list(range(0, len(run.steps), 10))
    run.layer_param_norm = LayerSeries(list(LAYERS), list(steps), [[weight] * len(LAYERS) for _ in steps])
    run.layer_grad_norm = LayerSeries(list(LAYERS), list(steps), [[grad] * len(LAYERS) for _ in steps])
    return run


def sgd_weight_decay(wd: float, *, lr: float = 0.05, ratio: float = 0.25, loss=FLAT, val=AT_CHANCE):
    """SGD whose L2 term wd·‖w‖ is measured against the loss gradient ‖g‖ = 0.1 on ‖w‖ = 1.4."""
    run = with_norms(record(loss, lr=lr, ratio=ratio, val_metric=val), weight=1.4, grad=0.1)
    run.optimizer_class, run.weight_decay = "SGD", wd
    return run


def regression(loss, *, rms: float = 170.0, val=None, builtin: bool = True):
    run = record(loss, val_metric=val, higher_is_better=False, chance_metric=68.0)
    run.task, run.optimizer_class = "regression", "SGD"
    run.data.target_rms, run.data.target_mean, run.data.target_std = [rms], [151.0], [77.0]
    run.data.is_builtin = builtin
    return run


def step_lr(step_size: int, gamma: float, n: int = 150, lr: float = 1e-3) -> list[float]:
    return [lr * gamma ** (i // step_size) for i in range(n)]


# --- weight decay against the gradient ---------------------------------------------------------

def test_coupled_decay_dominates_and_reads_as_a_units_slip():
    d = decay_pull(sgd_weight_decay(5.0))
    assert d.coupled and d.pull == pytest.approx(5.0 * 1.4 / 0.1) and d.dominates
    assert d.shrink_per_step == pytest.approx(0.25)  # lr·wd: a quarter of every weight per step
    assert d.units_slip and d.suggested == pytest.approx(5e-4)  # 5 read as 5e-4, capped at the usual value
    assert d.remedy().config_key == "optimizer.args.weight_decay" and d.remedy().value == pytest.approx(5e-4)


def test_usual_coupled_decay_does_not_dominate():
    d = decay_pull(sgd_weight_decay(5e-4))
    assert d.pull == pytest.approx(7e-3) and not d.dominates
    assert decay_dominance(sgd_weight_decay(5e-4)) is None
    assert decay_pull(sgd_weight_decay(0.0)) is None  # no decay, nothing to measure


def test_decoupled_decay_is_measured_against_the_update_ratio():
    run = record(FLAT, lr=0.005, ratio=0.5, val_metric=AT_CHANCE)  # AdamW: lr·wd = 0.5 of the 0.5 ratio
    run.optimizer_class, run.weight_decay, run.decoupled_weight_decay = "AdamW", 100.0, True
    d = decay_pull(run)
    assert not d.coupled and d.shrink_per_step == pytest.approx(0.5) and d.dominates
    assert d.suggested == pytest.approx(1e-2)  # AdamW's usual value
    run.weight_decay = 0.01  # lr·wd = 5e-5 against a 0.5 ratio: the gradient's update
    assert not decay_pull(run).dominates


def test_moderate_decay_is_brought_to_a_tenth_of_the_gradient():
    assert suggest_weight_decay(0.1, pull=2.0, coupled=True) == (pytest.approx(5e-3), False)


# --- target scale ------------------------------------------------------------------------------

def test_raw_targets_that_blew_up_are_harmful():
    run = regression(decaying(20) + [math.inf])
    ts = target_scale(run)
    assert ts.rms == 170.0 and ts.mean == 151.0
    assert "non-finite" in target_scale_harm(run)
    assert ts.remedies()[0].config_key == "dataset" and "(y - 151)" in ts.remedies()[0].text
    assert "standardise the regression targets" in before_lowering_lr(run)[0].text


def test_raw_targets_fitted_well_do_no_harm():
    run = regression(decaying(100, start=3e4, end=3e3), val=[60.0, 50.0, 45.0, 40.0])
    assert target_scale(run) is not None and target_scale_harm(run) is None


def test_standardised_or_classification_targets_have_no_scale_problem():
    assert target_scale(regression(FLAT, rms=1.0)) is None
    assert target_scale(record(FLAT)) is None


# --- schedules ---------------------------------------------------------------------------------

def test_per_epoch_steplr_stepped_per_step_collapses_whatever_the_loss():
    run = record(FLAT, lr_series=step_lr(1, 0.7, 100), steps_planned=100, n_train=1437, scheduler_class="StepLR")
    s = schedule_collapse(run)
    assert s is not None and s.collapse_step == 13 and not s.never_warmed
    assert looks_per_epoch(run, 13)


def test_steplr_an_epoch_apart_is_not_read_as_per_epoch():
    run = record(FLAT, lr_series=step_lr(30, 0.001, 100), steps_planned=100, n_train=640, scheduler_class="StepLR")
    assert schedule_collapse(run).collapse_step == 30 and not looks_per_epoch(run, 30)


def test_cosine_over_the_run_is_not_a_collapse():
    lrs = [1e-3 * 0.5 * (1 + math.cos(math.pi * i / 100)) for i in range(100)]
    assert schedule_collapse(record(FLAT, lr_series=lrs)) is None


# --- the flat-loss differential diagnosis ------------------------------------------------------

def frozen(run, trainable: int = 650, total: int = 11_000_000):
    run.model.n_trainable, run.model.n_params = trainable, total
    return run


def with_train_metric(run, values):
    run.evals.train_metric = list(values)
    return run


CAUSES = [
    ("schedule", record(FLAT, lr_series=step_lr(1, 0.7, 100), steps_planned=100, val_metric=AT_CHANCE),
     "scheduler.interval"),
    ("weight_decay", sgd_weight_decay(5.0), "optimizer.args.weight_decay"),
    ("frozen", frozen(record(FLAT, val_metric=AT_CHANCE)), "model"),
    ("target_scale", regression(FLAT), "dataset"),
    ("lr_too_low", record(FLAT, lr=1e-6, ratio=1e-6, val_metric=AT_CHANCE), "optimizer.lr"),
    ("lr_too_high", record(FLAT, lr=3.0, ratio=0.2, val_metric=AT_CHANCE), "optimizer.lr"),
    ("labels", with_train_metric(record(decaying(100), val_metric=AT_CHANCE), [0.5, 0.8, 0.95, 1.0]), None),
    ("cannot_fit", with_train_metric(record(FLAT, val_metric=AT_CHANCE), [0.1] * 4), "model"),
    ("unexplained", record(FLAT, val_metric=AT_CHANCE), None),
]


@pytest.mark.parametrize("kind, run, key", CAUSES, ids=[c[0] for c in CAUSES])
def test_flat_loss_cause(kind, run, key):
    cause = flat_loss_cause(run)
    assert cause.kind == kind and cause.config_key == key
    checks_data_first = "targets belong to the inputs" in cause.remedies[0].text
    assert checks_data_first == (kind in {"labels", "unexplained"})  # only when the evidence points there


def test_a_usual_run_gets_no_lr_blame():
    """Update ratios at the rule of thumb: neither too low nor too high."""
    assert flat_loss_cause(record(FLAT, ratio=1e-3, val_metric=AT_CHANCE)).kind == "unexplained"
    assert flat_loss_cause(frozen(record(FLAT, val_metric=AT_CHANCE), trainable=9_000, total=10_000)).kind \
        == "unexplained"  # 90 % trainable is no frozen backbone


# --- end to end --------------------------------------------------------------------------------

FAULTS = CONFIGS / "faults"


def probe(cli, tmp_path, config: str) -> dict:
    out = tmp_path / "out"
    cli("probe", FAULTS / config, "--out", out, "--no-plots", "-q")
    return read_report(out)


def by_code(report: dict) -> dict[str, dict]:
    return {f["code"]: f for f in report["findings"]}


def test_sgd_weight_decay_5_blames_weight_decay_not_the_lr(cli, tmp_path):
    found = by_code(probe(cli, tmp_path, "tl203_sgd_weight_decay_5.yaml"))
    assert "TL301" not in found
    first = found["TL203"]["fixes"][0]
    assert first["config_key"] == "optimizer.args.weight_decay" and first["value"] == pytest.approx(5e-4)
    assert found["TL203"]["evidence"]["cause"] == "weight_decay"


def test_lr_div1000_on_a_cnn_is_lr_too_low(cli, tmp_path):
    found = by_code(probe(cli, tmp_path, "tl302_cnn_adam_lr_div1000.yaml"))
    assert found["TL302"]["fixes"][0]["config_key"] == "optimizer.lr"
    assert found["TL302"]["fixes"][0]["value"] > 1e-4  # at least 100x up from 1e-6
    assert found["TL203"]["fixes"][0]["config_key"] == "optimizer.lr"


def test_per_epoch_steplr_is_told_to_step_per_epoch(cli, tmp_path):
    found = by_code(probe(cli, tmp_path, "tl303_steplr_per_epoch.yaml"))
    assert found["TL303"]["fixes"][0]["config_key"] == "scheduler.interval"
    assert found["TL303"]["fixes"][0]["value"] == "epoch"
    assert found["TL303"]["evidence"]["collapse_step"] == 13


def test_raw_diabetes_targets_are_blamed_on_the_targets(cli, tmp_path):
    found = by_code(probe(cli, tmp_path, "tl103_diabetes_raw_targets_sgd.yaml"))
    assert "TL301" not in found
    assert found["TL103"]["evidence"]["target_rms"] > 100
    assert "standardise the regression targets" in found["TL202"]["fixes"][0]["text"]


def test_raw_pixels_on_a_model_that_learned_get_no_lr_error(cli, tmp_path):
    report = probe(cli, tmp_path, "tl103_user_digits_255.yaml")
    assert report["metrics"]["final_val_metric"] > 0.85
    assert not [f for f in report["findings"] if f["code"] == "TL301" and f["severity"] == "error"]
    assert "TL103" in by_code(report)


def test_heavy_dropout_is_named_when_the_train_subset_stays_at_chance():
    run = with_train_metric(record(FLAT, val_metric=AT_CHANCE), [0.1] * 4)
    run.model.dropout, run.model.is_builtin = {"net.2": 0.9}, True
    cause = flat_loss_cause(run)
    assert cause.kind == "regularisation" and "p=0.9" in cause.summary
    assert (cause.remedies[0].config_key, cause.remedies[0].value) == ("model.args.dropout", 0.1)
    run.model.is_builtin = False
    assert "`net.2` (p=0.9)" in flat_loss_cause(run).remedies[0].text
    run.model.dropout = {}  # functional dropout: no module, only the measured drag
    run.evals.train_loss, run.train_loss = [2.2] * 4, [2.4] * len(run.steps)
    run.task, run.loss_class, run.data.class_counts = "multiclass", "CrossEntropyLoss", {k: 10 for k in range(10)}
    assert "F.dropout" in flat_loss_cause(run).remedies[0].text


def test_raw_targets_come_before_the_lr_only_where_they_size_the_steps():
    run = regression(decaying(20) + [math.inf])
    assert before_lowering_lr(run)  # SGD: steps on the targets' scale
    run.optimizer_class = "Adam"
    assert before_lowering_lr(run) == []  # Adam: the LR alone sizes the steps


def test_decay_pull_on_all_zero_weights_is_not_measured():
    # A zeros init: wd·‖w‖/‖g‖ is 0 for every layer; no pull to judge (and no division by it).
    run = sgd_weight_decay(5e-4)
    run.layer_param_norm.values = [[0.0] * len(row) for row in run.layer_param_norm.values]
    assert decay_pull(run) is None
