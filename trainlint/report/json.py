"""JSON writer: report.json, exactly as written to `--out`."""

from __future__ import annotations

from trainlint.report.model import Report


def render_json(report: Report) -> str:
    return report.model_dump_json(indent=2) + "\n"
