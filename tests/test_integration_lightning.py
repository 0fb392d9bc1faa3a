"""The Lightning callback (trainlint/integrations/lightning.py) on examples/lightning_digits.py."""

from __future__ import annotations

import json
import signal

import pytest
import torch
from torch import nn

pytest.importorskip("lightning")
pytest.importorskip("sklearn")

import lightning.pytorch as L  # noqa: E402

from examples import lightning_digits  # noqa: E402
from tests.conftest import line_of  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _findings(report, *severities):
    return [f.code for f in report.findings if f.severity in severities]


def test_healthy_example_passes_and_writes_the_run_folder(tmp_path):
    report = lightning_digits.main(["--out", str(tmp_path / "run")])
    assert report.summary.status == "pass" and report.command == "watch"
    assert _findings(report, "error", "warning") == []
    assert report.summary.steps_run == 6 * 45 and report.metrics.final_val_metric > 0.9
    assert report.config_path.endswith(f"lightning_digits.py:{line_of(lightning_digits, 'TrainlintCallback(')}")
    written = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"report.json", "report.md", "metrics.jsonl", "record.json", "loss.png", "gradients.png"} <= written
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert sum("val_metric" in r for r in rows) == 6  # one validation per epoch, not the sanity check


@pytest.mark.parametrize(("fault", "root"), [("lr", "TL301"), ("softmax", "TL206")])
def test_planted_faults_are_diagnosed(tmp_path, fault, root):
    report = lightning_digits.main(["--fault", fault, "--epochs", "3", "--out", str(tmp_path / fault)])
    assert report.summary.status == "fail"
    assert report.root_causes[0].code == root


class _Oracle(L.Callback):
    """What the step used, read beside trainlint: each micro-batch's loss and the gradient norm."""

    def __init__(self):
        self.losses, self.grad_norms = [], []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.losses.append(float(outputs["loss"]) * trainer.accumulate_grad_batches)

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        norms = [p.grad.norm() for p in pl_module.parameters() if p.grad is not None]
        self.grad_norms.append(float(torch.stack(norms).norm()))


def test_gradient_accumulation_steps_are_optimizer_steps(tmp_path):
    oracle = _Oracle()
    lightning_digits.main(["--accumulate", "3", "--epochs", "1", "--out", str(tmp_path / "run")], callbacks=(oracle,))
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    assert record["steps"] == list(range(15))  # 45 batches, 3 per optimizer step
    per_step = [sum(oracle.losses[i:i + 3]) / 3 for i in range(0, 45, 3)]
    assert record["train_loss"] == pytest.approx(per_step, rel=1e-5)
    # read after the closure's backward of the step's last micro-batch, not before it (the previous step's)
    assert record["grad_norm"] == pytest.approx(oracle.grad_norms, rel=1e-4)


class _Scheduled(lightning_digits.DigitsClassifier):
    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)
        decay = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0, end_factor=0.1, total_iters=45)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": decay, "interval": "step"}}


def test_the_lr_series_follows_the_scheduler(tmp_path):
    lightning_digits.main(["--epochs", "1", "--out", str(tmp_path / "run")], model=_Scheduled(lr=0.05))
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    assert record["scheduler_class"] == "LinearLR"
    assert record["lr_series"] == pytest.approx([0.05 * (1 - 0.9 * k / 45) for k in range(45)])


class _CallsItsNet(lightning_digits.DigitsClassifier):
    """The common style where `training_step` calls the wrapped network, not `self(x)`."""

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)


def test_a_training_step_that_calls_its_net_is_recorded_like_one_that_calls_self(tmp_path):
    records = []
    for name, kind in (("self", lightning_digits.DigitsClassifier), ("net", _CallsItsNet)):
        torch.manual_seed(0)  # the same initial weights for both
        lightning_digits.main(["--epochs", "1", "--out", str(tmp_path / name)], model=kind(lr=0.05))
        records.append(json.loads((tmp_path / name / "record.json").read_text()))
    by_self, by_net = records
    assert by_net["first_batch"] is not None and by_net["first_batch"]["output_shape"] == [32, 10]
    assert by_net["dead_fraction"]["names"] == by_self["dead_fraction"]["names"] == ["net.1"]
    assert by_net["dead_fraction"]["steps"] == by_self["dead_fraction"]["steps"] == [0, 20, 40]
    assert by_net["train_loss"] == pytest.approx(by_self["train_loss"])


class _Fail(L.Callback):
    def __init__(self, exc: BaseException):
        self.exc = exc

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if batch_idx == 5:
            raise self.exc


def test_a_crash_writes_the_report_and_is_re_raised(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        lightning_digits.main(["--out", str(tmp_path / "run")], callbacks=(_Fail(RuntimeError("boom")),))
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["summary"]["stop_reason"] == "crashed" and report["summary"]["steps_run"] == 6
    assert "TL001" in [f["code"] for f in report["findings"]]


def test_ctrl_c_writes_the_report(tmp_path):
    handler = signal.getsignal(signal.SIGINT)  # Lightning ignores SIGINT while it shuts down
    try:
        with pytest.raises(SystemExit):  # Lightning turns a KeyboardInterrupt into exit(1)
            lightning_digits.main(["--out", str(tmp_path / "run")], callbacks=(_Fail(KeyboardInterrupt()),))
    finally:
        signal.signal(signal.SIGINT, handler)
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["summary"]["stop_reason"] == "interrupted"


def test_a_missing_framework_names_the_extra_to_install():
    from trainlint.integrations import require

    with pytest.raises(ImportError, match=r'pip install "trainlint\[lightning\]"'):
        require(("no_such_lightning",), "lightning")
