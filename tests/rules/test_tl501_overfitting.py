"""TL501 overfitting on fabricated evaluation histories."""

import math

import pytest
from generalization_factory import eval_run

from trainlint.rules.engine import evaluate
from trainlint.rules.generalization.overfitting import overfitting

# Memorising: validation loss doubles after eval 1, train loss → 0, train accuracy 1.0 vs 0.65.
VAL = [0.9, 0.8, 1.0, 1.3, 1.6, 1.8]
TRAIN = [0.8, 0.5, 0.2, 0.05, 0.01, 0.005]
ACC = [0.6, 0.68, 0.66, 0.65, 0.65, 0.65]
TRAIN_ACC = [0.6, 0.8, 0.95, 1.0, 1.0, 1.0]

FIRES = [
    ("memorising", eval_run(VAL, TRAIN, ACC, TRAIN_ACC)),
    ("min_at_first_eval", eval_run([0.9, 1.1, 1.4, 1.6, 1.8], [0.4, 0.2, 0.07, 0.02, 0.01], [0.68, 0.68, 0.65, 0.65, 0.65],
                                   [0.85, 0.95, 1.0, 1.0, 1.0])),
    ("rise_just_above", eval_run([1.0, 0.8, 0.9, 1.21, 1.21], [0.9, 0.6, 0.4, 0.3, 0.2],
                                 [0.7] * 5, [0.7, 0.8, 0.9, 0.95, 0.95])),  # +51%
    ("regression_mae", eval_run([2.0, 1.0, 1.5, 2.0, 2.2], [2.0, 0.9, 0.5, 0.2, 0.1], [1.0, 0.7, 0.75, 0.8, 0.8],
                                [1.0, 0.6, 0.4, 0.2, 0.1], chance=1.2, higher_is_better=False)),
    ("no_metric", eval_run(VAL, TRAIN, [math.nan] * 6, [math.nan] * 6)),
]

QUIET = [
    ("healthy", eval_run([1.0, 0.6, 0.4, 0.35, 0.33], [1.0, 0.55, 0.35, 0.3, 0.28], [0.6, 0.8, 0.88, 0.9, 0.9])),
    ("rise_just_below", eval_run([1.0, 0.8, 0.9, 1.19, 1.19], [0.9, 0.6, 0.4, 0.3, 0.2],
                                 [0.7] * 5, [0.7, 0.8, 0.9, 0.95, 0.95])),  # +49%
    ("one_cycle_mild_memorising", eval_run([1.18, 0.61, 0.57, 0.58, 0.61, 0.63, 0.64], [1.1, 0.5, 0.4, 0.3, 0.2, 0.17, 0.16],
                                           [0.67, 0.77, 0.80, 0.80, 0.78, 0.78, 0.78], [0.7, 0.8, 0.9, 0.93, 0.95, 0.96, 0.96])),
    ("metric_still_improving", eval_run(VAL, TRAIN, [0.6, 0.7, 0.75, 0.8, 0.85, 0.9], TRAIN_ACC)),
    ("train_also_stalled", eval_run(VAL, [0.8, 0.5, 0.5, 0.5, 0.5, 0.5], ACC, TRAIN_ACC)),
    ("no_gap_near_perfect", eval_run([0.05, 0.004, 0.03, 0.02, 0.01, 0.01], [0.05, 0.004, 0.02, 0.004, 0.002, 0.001],
                                     [1.0] * 6, [1.0] * 6)),
    ("min_at_second_last", eval_run([1.0, 0.9, 0.8, 0.7, 0.6, 1.5], [1.0, 0.8, 0.6, 0.4, 0.2, 0.1], ACC, TRAIN_ACC)),
    ("spike_then_recovery", eval_run([1.0, 0.8, 1.6, 0.85, 0.82], [1.0, 0.7, 0.5, 0.3, 0.2], ACC[:5], TRAIN_ACC[:5])),
    ("non_finite_loss", eval_run([1.0, 0.5, math.nan, 2.0], [1.0, 0.5, 0.2, 0.1], ACC[:4], TRAIN_ACC[:4])),
]


def findings(run):
    found, skipped = evaluate(run, rules=[overfitting])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL501" and f.evidence["val_rise"] >= f.evidence["min_val_rise"] == 0.5
    assert f.config_key == "optimizer.args.weight_decay"


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_evidence_and_fixes():
    (f,) = findings(eval_run(VAL, TRAIN, ACC, TRAIN_ACC))
    ev = f.evidence
    assert ev["best_step"] == 49 and f.step == 49 and ev["val_loss_min"] == 0.8
    assert ev["val_rise"] == pytest.approx(1.6 / 0.8 - 1)  # the best of the last two: 1.6
    assert ev["train_drop"] == pytest.approx(1 - 0.005 / 0.5)
    assert ev["metric_gap"] == pytest.approx(0.35)
    assert (f.fixes[0].config_key, f.fixes[0].value) == ("optimizer.args.weight_decay", 0.01)
    assert (f.fixes[1].config_key, f.fixes[1].value) == ("model.args.dropout", 0.3)
    assert "step 50" in f.fixes[2].text


def test_user_model_gets_no_dropout_edit():
    (f,) = findings(eval_run(VAL, TRAIN, ACC, TRAIN_ACC, builtin=False))
    assert f.fixes[1].config_key is None


def test_too_few_evaluations_after_minimum():
    assert findings(eval_run(VAL[:3], TRAIN[:3], ACC[:3], TRAIN_ACC[:3])) == []


def test_not_evaluated_without_evals():
    from trainlint.probe.record import RunRecord

    _, skipped = evaluate(RunRecord(), rules=[overfitting])
    assert skipped and "validation evaluations" in skipped[0].reason


def test_existing_weight_decay_is_raised_tenfold():
    run = eval_run(VAL, TRAIN, ACC, TRAIN_ACC)
    run.weight_decay = 5e-4
    (f,) = findings(run)
    assert (f.fixes[0].config_key, f.fixes[0].value) == ("optimizer.args.weight_decay", 0.005)
