"""The Hugging Face Trainer callback (trainlint/integrations/transformers.py) on examples/hf_trainer_digits.py."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

pytest.importorskip("transformers")
pytest.importorskip("accelerate")
pytest.importorskip("sklearn")

from transformers import TrainerCallback  # noqa: E402

from examples import hf_trainer_digits  # noqa: E402
from tests.conftest import line_of  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _record(tmp_path) -> dict:
    return json.loads((tmp_path / "run" / "record.json").read_text())


def test_healthy_example_passes_and_writes_the_run_folder(tmp_path):
    report = hf_trainer_digits.main(["--out", str(tmp_path / "run")])
    assert report.summary.status == "pass" and report.command == "watch"
    assert [f.code for f in report.findings if f.severity in ("error", "warning")] == []
    assert report.summary.steps_run == 6 * 45 and report.metrics.final_val_metric > 0.9
    assert report.config_path.endswith(f"hf_trainer_digits.py:{line_of(hf_trainer_digits, 'TrainlintCallback(')}")
    assert {"report.json", "metrics.jsonl", "loss.png"} <= {p.name for p in (tmp_path / "run").iterdir()}
    evals = _record(tmp_path)["evals"]
    assert evals["steps"] == [44, 89, 134, 179, 224, 269] and evals["metric_name"] == "accuracy"


@pytest.mark.parametrize(("fault", "root"), [("lr", "TL301"), ("softmax", "TL206")])
def test_planted_faults_are_diagnosed(tmp_path, fault, root):
    report = hf_trainer_digits.main(["--fault", fault, "--epochs", "3", "--out", str(tmp_path / fault)])
    assert report.summary.status == "fail"
    assert report.root_causes[0].code == root


class _Oracle(TrainerCallback):
    """What each step used, read beside trainlint: the micro-batches' losses and the gradient norm."""

    def __init__(self, model: nn.Module):
        self.micro, self.steps, self.grad_norms = [], [], []
        model.register_forward_hook(self._forward)
        self.model = model

    def _forward(self, module, args, output):
        if module.training:
            self.micro.append(float(output["loss"].detach()))

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        self.steps.append(self.micro)
        self.micro = []
        norms = [p.grad.norm() for p in self.model.parameters() if p.grad is not None]
        self.grad_norms.append(float(torch.stack(norms).norm()))  # after the Trainer's clipping


def test_gradient_accumulation_steps_are_optimizer_steps_and_the_lr_is_the_schedulers(tmp_path):
    model = hf_trainer_digits.DigitsMLP()
    oracle = _Oracle(model)
    hf_trainer_digits.main(["--accumulate", "3", "--epochs", "1", "--out", str(tmp_path / "run")],
                           callbacks=(oracle,), model=model)
    record = _record(tmp_path)
    assert record["steps"] == list(range(15))  # 45 batches, 3 per optimizer step
    assert record["train_loss"] == pytest.approx([sum(m) / len(m) for m in oracle.steps], rel=1e-5)
    assert record["grad_norm"] == pytest.approx(oracle.grad_norms, rel=1e-4)
    # the Trainer's default schedule, linear decay to 0 over the 15 steps, not the configured 1e-2
    assert record["scheduler_class"] == "LambdaLR"
    assert record["lr_series"] == pytest.approx([1e-2 * (1 - k / 15) for k in range(15)])


class _SharedLoss(hf_trainer_digits.DigitsMLP):
    """A model that takes the Trainer's loss kwargs, as Hugging Face's own do: each micro-batch's
    loss is its share of the step's, summed cross-entropy over the step's `num_items_in_batch`."""

    def __init__(self):
        super().__init__()
        self.sums, self.counts = [], []

    def forward(self, x, labels=None, **kwargs):
        logits = self.net(x)
        total = nn.functional.cross_entropy(logits, labels, reduction="sum")
        if self.training:
            self.sums.append(float(total))
            self.counts.append(len(labels))
        return {"loss": total / kwargs["num_items_in_batch"], "logits": logits}


def test_losses_shared_over_num_items_in_batch_are_summed(tmp_path):
    model = _SharedLoss()
    hf_trainer_digits.main(["--accumulate", "3", "--epochs", "1", "--out", str(tmp_path / "run")], model=model)
    per_step = [sum(model.sums[i:i + 3]) / sum(model.counts[i:i + 3]) for i in range(0, 45, 3)]
    assert _record(tmp_path)["train_loss"] == pytest.approx(per_step, rel=1e-5)


