"""JUnit XML writer: one test case per evaluated rule, for CI test-report viewers.

A rule with a finding at or above `--fail-on` is a failure (all its findings in one `<failure>`);
findings below it go to the case's `<system-out>`; a selected rule that could not be evaluated
is skipped, with the reason.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from trainlint.report.model import Report, RuleRef
from trainlint.report.summary import evidence_text, location
from trainlint.rules.base import Finding, Severity


def fails(finding: Finding, fail_on: str) -> bool:
    return fail_on != "never" and finding.severity.rank >= Severity(fail_on).rank


def _describe(report: Report, f: Finding) -> str:
    lines = [f"{location(report, f)} {f.code} {f.rule} [{f.severity.value}]: {f.message}"]
    if f.caused_by is not None:
        lines.append(f"  caused by: {f.caused_by} (fix that first)")
    lines += [f"  fix: {fix.text}" for fix in f.fixes]
    if f.evidence:
        lines.append(f"  evidence: {evidence_text(f)}")
    return "\n".join(lines)


def _rules(report: Report) -> list[RuleRef]:
    """Evaluated rules; reports without the list fall back to the rules that produced findings."""
    rules = list(report.rules_evaluated)
    known = {r.code for r in rules}
    for f in report.findings:
        if f.code not in known:
            rules.append(RuleRef(code=f.code, rule=f.rule))
            known.add(f.code)
    return rules


def render_junit(report: Report, fail_on: str = "error") -> str:
    """The report as a JUnit XML document (one `<testsuite>` for the spec)."""
    name = str(report.config.get("name") or report.config_path)
    suite = ET.Element("testsuite", name=f"trainlint {report.command}: {name}")
    props = ET.SubElement(suite, "properties")
    for key, value in (("config_path", report.config_path), ("status", report.summary.status),
                       ("fail_on", fail_on), ("steps_run", str(report.summary.steps_run))):
        ET.SubElement(props, "property", name=key, value=value)
    failures = 0
    for ref in _rules(report):
        found = [f for f in report.findings if f.code == ref.code]
        case = ET.SubElement(suite, "testcase", classname=f"trainlint.{name}", name=f"{ref.code} {ref.rule}",
                             file=report.config_path)
        failing = [f for f in found if fails(f, fail_on)]
        if failing:
            failures += 1
            first = failing[0]
            if first.config_line is not None:
                case.set("line", str(first.config_line))
            failure = ET.SubElement(case, "failure", type=first.severity.value, message=first.message)
            failure.text = "\n".join(_describe(report, f) for f in failing)
        quiet = [f for f in found if not fails(f, fail_on)]
        if quiet:
            ET.SubElement(case, "system-out").text = "\n".join(_describe(report, f) for f in quiet)
    for n in report.not_evaluated:
        case = ET.SubElement(suite, "testcase", classname=f"trainlint.{name}", name=f"{n.code} {n.rule}",
                             file=report.config_path)
        ET.SubElement(case, "skipped", message=n.reason)
    tests = len(suite.findall("testcase"))
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(len(report.not_evaluated)))
    suite.set("time", f"{report.summary.wall_seconds:.3f}")
    root = ET.Element("testsuites", name="trainlint", tests=str(tests), failures=str(failures), errors="0",
                      skipped=str(len(report.not_evaluated)), time=f"{report.summary.wall_seconds:.3f}")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
