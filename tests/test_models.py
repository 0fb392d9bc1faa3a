"""Tests for the built-in model registry: shapes, options, errors, determinism and trainability."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from trainlint.components.base import ComponentError, DataInfo
from trainlint.components.models import NAMES, build_model
from trainlint.components.models.common import ACTIVATIONS, INITS, NORMS

INFOS = {
    "tabular": DataInfo("multiclass", (20,), "tabular", num_classes=3),
    "image": DataInfo("multiclass", (1, 8, 8), "image", num_classes=3),
    "image_rgb": DataInfo("multiclass", (3, 16, 16), "image", num_classes=3),
    "sequence": DataInfo("multiclass", (12, 4), "sequence", num_classes=3),
    "tokens": DataInfo("multiclass", (12,), "tokens", num_classes=3, vocab_size=30),
}
COMPATIBLE = {
    "mlp": ["tabular", "image", "image_rgb", "sequence", "tokens"],
    "cnn": ["image", "image_rgb"],
    "resnet": ["image", "image_rgb"],
    "rnn": ["tabular", "sequence", "tokens"],
    "transformer": ["tabular", "sequence", "tokens"],
}
PAIRS = [(name, kind) for name, kinds in COMPATIBLE.items() for kind in kinds]
INCOMPATIBLE = [(name, kind) for name in NAMES for kind in INFOS if kind not in COMPATIBLE[name]]
ACTIVATION_CLASSES = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "silu": nn.SiLU,
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run fastest on one thread, and do not stall when CI cores are busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_input(info: DataInfo, batch: int) -> torch.Tensor:
    if info.input_kind == "tokens":
        return torch.randint(0, info.vocab_size, (batch, *info.input_shape))
    return torch.randn(batch, *info.input_shape)


def build(name: str, kind: str = "", num_outputs: int = 3, **args) -> nn.Module:
    return build_model(name, INFOS[kind or COMPATIBLE[name][0]], num_outputs, args)


def test_names_import_without_torch():
    code = "import sys, trainlint.components.models as m; assert 'torch' not in sys.modules; print(m.NAMES)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "transformer" in out.stdout


@pytest.mark.parametrize(("name", "kind"), PAIRS)
def test_output_shape_and_every_parameter_gets_a_gradient(name, kind):
    torch.manual_seed(0)
    model = build(name, kind, num_outputs=5)
    out = model(make_input(INFOS[kind], 6))
    assert out.shape == (6, 5)
    out.square().mean().backward()
    missing = [
        n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0
    ]
    assert not missing
    model.eval()
    assert model(make_input(INFOS[kind], 1)).shape == (1, 5)


@pytest.mark.parametrize(("name", "kind"), INCOMPATIBLE)
def test_incompatible_input_names_model_field(name, kind):
    with pytest.raises(ComponentError) as err:
        build(name, kind)
    assert err.value.field == "model.name"
    assert name in str(err.value)


def test_tabular_into_cnn_explains_mismatch():
    with pytest.raises(ComponentError, match="flat features.*mlp"):
        build("cnn", "tabular")


def test_tokens_without_vocab_size_is_an_error():
    info = DataInfo("multiclass", (12,), "tokens", num_classes=3)
    with pytest.raises(ComponentError, match="vocab_size"):
        build_model("transformer", info, 3, {})


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_mlp_activation_modules_are_discoverable(activation):
    model = build("mlp", activation=activation, hidden=[8, 8])
    found = [m for m in model.modules() if isinstance(m, ACTIVATION_CLASSES[activation])]
    assert len(found) == 2 and found[0] is not found[1]


@pytest.mark.parametrize("name", NAMES)
def test_activation_option_reaches_every_family(name):
    model = build(name, activation="tanh")
    assert any(isinstance(m, nn.Tanh) for m in model.modules())
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())


@pytest.mark.parametrize(("name", "norm"), [(n, k) for n in NAMES for k in NORMS])
def test_norm_options_build_and_run(name, norm):
    model = build(name, norm=norm, dropout=0.1)
    kind = COMPATIBLE[name][0]
    assert model(make_input(INFOS[kind], 4)).shape == (4, 3)
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)
    assert any(isinstance(m, norms) for m in model.modules()) == (norm != "none")
    assert any(isinstance(m, nn.Dropout) for m in model.modules())


@pytest.mark.parametrize("init", INITS)
def test_mlp_init_options(init):
    torch.manual_seed(0)
    model = build("mlp", init=init, hidden=[256])
    weight = model.net[1].weight
    if init == "zeros":
        assert not weight.any()
    elif init == "small_normal":
        assert weight.std().item() == pytest.approx(0.01, rel=0.1)
    elif init == "normal":
        assert weight.std().item() == pytest.approx(1.0, rel=0.1)
    elif init == "kaiming":
        assert weight.std().item() == pytest.approx((2 / 20) ** 0.5, rel=0.1)
    if init != "default":
        assert not model.net[1].bias.any()


@pytest.mark.parametrize("name", ["cnn", "resnet", "rnn", "transformer"])
@pytest.mark.parametrize("init", ["kaiming", "xavier", "orthogonal", "small_normal"])
def test_init_options_for_other_families(name, init):
    model = build(name, init=init)
    assert torch.isfinite(model(make_input(INFOS[COMPATIBLE[name][0]], 4))).all()


def test_option_values_ignore_case_and_separators():
    model = build("mlp", activation="LeakyReLU", norm="Layer")
    assert any(isinstance(m, nn.LeakyReLU) for m in model.modules())
    assert any(isinstance(m, nn.LayerNorm) for m in model.modules())


def test_rnn_cell_option():
    assert isinstance(build("rnn", cell="gru").rnn, nn.GRU)
    assert isinstance(build("rnn").rnn, nn.LSTM)


def test_unknown_arg_suggests_close_match():
    with pytest.raises(ComponentError) as err:
        build("mlp", hiden=[8])
    assert err.value.field == "model.args.hiden"
    assert err.value.suggestions == ["hidden"]
    assert "hidden" in err.value.accepted and "activation" in err.value.accepted


def test_bad_activation_value_lists_accepted():
    with pytest.raises(ComponentError) as err:
        build("cnn", activation="relux")
    assert err.value.field == "model.args.activation"
    assert err.value.suggestions[0] == "relu"
    assert "gelu" in err.value.accepted


def test_unknown_model_name_suggests():
    with pytest.raises(ComponentError) as err:
        build_model("mpl", INFOS["tabular"], 3, {})
    assert err.value.field == "model.name"
    assert err.value.suggestions[0] == "mlp"


@pytest.mark.parametrize(
    ("name", "args", "field"),
    [
        ("mlp", {"dropout": 1.5}, "model.args.dropout"),
        ("mlp", {"hidden": "big"}, "model.args.hidden"),
        ("mlp", {"hidden": [8, 0]}, "model.args.hidden"),
        ("cnn", {"kernel_size": 4}, "model.args.kernel_size"),
        ("cnn", {"channels": []}, "model.args.channels"),
        ("resnet", {"blocks": True}, "model.args.blocks"),
        ("rnn", {"cell": "lstmm"}, "model.args.cell"),
        ("transformer", {"n_heads": 5}, "model.args.n_heads"),
        ("transformer", {"init": "he"}, "model.args.init"),
    ],
)
def test_bad_values_name_their_field(name, args, field):
    with pytest.raises(ComponentError) as err:
        build(name, **args)
    assert err.value.field == field


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_initial_weights(name):
    def weights(seed):
        torch.manual_seed(seed)
        return build(name).state_dict()

    first, again, other = weights(3), weights(3), weights(4)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first if k.endswith("weight"))


@pytest.mark.parametrize(
    ("name", "kind"), [(n, COMPATIBLE[n][0]) for n in NAMES] + [("transformer", "tokens")]
)
def test_model_overfits_a_tiny_batch(name, kind):
    torch.manual_seed(0)
    info = INFOS[kind]
    x, y = make_input(info, 32), torch.randint(0, 3, (32,))
    model = build(name, kind)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], f"{name}: {losses[0]:.3f} -> {losses[-1]:.3f}"
