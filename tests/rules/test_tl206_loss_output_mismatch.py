"""TL206 loss-output-mismatch on fabricated output forms."""

import pytest
from data_factory import data_run

from trainlint.rules.engine import evaluate
from trainlint.rules.loss.loss_output_mismatch import loss_output_mismatch

PROBS = {"output_min": 0.02, "output_max": 0.31, "output_rows_sum_to_one": True}
LOG_PROBS = {"output_min": -3.9, "output_max": -0.9, "output_is_log_prob": True}
SIGMOID = {"output_min": 0.38, "output_max": 0.61, "output_shape": [32, 1], "output_rows_sum_to_one": None,
           "output_is_log_prob": None}
BINARY = {"task": "binary", "num_outputs": 1}

FIRES = [
    ("softmax_then_cross_entropy", data_run(fb=PROBS, last_module="Softmax", model_builtin=False)),
    ("functional_softmax_then_ce", data_run(fb=PROBS)),  # measured: rows sum to 1, whatever the module
    ("sigmoid_then_cross_entropy", data_run(fb={"output_min": 0.3, "output_max": 0.7}, last_module="Sigmoid")),
    ("sigmoid_then_bce_with_logits", data_run(loss="BCEWithLogitsLoss", fb=SIGMOID, last_module="Sigmoid", **BINARY)),
    ("bce_on_logits", data_run(loss="BCELoss", fb=SIGMOID | {"output_min": -0.6, "output_max": 0.2}, **BINARY)),
    ("bce_on_logits_just_above_1", data_run(loss="BCELoss", fb=SIGMOID | {"output_min": 0.1, "output_max": 1.001},
                                            **BINARY)),
    ("nll_on_logits", data_run(loss="NLLLoss")),
    ("nll_on_probabilities", data_run(loss="NLLLoss", fb=PROBS, last_module="Softmax")),
    ("cross_entropy_one_output", data_run(fb={"output_shape": [32, 1], "initial_loss": 0.0,
                                              "expected_initial_loss": 0.0}, **BINARY)),
    ("mse_on_class_indices", data_run(loss="MSELoss", fb={"output_shape": [64, 1]},
                                      data={"n_target_values": 3, "target_max": 2.0})),
]

QUIET = [
    ("logits_cross_entropy", data_run()),
    ("log_softmax_nll", data_run(loss="NLLLoss", fb=LOG_PROBS, last_module="LogSoftmax")),
    ("log_softmax_cross_entropy", data_run(fb=LOG_PROBS, last_module="LogSoftmax")),
    ("sigmoid_then_bce", data_run(loss="BCELoss", fb=SIGMOID, last_module="Sigmoid", **BINARY)),
    ("logits_bce_with_logits", data_run(loss="BCEWithLogitsLoss", fb=SIGMOID | {"output_min": -0.6}, **BINARY)),
    ("logits_in_unit_interval_no_sigmoid", data_run(loss="BCEWithLogitsLoss", fb=SIGMOID, **BINARY)),
    ("softmax_module_but_logits_measured", data_run(last_module="Softmax")),
    ("mse_binary_brier", data_run(loss="MSELoss", fb=SIGMOID, task="binary", num_outputs=1,
                                  data={"n_target_values": 2, "target_max": 1.0})),
    ("mse_regression_integer_counts", data_run(loss="MSELoss", task="regression", num_outputs=1)),
    ("output_not_finite", data_run(fb={"output_min": float("nan"), "output_max": float("nan")})),
    ("no_output", data_run(fb={"output_min": None, "output_max": None, "output_shape": []})),
]


def findings(run):
    found, skipped = evaluate(run, rules=[loss_output_mismatch])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL206" and f.severity.value == "error" and f.step == 0


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_double_softmax_blames_the_model():
    (f,) = findings(FIRES[0][1])
    assert f.evidence["output_rows_sum_to_one"] is True and f.evidence["last_module"] == "Softmax"
    assert f.config_key == "model" and "remove the final Softmax" in f.fixes[0].text


def test_sigmoid_bce_with_logits_offers_bce():
    (f,) = findings(FIRES[3][1])
    assert f.evidence["output_min"] == 0.38 and f.config_key == "model"
    assert f.fixes[1].config_key == "loss.name" and f.fixes[1].value == "bce"


@pytest.mark.parametrize("case, value", [(4, "bce_with_logits"), (6, "cross_entropy"), (8, "bce_with_logits"),
                                         (9, "cross_entropy")])
def test_loss_edits(case, value):
    (f,) = findings(FIRES[case][1])
    assert f.config_key == "loss.name" and f.fixes[0].config_key == "loss.name" and f.fixes[0].value == value


def test_nll_names_what_it_got():
    (logits,) = findings(FIRES[6][1])
    (probs,) = findings(FIRES[7][1])
    assert "raw scores" in logits.message and "probabilities" in probs.message
