"""TL402 vanishing-gradients on fabricated per-layer gradient and parameter norms."""

import pytest
from gradients_factory import layer_run

from trainlint.rules.engine import evaluate
from trainlint.rules.gradients.vanishing_gradients import vanishing_gradients

EMBED_FIRST = {"embed": "Embedding", "fc1": "Linear", "fc2": "Linear", "head": "Linear"}
TWO_LAYERS = {"fc1": "Linear", "head": "Linear"}

FIRES = [
    ("deep_sigmoid_1e-6", layer_run([1e-6] * 5)),
    ("just_below", layer_run([9.9e-3] * 5)),
    ("median_below_despite_one_high", layer_run([1e-5, 1e-5, 1e-5, 1.0, 1.0])),
    ("three_samples", layer_run([1e-5] * 3)),
]

QUIET = [
    ("healthy", layer_run([0.3] * 5)),
    ("just_above", layer_run([1.01e-2] * 5)),
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
    assert f.code == "TL402" and f.evidence["ratio"] < f.evidence["max_ratio"] == 1e-2


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


def _depth_run(relative: dict[str, float], steps: int = 5):
    """Linear layers with the given ‖g‖/‖w‖ at every sampled step (‖w‖ = 1)."""
    from trainlint.probe.record import LayerSeries, ModelFacts, RunRecord

    names = list(relative)
    grad, param = LayerSeries(names=names), LayerSeries(names=names)
    for i in range(steps):
        grad.append(i * 10, [relative[n] for n in names])
        param.append(i * 10, [1.0] * len(names))
    return RunRecord(steps=list(range(steps * 10)), layer_grad_norm=grad, layer_param_norm=param,
                     model=ModelFacts(layers=names, layer_types={n: "Linear" for n in names}))


# A healthy tiny BERT as measured (2 layers, AdamW 1e-3, validation accuracy 1.0): the query/key
# projections learn slowly and the 2-class head fast whatever the depth, but the blocks alike.
BERT_LIKE = {f"layer.{b}.{part}": r for b in (0, 1) for part, r in
             (("query", 3e-5), ("key", 2e-5), ("value", 5e-4), ("attn_out", 1.3e-3), ("ffn_in", 7e-4),
              ("ffn_out", 1.3e-3))} | {"pooler": 4.6e-2, "classifier": 1.0}


def test_a_fast_head_and_slow_attention_scores_are_not_vanishing():
    # The first layer against the head alone would be 3e-5; the first third against the last third of the body is ~0.2.
    assert findings(_depth_run(BERT_LIKE)) == []


def test_a_fall_across_depth_is_found_and_named_by_groups():
    deep = {f"fc{i}": 0.25 ** (10 - i) for i in range(10)} | {"head": 1.0}  # each sigmoid layer x 0.25
    (f,) = findings(_depth_run(deep))
    assert f.evidence["first_layers"] == ["fc0", "fc1", "fc2"] and f.evidence["last_layers"] == ["fc7", "fc8", "fc9"]
    assert f.evidence["ratio"] == pytest.approx(0.25 ** 9 / 0.25 ** 2)  # the groups' medians: fc1 over fc8
    assert "the first 3 layers (`fc0`, `fc1`, `fc2`; their median)" in f.message


def test_functional_gelu_is_not_blamed_as_a_saturating_activation():
    from trainlint.analysis.gradients import saturating_activations

    # As the activation recorder names them: functional calls with the kind of their module.
    run = layer_run([1e-6] * 5, activations={"enc.0.act.gelu()": "GELU", "pooler.activation": "Tanh",
                                             "enc.1.act.gelu()": "GELU", "tanh(fc1)": "Tanh"})
    assert saturating_activations(run) == ["pooler.activation", "tanh(fc1)"]
    (f,) = findings(run)
    assert not any("gelu" in fix.text for fix in f.fixes)


def _with_activation_std(run, stds: list[float]):
    """The run with one activation layer per value, measured at the first sampled step."""
    from trainlint.probe.record import LayerSeries

    names = [f"act{i}" for i in range(len(stds))]
    run.activation_std = LayerSeries(names=names)
    run.activation_std.append(0, stds)
    run.model.activations = {n: "Tanh" for n in names}
    return run


def test_too_small_weights_blame_the_initialisation_not_the_activation():
    # As measured on a 10-layer tanh MLP drawn with std 0.01: the signal dies going forward.
    run = _with_activation_std(layer_run([1e-8] * 5), [0.079 * 0.08 ** i for i in range(10)])
    (f,) = findings(run)
    assert f.config_key == "model.args.init" and (f.fixes[0].config_key, f.fixes[0].value) == ("model.args.init", "xavier")
    assert "the activations shrink" in f.fixes[0].text and not any("replace the sigmoid" in x.text for x in f.fixes)
    assert f.evidence["forward_shrink"] < 1e-2


def test_a_sigmoid_stack_that_carries_the_signal_blames_the_activation():
    # As measured on tl402_deep_sigmoid: activation std ~0.07 in every layer.
    run = _with_activation_std(layer_run([1e-6] * 5), [0.13, 0.074, 0.078, 0.076, 0.07, 0.061, 0.068, 0.074, 0.075])
    (f,) = findings(run)
    assert f.config_key == "model.args.activation" and f.fixes[0].config_key == "model.args.activation"
    assert f.evidence["forward_shrink"] > 0.5
