"""`trainlint diagnose`: a probe's run folder gives the probe's findings again; a TensorBoard log
written with SummaryWriter is diagnosed on its loss, LR and validation curves."""

from __future__ import annotations

import json
import math
import sys

import pytest
from conftest import CONFIGS, read_report

from trainlint.diagnose.tags import TagOptions, choose_tags


def write_log(folder, loss, lr=lambda s: 0.01, steps=range(200), every_eval=40):
    """A hand-written training script's log: Loss/train and lr each step, Loss/val and Accuracy/val sometimes."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(folder))
    for s in steps:
        writer.add_scalar("Loss/train", loss(s), s)
        writer.add_scalar("lr", lr(s), s)
        if s % every_eval == every_eval - 1:
            writer.add_scalar("Loss/val", 1.1 * loss(s), s)
            writer.add_scalar("Accuracy/val", min(0.95, 0.2 + s / 250), s)
    writer.close()
    return folder


def noisy(s: int) -> float:
    return 0.02 * math.sin(1.7 * s) ** 2  # deterministic minibatch noise


def healthy(s):
    return 2.3 * math.exp(-s / 50) + 0.1 + noisy(s)


def diverging(s):
    return (2.3 * math.exp(-s / 20) + 0.2 if s < 60 else 0.3 * math.exp((s - 60) / 40)) + noisy(s)


def flat(s):
    return 2.3 + noisy(s)


def test_run_folder_gives_the_probes_findings(cli, tmp_path):
    run = tmp_path / "run"
    probed = cli("probe", CONFIGS / "faults" / "tl202_sgd_nan.yaml", "--no-plots", "--out", run)
    before = (run / "report.json").read_text()
    result = cli("diagnose", run, "--no-plots")
    assert result.exit_code == probed.exit_code == 1, result.output
    mine, theirs = read_report(run / "diagnose"), json.loads(before)
    keys = ("code", "severity", "message", "config_line", "caused_by", "evidence")
    assert [{k: f[k] for k in keys} for f in mine["findings"]] == [{k: f[k] for k in keys} for f in theirs["findings"]]
    assert mine["not_evaluated"] == theirs["not_evaluated"] and mine["command"] == "diagnose"
    assert (run / "report.json").read_text() == before  # the run's own files stay as they were
    assert (run / "diagnose" / "metrics.jsonl").read_bytes() == (run / "metrics.jsonl").read_bytes()
    assert "TL202 non-finite-loss" in result.stdout and f"read {run / 'record.json'}" in result.stderr


def test_healthy_log_passes(cli, tmp_path):
    pytest.importorskip("tensorboard")
    log = write_log(tmp_path / "runs" / "good", healthy)
    result = cli("diagnose", log, "--out", tmp_path / "out", "--no-plots", "--num-classes", "10")
    assert result.exit_code == 0, result.output
    report = read_report(tmp_path / "out")
    assert report["summary"]["status"] == "pass" and report["command"] == "diagnose"
    assert report["config"]["tensorboard"]["train_loss"] == "Loss/train"
    assert report["metrics"]["chance_metric"] == 0.1 and report["summary"]["steps_run"] == 200
    assert {r["code"] for r in report["rules_evaluated"]} >= {"TL202", "TL203", "TL204", "TL205", "TL303", "TL501", "TL502"}
    lines = (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 200 and json.loads(lines[39])["val_metric"] == pytest.approx(0.2 + 39 / 250)
    assert "read train loss: Loss/train (200 points, steps 0-199); LR: lr" in result.stderr


@pytest.mark.parametrize(("loss", "code", "fail_on", "exit_code"), [
    (diverging, "TL204", "error", 1), (diverging, "TL204", "never", 0),
    (flat, "TL203", "error", 0), (flat, "TL203", "warning", 1)])
def test_faulty_logs_fire_the_loss_rules(cli, tmp_path, loss, code, fail_on, exit_code):
    pytest.importorskip("tensorboard")
    log = write_log(tmp_path / "log", loss)
    result = cli("diagnose", log, "--out", tmp_path / "out", "--no-plots", "--fail-on", fail_on, "-q")
    assert result.exit_code == exit_code, result.output
    assert code in {f["code"] for f in read_report(tmp_path / "out")["findings"]}
    assert result.stdout.startswith(f"{log} {code}")


def test_what_a_log_lacks_is_not_evaluated(cli, tmp_path):
    pytest.importorskip("tensorboard")
    log = write_log(tmp_path / "log", healthy)
    cli("diagnose", log, "--out", tmp_path / "out", "--no-plots")
    reasons = {n["code"]: n["reason"] for n in read_report(tmp_path / "out")["not_evaluated"]}
    assert reasons["TL401"] == "not in the TensorBoard log: gradient norms"
    assert reasons["TL403"] == "not in the TensorBoard log: ReLU-like activations"
    assert reasons["TL201"] == "not in the TensorBoard log: the first batch, the loss function"
    assert reasons["TL101"] == "not in the TensorBoard log: the dataset scan"  # not a pass on an empty scan
    assert reasons["TL602"] == "not in the TensorBoard log: memory and CPU samples"


def test_sparse_log_has_too_few_points_for_the_loss_rules(cli, tmp_path):
    pytest.importorskip("tensorboard")
    log = write_log(tmp_path / "log", flat, steps=range(0, 120, 20))  # logged every 20 steps: 6 points
    result = cli("diagnose", log, "--out", tmp_path / "out", "--no-plots", "--fail-on", "warning")
    assert result.exit_code == 0, result.output
    reasons = {n["code"]: n["reason"] for n in read_report(tmp_path / "out")["not_evaluated"]}
    assert reasons["TL203"] == "needs at least 20 logged training losses; the TensorBoard log has 6"


def test_missing_tag_lists_the_tags(cli, tmp_path):
    pytest.importorskip("tensorboard")
    log = write_log(tmp_path / "log", healthy)
    result = cli("diagnose", log, "--loss-tag", "train/loss")
    assert result.exit_code == 2
    assert result.stderr == (f"error: --loss-tag: `{log}` has no scalar tag `train/loss`. Accepted: one of its "
                             "scalar tags: Accuracy/val, Loss/train, Loss/val, lr.\n")


def test_several_runs_ask_for_one(cli, tmp_path):
    pytest.importorskip("tensorboard")
    for name in ("a", "b"):
        write_log(tmp_path / "runs" / name, healthy, steps=range(3))
    result = cli("diagnose", tmp_path / "runs")
    assert result.exit_code == 2
    assert f"holds 2 TensorBoard runs (folders with event files): `{tmp_path / 'runs' / 'a'}`, " in result.stderr


@pytest.mark.parametrize("make", ["empty", "missing", "old"])
def test_neither_run_folder_nor_log_is_a_usage_error(cli, tmp_path, make):
    path = tmp_path / "thing"
    if make != "missing":
        path.mkdir()
    if make == "old":
        (path / "report.json").write_text("{}")
    result = cli("diagnose", path)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1  # one paragraph
    assert ("without record.json" if make == "old" else "Accepted: a run folder") in result.stderr


def test_without_tensorboard_names_the_install_command(cli, tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    log = write_log(tmp_path / "log", healthy, steps=range(3))
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed
    result = cli("diagnose", log)
    assert result.exit_code == 2
    assert 'needs the optional `tensorboard` package, not installed here: install it with ' \
           '`pip install "trainlint[tensorboard]"`' in result.stderr


@pytest.mark.parametrize(("tags", "expected"), [
    (["train/loss", "train/learning_rate", "train/grad_norm", "train/epoch", "eval/loss", "eval/accuracy"],
     ("train/loss", "train/learning_rate", "eval/loss", "eval/accuracy", "accuracy", True)),  # HF Trainer
    (["train_loss", "val_loss", "val_acc", "lr-SGD", "epoch"],
     ("train_loss", "lr-SGD", "val_loss", "val_acc", "accuracy", True)),  # Lightning + LearningRateMonitor
    (["loss/train", "lr", "loss/val", "mae/val", "grad_norm/global"],
     ("loss/train", "lr", "loss/val", "mae/val", "mae", False)),  # trainlint's own export
    (["loss"], ("loss", None, None, None, "accuracy", True)),
])
def test_tags_are_detected(tags, expected, tmp_path):
    t = choose_tags(tags, TagOptions(), tmp_path)
    assert (t.loss, t.lr, t.val_loss, t.val_metric, t.metric_name, t.higher_is_better) == expected
