"""TL404 saturated-activations on fabricated saturated fractions."""

import pytest
from gradients_factory import activation_run

from trainlint.rules.engine import evaluate
from trainlint.rules.gradients.saturated_activations import saturated_activations

TANHS = {"act1": "Tanh", "act2": "Tanh"}


def sat_run(series, kinds=TANHS, **kw):
    return activation_run(series, kinds, field="saturated_fraction", **kw)


FIRES = [
    ("large_init", sat_run({"act1": [0.9] * 5, "act2": [0.05] * 5})),
    ("just_at_threshold", sat_run({"act1": [0.5] * 5, "act2": [0.0] * 5})),
    ("saturating_late", sat_run({"act1": [0.0, 0.1, 0.6, 0.7, 0.8], "act2": [0.0] * 5})),
    ("hidden_sigmoid_before_linear_head", sat_run({"s1": [0.8] * 3}, {"s1": "Sigmoid"}, last_module="Linear")),
]

QUIET = [
    ("healthy", sat_run({"act1": [0.05] * 5, "act2": [0.1] * 5})),
    ("just_below", sat_run({"act1": [0.49] * 5, "act2": [0.0] * 5})),
    ("recovered", sat_run({"act1": [0.9, 0.9, 0.2, 0.2, 0.2], "act2": [0.0] * 5})),
    ("output_sigmoid_of_confident_classifier",
     sat_run({"h": [0.1] * 5, "out": [0.95] * 5}, {"h": "Tanh", "out": "Sigmoid"}, last_module="Sigmoid")),
    ("relu_only_nan", sat_run({"r": [float("nan")] * 3}, {"r": "ReLU"})),
]


def findings(run):
    found, skipped = evaluate(run, rules=[saturated_activations])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL404"
    assert all(v >= f.evidence["max_saturated_fraction"] for v in f.evidence["saturated_fraction"].values())


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_evidence_and_fix():
    (f,) = findings(sat_run({"act1": [0.0, 0.1, 0.6, 0.7, 0.8], "act2": [0.0] * 5}))
    assert f.evidence["saturated_fraction"] == {"act1": pytest.approx(0.7)}
    assert f.evidence["saturated_fraction_at_start"] == {"act1": 0.0}
    assert f.evidence["worst_module"] == "act1" and f.step == 40
    assert f.config_key == "model.args.init" and (f.fixes[0].config_key, f.fixes[0].value) == ("model.args.init", "xavier")


def test_output_sigmoid_excluded_but_hidden_one_reported():
    run = sat_run({"h": [0.9] * 5, "out": [0.95] * 5}, {"h": "Sigmoid", "out": "Sigmoid"}, last_module="Sigmoid")
    (f,) = findings(run)
    assert list(f.evidence["saturated_fraction"]) == ["h"] and f.evidence["excluded_output_module"] == "out"


def test_user_model_blames_model():
    (f,) = findings(sat_run({"act1": [0.9] * 5}, {"act1": "Tanh"}, builtin=False))
    assert f.config_key == "model" and f.fixes[0].config_key is None


def test_raw_inputs_of_a_builtin_dataset_put_standardize_first():
    run = sat_run({"act1": [0.99] * 5}, {"act1": "Tanh"})
    run.data.is_builtin, run.data.feature_rms_max = True, 827.0
    (f,) = findings(run)
    assert (f.fixes[0].config_key, f.fixes[0].value) == ("dataset.args.standardize", True)
    assert f.config_key == "dataset.args.standardize" and f.evidence["input_rms_max"] == 827.0


def test_raw_inputs_of_a_user_dataset_are_advice():
    run = sat_run({"act1": [0.99] * 5}, {"act1": "Tanh"})
    run.data.feature_rms_max = 827.0
    (f,) = findings(run)
    assert not f.fixes[0].applicable and "standardise" in f.fixes[0].text and f.config_key == "dataset"


def test_counts_are_words_and_long_lists_are_cut():
    (one,) = findings(sat_run({"act1": [0.9] * 5, "act2": [0.0] * 5}))
    assert one.message.startswith("1 activation layer has ≥ 50%") and "(s)" not in one.message
    series = {f"t{i}": [0.6 + i / 100] * 5 for i in range(12)}
    (many,) = findings(sat_run(series, {n: "Tanh" for n in series}))
    assert many.message.startswith("12 activation layers have")
    assert many.message.endswith("`t11` (Tanh) 71%, `t10` (Tanh) 70%, `t9` (Tanh) 69% and 9 more")
    assert len(many.evidence["saturated_fraction"]) == 12
