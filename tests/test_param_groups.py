"""Parameter groups: `optimizer.param_groups.no_decay`, and `receives: model` for a factory that builds its own."""

from __future__ import annotations

import textwrap

import pytest
import torch
from test_spec_errors import BASE, assert_error, edit, invoke

from trainlint.components.base import ComponentError
from trainlint.components.optimizers import decay_groups
from trainlint.probe.loop import run_probe
from trainlint.spec.loader import load_spec


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(10, 4)
        self.proj = torch.nn.Linear(4, 4)
        self.LayerNorm = torch.nn.LayerNorm(4)  # named as in Hugging Face models
        self.ln_f = torch.nn.LayerNorm(4)       # named as in minGPT
        self.head = torch.nn.Linear(4, 2, bias=False)


def _names(model, group) -> list[str]:
    ids = {id(p) for p in group["params"]}
    return sorted(n for n, p in model.named_parameters() if id(p) in ids)


@pytest.mark.parametrize("no_decay, plain", [
    (["bias"], ["LayerNorm.bias", "ln_f.bias", "proj.bias"]),
    (["LayerNorm.weight"], ["LayerNorm.weight", "ln_f.weight"]),  # the attribute name and the class both match
    (["ln_f.weight"], ["ln_f.weight"]),
    (["LayerNorm", "Embedding"], ["LayerNorm.bias", "LayerNorm.weight", "embed.weight", "ln_f.bias", "ln_f.weight"]),
    (["BatchNorm1d", "weight"], ["LayerNorm.weight", "embed.weight", "head.weight", "ln_f.weight", "proj.weight"]),
])
def test_no_decay_names(no_decay, plain):
    model = Block()
    groups = decay_groups(model, no_decay)
    assert [set(g) for g in groups] == [{"params"}, {"params", "weight_decay"}]  # decayed weights first
    assert groups[1]["weight_decay"] == 0.0
    assert _names(model, groups[1]) == plain
    assert sorted(_names(model, groups[0]) + plain) == sorted(n for n, _ in model.named_parameters())


def test_empty_groups_are_left_out():
    model = torch.nn.Linear(2, 2)
    assert [len(g["params"]) for g in decay_groups(model, ["weight", "bias"])] == [2]


def test_a_typo_is_an_error_with_a_suggestion():
    with pytest.raises(ComponentError) as info:
        decay_groups(Block(), ["bias", "Layernorm"])
    assert info.value.field == "optimizer.param_groups.no_decay.1"
    assert "LayerNorm" in info.value.suggestions


def _record(tmp_path, optimizer: str, **files: str):
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE.replace("optimizer:\n  name: adam\n  lr: 0.001\n", optimizer))
    loaded = load_spec(spec)
    return run_probe(loaded, components=None)


def test_builtin_optimizer_with_no_decay_group(tmp_path):
    record = _record(tmp_path, "optimizer:\n  name: adamw\n  lr: 0.001\n  args: {weight_decay: 0.1}\n"
                               "  param_groups: {no_decay: [bias]}\n")
    assert record.stop_reason == "completed"
    assert record.weight_decay == 0.1 and record.decoupled_weight_decay


def test_probe_records_the_largest_decay_of_a_factorys_groups(tmp_path):
    record = _record(tmp_path, "optimizer:\n  target: opt.py:grouped\n  receives: model\n  lr: 0.01\n"
                               "  args: {weight_decay: 0.05}\n", **{"opt.py": """
        import torch

        def grouped(model, lr, weight_decay):
            plain = [p for n, p in model.named_parameters() if n.endswith("bias")]
            decay = [p for n, p in model.named_parameters() if not n.endswith("bias")]
            return torch.optim.SGD([{"params": plain, "weight_decay": 0.0},  # no-decay group first
                                    {"params": decay, "weight_decay": weight_decay}], lr=lr)
    """})
    assert record.stop_reason == "completed" and record.steps_run == 3
    assert record.weight_decay == 0.05
    assert record.lr_series[0] == 0.01


def test_receives_model_through_the_cli(tmp_path):
    (tmp_path / "opt.py").write_text("import torch\n\ndef make(model, lr):\n"
                                     "    return torch.optim.Adam(model.parameters(), lr=lr)\n")
    _, result = invoke(tmp_path, edit("  name: adam\n", "  target: opt.py:make\n  receives: model\n"), "--no-plots")
    assert result.exit_code == 0, result.output


OPT_PY = """\
import torch


def not_an_optimizer(model, lr):
    return [p for p in model.parameters()]


def other_params(model, lr):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
"""


@pytest.mark.parametrize("optimizer, where, field, fragments", [
    ("  name: adam\n  receives: model\n", "12:3", "optimizer.receives", ("a built-in optimizer receives",)),
    ("  target: opt.py:not_an_optimizer\n  receives: model\n  param_groups: {no_decay: [bias]}\n",
     "13:3", "optimizer.param_groups", ("your factory builds its own groups",)),
    ("  target: opt.py:not_an_optimizer\n  receives: model\n", "11:3", "optimizer.target",
     ("returned list, not a torch.optim.Optimizer",)),
    ("  target: opt.py:other_params\n  receives: model\n", "11:3", "optimizer.target",
     ("holds none of the model's parameters",)),
    ("  name: rprop\n  param_groups: {no_decay: [bias]}\n", "12:18", "optimizer.param_groups.no_decay",
     ("Rprop has no weight decay",)),
    ("  name: adam\n  param_groups: {no_decay: [bais]}\n", "12:29", "optimizer.param_groups.no_decay.0",
     ("`bais` names no parameter of MLP", "Did you mean `bias`?")),
    ("  name: adam\n  param_groups: {no_decay: ['']}\n", "12:29", "optimizer.param_groups.no_decay.0",
     ("at least 1 character",)),
    ("  name: adam\n  param_groups: {nodecay: [bias]}\n", "12:18", "optimizer.param_groups.nodecay",
     ("unknown key",)),
    ("  name: adam\n  receives: module\n", "12:3", "optimizer.receives", ("params", "model")),
])
def test_bad_optimizer_settings(tmp_path, optimizer, where, field, fragments):
    (tmp_path / "opt.py").write_text(OPT_PY)
    spec, result = invoke(tmp_path, edit("  name: adam\n", optimizer))
    assert_error(result, f"{spec}:{where}", field, *fragments)
