"""A DistributedDataParallel loop under `torchrun`, watched by trainlint: every rank records, rank 0 reports.

    torchrun --standalone --nproc_per_node 2 examples/ddp_loop.py               # healthy
    torchrun --standalone --nproc_per_node 2 examples/ddp_loop.py --straggler   # rank 1 loads data slowly

Runs on CPU with the gloo backend (nccl on GPUs). The straggler is planted in rank 1's data
loading (a sleep per batch, as a slow disk or an overloaded host would add): DDP makes rank 0
wait for it in every backward pass, and trainlint's TL604 names the rank and why.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

import trainlint

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: its sibling's data
from plain_loop import digits  # noqa: E402


class SlowOnRank(torch.utils.data.Dataset):
    """The digits, with `delay_s` of extra work per sample on one rank."""

    def __init__(self, data, delay_s: float):
        self.data, self.delay_s = data, delay_s

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i):
        if self.delay_s:
            time.sleep(self.delay_s)
        return self.data[i]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--straggler", action="store_true")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", default="trainlint-out/ddp-loop")
    args = parser.parse_args()
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    train, (x_val, y_val) = digits()
    delay = 0.0005 if args.straggler and rank == 1 else 0.0  # 16 ms per batch of 32
    sampler = DistributedSampler(train, seed=0)
    loader = DataLoader(SlowOnRank(train, delay), batch_size=32, sampler=sampler)
    model = DistributedDataParallel(nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    with trainlint.watch(model, optimizer, task="multiclass", loss_fn=loss_fn, out=args.out, name="ddp-loop") as tl:
        for epoch in range(args.epochs):
            sampler.set_epoch(epoch)
            for x, y in loader:
                loss = loss_fn(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                tl.log(loss=loss, inputs=x, targets=y)
            model.eval()
            with torch.no_grad():
                out = model.module(x_val)
                tl.log_eval(val_loss=loss_fn(out, y_val), val_accuracy=(out.argmax(1) == y_val).float().mean())
            model.train()
    dist.destroy_process_group()
    if rank == 0 and os.environ.get("TRAINLINT_EXAMPLE_STATUS"):
        print(tl.report.summary.status)


if __name__ == "__main__":
    main()
