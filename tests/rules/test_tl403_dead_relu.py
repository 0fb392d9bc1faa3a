"""TL403 dead-relu on fabricated dead-unit fractions."""

import math

import pytest
from gradients_factory import activation_run

from trainlint.rules.engine import evaluate
from trainlint.rules.gradients.dead_relu import dead_relu

RELUS = {"act1": "ReLU", "act2": "ReLU"}
NAN = math.nan

FIRES = [
    ("dead_from_init", activation_run({"act1": [0.9] * 5, "act2": [0.1] * 5}, RELUS)),
    ("died_during_training", activation_run({"act1": [0.0, 0.2, 0.6, 0.7, 0.7], "act2": [0.0] * 5}, RELUS)),
    ("just_at_threshold", activation_run({"act1": [0.5] * 5, "act2": [0.0] * 5}, RELUS)),
    ("one_sample", activation_run({"act1": [0.8], "act2": [0.0]}, RELUS)),
]

QUIET = [
    ("healthy", activation_run({"act1": [0.0] * 5, "act2": [0.2] * 5}, RELUS)),
    ("just_below", activation_run({"act1": [0.49] * 5, "act2": [0.0] * 5}, RELUS)),
    ("revived_in_last_samples", activation_run({"act1": [0.9, 0.9, 0.9, 0.9, 0.3], "act2": [0.0] * 5}, RELUS)),
    ("not_relu_nan", activation_run({"act1": [NAN] * 5}, {"act1": "Tanh"})),
]


def findings(run):
    found, skipped = evaluate(run, rules=[dead_relu])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL403" and "act1" in f.evidence["dead_fraction"]
    assert "act2" not in f.evidence["dead_fraction"]


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_dead_from_init_blames_init():
    (f,) = findings(activation_run({"act1": [0.9] * 5, "act2": [0.1] * 5}, RELUS))
    assert f.evidence["dead_at_init"] is True and f.evidence["dead_fraction"]["act1"] == 0.9
    assert f.config_key == "model.args.init" and f.fixes[0].value == "kaiming"
    assert f.step == 40 and "initialisation" in f.message


def test_died_during_training_blames_lr():
    run = activation_run({"act1": [0.0, 0.2, 0.6, 0.7, 0.7], "act2": [0.0] * 5}, RELUS, lr=0.3)
    (f,) = findings(run)
    assert f.evidence["dead_at_init"] is False and f.evidence["dead_fraction_at_start"]["act1"] == 0.0
    assert f.config_key == "optimizer.lr"
    assert (f.fixes[0].config_key, f.fixes[0].value) == ("optimizer.lr", 0.03)


def test_user_model_init_fix_is_text_only():
    run = activation_run({"act1": [0.9] * 5}, {"act1": "ReLU"}, builtin=False)
    (f,) = findings(run)
    assert f.fixes[0].config_key is None and f.config_key == "model"


def test_threshold_override():
    run = activation_run({"act1": [0.6] * 5}, {"act1": "ReLU"})
    found, _ = evaluate(run, rules=[dead_relu], thresholds={"dead-relu": {"max_dead_fraction": 0.7}})
    assert found == []


def test_many_dead_layers_show_the_worst_few_and_a_count():
    """31 dead layers: the message names the 3 worst and counts the rest; the evidence keeps all 31."""
    series = {f"act{i}": [0.6 + i / 100] * 5 for i in range(31)}
    (f,) = findings(activation_run(series, {n: "ReLU" for n in series}))
    assert f.message.startswith("31 ReLU layers kept ≥ 50% dead units over the last 3 samples")
    assert "(lowest: `act30` 90%, `act29` 89%, `act28` 88% and 28 more)" in f.message
    assert "act27" not in f.message and len(f.evidence["dead_fraction"]) == 31


def test_one_dead_layer_is_singular():
    (f,) = findings(activation_run({"act1": [0.9] * 5}, {"act1": "ReLU"}))
    assert f.message.startswith("1 ReLU layer kept") and "(s)" not in f.message
