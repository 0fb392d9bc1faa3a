"""Fix texts that read the model (issue 12): functional softmax, existing norm/skips, a lone tanh,
frozen weights and layers outside the optimizer; and the TL501/TL502 measurements behind them."""

import math

import pytest
from generalization_factory import eval_run
from gradients_factory import layer_run, params_run

from trainlint.analysis.generalization import dropout_drag, fit_progress, memorisation, prior_loss
from trainlint.analysis.gradients import has_normalisation, has_residual_blocks, structure_advice
from trainlint.probe.record import FirstBatch, LayerSeries, ModelFacts, RunRecord
from trainlint.rules.base import Severity
from trainlint.rules.engine import evaluate
from trainlint.rules.generalization.overfitting import overfitting
from trainlint.rules.generalization.underfitting import underfitting
from trainlint.rules.gradients.frozen_or_unused_parameters import frozen_or_unused_parameters
from trainlint.rules.gradients.vanishing_gradients import vanishing_gradients
from trainlint.rules.loss.loss_output_mismatch import loss_output_mismatch

BALANCED_10 = {k: 100 for k in range(10)}  # prior loss ln 10 = 2.303


def run_of(rule, run):
    found, skipped = evaluate(run, rules=[rule])
    assert not skipped, skipped
    return found


def classified(val_loss, train_loss, val_metric, train_metric, *, n_train=1400, n_val=360, chance=0.1):
    run = eval_run(val_loss, train_loss, val_metric, train_metric, chance=chance)
    run.task, run.loss_class = "multiclass", "CrossEntropyLoss"
    run.data.class_counts, run.data.n_train, run.data.n_val = dict(BALANCED_10), n_train, n_val
    return run


# --- TL501: memorisation measured by the train-subset loss against the prior's -------------------------------

def memorising(train_loss_end, val_end, n_val=1700):
    return classified([0.6, 0.52, 0.53, 0.55], [0.3, 0.02, 0.005, train_loss_end], [0.82, 0.85, 0.855, val_end],
                      [0.97, 1.0, 1.0, 1.0], n_train=90, n_val=n_val)


def test_prior_loss_is_the_entropy_of_the_class_frequencies():
    run = classified([1.0], [1.0], [0.5], [0.5])
    assert prior_loss(run) == pytest.approx(math.log(10))
    run.data.class_counts = {0: 90, 1: 10}
    assert prior_loss(run) == pytest.approx(-(0.9 * math.log(0.9) + 0.1 * math.log(0.1)))
    run.task = "regression"
    assert prior_loss(run) is None


def test_memorised_few_samples_fires_and_suggests_more_training_data():
    (f,) = run_of(overfitting, memorising(0.0004, 0.86))
    assert f.evidence["memorised"] and f.evidence["memorised_gap"] == pytest.approx(0.14 / 0.9)
    assert "memorised its 90 training samples" in f.message and "14.0 points behind" in f.message
    assert (f.fixes[0].config_key, f.fixes[0].value) == ("dataset.val_fraction", 0.2)


@pytest.mark.parametrize("name, run", [
    # a one-cycle MLP on noisy data: train accuracy 0.96, val 0.77, but its train loss is 6% of the prior's
    ("fits_noisy_data_as_well_as_it_can", memorising(0.14, 0.77)),
    ("tiny_loss_small_gap", memorising(0.0004, 0.97)),
    ("gap_within_noise_of_a_small_validation_set", memorising(0.0004, 0.90, n_val=30)),
    ("validation_at_chance_is_tl502s", classified([2.3, 2.5, 2.8, 3.0], [1.0, 0.1, 0.01, 0.0004],
                                                  [0.1, 0.12, 0.09, 0.11], [0.6, 0.9, 1.0, 1.0], n_train=90)),
])
def test_memorisation_quiet(name, run):
    assert run_of(overfitting, run) == []


def test_memorisation_needs_the_class_prior():
    run = memorising(0.0004, 0.86)
    run.data.class_counts = None
    assert memorisation(run, 0.02, 0.1) is None


# --- TL502: does not fit the training data; the first fix follows the measured cause -------------------------

def not_fitting(train_loss_end=2.28, val_end=0.6, **kw):
    return classified([2.3, 2.29, 2.29, 2.29], [2.3, 2.29, 2.285, train_loss_end], [0.3, 0.5, 0.55, val_end],
                      [0.3, 0.5, 0.55, val_end], **kw)


def test_no_fit_fires_even_with_validation_above_chance():
    run = not_fitting()
    assert fit_progress(run) == pytest.approx(1 - 2.28 / math.log(10))
    (f,) = run_of(underfitting, run)
    assert "does not fit its own training data" in f.message and f.evidence["fit_progress"] < 0.1


def test_fitting_run_is_quiet():
    assert run_of(underfitting, not_fitting(train_loss_end=1.0, val_end=0.6)) == []


def with_training_loss(run, level):
    run.train_loss = [level] * len(run.steps)
    return run


def test_dropout_drag_blames_dropout_first():
    run = with_training_loss(not_fitting(), 2.45)  # training-mode loss above the eval-mode 2.28: dropout
    assert dropout_drag(run) == pytest.approx((2.45 - 2.28) / math.log(10))
    run.model.dropout = {"net.2": 0.95}
    (f,) = run_of(underfitting, run)
    assert (f.fixes[0].config_key, f.fixes[0].value) == ("model.args.dropout", 0.1)
    run.model.is_builtin = False
    run.model.dropout = {}
    (f,) = run_of(underfitting, run)
    assert "F.dropout" in f.fixes[0].text and f.fixes[0].config_key == "model"


