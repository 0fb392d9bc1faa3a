"""Each --format writer on a fixed fabricated report, against golden files in tests/golden/.

Regenerate the golden files after an intended change with
`TRAINLINT_UPDATE_GOLDEN=1 pytest tests/test_report_writers.py`, then review the diff.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest
from report_factory import fabricated_report
from rich.console import Console

from trainlint.report.text import render_text
from trainlint.report.writers import render
from trainlint.rules.base import Finding

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


def _text(report) -> str:
    buffer = io.StringIO()
    render_text(report, Console(file=buffer, force_terminal=False, no_color=True, width=100, soft_wrap=True),
                verbose=True)
    return buffer.getvalue()


def test_no_negative_zero_in_summary_or_messages():
    """A loss of -0.0 (BCE/CE on a perfect fit) and a rule's `{x:.0%}` of -0.004 read as 0, not -0."""
    report = fabricated_report()
    report.metrics.initial_loss = report.metrics.final_train_loss = report.metrics.final_val_loss = -0.0
    report.findings[0].evidence["change"] = -0.0
    report.findings[1] = Finding(code="TL205", rule="loss-oscillating", message=f"fell only {-0.004:.0%} overall")
    text, md = _text(report), render("markdown", report)
    assert re.search(r"train loss +0 → 0 ", text) and "change=0" in text and "fell only 0% overall" in text
    for output in (text, md):
        assert not re.search(r"(?<![\w.])-0(?![.\d])", output), output  # no "-0", "-0%", "-0 →"
    report.command = "check"
    assert re.search(r"initial loss +0  \(chance", _text(report))


@pytest.mark.parametrize("reason, words", [
    ("non_finite_loss", "(stopped early: the loss became non-finite)"),
    ("crashed", "(stopped early: the training code raised an error)"),
    ("interrupted", "(interrupted)"),
    ("some_new_reason", "(some new reason)"),
])
def test_stop_reason_in_words(reason, words):
    report = fabricated_report()
    report.summary.stop_reason, report.summary.steps_run = reason, 45
    for output in (_text(report), render("markdown", report)):
        assert f"45/200 {words}" in output
        assert "_" not in output.split("45/200")[1].splitlines()[0] and "stopped:" not in output
    assert "45/200" not in _text(fabricated_report())  # completed runs say nothing
