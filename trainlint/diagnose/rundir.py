"""A trainlint run folder (probe, `trainlint.watch`, callbacks): its record.json, re-evaluated.

The record is rebuilt with `RunRecord.from_dict` and goes through `workflow.finish_run`, the
path every run takes, so a re-diagnosis gives the findings the run itself reported (with a
newer trainlint, or other --select/--ignore, it gives what those would have).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from trainlint.diagnose.logdir import EVENTS_GLOB
from trainlint.diagnose.metrics import write_metrics
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Stage
from trainlint.spec.errors import SpecError

RECORD, REPORT, METRICS = "record.json", "report.json", "metrics.jsonl"


def is_run_folder(path: Path) -> bool:
    return (path / RECORD).is_file()


def looks_older(path: Path) -> bool:
    """A run folder without record.json: written by a trainlint that did not keep the record."""
    return (path / REPORT).is_file() or (path / METRICS).is_file()


def no_record_error(path: Path) -> SpecError:
    export = path / "tensorboard"
    instead = (f"; its TensorBoard export can be diagnosed instead: `trainlint diagnose {export}`"
               if export.is_dir() and any(export.glob(EVENTS_GLOB)) else "")
    return SpecError(
        f"`{path}` is a trainlint run folder without {RECORD}, the whole record that diagnose re-reads "
        f"(report.json and metrics.jsonl hold too little to rerun every rule): it was written by an older "
        f"trainlint, or {RECORD} was removed; probe the spec again to get one{instead}",
        accepted=f"a run folder holding {RECORD} (trainlint probe, trainlint.watch, the callbacks), "
                 "or a TensorBoard log directory")


def load(path: Path) -> tuple[RunRecord, dict]:
    """The record and the run's report.json (its `config`, `config_path`, `command`; {} when absent)."""
    try:
        record = RunRecord.from_dict(json.loads((path / RECORD).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise SpecError(f"cannot read `{path / RECORD}` ({type(exc).__name__}: {exc})",
                        accepted=f"the {RECORD} a trainlint run wrote") from None
    try:
        report = json.loads((path / REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report = {}
    return record, report if isinstance(report, dict) else {}


def stage_of(report: dict) -> Stage:
    """`check` ran one step and judged only static and first-batch rules; everything else, all rules."""
    return Stage.FIRST_BATCH if report.get("command") == "check" else Stage.RUN


def locate(report: dict):
    """Spec key → (line, column) when the run's spec is still where it was, so findings point at it."""
    spec = Path(report.get("config_path") or "")
    if spec.suffix not in (".yaml", ".yml") or not spec.is_file():
        return None
    from trainlint.spec.loader import load_spec

    try:
        return load_spec(spec).position
    except SpecError:
        return None  # the spec changed since and no longer loads: findings without lines


def copy_metrics(path: Path, out_dir: Path, record: RunRecord) -> None:
    """The run's own metrics.jsonl (the per-step data as recorded, not a rewrite of it); one from
    the record when the run left none."""
    source, target = path / METRICS, out_dir / METRICS
    if not source.is_file():
        write_metrics(record, target)
    elif source.resolve() != target.resolve():
        shutil.copyfile(source, target)
