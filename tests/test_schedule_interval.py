"""`scheduler.interval: step | epoch`: per-epoch schedules step once every len(train loader) optimizer steps."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import CONFIGS, read_report
from test_spec_errors import assert_error, edit, invoke

from trainlint.components.schedulers import Schedule

# digits: 1437 training samples; batch_size 256 → an epoch of ceil(1437 / 256) = 6 optimizer steps.
EPOCH = 6


def _lrs(tmp_path, scheduler: str, steps: int = 14) -> list[float]:
    text = edit("  batch_size: 32\n", "  batch_size: 256\n").replace("  steps: 3\n", f"  steps: {steps}\n")
    _, result = invoke(tmp_path, text + scheduler, "--no-plots")
    assert result.exit_code in (0, 1), result.output
    lines = (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line)["lr"] for line in lines]


def test_epoch_interval_steps_once_per_epoch(tmp_path):
    lrs = _lrs(tmp_path, "scheduler:\n  name: step\n  args: {step_size: 1, gamma: 0.5}\n  interval: epoch\n")
    assert lrs == pytest.approx([1e-3] * EPOCH + [5e-4] * EPOCH + [2.5e-4] * 2)


def test_step_interval_is_the_default(tmp_path):
    lrs = _lrs(tmp_path, "scheduler:\n  name: step\n  args: {step_size: 1, gamma: 0.5}\n", steps=4)
    assert lrs == pytest.approx([1e-3, 5e-4, 2.5e-4, 1.25e-4])


def test_warmup_counts_optimizer_steps_with_an_epoch_schedule(tmp_path):
    lrs = _lrs(tmp_path, "scheduler:\n  name: step\n  args: {step_size: 1, gamma: 0.5}\n  interval: epoch\n"
                         "  warmup_steps: 3\n", steps=8)
    assert lrs == pytest.approx([1e-3 / 3, 2e-3 / 3, 1e-3, 1e-3, 1e-3, 1e-3, 5e-4, 5e-4])


def test_default_lengths_count_epochs(tmp_path):
    """cosine's T_max defaults to the probe's length in epochs: ceil(14 / 6) = 3, constant within an epoch."""
    lrs = _lrs(tmp_path, "scheduler:\n  name: cosine\n  interval: epoch\n")
    assert len(set(lrs[:EPOCH])) == 1 and len(set(lrs[EPOCH:2 * EPOCH])) == 1
    assert lrs[EPOCH] == pytest.approx(1e-3 * 0.75)  # cos annealing, 1 of 3 epochs: (1 + cos(pi/3)) / 2


def test_plateau_gets_the_epoch_mean_loss():
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=1.0)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
    schedule = Schedule(optimizer, plateau, every=3)
    lrs = []
    for loss in [3.0, 1.0, 2.0, 1.0, 3.0, 2.0, 5.0, 0.0, 0.0]:  # epoch means 2, 2, 5/3
        lrs.append(optimizer.param_groups[0]["lr"])
        schedule.step(torch.tensor(loss))
    assert lrs == [1.0] * 6 + [0.5] * 3  # the second epoch did not improve on the first's mean
    assert optimizer.param_groups[0]["lr"] == 0.5  # the third did


def test_per_epoch_step_lr_is_healthy_on_the_quickstart(cli, tmp_path):
    """StepLR(step_size=1, gamma=0.7) meant per epoch (23 steps on the quickstart data) trains well."""
    spec = tmp_path / "steplr.yaml"
    spec.write_text((CONFIGS / "quickstart.yaml").read_text().replace(
        "  name: cosine\n  warmup_steps: 20\n", "  name: step\n  args: {step_size: 1, gamma: 0.7}\n  interval: epoch\n"))
    result = cli("probe", spec, "--no-plots", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    report = read_report(tmp_path / "out")
    assert report["findings"] == [], [f["message"] for f in report["findings"]]
    assert report["metrics"]["final_val_metric"] > 0.9


@pytest.mark.parametrize("value", ["epochs", "1"])
def test_bad_interval(tmp_path, value):
    spec, result = invoke(tmp_path, edit("probe:\n", f"scheduler:\n  name: cosine\n  interval: {value}\nprobe:\n"))
    assert_error(result, f"{spec}:15:3", "scheduler.interval", "step", "epoch")
