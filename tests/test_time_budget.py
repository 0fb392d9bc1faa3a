"""`probe.max_seconds` / `--max-seconds`: the probe stops at its time budget and still reports in full."""

from __future__ import annotations

import json

import pytest
from conftest import CONFIGS, read_report
from test_spec_errors import BASE, assert_error, edit, invoke

from trainlint.analysis.wording import stop_text

QUICKSTART = CONFIGS / "quickstart.yaml"


def _rows(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_budget_stops_the_probe_with_a_complete_report(cli, tmp_path):
    out = tmp_path / "out"
    result = cli("probe", QUICKSTART, "--steps", "100000", "--max-seconds", "0.3", "--no-plots", "--out", out)
    assert result.exit_code == 0, result.output
    report = read_report(out)
    s = report["summary"]
    assert s["stop_reason"] == "time_budget"
    assert 1 <= s["steps_run"] < 100000
    assert report["config"]["probe"]["max_seconds"] == 0.3
    rows = _rows(out)
    assert [r["step"] for r in rows] == list(range(s["steps_run"]))
    assert "val_metric" in rows[-1]  # evaluated at the step the budget ran out, like a last step
    assert report["metrics"]["final_val_metric"] is not None
    line = f"{s['steps_run']}/100000 (stopped at the 0.3 s time budget)"
    assert line in result.output
    assert line in (out / "report.md").read_text()


def test_healthy_quickstart_cut_short_gives_no_warning(cli, tmp_path):
    """Cut to a few dozen steps (how many depends on the machine), the healthy quickstart stays clean."""
    out = tmp_path / "out"
    result = cli("probe", QUICKSTART, "--max-seconds", "0.05", "--no-plots", "--out", out)
    assert result.exit_code == 0, result.output
    report = read_report(out)
    assert report["summary"]["stop_reason"] == "time_budget", report["summary"]
    assert [f["code"] for f in report["findings"] if f["severity"] in ("warning", "error")] == []


def test_rules_needing_more_steps_say_so(cli, tmp_path):
    """A budget spent inside the first step: one step run, the step-hungry rules listed as not evaluated."""
    out = tmp_path / "out"
    result = cli("probe", QUICKSTART, "--max-seconds", "1e-9", "--no-plots", "--out", out, "-v")
    assert result.exit_code == 0, result.output  # not 130: a budget is not an interruption
    report = read_report(out)
    assert report["summary"]["steps_run"] == 1 and report["summary"]["stop_reason"] == "time_budget"
    reasons = {n["code"]: n["reason"] for n in report["not_evaluated"]}
    assert reasons["TL203"] == "needs at least 20 steps; the time budget stopped the probe after 1 step"
    assert {"TL204", "TL302", "TL303"} <= set(reasons)
    assert "TL203" not in {r["code"] for r in report["rules_evaluated"]}
    assert report["summary"]["status"] == "pass"
    assert "1/300 (stopped at the 1e-09 s time budget)" in result.output


def test_run_within_budget_completes_and_says_so(cli, tmp_path):
    out = tmp_path / "out"
    result = cli("probe", QUICKSTART, "--steps", "5", "--max-seconds", "600", "--no-plots", "--out", out)
    assert result.exit_code == 0, result.output
    assert read_report(out)["summary"]["stop_reason"] == "completed"
    assert "5/5 (within the 600 s time budget)" in result.output


def test_budget_in_the_spec(tmp_path):
    spec, result = invoke(tmp_path, edit("  steps: 3\n", "  steps: 100000\n  max_seconds: 0.05\n"), "--no-plots")
    assert result.exit_code == 0, result.output
    assert read_report(tmp_path / "out")["summary"]["stop_reason"] == "time_budget"


@pytest.mark.parametrize("value, fragment", [("0", "greater than 0"), ("-1", "greater than 0"),
                                             (".inf", "finite number"), ("soon", "number")])
def test_bad_budget_in_the_spec(tmp_path, value, fragment):
    spec, result = invoke(tmp_path, edit("  steps: 3\n", f"  steps: 3\n  max_seconds: {value}\n"))
    assert_error(result, f"{spec}:15:3", "probe.max_seconds", fragment)


def test_bad_budget_flag_is_named_as_typed(tmp_path):
    _, result = invoke(tmp_path, BASE, "--max-seconds", "0")
    err = assert_error(result, "--max-seconds 0", "probe.max_seconds", "greater than 0")
    assert "--set" not in err


def test_stop_text_names_the_budget():
    assert stop_text("time_budget", 10.0) == "stopped at the 10 s time budget"
    assert stop_text("time_budget", 0.5) == "stopped at the 0.5 s time budget"
    assert stop_text("time_budget") == "stopped at the time budget"
    assert stop_text("completed", 10.0) == ""
