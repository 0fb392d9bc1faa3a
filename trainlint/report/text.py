"""Terminal writer: a linter-style list of findings, then a summary table.

Built from rich `Text` objects, never from markup strings, so a message that happens to contain
``[brackets]`` prints as written. Colour comes from the console: on a TTY only, and never when
`NO_COLOR` is set.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from trainlint.report.model import Report
from trainlint.report.summary import evidence_text, groups, location, summary_rows
from trainlint.rules.base import Finding

STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
STATUS_STYLE = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red"}


def one_line(text: str) -> str:
    """A message on one line, so the list stays one finding per line (grep- and editor-friendly)."""
    return " ".join(text.split())


CONSEQUENCE = "  ↳ "  # marks a finding explained by the root cause printed above it


def finding_lines(report: Report, finding: Finding, verbose: bool = False, root: Finding | None = None) -> list[Text]:
    """The finding's line, its top fix (every fix with `verbose`), and its evidence (`verbose`).

    A consequence (`root` given) is indented under its root cause without a fix line unless
    `verbose`: the root's fix comes first, and a consequence's own advice is for after it.
    """
    style = STYLE[finding.severity.value]
    lead = CONSEQUENCE if root is not None else ""
    pad = " " * len(lead) + "    "
    head = Text.assemble(lead, (location(report, finding), "bold"), " ",
                         (f"{finding.code} {finding.rule}", style), "  ", one_line(finding.message))
    lines = [head]
    fixes = finding.fixes if verbose else [] if root is not None else finding.fixes[:1]
    for fix in fixes:
        lines.append(Text.assemble(pad, ("fix:", "dim"), " ", fix.text))
    if verbose and finding.evidence:
        lines.append(Text.assemble(pad, ("evidence:", "dim"), " ", (evidence_text(finding), "dim")))
    return lines


def findings_lines(report: Report, verbose: bool = False) -> list[Text]:
    """Every finding: each root cause, then its consequences indented under it (`summary.groups`)."""
    lines: list[Text] = []
    for root, consequences in groups(report):
        lines += finding_lines(report, root, verbose)
        for finding in consequences:
            lines += finding_lines(report, finding, verbose, root=root)
    return lines


def summary_lines(report: Report, out_dir: str | None = None, verbose: bool = False) -> list[Text]:
    rows = summary_rows(report, out_dir)
    if verbose:
        rows += [("not evaluated" if i == 0 else "", f"{n.code} {n.rule} ({n.reason})")
                 for i, n in enumerate(report.not_evaluated)]
    width = max(len(label) for label, _ in rows)
    lines = []
    for label, value in rows:
        style = STATUS_STYLE.get(value, "") if label == "status" else ""
        lines.append(Text.assemble("  ", (f"{label:<{width}}", "dim"), "  ", (value, style)))
    return lines


def render_text(report: Report, console: Console, verbose: bool = False, quiet: bool = False,
                out_dir: str | None = None) -> None:
    """Print the findings list and (unless `quiet`) the summary."""
    for line in findings_lines(report, verbose):
        console.print(line, highlight=False)
    if quiet:
        return
    if report.findings:
        console.print()
    if report.verification is not None:
        from trainlint.report.verification import verification_lines

        for line in verification_lines(report.verification, verbose):
            console.print(line, highlight=False)
        console.print()
    for line in summary_lines(report, out_dir, verbose):
        console.print(line, highlight=False)