class _Fail(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 6:
            raise RuntimeError("boom")


def test_a_crash_inside_with_writes_the_report_and_is_re_raised(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        hf_trainer_digits.main(["--out", str(tmp_path / "run")], callbacks=(_Fail(),))
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["summary"]["stop_reason"] == "crashed" and report["summary"]["steps_run"] == 6
    assert "TL001" in [f["code"] for f in report["findings"]]


def test_a_hugging_face_model_under_the_trainer_then_its_tensorboard_log(tmp_path):
    """A real `BertForSequenceClassification` (toy config, no download) on dict batches, computing its
    own loss: the callback records it live, and `trainlint diagnose` reads the Trainer's TensorBoard log."""
    pytest.importorskip("tensorboard")
    import math
    import sys

    from transformers import Trainer, TrainingArguments

    from tests.conftest import CONFIGS
    from trainlint.integrations.transformers import TrainlintCallback

    sys.path.insert(0, str(CONFIGS / "real"))
    from data import Sentiment
    from models import bert_classifier

    torch.manual_seed(0)
    tl = TrainlintCallback(out=tmp_path / "run", plots=False, echo=False)
    args = TrainingArguments(output_dir=str(tmp_path / "hf"), max_steps=40, per_device_train_batch_size=32,
                             learning_rate=1e-3, eval_strategy="steps", eval_steps=20, logging_steps=2,
                             save_strategy="no", report_to="tensorboard", use_cpu=True, disable_tqdm=True,
                             log_level="error", seed=0)
    trainer = Trainer(model=bert_classifier(), args=args, train_dataset=Sentiment(),
                      eval_dataset=Sentiment(n=128, seed=1), callbacks=[tl])
    with tl:
        trainer.train()
    report, record = tl.report, tl.watch.record
    assert record.steps == list(range(40)) and record.loss_class == "ModelLoss"
    assert record.first_batch.expected_initial_loss == pytest.approx(math.log(2))  # the model's own loss, 2 classes
    assert record.data.input_kind == "tokens" and record.data.class_counts is not None
    skipped = {n.code for n in report.not_evaluated}
    assert not skipped & {"TL101", "TL102", "TL201", "TL206", "TL301", "TL401"}
    assert record.evals.steps == [19, 39] and all(math.isfinite(v) for v in record.evals.val_loss)

    from trainlint.diagnose import DiagnoseOptions, diagnose

    logs = next((tmp_path / "hf" / "runs").iterdir())
    diagnosis = diagnose(logs, DiagnoseOptions(out=tmp_path / "diagnosed", plots=False))
    logged = diagnosis.outcome.record
    assert logged.steps == list(range(2, 41, 2))  # the Trainer's logging_steps, as logged
    assert logged.lr_series[0] > logged.lr_series[-1]  # the Trainer's linear decay, from its own log
    assert diagnosis.outcome.report.command == "diagnose"


def test_a_healthy_bert_in_a_hand_written_loop_passes(tmp_path):
    """A toy `BertForSequenceClassification` trained the way Hugging Face users write a loop (dict
    batches, `model(**batch).loss`) is diagnosed healthy. Before TL402 compared thirds of the layers,
    its first query projection against its classifier head (4e-5) was called vanishing gradients."""
    from transformers import BertConfig, BertForSequenceClassification

    import trainlint

    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=2)
    model = BertForSequenceClassification(config)
    ids, labels = torch.randint(6, 100, (768, 16)), torch.randint(0, 2, (768,))
    ids[labels == 1, 3] = 5  # the label: whether token 5 is at position 3
    val = slice(512, None)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    with trainlint.watch(model, opt, loss_fn="model", out=tmp_path / "run", plots=False, echo=False) as tl:
        for step in range(150):
            i = step * 32 % 512
            batch = {"input_ids": ids[i:i + 32], "attention_mask": torch.ones(32, 16, dtype=torch.long),
                     "labels": labels[i:i + 32]}
            loss = model(**batch).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            tl.log(loss=loss, inputs=batch["input_ids"], targets=batch["labels"])
            if step % 50 == 49:
                model.eval()
                with torch.no_grad():
                    out = model(input_ids=ids[val], labels=labels[val])
                model.train()
                tl.log_eval(val_loss=out.loss, val_accuracy=(out.logits.argmax(-1) == labels[val]).float().mean())
    report = tl.report
    assert report.metrics.final_val_metric > 0.9, report.metrics
    assert [f.code for f in report.findings] == [], [f.message for f in report.findings]
    assert "TL402" not in {n.code for n in report.not_evaluated}  # judged, and quiet
