"""Reports: the Report model (single source of report.json) and one writer per --format."""
