"""End-to-end probes through the CLI: outputs, determinism, user targets, crashes."""

from __future__ import annotations

import json
import textwrap

from conftest import CONFIGS, read_report


def test_quickstart_trains_and_writes_report(cli, tmp_path):
    out = tmp_path / "out"
    result = cli("probe", CONFIGS / "quickstart.yaml", "--out", out)
    assert result.exit_code == 0, result.output
    report = read_report(out)
    assert report["schema_version"] == 1
    assert set(report) >= {"trainlint_version", "config_path", "config", "environment", "summary",
                           "metrics", "findings", "not_evaluated", "artifacts"}
    assert report["summary"]["status"] == "pass"
    assert report["summary"]["steps_run"] == 300
    metrics = report["metrics"]
    assert metrics["final_val_metric"] >= 0.90
    assert abs(metrics["expected_initial_loss"] - 2.302585) < 1e-4  # ln(10)
    assert metrics["final_train_loss"] < metrics["initial_loss"] / 5
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 300
    rows = [json.loads(line) for line in lines]
    assert [r["step"] for r in rows] == list(range(300))
    assert "layer_grad_norm" in rows[0] and "update_ratio" in rows[0] and "dead_fraction" in rows[0]
    assert sum("val_metric" in r for r in rows) == 12
    assert "status" in result.output and "pass" in result.output


def test_same_seed_same_losses(cli, tmp_path):
    losses = []
    for i in range(2):
        out = tmp_path / f"run{i}"
        assert cli("probe", CONFIGS / "quickstart.yaml", "--out", out, "--steps", "40", "-q").exit_code == 0
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        losses.append([(r["train_loss"], r["grad_norm"]) for r in rows])
    assert losses[0] == losses[1]
    other = tmp_path / "seed1"
    cli("probe", CONFIGS / "quickstart.yaml", "--out", other, "--steps", "40", "--seed", "1", "-q")
    rows = [json.loads(line) for line in (other / "metrics.jsonl").read_text().splitlines()]
    assert [(r["train_loss"], r["grad_norm"]) for r in rows] != losses[0]


def test_user_model_and_dataset_targets(cli, tmp_path):
    (tmp_path / "my_model.py").write_text(textwrap.dedent("""
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self, hidden=16):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 3))
            def forward(self, x):
                return self.body(x)
    """))
    (tmp_path / "my_data.py").write_text(textwrap.dedent("""
        import torch
        from torch.utils.data import TensorDataset
        def make(n=300):
            g = torch.Generator().manual_seed(0)
            x = torch.randn(n, 4, generator=g)
            y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
            return TensorDataset(x, y)
    """))
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent("""
        dataset: {target: ./my_data.py:make, args: {n: 400}, batch_size: 32}
        model: {target: ./my_model.py:Net, args: {hidden: 32}}
        loss: {name: cross_entropy}
        optimizer: {name: adam, lr: 0.01}
        probe: {steps: 60, eval_every: 20}
    """))
    out = tmp_path / "out"
    result = cli("probe", spec, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    report = read_report(out)
    assert report["summary"]["steps_run"] == 60
    assert report["config"]["name"] == "spec"
    assert report["metrics"]["final_val_metric"] > 0.6


def test_model_crash_is_a_finding_not_a_traceback(cli, tmp_path):
    (tmp_path / "bad.py").write_text(textwrap.dedent("""
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(32, 10)
            def forward(self, x):
                return self.fc(x)
    """))
    spec = tmp_path / "spec.yaml"
    spec.write_text("dataset: {name: digits}\nmodel: {target: ./bad.py:Net}\n"
                    "loss: {name: cross_entropy}\noptimizer: {name: adam}\n")
    out = tmp_path / "out"
    result = cli("probe", spec, "--out", out)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    report = read_report(out)
    [finding] = [f for f in report["findings"] if f["code"] == "TL001"]
    assert "expects 32 input features but receives 64" in finding["message"]
    assert finding["evidence"]["user_frame"]["line"] == 8
    assert report["summary"]["stop_reason"] == "crashed"
