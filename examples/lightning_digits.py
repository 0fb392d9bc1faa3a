"""Lint a Lightning training run with `TrainlintCallback` (README: "Lint your own training loop").

    python examples/lightning_digits.py                 # healthy: an MLP on scikit-learn's bundled digits
    python examples/lightning_digits.py --fault lr      # planted fault: a learning rate 60x too high
    python examples/lightning_digits.py --fault softmax # planted fault: softmax before cross-entropy

The LightningModule is an ordinary one; the callback in `Trainer(callbacks=[...])` is all
trainlint needs. The diagnosis is printed when `fit` ends; the report and plots are in
trainlint-out/lightning-digits/. Needs `pip install "trainlint[lightning]"`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import lightning.pytorch as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from trainlint.integrations.lightning import TrainlintCallback

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: its sibling's data
from plain_loop import digits  # noqa: E402


class DigitsClassifier(L.LightningModule):
    def __init__(self, lr: float, softmax: bool = False):
        super().__init__()
        layers = [nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)]
        if softmax:
            layers.append(nn.Softmax(dim=1))  # the bug: cross_entropy applies log-softmax itself
        self.net = nn.Sequential(*layers)
        self.lr = lr

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)


def main(argv: list[str] | None = None, callbacks: tuple = (), model: L.LightningModule | None = None):
    """Train and return the report; `callbacks` and `model` let the tests add a check or a change."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault", choices=["none", "lr", "softmax"], default="none")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--accumulate", type=int, default=1, help="micro-batches per optimizer step")
    parser.add_argument("--without-trainlint", action="store_true",
                        help="the same run without the callback (benchmarks/api_overhead.py compares them)")
    parser.add_argument("--out", default="trainlint-out/lightning-digits")
    args = parser.parse_args(argv)
    L.seed_everything(0, verbose=False)
    train, (x_val, y_val) = digits()
    val = TensorDataset(x_val, y_val)
    model = model or DigitsClassifier(lr=3.0 if args.fault == "lr" else 0.05, softmax=args.fault == "softmax")
    trainlint_callback = TrainlintCallback(out=args.out, name="lightning-digits", task="multiclass",
                                           loss_fn=nn.CrossEntropyLoss())
    trainer = L.Trainer(max_epochs=args.epochs, accumulate_grad_batches=args.accumulate, accelerator="cpu",
                        callbacks=[*([] if args.without_trainlint else [trainlint_callback]), *callbacks],
                        check_val_every_n_epoch=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, DataLoader(train, batch_size=32, shuffle=True), DataLoader(val, batch_size=360))
    return trainlint_callback.report


if __name__ == "__main__":
    torch.set_num_threads(1)
    report = main()
    raise SystemExit(1 if report.summary.status == "fail" else 0)
