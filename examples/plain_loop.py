"""Lint a hand-written PyTorch training loop with `trainlint.watch` (README: "Lint your own training loop").

    python examples/plain_loop.py                 # healthy: an MLP on scikit-learn's bundled digits
    python examples/plain_loop.py --fault lr      # planted fault: a learning rate 60x too high
    python examples/plain_loop.py --fault softmax # planted fault: softmax before CrossEntropyLoss

The loop is an ordinary one; the lines that mention `tl` are all trainlint needs. The diagnosis
is printed when the `with` block ends; the report and plots are in trainlint-out/plain-loop/.
"""

from __future__ import annotations

import argparse

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import trainlint


def digits(seed: int = 0):
    """scikit-learn's bundled 8x8 digits, pixels scaled to [0, 1]: 1,437 training and 360 validation images."""
    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32) / 16.0
    y = torch.tensor(data.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    x, y = x[order], y[order]
    return TensorDataset(x[:1437], y[:1437]), (x[1437:], y[1437:])


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault", choices=["none", "lr", "softmax"], default="none")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--out", default="trainlint-out/plain-loop")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    train, (x_val, y_val) = digits()
    loader = DataLoader(train, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
    layers = [nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)]
    if args.fault == "softmax":
        layers.append(nn.Softmax(dim=1))  # the bug: CrossEntropyLoss applies log-softmax itself
    model = nn.Sequential(*layers)
    lr = 3.0 if args.fault == "lr" else 0.05
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    step = 0
    with trainlint.watch(model, optimizer, task="multiclass", loss_fn=loss_fn, out=args.out,
                         name="plain-loop") as tl:
        for _ in range(args.epochs):
            for x, y in loader:
                loss = loss_fn(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                tl.log(loss=loss, inputs=x, targets=y)
                step += 1
                if step % 45 == 0:
                    model.eval()
                    with torch.no_grad():
                        out = model(x_val)
                        tl.log_eval(val_loss=loss_fn(out, y_val), val_accuracy=(out.argmax(1) == y_val).float().mean())
                    model.train()
    return tl.report


if __name__ == "__main__":
    torch.set_num_threads(1)
    report = main()
    raise SystemExit(1 if report.summary.status == "fail" else 0)
