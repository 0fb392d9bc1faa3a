"""One probe from a loaded spec to a written report: the sequence every probing command shares.

spec → components → probe → record → rules → report/plots. Commands in `cli/` call this and
only render its result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from trainlint.components.base import ComponentError
from trainlint.probe.record import RunRecord
from trainlint.report.model import Report, build_report, write_atomic
from trainlint.rules.engine import evaluate
from trainlint.rules.settings import RuleSettingError, check_rule_settings
from trainlint.spec.errors import SpecError
from trainlint.spec.loader import LoadedSpec
from trainlint.spec.validate import as_spec_error, check_names


@dataclass
class ProbeOptions:
    out: Path | None = None
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    plots: bool = True
    progress: object = None  # trainlint.probe.loop.Progress


@dataclass
class Outcome:
    report: Report
    record: RunRecord
    out_dir: Path


def output_dir(loaded: LoadedSpec, out: Path | None) -> Path:
    """The folder to write into, created if missing; a path that is a file is a user error."""
    path = out if out is not None else Path("trainlint-out") / loaded.name
    if path.exists() and not path.is_dir():
        raise SpecError(f"--out `{path}` is a file, not a folder", field="--out",
                        accepted="a folder path (created if missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecError(f"cannot create --out `{path}` ({exc.strerror})", field="--out") from None
    return path


def probe(loaded: LoadedSpec, options: ProbeOptions) -> Outcome:
    """Run the probe, evaluate the rules, write report.json and metrics.jsonl."""
    from trainlint.probe.loop import run_probe

    check_names(loaded)
    select, ignore = check_rules(loaded, options)
    out_dir = output_dir(loaded, options.out)
    try:
        record = run_probe(loaded, out_dir, progress=options.progress)
    except ComponentError as exc:
        raise as_spec_error(loaded, exc) from None
    findings, not_evaluated = evaluate(record, select=select, ignore=ignore,
                                       thresholds=loaded.spec.rules.thresholds, locate=loaded.position)
    artifacts = ["report.json", "metrics.jsonl"]
    report = build_report(str(loaded.path), _resolved_config(loaded), record, findings, not_evaluated, artifacts)
    write_atomic(out_dir / "report.json", report.model_dump_json(indent=2))
    return Outcome(report, record, out_dir)


def check_rules(loaded: LoadedSpec, options: ProbeOptions) -> tuple[list[str], list[str]]:
    """The effective select/ignore lists (spec then command line), validated against the catalog."""
    rules = loaded.spec.rules
    try:
        check_rule_settings(rules.select, rules.ignore, rules.thresholds)
    except RuleSettingError as exc:
        error = ComponentError(str(exc), exc.field, exc.accepted)
        raise as_spec_error(loaded, error, exc.suggestions) from None
    try:
        check_rule_settings(options.select, options.ignore, {}, where="--select/--ignore")
    except RuleSettingError as exc:
        raise SpecError(str(exc), field=exc.field.split(".")[0], accepted=exc.accepted,
                        suggestions=exc.suggestions) from None
    return [*rules.select, *options.select], [*rules.ignore, *options.ignore]


def _resolved_config(loaded: LoadedSpec) -> dict:
    config = json.loads(loaded.spec.model_dump_json())
    config["name"] = loaded.name
    return config
