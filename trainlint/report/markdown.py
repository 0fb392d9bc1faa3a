"""Markdown writer: report.md, suited to a CI job summary (`>> $GITHUB_STEP_SUMMARY`).

A heading with the status, the summary as a table, the findings as a table (location, rule,
message, best fix) followed by each finding's evidence and every fix, the rules that could not be
evaluated, and the plots linked by file name (report.md sits next to them in `--out`).
"""

from __future__ import annotations

from trainlint.report.model import Report
from trainlint.report.summary import evidence_text, groups, location, roots_text, summary_rows
from trainlint.rules.base import Finding

ICON = {"error": "🔴 error", "warning": "🟠 warning", "info": "🔵 info"}
STATUS = {"pass": "✅ pass", "warn": "⚠️ warn", "fail": "❌ fail"}
PLOTS = {"loss.png": "Loss, validation and learning rate", "gradients.png": "Gradient norms per layer",
         "updates.png": "Update ratio per layer", "activations.png": "Dead and saturated activations"}
# A CI job summary cannot show files from the runner: each image link is a line of its own starting
# with `[![` (the README's job drops them), and this sentence, which the summary keeps, says where they are.
PLOTS_WHERE = ("PNG files next to this report, in the probe's `--out` folder (in CI, the uploaded "
               "artifact: a job summary cannot show them).")


def prose(text: str) -> str:
    """Text with no accidental HTML: `<` and `>` shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cell(text: str) -> str:
    """Text made safe for one table cell: no HTML, no pipes breaking columns, no newlines."""
    return prose(text).replace("|", "\\|").replace("\r", " ").replace("\n", "<br>")


def code(text: str) -> str:
    return f"`{text}`" if "`" not in text else f"`` {text} ``"


# A consequence's rule cell starts with this, under its root cause's row.
CONSEQUENCE = "↳ "


def _finding_row(report: Report, f: Finding) -> str:
    fix = f.fixes[0].text if f.fixes else ""
    lead = CONSEQUENCE if f.caused_by is not None else ""
    return (f"| {ICON[f.severity.value]} | {lead}{code(f.code)} {cell(f.rule)} | {code(location(report, f))} "
            f"| {cell(f.message)} | {cell(fix)} |")


def _details(report: Report, f: Finding) -> list[str]:
    lines = [f"### {f.code} {f.rule}", "", f"{ICON[f.severity.value]} at {code(location(report, f))}"
             + (f", step {f.step}" if f.step is not None else "") + f": {prose(f.message)}", ""]
    if f.caused_by is not None:
        lines += [f"{CONSEQUENCE}A consequence of {code(f.caused_by)}: fix that first.", ""]
    if f.fixes:
        lines.append("Fixes, best first:")
        lines.append("")
        for i, fix in enumerate(f.fixes, 1):
            edit = " (" + ", ".join(f"`{k}: {v}`" for k, v in fix.spec_edits.items()) + ")" if fix.spec_edits else ""
            lines.append(f"{i}. {prose(fix.text)}{edit}")
        lines.append("")
    if f.evidence:
        lines.append(f"Evidence: {prose(evidence_text(f))}")
        lines.append("")
    return lines


def render_markdown(report: Report) -> str:
    """report.md: the whole report as GitHub-flavoured markdown."""
    name = report.config.get("name") or report.config_path
    title = "trainlint check" if report.command == "check" else "trainlint probe"
    lines = [f"# {title}: {name} — {STATUS[report.summary.status]}", "",
             f"Spec: {code(report.config_path)}", "", "| | |", "|---|---|"]
    lines += [f"| {cell(label)} | {cell(value)} |" for label, value in summary_rows(report)]
    lines.append("")
    if report.findings:
        ordered = [f for root, members in groups(report) for f in (root, *members)]
        lines += ["## Findings", ""]
        if roots := roots_text(report):
            lines += [f"**{roots}**: fix the root causes first; {CONSEQUENCE.strip()} marks a consequence of "
                      "the root cause above it.", ""]
        lines += ["| severity | rule | where | message | best fix |", "|---|---|---|---|---|"]
        lines += [_finding_row(report, f) for f in ordered]
        lines.append("")
        for f in ordered:
            lines += _details(report, f)
    else:
        lines += ["No findings.", ""]
    if report.verification is not None:
        from trainlint.report.verification import verification_markdown

        lines += verification_markdown(report.verification)
    if report.not_evaluated:
        lines += ["## Not evaluated", "", "| rule | reason |", "|---|---|"]
        lines += [f"| {code(n.code)} {cell(n.rule)} | {cell(n.reason)} |" for n in report.not_evaluated]
        lines.append("")
    plots = [a for a in report.artifacts if a in PLOTS]
    if plots:
        lines += ["## Plots", "", PLOTS_WHERE, ""]
        for p in plots:
            lines += [f"**{PLOTS[p]}** ({code(p)})", "", f"[![{PLOTS[p]}]({p})]({p})", ""]
    return "\n".join(lines).rstrip("\n") + "\n"
