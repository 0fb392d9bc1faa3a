"""GitHub Actions writer: one workflow command per finding, so findings annotate the spec in a PR.

``::error file=configs/x.yaml,line=14,col=7,title=TL301 lr-too-high::message`` (warning and
notice for the other severities). Escaping follows the workflow-command spec: in the message
``%``, ``\\r`` and ``\\n``; in property values also ``:`` and ``,``.
"""

from __future__ import annotations

from trainlint.report.model import Report
from trainlint.report.summary import groups, roots_text
from trainlint.rules.base import Finding

COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def repo_path(path: str) -> str:
    """The spec path as GitHub matches it against the repository: forward slashes, no `./`."""
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def annotation(report: Report, finding: Finding) -> str:
    props = [f"file={escape_property(repo_path(report.config_path))}"]
    if finding.config_line is not None:
        props.append(f"line={finding.config_line}")
        if finding.config_column is not None:
            props.append(f"col={finding.config_column}")
    props.append(f"title={escape_property(f'{finding.code} {finding.rule}')}")
    message = finding.message
    if finding.caused_by is not None:
        message = f"(a consequence of {finding.caused_by}: fix that first) {message}"
    if finding.fixes:
        message += "\nfix: " + finding.fixes[0].text
    return f"::{COMMAND[finding.severity.value]} {','.join(props)}::{escape_data(message)}"


def render_github(report: Report) -> str:
    """One annotation per finding, then a plain summary line for the job log."""
    lines = [annotation(report, f) for root, members in groups(report) for f in (root, *members)]
    c = report.summary.counts
    roots = f"; {text}" if (text := roots_text(report)) else ""
    lines.append(f"trainlint {report.command} {repo_path(report.config_path)}: {report.summary.status} "
                 f"({c.error} error, {c.warning} warning, {c.info} info{roots})")
    return "\n".join(lines) + "\n"
