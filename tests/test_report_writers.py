"""Each --format writer on a fixed fabricated report, against golden files in tests/golden/.

Regenerate the golden files after an intended change with
`TRAINLINT_UPDATE_GOLDEN=1 pytest tests/test_report_writers.py`, then review the diff.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from report_factory import fabricated_report
from rich.console import Console

from trainlint.report.text import render_text
from trainlint.report.writers import render

GOLDEN = Path(__file__).parent / "golden"
UPDATE = bool(os.environ.get("TRAINLINT_UPDATE_GOLDEN"))


def text_output(**kwargs) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, no_color=True, width=100, soft_wrap=True)
    render_text(fabricated_report(), console, **kwargs)
    return buffer.getvalue()


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}: run with TRAINLINT_UPDATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


@pytest.mark.parametrize("fmt, name", [("json", "report.json"), ("markdown", "report.md"),
                                       ("github", "report.github.txt"), ("junit", "report.junit.xml")])
def test_format_matches_golden(fmt, name):
    check_golden(name, render(fmt, fabricated_report(), fail_on="error"))


@pytest.mark.parametrize("kwargs, name", [({}, "report.txt"), ({"verbose": True}, "report.verbose.txt"),
                                          ({"quiet": True}, "report.quiet.txt")])
def test_text_matches_golden(kwargs, name):
    check_golden(name, text_output(out_dir="trainlint-out/example", **kwargs))


def test_text_list_is_linter_style():
    lines = text_output().splitlines()
    assert lines[0].startswith("configs/example.yaml:14:7 TL301 lr-too-high  LR 0.5 is too high")
    assert lines[1] == "    fix: lower optimizer.lr from 0.5 to 0.006"
    assert any(line.startswith("configs/example.yaml TL403 dead-relu  ") for line in lines)  # no field blamed
    assert "evidence" not in text_output()
    assert "confirm with `trainlint lr-find`" in text_output(verbose=True)  # -v: every fix


def test_text_quiet_is_only_the_list():
    quiet = text_output(quiet=True)
    assert "status" not in quiet and "peak memory" not in quiet
    assert quiet.count("TL") >= 4


def test_text_keeps_brackets_literal():
    """A message with [brackets] is not eaten as rich markup."""
    assert "[ratio 3.1]" in text_output()


def test_json_is_the_report():
    report = fabricated_report()
    assert json.loads(render("json", report)) == json.loads(report.model_dump_json())


def test_markdown_tables_survive_pipes_and_newlines():
    md = render("markdown", fabricated_report())
    rows = [line for line in md.splitlines() if line.startswith("| ") and "TL" in line and "`" in line]
    finding_rows = [r for r in rows if r.count("`configs/") == 1]
    assert len(finding_rows) == 4
    for row in finding_rows:  # 5 columns: 6 unescaped pipes
        assert row.replace("\\|", "").count("|") == 6, row
    assert "[![Loss, validation and learning rate](loss.png)](loss.png)" in md
    assert "activations.png" not in md  # only plots that were written are linked
