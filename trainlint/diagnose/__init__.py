"""`trainlint diagnose`: the rules re-evaluated on a run that finished elsewhere.

Two kinds of input, one engine: a trainlint run folder (its record.json, see `rundir`) or a
TensorBoard log directory (its scalars, see `tensorboard`). Both become a RunRecord that goes
through `workflow.finish_run`, which evaluates the rules and writes the outputs a probe writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trainlint.diagnose.tags import TagOptions
from trainlint.rules.settings import RuleSettingError, check_rule_settings
from trainlint.spec.errors import SpecError
from trainlint.workflow import Outcome, finish_run, output_dir


@dataclass
class DiagnoseOptions:
    out: Path | None = None
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    plots: bool = True
    tags: TagOptions = field(default_factory=TagOptions)


@dataclass
class Diagnosis:
    outcome: Outcome
    note: str = ""  # what was read, for the terminal (stderr)


def diagnose(path: Path, options: DiagnoseOptions) -> Diagnosis:
    """Diagnose a run folder or a TensorBoard log; anything else is a user error (exit 2)."""
    from trainlint.diagnose import rundir
    from trainlint.diagnose.logdir import event_dirs

    _check_cli_rules(options)
    if path.is_file() and path.name in (rundir.RECORD, rundir.REPORT):
        path = path.parent  # `diagnose run/record.json` means the run folder
    if not path.exists():
        raise SpecError(f"`{path}` does not exist", accepted=ACCEPTED)
    if path.is_dir() and rundir.is_run_folder(path):
        return _run_folder(path, options)
    if path.is_dir() and rundir.looks_older(path):
        raise rundir.no_record_error(path)
    runs = event_dirs(path) if path.is_dir() else []
    if not runs:
        raise SpecError(f"`{path}` is neither a trainlint run folder (no {rundir.RECORD}) nor a TensorBoard "
                        "log directory (no events.out.tfevents.* file in it or below it)", accepted=ACCEPTED)
    return _logdir(path, runs, options)


ACCEPTED = ("a run folder written by `trainlint probe`, `trainlint.watch` or a trainlint callback (it holds "
            "record.json), or a TensorBoard log directory")


def _run_folder(path: Path, options: DiagnoseOptions) -> Diagnosis:
    from trainlint.diagnose import rundir

    if given := options.tags.given():
        raise SpecError(f"{', '.join(given)} {'apply' if len(given) > 1 else 'applies'} to TensorBoard logs only; "
                        f"`{path}` is a trainlint run folder, whose record.json already says what each series is")
    record, report = rundir.load(path)
    config = report.get("config") or {"name": record.spec_name}
    rules = config.get("rules") or {}
    select, ignore = [*rules.get("select", []), *options.select], [*rules.get("ignore", []), *options.ignore]
    thresholds = rules.get("thresholds") or {}
    try:
        check_rule_settings(select, ignore, thresholds)
    except RuleSettingError as exc:
        raise SpecError(str(exc), path=path / rundir.REPORT, field=exc.field, accepted=exc.accepted) from None
    out_dir = output_dir(path / "diagnose", options.out)
    rundir.copy_metrics(path, out_dir, record)
    outcome = finish_run(record, out_dir, config_path=report.get("config_path") or str(path), config=config,
                         title=config.get("name") or path.name, select=select, ignore=ignore,
                         up_to=rundir.stage_of(report), command="diagnose", plots=options.plots,
                         thresholds=thresholds, locate=rundir.locate(report))
    return Diagnosis(outcome, f"read {path / rundir.RECORD} ({record.steps_run} steps)")


def _logdir(path: Path, runs: list[Path], options: DiagnoseOptions) -> Diagnosis:
    from trainlint.diagnose import tensorboard as tb
    from trainlint.diagnose.logdir import pick_run, read_scalars
    from trainlint.diagnose.metrics import write_metrics
    from trainlint.diagnose.tags import choose_tags

    run = pick_run(path, runs)
    scalars = read_scalars(run)
    tags = choose_tags(list(scalars), options.tags, run)
    record = tb.build_record(run, scalars, tags, options.tags)
    out_dir = output_dir(Path("trainlint-out") / run.resolve().name, options.out)
    write_metrics(record, out_dir / "metrics.jsonl")
    outcome = finish_run(record, out_dir, config_path=str(run), config=tb.config_of(run, tags, options.tags),
                         title=run.name, select=options.select, ignore=options.ignore, command="diagnose",
                         plots=options.plots, write_record=False)
    return Diagnosis(outcome, tb.read_note(tags, scalars))


def _check_cli_rules(options: DiagnoseOptions) -> None:
    """--select/--ignore against the catalog, with the option named (as `probe` does)."""
    try:
        check_rule_settings(options.select, options.ignore, {}, where="")
    except RuleSettingError as exc:  # exc.field is ".ignore.<index>"
        raise SpecError(str(exc), origin="--" + exc.field.split(".")[1], accepted=exc.accepted,
                        suggestions=exc.suggestions) from None
