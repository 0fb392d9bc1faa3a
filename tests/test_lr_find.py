"""`trainlint lr-find`: the range test on the quickstart, its outputs, and that it leaves no trace."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import CONFIGS

from trainlint.probe.range_test import lr_at, run_range_test
from trainlint.spec.loader import load_spec

QUICKSTART = CONFIGS / "quickstart.yaml"


def test_quickstart_suggestion_is_near_the_known_good_lr(cli, tmp_path):
    result = cli("lr-find", QUICKSTART, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "lr_find.json").read_text())
    assert 3e-4 <= data["suggested_lr"] <= 1e-2, data["reason"]  # known good: 1e-3 with Adam
    assert data["current_lr"] == 1e-3
    assert data["ratio_to_current"] == pytest.approx(data["suggested_lr"] / 1e-3)
    assert len(data["lrs"]) == len(data["losses"]) == data["steps_run"] > 20
    assert data["lrs"][0] == pytest.approx(1e-7)
    assert all(b > a for a, b in zip(data["lrs"], data["lrs"][1:], strict=False))
    assert (tmp_path / "lr_find.png").stat().st_size > 10_000
    assert "suggested lr" in result.output and "current optimizer.lr 0.001" in result.output


def test_flat_range_reports_no_suggestion_with_reason(cli, tmp_path):
    result = cli("lr-find", QUICKSTART, "--out", tmp_path, "--start-lr", "1e-9", "--end-lr", "1e-6",
                 "--num-steps", "30", "--no-plots")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "lr_find.json").read_text())
    assert data["suggested_lr"] is None and data["status"] == "flat"
    assert "flat" in data["reason"] and "no suggestion" in result.output
    assert not (tmp_path / "lr_find.png").exists()


def test_a_crashing_loss_is_reported_not_raised(cli, tmp_path):
    result = cli("lr-find", QUICKSTART, "--out", tmp_path, "--set", "loss.name=bce_with_logits",
                 "--num-steps", "10", "--no-plots")
    assert result.exit_code == 1, result.output
    data = json.loads((tmp_path / "lr_find.json").read_text())
    assert data["suggested_lr"] is None and data["status"] == "crashed"
    assert "ValueError" in data["reason"] and "step 0" in data["reason"]


def test_bad_range_is_a_usage_error(cli, tmp_path):
    result = cli("lr-find", QUICKSTART, "--out", tmp_path, "--start-lr", "1", "--end-lr", "0.1")
    assert result.exit_code == 2
    assert "--start-lr" in result.output


def test_range_test_leaves_no_trace():
    loaded = load_spec(QUICKSTART)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    test = run_range_test(loaded, end_lr=1e-3, num_steps=15)
    assert torch.equal(torch.get_rng_state(), before)
    assert test.steps_run == 15 and test.stop_reason == "completed"
    again = run_range_test(loaded, end_lr=1e-3, num_steps=15)
    assert again.losses == test.losses  # a fresh model from the same seed every time


def test_sweep_is_exponential_between_the_bounds():
    assert lr_at(0, 1e-7, 10, 100) == pytest.approx(1e-7)
    assert lr_at(99, 1e-7, 10, 100) == pytest.approx(10)
    assert lr_at(50, 1e-4, 1e-2, 101) == pytest.approx(1e-3)
