"""`trainlint probe` output side: every --format on stdout, the files always written to --out."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from conftest import CONFIGS, read_report


@pytest.fixture(scope="module")
def short_probe(tmp_path_factory):
    """Arguments for a 20-step quickstart probe without plots (each test gets its own --out)."""
    def args(out):
        return ["probe", CONFIGS / "quickstart.yaml", "--steps", "20", "--no-plots", "--out", out]
    return args


def test_json_on_stdout_is_report_json(cli, tmp_path, short_probe):
    result = cli(*short_probe(tmp_path), "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == read_report(tmp_path)


@pytest.mark.parametrize("fmt", ["text", "markdown", "github", "junit"])
def test_files_always_written(cli, tmp_path, short_probe, fmt):
    result = cli(*short_probe(tmp_path), "--format", fmt)
    assert result.exit_code == 0, result.output
    for name in ("report.json", "report.md", "metrics.jsonl"):
        assert (tmp_path / name).exists()
    if fmt == "markdown":
        assert result.output == (tmp_path / "report.md").read_text()
    if fmt == "junit":
        assert ET.fromstring(result.output).tag == "testsuites"
    if fmt == "github":
        assert result.output.splitlines()[-1].startswith("trainlint probe ")
    if fmt == "text":
        assert "status" in result.output and "\x1b[" not in result.output  # not a TTY: no colour


def test_quiet_prints_only_findings(cli, tmp_path, short_probe):
    result = cli(*short_probe(tmp_path), "-q")
    assert "status" not in result.output and "artifacts" not in result.output
    spec = str(CONFIGS / "quickstart.yaml")
    for line in result.output.splitlines():
        assert line.startswith((spec, "    fix: ", f"  ↳ {spec}")), line
    assert len([line for line in result.output.splitlines() if line.startswith(spec)]) == len(
        read_report(tmp_path)["findings"])


def test_fail_on_warning_counts_warnings(cli, tmp_path, short_probe):
    result = cli(*short_probe(tmp_path), "--fail-on", "warning", "-q")
    loud = [f for f in read_report(tmp_path)["findings"] if f["severity"] in ("warning", "error")]
    assert result.exit_code == int(bool(loud))


def test_select_and_ignore_take_comma_lists(cli, tmp_path, short_probe):
    """`--select TL2,TL401 --ignore TL203 --ignore TL205,TL206` as in ruff: commas and repetition both work."""
    result = cli(*short_probe(tmp_path), "--select", "TL2,TL401", "--ignore", "TL203", "--ignore", "TL205, TL206")
    assert result.exit_code in (0, 1), result.output
    codes = {r["code"] for r in read_report(tmp_path)["rules_evaluated"]}
    assert {"TL201", "TL204", "TL401"} <= codes
    assert all(c.startswith("TL2") or c == "TL401" for c in codes), codes
    assert not codes & {"TL203", "TL205", "TL206"}, codes


COMMANDS = ["probe", "check", "fix", "init", "rules", "explain", "lr-find", "compare-losses", "compare-optimizers"]


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)], ids=["trainlint", *COMMANDS])
def test_help_shows_no_type_after_flags(cli, monkeypatch, command):
    monkeypatch.setenv("COLUMNS", "120")
    result = cli(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output and "list[str]" not in result.output, result.output
    flag = next(line for line in result.output.splitlines() if "--help " in line)
    assert flag.split("--help", 1)[1].split()[:2] == ["Show", "this"], flag  # nothing between flag and help
    if command == ["probe"]:
        assert "'trainlint[tensorboard]'" in " ".join(result.output.split()), result.output
