"""One writer per `--format`, looked up by name and imported only when used."""

from __future__ import annotations

from trainlint.report.model import Report

FORMATS = ("text", "json", "markdown", "github", "junit")


def render(fmt: str, report: Report, fail_on: str = "error") -> str:
    """The report as `fmt` text (every format but `text`, which prints to a rich console)."""
    if fmt == "json":
        from trainlint.report.json import render_json

        return render_json(report)
    if fmt == "markdown":
        from trainlint.report.markdown import render_markdown

        return render_markdown(report)
    if fmt == "github":
        from trainlint.report.github import render_github

        return render_github(report)
    if fmt == "junit":
        from trainlint.report.junit import render_junit

        return render_junit(report, fail_on)
    raise ValueError(f"no writer for format {fmt!r}; known: {', '.join(FORMATS)}")
