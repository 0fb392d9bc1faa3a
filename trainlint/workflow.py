"""One probe (or check) from a loaded spec to written outputs: the sequence every probing command shares.

spec → components → probe → record → rules → report/plots. Commands in `cli/` call this and
only render its result. Every run writes report.json, report.md and metrics.jsonl to the output
folder; a probe adds the plots (unless turned off) and, on request, TensorBoard event files.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from trainlint.components.base import ComponentError
from trainlint.probe.record import LrRange, RunRecord
from trainlint.report.model import Report, RuleRef, build_report, write_atomic
from trainlint.rules.base import Finding, NotEvaluated, Severity, Stage
from trainlint.rules.engine import STAGE_ORDER, evaluate
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
    tensorboard: bool = False  # also on when the spec says `probe.tensorboard: true`
    range_test: bool = False  # run an LR range test when a finding lowers the LR (see below)
    on_eval: object = None  # trainlint.probe.loop.EvalHook: asked after each evaluation whether to stop (--prune)


@dataclass
class Outcome:
    report: Report
    record: RunRecord
    out_dir: Path
    warnings: list[str] = field(default_factory=list)  # e.g. a plot that failed to draw


def output_dir(loaded: LoadedSpec | Path, out: Path | None) -> Path:
    """The folder to write into (`out`, else `trainlint-out/<spec name>` or the default path given),
    created if missing; a path that is a file is a user error."""
    default = loaded if isinstance(loaded, Path) else Path("trainlint-out") / loaded.name
    path = out if out is not None else default
    if path.exists() and not path.is_dir():
        raise SpecError(f"--out `{path}` is a file, not a folder", field="--out",
                        accepted="a folder path (created if missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecError(f"cannot create --out `{path}` ({exc.strerror})", field="--out") from None
    return path


def probe(loaded: LoadedSpec, options: ProbeOptions) -> Outcome:
    """Run the probe, evaluate the rules, write report.json, report.md, metrics.jsonl and the plots."""
    from trainlint.probe.loop import run_probe

    check_names(loaded)
    select, ignore = check_rules(loaded, options)
    tensorboard = _want_tensorboard(loaded, options)
    out_dir = output_dir(loaded, options.out)
    try:
        record = run_probe(loaded, out_dir, progress=options.progress, on_eval=options.on_eval)
    except ComponentError as exc:
        raise as_spec_error(loaded, exc) from None
    if options.range_test:
        record.lr_range = range_test_when_lr_too_high(loaded, record, select, ignore)
    return _finish(loaded, record, out_dir, select, ignore, Stage.RUN, "probe",
                   plots=options.plots, tensorboard=tensorboard)


def check(loaded: LoadedSpec, options: ProbeOptions) -> Outcome:
    """The seconds-fast smoke check: build everything, one step on one batch, static and first-batch rules.

    Why build the components from the unmodified spec: the scheduler and anything else sized by
    `probe.steps` must be built exactly as the real probe would build them; only the loop is cut
    to one step, and validation to one batch (it still runs once, so eval-mode crashes show).
    """
    from trainlint.components.build import build_components, resolve_device
    from trainlint.probe.loop import run_probe

    check_names(loaded)
    select, ignore = check_rules(loaded, options)
    out_dir = output_dir(loaded, options.out)
    started = time.perf_counter()
    try:
        comps = build_components(loaded, resolve_device(loaded.spec.device))
    except ComponentError as exc:
        raise as_spec_error(loaded, exc) from None
    comps = dataclasses.replace(comps, val_loader=_one_batch(comps.val_loader, loaded.spec.dataset.batch_size))
    spec = loaded.spec.model_copy(deep=True)
    spec.probe.steps = 1
    try:
        record = run_probe(dataclasses.replace(loaded, spec=spec), out_dir, components=comps)
    except ComponentError as exc:
        raise as_spec_error(loaded, exc) from None
    record.wall_seconds = time.perf_counter() - started  # building the components is most of a check
    return _finish(loaded, record, out_dir, select, ignore, Stage.FIRST_BATCH, "check",
                   plots=False, tensorboard=False)


def _finish(loaded: LoadedSpec, record: RunRecord, out_dir: Path, select: list[str], ignore: list[str],
            up_to: Stage, command: str, plots: bool, tensorboard: bool) -> Outcome:
    return finish_run(record, out_dir, config_path=str(loaded.path), config=_resolved_config(loaded),
                      title=loaded.name, select=select, ignore=ignore, up_to=up_to, command=command,
                      plots=plots, tensorboard=tensorboard, thresholds=loaded.spec.rules.thresholds,
                      locate=loaded.position)


def finish_run(record: RunRecord, out_dir: Path, *, config_path: str, config: dict, title: str,
               select: list[str] = (), ignore: list[str] = (), up_to: Stage = Stage.RUN, command: str = "probe",
               plots: bool = True, tensorboard: bool = False, thresholds: dict | None = None,
               locate=None, write_record: bool = True) -> Outcome:
    """Evaluate the rules on a finished record and write every output; report.json last, naming what
    was written. Shared by `probe`, `check`, the Python API and its callbacks, and `diagnose`.

    record.json (the whole RunRecord) is what `trainlint diagnose` re-reads, so a run folder can be
    diagnosed again later, by a newer trainlint or with other rule settings.
    """
    select, ignore = list(select), list(ignore)
    findings, not_evaluated = evaluate(record, select=select, ignore=ignore, up_to=up_to,
                                       thresholds=thresholds or {}, locate=locate)
    artifacts = ["report.json", "report.md", "metrics.jsonl"]
    warnings: list[str] = []
    if write_record:
        write_atomic(out_dir / "record.json", json.dumps(record.to_dict()))
        artifacts.append("record.json")
    if plots:
        artifacts += _plots(record, findings, out_dir, title, warnings)
    if tensorboard:
        from trainlint.report.tensorboard import write_tensorboard

        write_tensorboard(record, out_dir / "tensorboard")
        artifacts.append("tensorboard/")
    report = build_report(config_path, config, record, findings, not_evaluated, artifacts)
    report.command = command
    report.rules_evaluated = rules_evaluated(select, ignore, up_to, not_evaluated)
    from trainlint.report.markdown import render_markdown

    write_atomic(out_dir / "report.md", render_markdown(report))
    write_atomic(out_dir / "report.json", report.model_dump_json(indent=2))
    return Outcome(report, record, out_dir, warnings)


def range_test_when_lr_too_high(loaded: LoadedSpec, record: RunRecord, select: list[str],
                                ignore: list[str]) -> LrRange | None:
    """An LR range test on the spec, when a warning or error's fixes lower `optimizer.lr`.

    Why: the rules' own estimate of a better LR comes from the update ratio and a ~1e-3 rule of
    thumb, which is ~10x too cautious for SGD on small models (0.006 where 0.05 trains best);
    a range test measures the loss against the LR on this very model and data, in about a
    hundred steps, so every rule that lowers the LR quotes the same, better-founded number.
    """
    if record.stop_reason in ("interrupted", "crashed", "time_budget", "pruned") or record.lr <= 0:
        return None  # cut short or broken: no time to spend, or nothing to compare with
    findings, _ = evaluate(record, select=select, ignore=ignore, thresholds=loaded.spec.rules.thresholds)
    lowers = any(fix.config_key == "optimizer.lr" and isinstance(fix.value, int | float) and fix.value < record.lr
                 for f in findings if f.severity != Severity.INFO for fix in f.fixes)
    if not lowers:
        return None
    from trainlint.analysis.lr_suggest import suggest_lr
    from trainlint.probe.range_test import run_range_test

    try:
        test = run_range_test(loaded, threads=record.threads)
    except Exception as exc:  # noqa: BLE001 - the probe already diagnosed the user's code
        return LrRange(None, f"the range test could not run ({type(exc).__name__})", "crashed")
    if test.crash is not None:
        return LrRange(None, f"the model raised {test.crash.exc_type} during the range test", "crashed",
                       test.steps_run)
    verdict = suggest_lr(test.lrs, test.losses)
    return LrRange(verdict.lr, verdict.reason, verdict.status, test.steps_run)


def _plots(record: RunRecord, findings: list[Finding], out_dir: Path, title: str, warnings: list[str]) -> list[str]:
    from trainlint.plots import draw_all, figures

    names = {m.FILENAME for m in figures()}
    for stale in names:  # a figure skipped this time must not survive from an earlier run
        (out_dir / stale).unlink(missing_ok=True)
    result = draw_all(record, findings, out_dir, title)
    warnings += [f"could not draw {name} ({error}); this is a bug in trainlint"
                 for name, error in result.failed.items()]
    return result.written


def rules_evaluated(select: list[str], ignore: list[str], up_to: Stage,
                    not_evaluated: list[NotEvaluated]) -> list[RuleRef]:
    """The selected rules of the stages run, less those that could not be evaluated."""
    from trainlint.rules.catalog import all_rules
    from trainlint.rules.selection import is_selected

    skipped = {n.code for n in not_evaluated}
    return [RuleRef(code=r.code, rule=r.name) for r in all_rules()
            if is_selected(r, select, ignore) and STAGE_ORDER[r.stage] <= STAGE_ORDER[up_to]
            and r.code not in skipped]


def _one_batch(loader, batch_size: int):
    """The validation loader cut to its first `batch_size` samples (None stays None)."""
    if loader is None:
        return None
    from torch.utils.data import DataLoader, Subset

    n = min(len(loader.dataset), batch_size)
    return DataLoader(Subset(loader.dataset, range(n)), batch_size=n, shuffle=False)


def _want_tensorboard(loaded: LoadedSpec, options: ProbeOptions) -> bool:
    """Whether to write TensorBoard events; asking without the package is a user error (exit 2)."""
    if not (options.tensorboard or loaded.spec.probe.tensorboard):
        return False
    from trainlint.report.tensorboard import INSTALL_HINT, available

    if available():
        return True
    message = f"TensorBoard export needs the optional `tensorboard` package, not installed here; {INSTALL_HINT}"
    if options.tensorboard:
        raise SpecError(message, field="--tensorboard")
    raise as_spec_error(loaded, ComponentError(message, "probe.tensorboard", "true (with the package), false"))


def check_rules(loaded: LoadedSpec, options: ProbeOptions) -> tuple[list[str], list[str]]:
    """The effective select/ignore lists (spec then command line), validated against the catalog."""
    rules = loaded.spec.rules
    try:
        check_rule_settings(rules.select, rules.ignore, rules.thresholds)
    except RuleSettingError as exc:
        raise as_spec_error(loaded, ComponentError(str(exc), exc.field, exc.accepted, exc.suggestions)) from None
    try:
        check_rule_settings(options.select, options.ignore, {}, where="")
    except RuleSettingError as exc:  # exc.field is ".ignore.<index>": name the option and the entry
        option = "--" + exc.field.split(".")[1]
        raise SpecError(str(exc), origin=option, accepted=exc.accepted, suggestions=exc.suggestions) from None
    return [*rules.select, *options.select], [*rules.ignore, *options.ignore]


def _resolved_config(loaded: LoadedSpec) -> dict:
    config = json.loads(loaded.spec.model_dump_json())
    config["name"] = loaded.name
    return config
