"""Batches and outputs as real code has them: dict samples, ModelOutput-like dataclasses, dicts,
(logits, loss), token-level logits, the model's own loss (configs/real/ has the
VAE and the recurrent word language model). Healthy setups train with no
warning; unreadable ones are located spec errors (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import read_report

from trainlint.probe.adapters import AdapterError, Batch, model_loss, select_output, split_batch

FIXTURE = Path(__file__).parent / "fixtures" / "real_shapes.py"


def spec(tmp_path: Path, body: str, steps: int = 120) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(f"name: shapes\nseed: 0\n{body.format(f=FIXTURE)}\n"
                    f"probe: {{steps: {steps}, eval_every: 40}}\n")
    return path


def probe(cli, path: Path, out: Path, *extra):
    result = cli("probe", path, "--no-plots", "--out", out, *extra)
    return result, (read_report(out) if (out / "report.json").exists() else None)


def warnings_of(report) -> list[str]:
    return [f"{f['code']} {f['message']}" for f in report["findings"] if f["severity"] != "info"]


# --- the adapter itself -------------------------------------------------------------------------

def test_split_batch_shapes():
    x, y = torch.zeros(4, 3), torch.zeros(4, dtype=torch.long)
    assert split_batch((x, y)).inputs == (x,)
    b = split_batch({"input_ids": x, "attention_mask": x, "labels": y})
    assert b.target is y and set(b.keyword_inputs) == {"input_ids", "attention_mask"} and b.target_key == "labels"
    b = split_batch(({"input_ids": x}, y))
    assert b.keyword_inputs == {"input_ids": x} and b.target is y and b.target_key is None
    b = split_batch((x, x, y))
    assert b.inputs == (x, x) and b.target is y
    assert split_batch({"x": x, "answer": y}, target_key="answer").target is y
    with pytest.raises(AdapterError, match="no target.*input_ids"):
        split_batch({"input_ids": x})
    with pytest.raises(AdapterError, match="got a tensor of shape"):
        split_batch(x)


def test_select_output_and_model_loss():
    logits, loss = torch.zeros(2, 3), torch.tensor(1.0)
    assert select_output(logits) is logits
    assert select_output((logits, loss)) is logits
    assert select_output({"features": loss, "logits": logits}) is logits
    assert select_output({"features": logits}) is logits
    assert select_output({"a": logits, "b": loss}, "b") is loss
    assert select_output((loss, logits), 1) is logits
    assert model_loss((logits, loss)) is loss and model_loss({"loss": loss, "logits": logits}) is loss
    with pytest.raises(AdapterError, match=r"dict with keys \(note\)"):
        select_output({"note": "x"})
    with pytest.raises(AdapterError, match="no loss"):
        model_loss((logits,))
    assert Batch((torch.zeros(5, 2),)).size == 5


# --- end to end ---------------------------------------------------------------------------------

TEXT_CASES = [  # (id, dataset fields, model, loss): a learnable sentiment task in each shape
    ("dict-samples-modeloutput", "", "BagClassifier", "name: cross_entropy"),
    ("dict-and-label", "args: {{form: dict_y}}, ", "BagClassifier", "name: cross_entropy"),
    ("positional-inputs", "args: {{form: tuple}}, ", "BagClassifier", "name: cross_entropy"),
    ("models-own-loss", "", "BagClassifier", "from_model: true"),
    ("dict-output-target-key", "args: {{label_key: sentiment}}, target_key: sentiment, ", "DictOutputClassifier",
     "name: cross_entropy"),
]


@pytest.mark.parametrize("dataset, model, loss", [c[1:] for c in TEXT_CASES], ids=[c[0] for c in TEXT_CASES])
def test_text_classifier_in_every_shape_trains_healthy(cli, tmp_path, dataset, model, loss):
    path = spec(tmp_path, f"""dataset: {{{{target: "{{f}}:DictTextDataset", {dataset}batch_size: 32}}}}
model: {{{{target: "{{f}}:{model}"}}}}
loss: {{{{{loss}}}}}
optimizer: {{{{name: adam, lr: 0.01}}}}""")
    result, report = probe(cli, path, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert report["metrics"]["final_val_metric"] > 0.8 and warnings_of(report) == []
    assert report["metrics"]["expected_initial_loss"] == pytest.approx(0.693, abs=0.05)  # about ln 2


@pytest.mark.parametrize("model, loss", [("TinyGPT", "from_model: true"), ("TinyGPTLogits", "name: cross_entropy")],
                         ids=["logits-loss-tuple", "token-logits-builtin-loss"])
def test_token_level_gpt_trains_healthy(cli, tmp_path, model, loss):
    path = spec(tmp_path, f"""dataset: {{{{target: "{{f}}:CharDataset", batch_size: 32}}}}
model: {{{{target: "{{f}}:{model}"}}}}
loss: {{{{{loss}}}}}
optimizer: {{{{name: adamw, lr: 0.003}}}}""", steps=150)
    result, report = probe(cli, path, tmp_path / "out")
    assert result.exit_code == 0, result.output
    m = report["metrics"]
    assert m["metric_name"] == "accuracy" and m["final_val_metric"] > 0.9  # per token, -100 ignored
    assert m["expected_initial_loss"] == pytest.approx(2.079, abs=1e-3)  # ln 8
    assert abs(m["initial_loss"] - m["expected_initial_loss"]) < 0.5
    assert warnings_of(report) == []


def test_unreadable_output_is_a_located_spec_error(cli, tmp_path):
    path = spec(tmp_path, """dataset: {{target: "{f}:DictTextDataset", batch_size: 32}}
model: {{target: "{f}:NoTensorOutput"}}
loss: {{name: cross_entropy}}
optimizer: {{name: adam, lr: 0.01}}""", steps=5)
    for command in ("probe", "check"):
        result = cli(command, path, "--out", tmp_path / command)
        assert result.exit_code == 2, result.output
        assert "field `model.output`" in result.output and "dict with keys (note, count)" in result.output


def test_dict_samples_without_a_target_are_a_located_spec_error(cli, tmp_path):
    path = spec(tmp_path, """dataset: {{target: "{f}:DictTextDataset", args: {{label_key: sentiment}}, batch_size: 32}}
model: {{target: "{f}:BagClassifier"}}
loss: {{name: cross_entropy}}
optimizer: {{name: adam, lr: 0.01}}""", steps=5)
    result = cli("check", path, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "dataset.target_key" in result.output and "sentiment" in result.output


def test_from_model_with_a_loss_name_is_a_spec_error(cli, tmp_path):
    path = spec(tmp_path, """dataset: {{target: "{f}:DictTextDataset", batch_size: 32}}
model: {{target: "{f}:BagClassifier"}}
loss: {{from_model: true, name: cross_entropy}}
optimizer: {{name: adam, lr: 0.01}}""", steps=5)
    result = cli("check", path, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "from_model` alone" in result.output, result.output
