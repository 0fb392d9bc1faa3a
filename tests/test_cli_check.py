"""`trainlint check`: one step on one batch, static and first-batch rules, probe's outputs and exit codes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from conftest import CONFIGS, read_report

from trainlint.rules.base import Stage
from trainlint.rules.catalog import all_rules

EARLY = {r.code for r in all_rules() if r.stage in (Stage.STATIC, Stage.FIRST_BATCH)}


def test_healthy_spec_passes(cli, tmp_path):
    out = tmp_path / "out"
    result = cli("check", CONFIGS / "quickstart.yaml", "--out", out)
    assert result.exit_code == 0, result.output
    report = read_report(out)
    assert report["command"] == "check"
    assert report["summary"]["steps_run"] == 1
    ran = {r["code"] for r in report["rules_evaluated"]} | {n["code"] for n in report["not_evaluated"]}
    assert ran == EARLY  # no run-stage rule
    assert {"report.json", "report.md", "metrics.jsonl"} <= {p.name for p in out.iterdir()}
    assert not list(out.glob("*.png"))
    assert "checked" in result.output and "1 step on one batch" in result.output


def test_first_batch_fault_fails(cli, tmp_path):
    out = tmp_path / "out"
    result = cli("check", CONFIGS / "faults" / "tl206_softmax_cross_entropy.yaml", "--out", out)
    assert result.exit_code == 1
    assert "TL206 loss-output-mismatch" in result.output
    assert result.output.startswith(f"{CONFIGS}/faults/tl206_softmax_cross_entropy.yaml:")


def test_formats_and_fail_on(cli, tmp_path):
    spec = CONFIGS / "faults" / "tl206_softmax_cross_entropy.yaml"
    result = cli("check", spec, "--out", tmp_path / "a", "--format", "junit", "--fail-on", "never")
    assert result.exit_code == 0
    suite = ET.fromstring(result.output).find("testsuite")
    assert suite.get("failures") == "0"
    result = cli("check", spec, "--out", tmp_path / "b", "--format", "github")
    assert result.exit_code == 1
    assert result.output.startswith("::error file=")


def test_invalid_spec_exits_2(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((CONFIGS / "quickstart.yaml").read_text().replace("lr: 0.001", "lr: -1"))
    result = cli("check", bad, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "optimizer.lr" in result.output


def _early_faults():
    """Zoo configs whose expected rule runs at the first batch: `check` alone must catch them."""
    from test_zoo import FAULTS, expected_codes

    return [(p, c) for p in FAULTS for c in expected_codes(p) if c in EARLY]


@pytest.mark.parametrize("config, code", _early_faults(), ids=lambda v: getattr(v, "stem", v))
def test_check_catches_first_batch_faults(cli, tmp_path, config, code):
    out = tmp_path / "out"
    result = cli("check", config, "--out", out, "-q")
    assert result.exit_code in (0, 1), result.output
    fired = {f["code"]: f["severity"] for f in read_report(out)["findings"]}
    assert fired.get(code) in ("warning", "error"), f"{code} not reported by check; fired: {fired}"
