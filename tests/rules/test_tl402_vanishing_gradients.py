"""TL402 vanishing-gradients on fabricated per-layer gradient and parameter norms."""

import pytest
from gradients_factory import layer_run

from trainlint.rules.engine import evaluate
from trainlint.rules.gradients.vanishing_gradients import vanishing_gradients

EMBED_FIRST = {"embed": "Embedding", "fc1": "Linear", "fc2": "Linear", "head": "Linear"}
TWO_LAYERS = {"fc1": "Linear", "head": "Linear"}

FIRES = [
    ("deep_sigmoid_1e-6", layer_run([1e-6] * 5)),
    ("just_below", layer_run([9.9e-4] * 5)),
    ("median_below_despite_one_high", layer_run([1e-5, 1e-5, 1e-5, 1.0, 1.0])),
    ("three_samples", layer_run([1e-5] * 3)),
]

QUIET = [
    ("healthy", layer_run([0.3] * 5)),
    ("just_above", layer_run([1.01e-3] * 5)),
    ("too_few_samples", layer_run([1e-6] * 2)),
    ("too_shallow", layer_run([1e-6] * 5, types=TWO_LAYERS)),
    ("median_above", layer_run([1e-6, 1e-6, 0.5, 0.5, 0.5])),
    ("zero_grads_skipped", layer_run([0.0] * 5)),  # never-grad layers are TL405's
    ("mostly_zero_grads", layer_run([1e-5] * 3 + [0.0] * 4)),  # units died: a cut path, TL403's
]


def findings(run):
    found, skipped = evaluate(run, rules=[vanishing_gradients])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL402" and f.evidence["ratio"] < f.evidence["max_ratio"] == 1e-3


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_evidence_and_fixes_for_sigmoid_stack():
    (f,) = findings(layer_run([1e-6] * 5))
    assert f.evidence["ratio"] == pytest.approx(1e-6)
    assert (f.evidence["first_layer"], f.evidence["last_layer"]) == ("fc1", "head")
    assert f.evidence["ratio_by_layer"]["fc2"] == pytest.approx(1e-3)
    assert f.config_key == "model.args.activation"
    assert (f.fixes[0].config_key, f.fixes[0].value) == ("model.args.activation", "relu")


def test_embedding_is_not_the_first_layer():
    # An embedding with a tiny relative gradient is normal; the first Linear is compared instead.
    (f,) = findings(layer_run([1e-8] * 5, types=EMBED_FIRST))
    assert f.evidence["first_layer"] == "fc1"
    assert f.evidence["ratio"] == pytest.approx(1e-4)
    assert findings(layer_run([1e-4] * 5, types=EMBED_FIRST)) == []  # the embedding's 1e-4 is ignored


def test_user_model_gets_code_fixes_only():
    (f,) = findings(layer_run([1e-6] * 5, builtin=False, activations={"a": "ReLU"}))
    assert f.config_key == "model"
    assert all(fix.config_key is None for fix in f.fixes)
    assert "norm" in f.fixes[0].text


def test_not_evaluated_without_layer_norms():
    from trainlint.probe.record import RunRecord

    _, skipped = evaluate(RunRecord(), rules=[vanishing_gradients])
    assert "per-layer gradient norms" in skipped[0].reason
