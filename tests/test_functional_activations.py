"""Activations applied as functions in forward (`F.relu`, `torch.sigmoid`, `x.tanh()`) are recorded like modules."""

from __future__ import annotations

import math
import textwrap

import pytest
import torch
import torch.nn.functional as F
from conftest import read_report
from torch import nn

from trainlint.probe.recorders.activations import ActivationRecorder


class MnistNet(nn.Module):
    """pytorch/examples' MNIST net, shrunk: every activation is `F.relu` inside forward."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, 1)
        self.conv2 = nn.Conv2d(4, 6, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.fc1 = nn.Linear(6 * 6 * 6, 16)
        self.fc2 = nn.Linear(16, 10)
        with torch.no_grad():
            self.conv2.bias[:3] = -100.0  # 3 of 6 channels never fire
            self.fc1.bias[:4] = -100.0  # 4 of 16 features never fire

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def _record(model: nn.Module, *inputs, steps: int = 1) -> tuple[ActivationRecorder, list]:
    recorder = ActivationRecorder(model)
    for step in range(steps):
        with recorder.recording(step):
            model(*inputs)
    return recorder, recorder.flush()


def _outputs(model: nn.Module, names: list[str], x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each named submodule's output on `x`, for a by-hand reference."""
    seen: dict[str, torch.Tensor] = {}
    modules = dict(model.named_modules())
    hooks = [modules[n].register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, o.detach())) for n in names]
    model(x)
    for h in hooks:
        h.remove()
    return seen


def _dead(y: torch.Tensor) -> float:
    """Share of units (features, or channels of a feature map) that are zero on every sample and position."""
    alive = (y > 0).flatten(2).any(2).any(0) if y.dim() == 4 else (y > 0).any(0)
    return float((~alive).float().mean())


def test_functional_relus_of_an_mnist_net_match_a_by_hand_reference():
    torch.manual_seed(0)
    model = MnistNet().eval()  # no dropout: the reference pass sees the same activations
    x = torch.randn(8, 1, 16, 16)
    recorder, ((step, rows),) = _record(model, x)
    assert recorder.names == ["relu(conv1)", "relu(conv2)", "relu(fc1)"]
    assert recorder.kinds == dict.fromkeys(recorder.names, "ReLU")
    pre = _outputs(model, ["conv1", "conv2", "fc1"], x)
    for row, layer in zip(rows, ["conv1", "conv2", "fc1"], strict=True):
        y = F.relu(pre[layer])
        assert row[0] == pytest.approx(_dead(y)) and math.isnan(row[1])
        assert row[2:] == pytest.approx([float(y.mean()), float(y.std())], rel=1e-5)
    assert rows[1][0] >= 3 / 6 and rows[2][0] >= 4 / 16  # at least the channels and features killed by hand
    assert step == 0


class Mixed(nn.Module):
    """nn.ReLU modules (whose forward calls F.relu) beside F.relu and x.relu() in forward and in a block."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
        self.block = Block()
        self.act = nn.ReLU()
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        x = self.block(self.stem(x))
        return self.head(self.act(x) + F.relu(x - 1))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.norm = nn.Linear(8, 8), nn.LayerNorm(8)

    def forward(self, x):
        h = F.relu(self.norm(self.fc(x)))
        return (h + x).relu()


def test_modules_and_functions_together_are_each_recorded_once():
    torch.manual_seed(0)
    recorder, ((_, rows),) = _record(Mixed(), torch.randn(16, 4))
    # Module names keep their places; functional ones join in forward order. nn.ReLU's own
    # F.relu is not recorded again (no `stem.1.relu()` or `act.relu()`).
    assert recorder.names == ["stem.1", "block.relu(norm)", "block.relu()", "act", "relu()"]
    assert set(recorder.kinds.values()) == {"ReLU"} and len(rows) == 5
    assert all(0.0 <= row[0] <= 1.0 for row in rows)


def test_names_tell_apart_calls_on_one_line_and_merge_a_loops_calls():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.fc3 = nn.Linear(4, 6), nn.Linear(6, 6), nn.Linear(6, 2)

        def forward(self, x):
            x = self.fc2(F.relu(self.fc1(x)) + 1)
            for _ in range(3):  # one activation, recorded like a module called 3 times: the last call
                x = torch.tanh(x)
            return self.fc3(torch.relu(x) * torch.relu(-x))  # two calls, neither on a module's output

    torch.manual_seed(0)
    model, x = Net(), torch.randn(5, 4)
    recorder, flushed = _record(model, x, steps=2)
    assert [step for step, _ in flushed] == [0, 1] and all(len(rows) == 4 for _, rows in flushed)
    last = torch.tanh(torch.tanh(torch.tanh(_outputs(model, ["fc2"], x)["fc2"])))
    assert flushed[0][1][1][2] == pytest.approx(float(last.mean()), rel=1e-5)
    assert recorder.names == ["relu(fc1)", "tanh(fc2)", "relu()#1", "relu()#2"]
    assert recorder.kinds == {"relu(fc1)": "ReLU", "tanh(fc2)": "Tanh", "relu()#1": "ReLU", "relu()#2": "ReLU"}


class Gates(nn.Module):
    """torch.sigmoid / x.tanh() / F.sigmoid hidden layers, a Swish and a GELU wrapper, and an output sigmoid."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(4, 64), nn.Linear(64, 64), nn.Linear(64, 64)
        self.swish, self.gelu, self.out = Swish(), GeluWrapper(), nn.Linear(64, 1)
        with torch.no_grad():
            self.fc1.weight.mul_(20.0)  # large pre-activations: the sigmoid saturates

    def forward(self, x):
        h = torch.sigmoid(self.fc1(x))
        h = self.fc2(h).tanh()
        h = self.gelu(self.swish(F.sigmoid(self.fc3(h))))
        return torch.sigmoid(self.out(h)).squeeze(1)  # the output non-linearity: judged by TL206, not here


