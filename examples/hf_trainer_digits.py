"""Lint a Hugging Face `Trainer` run with `TrainlintCallback` (README: "Lint your own training loop").

    python examples/hf_trainer_digits.py                 # healthy: an MLP on scikit-learn's bundled digits
    python examples/hf_trainer_digits.py --fault lr      # planted fault: a learning rate 100x too high
    python examples/hf_trainer_digits.py --fault softmax # planted fault: softmax before cross-entropy

The model is a small `nn.Module` that returns `{"loss", "logits"}` as Hugging Face models do;
the Trainer is an ordinary one with its default AdamW and linear-decay schedule. The callback
in `callbacks=[...]` is all trainlint needs; `with tl:` also gets a report if training raises.
The report and plots are in trainlint-out/hf-trainer-digits/. Needs `pip install "trainlint[hf]"`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers import Trainer, TrainingArguments

from trainlint.integrations.transformers import TrainlintCallback

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: its sibling's data
from plain_loop import digits  # noqa: E402


class Digits(torch.utils.data.Dataset):
    """scikit-learn's bundled 8x8 digits as `{"x", "labels"}` items, pixels scaled to [0, 1]."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "labels": self.y[i]}


class DigitsMLP(nn.Module):
    """Returns the loss with the logits when given labels, as a Hugging Face model does."""

    def __init__(self, softmax: bool = False):
        super().__init__()
        layers = [nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)]
        if softmax:
            layers.append(nn.Softmax(dim=1))  # the bug: cross_entropy applies log-softmax itself
        self.net = nn.Sequential(*layers)

    def forward(self, x, labels=None):
        logits = self.net(x)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return {"loss": loss, "logits": logits}


def accuracy(prediction) -> dict[str, float]:
    return {"accuracy": float(np.mean(prediction.predictions.argmax(-1) == prediction.label_ids))}


def main(argv: list[str] | None = None, callbacks: tuple = (), model: nn.Module | None = None):
    """Train and return the report; `callbacks` and `model` let the tests add a check or a fault."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault", choices=["none", "lr", "softmax"], default="none")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--accumulate", type=int, default=1, help="micro-batches per optimizer step")
    parser.add_argument("--without-trainlint", action="store_true",
                        help="the same run without the callback (benchmarks/api_overhead.py compares them)")
    parser.add_argument("--out", default="trainlint-out/hf-trainer-digits")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    train_set, (x_val, y_val) = digits()
    train, val = Digits(*train_set.tensors), Digits(x_val, y_val)
    model = model or DigitsMLP(softmax=args.fault == "softmax")
    tl = TrainlintCallback(out=args.out, name="hf-trainer-digits", task="multiclass", loss_fn=nn.CrossEntropyLoss())
    with tempfile.TemporaryDirectory() as scratch:
        training = TrainingArguments(
            output_dir=scratch, num_train_epochs=args.epochs, per_device_train_batch_size=32,
            gradient_accumulation_steps=args.accumulate, learning_rate=1.0 if args.fault == "lr" else 1e-2,
            eval_strategy="epoch", logging_steps=45, save_strategy="no", report_to="none", use_cpu=True,
            disable_tqdm=True, log_level="error", seed=0)
        trainer = Trainer(model=model, args=training, train_dataset=train, eval_dataset=val,
                          compute_metrics=accuracy,
                          callbacks=[*([] if args.without_trainlint else [tl]), *callbacks])
        with contextlib.nullcontext() if args.without_trainlint else tl:
            trainer.train()
    return tl.report


if __name__ == "__main__":
    torch.set_num_threads(1)
    report = main()
    raise SystemExit(1 if report.summary.status == "fail" else 0)
