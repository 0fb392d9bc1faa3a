"""JUnit XML: parses with xml.etree; one test case per evaluated rule; counts follow --fail-on."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from report_factory import fabricated_report

from trainlint.report.junit import render_junit

# fabricated report: TL301 + TL204 errors, TL403 warning, TL102 info; 6 rules evaluated; TL001 skipped
FAILURES = {"error": 2, "warning": 3, "info": 4, "never": 0}


@pytest.mark.parametrize("fail_on", list(FAILURES))
def test_counts_match(fail_on):
    root = ET.fromstring(render_junit(fabricated_report(), fail_on))
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 7  # 6 evaluated rules + 1 not evaluated
    assert suite.get("tests") == root.get("tests") == "7"
    failed = [c for c in cases if c.find("failure") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert len(failed) == FAILURES[fail_on] == int(suite.get("failures")) == int(root.get("failures"))
    assert [c.get("name") for c in skipped] == ["TL001 probe-crashed"]
    assert suite.get("skipped") == "1" and suite.get("errors") == "0"


def test_failure_carries_location_message_and_fixes():
    root = ET.fromstring(render_junit(fabricated_report(), "error"))
    case = next(c for c in root.iter("testcase") if c.get("name") == "TL301 lr-too-high")
    failure = case.find("failure")
    assert case.get("file") == "configs/example.yaml" and case.get("line") == "14"
    assert failure.get("type") == "error"
    assert failure.get("message").startswith("LR 0.5 is too high")
    assert "configs/example.yaml:14:7 TL301 lr-too-high" in failure.text
    assert "fix: lower optimizer.lr from 0.5 to 0.006" in failure.text


def test_findings_below_fail_on_go_to_system_out():
    root = ET.fromstring(render_junit(fabricated_report(), "error"))
    case = next(c for c in root.iter("testcase") if c.get("name") == "TL403 dead-relu")
    assert case.find("failure") is None
    assert "dead units" in case.find("system-out").text


def test_special_characters_round_trip():
    root = ET.fromstring(render_junit(fabricated_report(), "info"))
    case = next(c for c in root.iter("testcase") if c.get("name") == "TL102 class-imbalance")
    assert case.find("failure").get("message") == "classes <0> & <1> are imbalanced [ratio 3.1]"


def test_report_without_rule_list_falls_back_to_finding_rules():
    report = fabricated_report()
    report.rules_evaluated = []
    root = ET.fromstring(render_junit(report, "error"))
    names = {c.get("name") for c in root.iter("testcase")}
    assert names == {"TL301 lr-too-high", "TL204 loss-diverging", "TL403 dead-relu", "TL102 class-imbalance",
                     "TL001 probe-crashed"}