class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)  # the sigmoid is part of the activation, not one of its own


class GeluWrapper(nn.Module):
    def forward(self, x):
        return F.gelu(x)  # Hugging Face's GELUActivation: the module is the activation


def test_sigmoid_and_tanh_saturation_matches_a_by_hand_reference():
    torch.manual_seed(0)
    model = Gates()
    x = torch.randn(32, 4)
    recorder, ((_, rows),) = _record(model, x)
    assert recorder.names == ["sigmoid(fc1)", "tanh(fc2)", "sigmoid(fc3)", "gelu.gelu()"]
    assert list(recorder.kinds.values()) == ["Sigmoid", "Tanh", "Sigmoid", "GELU"]
    pre = _outputs(model, ["fc1", "fc2", "fc3"], x)
    sig, tanh = torch.sigmoid(pre["fc1"]), torch.tanh(pre["fc2"])
    assert math.isnan(rows[0][0]) and rows[0][1] == pytest.approx(float(((sig < 0.01) | (sig > 0.99)).float().mean()))
    assert rows[0][1] > 0.5
    assert rows[1][1] == pytest.approx(float((tanh.abs() > 0.99).float().mean()))
    assert rows[1][2:] == pytest.approx([float(tanh.mean()), float(tanh.std())], rel=1e-5)
    assert math.isnan(rows[3][0]) and math.isnan(rows[3][1])  # GELU: mean and std only, as nn.GELU


def test_nothing_is_recorded_or_left_attached_outside_a_sampled_pass():
    model = MnistNet()
    x = torch.randn(2, 1, 16, 16)
    recorder = ActivationRecorder(model)
    with pytest.raises(RuntimeError, match="boom"), recorder.recording(0):
        model(x)
        raise RuntimeError("boom")
    assert recorder.flush() == [] and recorder.names == []  # a pass that raised names nothing
    assert torch._C._len_torch_function_stack() == 0
    assert not torch.nn.modules.module._global_forward_hooks
    model(x)  # disarmed: not recorded
    F.relu(x)  # outside the model: not recorded even while armed
    with recorder.recording(1):
        model(x)
        F.relu(x)
    ((step, rows),) = recorder.flush()
    assert step == 1 and len(rows) == len(recorder.names) == 3
    assert torch._C._len_torch_function_stack() == 0


def test_a_model_of_modules_only_gets_no_function_mode_after_its_first_pass():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2), nn.Tanh())
    recorder, _ = _record(model, torch.randn(3, 4))
    assert recorder.names == ["1", "3"] and recorder.kinds == {"1": "ReLU", "3": "Tanh"}
    recorder.arm()
    assert torch._C._len_torch_function_stack() == 0 and not torch.nn.modules.module._global_forward_pre_hooks
    recorder.disarm(1)


MODEL = '''
import torch
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    """64 → 64 → 32 → 10 on digits, activations applied in forward; fc1's biases start at `bias_init`."""

    def __init__(self, bias_init: float = 0.0):
        super().__init__()
        self.fc1, self.fc2, self.out = nn.Linear(64, 64), nn.Linear(64, 32), nn.Linear(32, 10)
        with torch.no_grad():
            self.fc1.bias.fill_(bias_init)

    def forward(self, x):
        return self.out(torch.tanh(self.fc2(F.relu(self.fc1(x)))))
'''


def _spec(tmp_path, bias_init: float) -> str:
    (tmp_path / "functional_model.py").write_text(textwrap.dedent(MODEL))
    spec = tmp_path / "functional.yaml"
    spec.write_text("name: functional-mlp\n"
                    "dataset: {name: digits, args: {standardize: true}, batch_size: 64}\n"
                    f"model: {{target: ./functional_model.py:Net, args: {{bias_init: {bias_init}}}}}\n"
                    "loss: {name: cross_entropy}\n"
                    "optimizer: {name: adam, lr: 0.003}\n"
                    "probe: {steps: 40, eval_every: 20, stats_every: 10}\n")
    return spec


def test_probe_blames_a_dead_functional_relu_by_name(cli, tmp_path):
    result = cli("probe", _spec(tmp_path, -2.5), "--no-plots", "--out", tmp_path / "out")
    report = read_report(tmp_path / "out")
    found = {f["code"]: f for f in report["findings"]}
    assert "TL403" in found, result.output
    assert found["TL403"]["evidence"]["worst_module"] == "relu(fc1)"
    assert found["TL403"]["evidence"]["dead_at_init"] is True
    assert "`relu(fc1)`" in found["TL403"]["message"]


def test_probe_of_the_healthy_functional_model_evaluates_activation_rules_quietly(cli, tmp_path):
    result = cli("probe", _spec(tmp_path, 0.0), "--no-plots", "--out", tmp_path / "out")
    report = read_report(tmp_path / "out")
    assert {"TL403", "TL404"}.isdisjoint(n["code"] for n in report["not_evaluated"])
    assert [f["code"] for f in report["findings"] if f["severity"] != "info"] == [], result.output
    rows = [line for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines() if "dead_fraction" in line]
    assert '"relu(fc1)"' in rows[0] and '"tanh(fc2)"' in rows[0]


def test_calls_inside_torch_modules_are_named_by_the_module_that_makes_them():
    """nn.TransformerEncoderLayer applies F.relu itself: named by the layer, once per layer."""
    model = nn.Sequential(*[nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True) for _ in range(2)])
    recorder, ((_, rows),) = _record(model, torch.randn(2, 5, 8))
    assert recorder.names == ["0.relu(linear1)", "1.relu(linear1)"] and len(rows) == 2
