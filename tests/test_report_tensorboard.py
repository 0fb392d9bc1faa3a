"""TensorBoard export: events readable back (skipped without the optional extra); a clear exit 2 without it."""

from __future__ import annotations

import pytest
from conftest import CONFIGS
from report_factory import fabricated_record

import trainlint.report.tensorboard as tb


def test_scalars_cover_the_recorded_quantities():
    tags = {tag for tag, _, _ in tb.scalars(fabricated_record())}
    for expected in ("loss/train", "loss/val", "accuracy/val", "lr", "grad_norm/global", "grad_norm/net.1",
                     "update_ratio/net.3", "dead_fraction/net.2", "saturated_fraction/net.2"):
        assert expected in tags


def test_events_read_back(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    record = fabricated_record(steps=40)
    written = tb.write_tensorboard(record, tmp_path / "tb")
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"loss/train", "loss/val", "accuracy/val", "lr", "grad_norm/net.5", "update_ratio/net.1"} <= tags
    assert "saturated_fraction/net.2" not in tags  # all NaN (ReLU): left out
    train = events.Scalars("loss/train")
    assert [e.step for e in train] == record.steps
    assert train[0].value == pytest.approx(record.train_loss[0])
    assert written == sum(len(events.Scalars(t)) for t in tags)


def test_probe_writes_tensorboard(cli, tmp_path):
    pytest.importorskip("tensorboard")
    out = tmp_path / "out"
    result = cli("probe", CONFIGS / "quickstart.yaml", "--steps", "5", "--out", out, "--no-plots", "-q",
                 "--tensorboard")
    assert result.exit_code == 0, result.output
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))


@pytest.mark.parametrize("how", [("--tensorboard",), ("--set", "probe.tensorboard=true")])
def test_missing_extra_is_a_usage_error(cli, tmp_path, monkeypatch, how):
    monkeypatch.setattr(tb, "available", lambda: False)
    out = tmp_path / "out"
    result = cli("probe", CONFIGS / "quickstart.yaml", "--out", out, *how)
    assert result.exit_code == 2
    assert "`tensorboard` package" in result.output and "pip install 'trainlint[tensorboard]'" in result.output
    assert not (out / "report.json").exists()  # refused before probing