def test_classic_dropout_without_drag_is_not_blamed():
    run = with_training_loss(not_fitting(), 2.28)
    run.model.dropout = {"dropout2": 0.5}
    (f,) = run_of(underfitting, run)
    assert "dropout" not in f.fixes[0].text


def test_a_model_big_enough_to_memorise_gets_the_data_check_not_capacity():
    run = with_training_loss(not_fitting(), 2.28)
    run.model.n_trainable = run.model.n_params = 85_000  # 60 weights per training sample
    (f,) = run_of(underfitting, run)
    assert "targets belong to the inputs" in f.fixes[0].text and "capacity" in f.fixes[-1].text
    run.model.n_trainable = run.model.n_params = 800  # under 1 per sample: it may be too small
    (f,) = run_of(underfitting, run)
    assert "capacity" in f.fixes[0].text


def test_frozen_model_blames_the_frozen_weights():
    run = with_training_loss(not_fitting(), 2.28)
    run.model.n_params, run.model.n_trainable = 38_000, 650
    (f,) = run_of(underfitting, run)
    assert f.evidence["cause"] == "frozen" and "unfreeze" in f.fixes[0].text


# --- TL405: frozen weights and layers outside the optimizer ------------------------------------------------

def frozen(learning: bool):
    run = not_fitting(train_loss_end=0.3 if learning else 2.28, val_end=0.9 if learning else 0.2)
    run.grad_norm = [1.0] * len(run.steps)
    run.model.frozen_params, run.model.n_params, run.model.n_trainable = ["conv1.weight"], 38_000, 650
    return run


def test_frozen_backbone_that_learns_is_info_and_one_that_does_not_is_a_warning():
    (f,) = run_of(frozen_or_unused_parameters, frozen(learning=True))
    assert f.severity == Severity.INFO
    (f,) = run_of(frozen_or_unused_parameters, frozen(learning=False))
    assert f.severity == Severity.WARNING and "does not learn" in f.message


def with_updates(run, conv_ratio):
    steps = [0, 10, 20]
    run.update_ratio = LayerSeries(["conv", "head"], steps, [[conv_ratio, 1e-3]] * 3)
    run.layer_grad_norm = LayerSeries(["conv", "head"], steps, [[0.5, 0.2]] * 3)
    run.layer_param_norm = LayerSeries(["conv", "head"], steps, [[8.0, 1.0]] * 3)
    return run


def test_layer_with_gradients_that_never_moves_is_outside_the_optimizer():
    (f,) = run_of(frozen_or_unused_parameters, with_updates(params_run([]), 0.0))
    assert f.evidence["layers_not_updated"] == ["conv"] and f.severity == Severity.WARNING
    assert f.config_key == "optimizer" and "optimizer" in f.fixes[0].text


def test_layers_that_move_are_quiet():
    assert run_of(frozen_or_unused_parameters, with_updates(params_run([]), 1e-4)) == []


# --- TL402 / TL401: advice for what the model has --------------------------------------------------------

def test_a_single_tanh_is_not_blamed_for_vanishing_gradients():
    (f,) = run_of(vanishing_gradients, layer_run([1e-6] * 5, activations={"pooler.activation": "Tanh"}))
    assert not any("sigmoid/tanh" in fix.text for fix in f.fixes)
    (f,) = run_of(vanishing_gradients, layer_run([1e-6] * 5, activations={"a1": "Sigmoid", "a2": "Sigmoid"}))
    assert "`a1`, `a2`" in f.fixes[0].text


def test_norm_and_residual_models_get_no_advice_to_add_them():
    resnet = ModelFacts(class_name="ResNet", layer_types={"bn1": "BatchNorm2d"},
                        module_classes=["BasicBlock", "BatchNorm2d", "Conv2d", "ResNet"])
    plain = ModelFacts(class_name="MLP", layer_types={"fc1": "Linear"}, module_classes=["Linear", "MLP", "ReLU"])
    assert has_normalisation(resnet) and has_residual_blocks(resnet)
    assert not has_normalisation(plain) and not has_residual_blocks(plain)
    assert "already has normalisation and residual" in structure_advice(resnet)
    assert "add normalisation layers or residual" in structure_advice(plain)
    run = layer_run([1e-6] * 5, activations={"a": "ReLU"})
    run.model.module_classes, run.model.class_name = resnet.module_classes, "ResNet"
    run.model.layer_types = {**run.model.layer_types, "bn1": "BatchNorm2d"}
    (f,) = run_of(vanishing_gradients, run)
    assert not any(x.text.startswith(("add normalisation", "add residual")) for x in f.fixes)


# --- TL206: a functional softmax is not a module to remove --------------------------------------------------

def softmax_out(last_module):
    return RunRecord(loss_class="CrossEntropyLoss", task="multiclass",
                     model=ModelFacts(class_name="Net", last_module=last_module),
                     first_batch=FirstBatch(output_shape=[8, 10], output_min=0.03, output_max=0.2,
                                            output_rows_sum_to_one=True, initial_loss=2.3))


def test_functional_softmax_fix_keeps_the_last_linear():
    (f,) = run_of(loss_output_mismatch, softmax_out("Linear"))
    assert "F.softmax" in f.fixes[0].text and "Linear, stays" in f.fixes[0].text
    (f,) = run_of(loss_output_mismatch, softmax_out("Softmax"))
    assert "remove the final Softmax module" in f.fixes[0].text
