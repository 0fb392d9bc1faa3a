"""Root causes in every writer: the fabricated report with TL204 and TL403 caused by TL301.

Goldens in tests/golden/report.causes.*; regenerate with `TRAINLINT_UPDATE_GOLDEN=1`, then review.
"""

from __future__ import annotations

import io
import json

import pytest
from report_factory import fabricated_report
from rich.console import Console
from test_report_writers import check_golden

from trainlint.report.model import Report
from trainlint.report.text import render_text
from trainlint.report.writers import render


def linked_report() -> Report:
    """TL204 and TL403 are consequences of TL301; TL102 (info) stands alone."""
    report = fabricated_report()
    for f in report.findings:
        if f.code in ("TL204", "TL403"):
            f.caused_by = "TL301"
    return report


def text(report: Report, **kwargs) -> str:
    buffer = io.StringIO()
    render_text(report, Console(file=buffer, force_terminal=False, no_color=True, width=100, soft_wrap=True),
                out_dir="trainlint-out/example", **kwargs)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt, name", [("json", "report.causes.json"), ("markdown", "report.causes.md"),
                                       ("github", "report.causes.github.txt"), ("junit", "report.causes.junit.xml")])
def test_format_matches_golden(fmt, name):
    check_golden(name, render(fmt, linked_report(), fail_on="error"))


@pytest.mark.parametrize("kwargs, name", [({}, "report.causes.txt"), ({"verbose": True}, "report.causes.verbose.txt")])
def test_text_matches_golden(kwargs, name):
    check_golden(name, text(linked_report(), **kwargs))


def test_text_indents_consequences_under_their_root_and_counts_them():
    lines = text(linked_report()).splitlines()
    assert lines[0].startswith("configs/example.yaml:14:7 TL301 lr-too-high")
    assert lines[2].startswith("  ↳ configs/example.yaml:14 TL204 loss-diverging")
    assert lines[3].startswith("  ↳ configs/example.yaml TL403 dead-relu")
    # Fix the root first: consequences show their own fixes only with -v.
    assert lines[4].startswith("configs/example.yaml:5:1 TL102 class-imbalance")
    assert "        fix: use LeakyReLU or GELU, whose units cannot die" in text(linked_report(), verbose=True)
    summary = next(line for line in lines if "findings" in line)
    assert summary.endswith("2 error, 1 warning, 1 info; 1 root cause (TL301), 2 consequences; "
                            "1 rule not evaluated")


def test_without_links_the_output_is_as_before():
    plain = text(fabricated_report())
    assert "↳" not in plain and "root cause" not in plain


def test_json_has_caused_by_and_root_causes_in_order_of_importance():
    data = json.loads(render("json", linked_report(), fail_on="error"))
    assert [f["caused_by"] for f in data["findings"]] == [None, "TL301", "TL301", None]
    assert [(r["code"], r["consequences"]) for r in data["root_causes"]] == [("TL301", ["TL204", "TL403"])]


def test_markdown_and_github_mark_consequences():
    md = render("markdown", linked_report(), fail_on="error")
    assert "**1 root cause (TL301), 2 consequences**" in md
    assert "| ↳ `TL204` loss-diverging |" in md and "A consequence of `TL301`: fix that first." in md
    gh = render("github", linked_report(), fail_on="error").splitlines()
    assert "(a consequence of TL301%3A fix that first)" not in gh[1]  # message data is not property-escaped
    assert "::(a consequence of TL301: fix that first) train loss climbed" in gh[1]
    assert gh[-1].endswith("(2 error, 1 warning, 1 info; 1 root cause (TL301), 2 consequences)")
