"""Plots: drawn from fabricated records (fast), skipped cleanly without data, and end to end for quickstart."""

from __future__ import annotations

import json

import pytest
from conftest import CONFIGS
from report_factory import fabricated_record

from trainlint.plots import draw_all, figures
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Severity

ALL = ["loss.png", "gradients.png", "updates.png", "activations.png"]
PNG = b"\x89PNG\r\n\x1a\n"


def finding(code: str, step: int | None, message: str = "something is off") -> Finding:
    return Finding(code=code, rule="some-rule", severity=Severity.WARNING, message=message, step=step)


def test_every_figure_drawn_from_a_full_record(tmp_path):
    findings = [finding("TL204", 30), finding("TL403", 59, "`net.4` is dead"), finding("TL402", None)]
    result = draw_all(fabricated_record(), findings, tmp_path, "fabricated")
    assert result.written == ALL and not result.failed and not result.skipped
    for name in ALL:
        assert (tmp_path / name).read_bytes()[:8] == PNG


def test_deep_model_gradients_use_a_heatmap(tmp_path):
    record = fabricated_record(n_layers=34)
    result = draw_all(record, [finding("TL402", None, "`net.1` vs `net.67`")], tmp_path, "deep")
    assert not result.failed and "gradients.png" in result.written


def test_probe_stopped_by_nan(tmp_path):
    result = draw_all(fabricated_record(steps=100, stop_at=3), [finding("TL202", 3)], tmp_path, "nan")
    assert not result.failed
    assert "loss.png" in result.written


def test_crashed_probe_with_no_data_skips_every_figure(tmp_path):
    record = RunRecord(spec_name="crashed", steps_planned=100, stop_reason="crashed")
    result = draw_all(record, [finding("TL001", 0)], tmp_path, "crashed")
    assert result.written == [] and not result.failed
    assert sorted(result.skipped) == sorted(ALL)
    assert list(tmp_path.iterdir()) == []


def test_figure_modules_declare_their_file():
    assert [m.FILENAME for m in figures()] == ALL


@pytest.mark.parametrize("plots", [True, False])
def test_quickstart_probe_plots(cli, tmp_path, plots):
    out = tmp_path / "out"
    args = ["probe", CONFIGS / "quickstart.yaml", "--steps", "30", "--out", out, "-q"]
    result = cli(*args, *([] if plots else ["--no-plots"]))
    assert result.exit_code == 0, result.output
    artifacts = json.loads((out / "report.json").read_text())["artifacts"]
    for name in ALL:
        assert (out / name).exists() == plots
        assert (name in artifacts) == plots
    assert ("loss.png" in (out / "report.md").read_text()) == plots
