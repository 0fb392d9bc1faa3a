"""Parity for user datasets: the chance level (majority class, or the train mean's MAE) is scored
from the samples, as it is for built-ins, so TL502 runs on `target:` datasets too."""

from __future__ import annotations

import torch
from conftest import read_report

from trainlint.probe.adapters import Reader
from trainlint.probe.record import DataFacts
from trainlint.probe.recorders.evaluation import scanned_chance

DATA = '''
import torch
from torch.utils.data import TensorDataset

def make(kind="classes", seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(600, 8, generator=g)
    if kind == "classes":
        y = (x[:, 0] > 0.5).long()  # learnable, about 69 % class 0
    elif kind == "random":
        y = torch.randint(0, 4, (600,), generator=g)  # labels unrelated to the inputs
    else:
        y = x[:, :2] * 3 + 10
    return TensorDataset(x, y)
'''


def write(tmp_path, kind, task=None):
    (tmp_path / "data.py").write_text(DATA)
    extra = f", task: {task}" if task else ""
    loss = "mse" if kind == "regression" else "cross_entropy"
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: chance\ndataset: {{target: data.py:make, args: {{kind: {kind}}}, batch_size: 32{extra}}}\n"
                    f"model: {{name: mlp, args: {{hidden: [32]}}}}\nloss: {{name: {loss}}}\n"
                    "optimizer: {name: adam, lr: 0.01}\nprobe: {steps: 150, eval_every: 50}\n")
    return spec


def test_scanned_chance_matches_a_hand_computation():
    y_val = torch.tensor([0, 0, 1, 2, -100, 0])
    loader = [(torch.zeros(3, 2), y_val[:3]), (torch.zeros(3, 2), y_val[3:])]
    data = DataFacts(class_counts={0: 50, 1: 30, 2: 20, -100: 999})
    assert scanned_chance("multiclass", data, loader, Reader()) == 3 / 5  # -100 is no label
    reg = [(torch.zeros(2, 1), torch.tensor([[1.0, 2.0], [3.0, 6.0]]))]
    facts = DataFacts(target_mean=[2.0, 4.0])
    assert scanned_chance("regression", facts, reg, Reader()) == 1.5  # each row: mean(|1-2|, |2-4|) = mean(|3-2|, |6-4|) = 1.5
    assert scanned_chance("multiclass", DataFacts(), loader, Reader()) is None


def test_user_classification_dataset_gets_a_chance_level(cli, tmp_path):
    result = cli("probe", write(tmp_path, "classes"), "--no-plots", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    m = read_report(tmp_path / "out")["metrics"]
    assert 0.6 < m["chance_metric"] < 0.8 and m["final_val_metric"] > 0.9
    assert "(chance 0." in result.output


def test_user_regression_dataset_gets_the_train_mean_mae(cli, tmp_path):
    result = cli("probe", write(tmp_path, "regression", "regression"), "--no-plots", "--out", tmp_path / "out")
    m = read_report(tmp_path / "out")["metrics"]
    assert m["metric_name"] == "mae" and 1.5 < m["chance_metric"] < 3.5, result.output  # |3·N(0,1)| ≈ 2.4


def test_labels_unrelated_to_inputs_end_at_chance_and_tl502_says_so(cli, tmp_path):
    result = cli("probe", write(tmp_path, "random"), "--no-plots", "--out", tmp_path / "out")
    report = read_report(tmp_path / "out")
    assert report["metrics"]["chance_metric"] is not None
    assert "TL502" in {f["code"] for f in report["findings"]}, result.output
    assert "TL502" not in {n["code"] for n in report["not_evaluated"]}
