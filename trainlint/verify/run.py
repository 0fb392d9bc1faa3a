"""Prove the advice: re-run the probe with each finding's fix applied, judge it, write the fixed spec.

Root causes first: the findings no other finding explains (`Finding.caused_by` is null) go
through the rounds below before their consequences; a consequence that a root cause's resolving
fix made disappear is reported as cleared by that fix (`cleared_by_root`) and not re-run; the
remaining consequences then get rounds of their own.

After a probe, each warning or error whose best fix is a spec edit gets that edit re-run as a full
probe through the compare runner: the same spec and seed, hence the same initial weights and data
order, with the edit as a `--set`, on the executor the caller chose (`--executor local|ray`;
locally in parallel processes when that saves time). Rounds: round 1 runs
every finding's best fix (a fix several findings share runs once); a finding not resolved (see
`judge`) moves on to its next machine-applicable fix in round 2, and so on up to
`probe.verify_attempts` — unless a fix that resolved another finding already made it disappear.

The fixes that resolved their finding are then applied together to the spec's text: where two
clash (different LRs from two findings), the one that ended with the better validation metric
wins. When more than one is applied, the combination is probed once more; if it does worse than
the best single fix (or brings a finding back), only that best fix is applied. The result is
`fixed.yaml` in the output folder (or where the caller says), and the report's `verification`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainlint.compare.executors import ExecutorSettings
from trainlint.compare.ranking import VariantResult
from trainlint.compare.variants import Variant
from trainlint.report.model import write_atomic
from trainlint.spec.errors import SpecError
from trainlint.spec.loader import LoadedSpec, load_spec
from trainlint.spec.validate import check_names
from trainlint.verify import judge as judging
from trainlint.verify.fixed_spec import as_edits, write_fixed
from trainlint.verify.model import ClearedByRoot, FixCheck, FixedSpec, Verification, VerifiedFix
from trainlint.verify.plan import conflicts, edits_key, label, plan, root_first, value_at

FIXED_NAME = "fixed.yaml"


@dataclass
class VerifyOptions:
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    execution: ExecutorSettings = field(default_factory=ExecutorSettings)  # where the re-runs go
    attempts: int | None = None  # None: the spec's probe.verify_attempts
    fixed_path: Path | None = None  # None: <out>/fixed.yaml
    backup: Path | None = None  # copy the file at fixed_path here before writing (fixing in place)
    on_done: Callable[[VariantResult], None] | None = None  # progress, one call per re-run


@dataclass
class _Run:
    result: VariantResult
    run_dir: str


def verify_outcome(loaded: LoadedSpec, outcome, options: VerifyOptions) -> Verification:
    """Verify the fixes of a probe's findings; attach the result to the report and rewrite its files.

    `outcome` is the `workflow.Outcome` of the probe of `loaded`; its report.json and report.md are
    written again with the `verification` section.
    """
    verification = verify(loaded, outcome, options)
    outcome.report.verification = verification
    from trainlint.report.markdown import render_markdown

    write_atomic(outcome.out_dir / "report.md", render_markdown(outcome.report))
    write_atomic(outcome.out_dir / "report.json", outcome.report.model_dump_json(indent=2))
    return verification


def verify(loaded: LoadedSpec, outcome, options: VerifyOptions) -> Verification:
    """Run the rounds (module docstring) and write the fixed spec; return what happened."""
    started = time.perf_counter()
    report, record = outcome.report, outcome.record
    attempts = options.attempts or loaded.spec.probe.verify_attempts
    baseline = judging.Baseline(
        findings=[{"code": f.code, "rule": f.rule, "severity": f.severity.value} for f in report.findings],
        metric_name=record.evals.metric_name, higher_is_better=record.evals.higher_is_better,
        val_metric=list(record.evals.val_metric), train_loss=list(record.train_loss),
        chance_metric=record.evals.chance_metric)
    verifier = _Verifier(loaded, options, baseline, outcome.out_dir / "verify")
    todo = plan(report.findings, report.config)
    not_tried = sorted(todo.not_tried, key=lambda n: (report.findings[n.finding].caused_by is not None, n.finding))
    verification = Verification(attempts=attempts, not_tried=not_tried)
    roots, consequences = root_first(report.findings, list(todo.queues))
    _rounds(report, verifier, verification, {i: list(todo.queues[i]) for i in roots}, attempts, "")
    left = {}
    for i in sorted([*consequences, *(n.finding for n in todo.not_tried if report.findings[n.finding].caused_by)]):
        cleared = _cleared_by_root(report, verification, i)
        if cleared is not None:  # also a consequence whose own fix is not a spec edit: its root's fix did it
            verification.cleared_by_root.append(cleared)
            verification.not_tried = [n for n in verification.not_tried if n.finding != i]
        elif i in todo.queues:
            left[i] = list(todo.queues[i])
    _rounds(report, verifier, verification, left, attempts, "consequences-" if roots else "")
    verification.fixed_spec = _fixed_spec(loaded, verification, verifier, options, outcome.out_dir)
    verification.runs = verifier.runs
    verification.execution = "; ".join(dict.fromkeys(verifier.executions))
    verification.wall_seconds = round(time.perf_counter() - started, 3)
    return verification


def _rounds(report, verifier: _Verifier, verification: Verification, queues: dict[int, list[int]],
            attempts: int, prefix: str) -> None:
    """Up to `attempts` rounds over the findings of `queues` (finding index → its fixes to try, best first)."""
    tried = {i: 0 for i in queues}
    for round_no in range(1, attempts + 1):
        picks = {i: queue.pop(0) for i, queue in queues.items() if queue}
        if not picks:
            break
        name = f"{prefix}round{round_no}" if prefix else round_no
        verifier.run_all([report.findings[i].fixes[j].spec_edits for i, j in picks.items()], name)
        this_round: list[VerifiedFix] = []
        for i, j in picks.items():
            finding = report.findings[i]
            fix = finding.fixes[j]
            edits = fix.spec_edits
            tried[i] += 1
            check = verifier.check([finding.code], edits)
            this_round.append(VerifiedFix(
                code=finding.code, rule=finding.rule, finding=i, fix=j, attempt=tried[i], text=fix.text,
                edits=edits, before={k: value_at(report.config, k) for k in edits}, verified=check))
        verification.verified_fixes += this_round
        for vf in this_round:
            covered = any(o.verified.resolved and vf.code in o.verified.findings_removed for o in this_round)
            if vf.verified.resolved or covered:
                queues[vf.finding] = []
        queues = {i: q for i, q in queues.items() if q}


def _cleared_by_root(report, verification: Verification, i: int) -> ClearedByRoot | None:
    """The root cause's resolving fix that also made consequence `i` disappear, if one did."""
    finding = report.findings[i]
    from trainlint.rules.causes import root_of

    root = root_of(finding, report.findings)
    j = next(k for k, f in enumerate(report.findings) if f is root)
    vf = next((v for v in verification.verified_fixes if v.finding == j and v.verified.resolved
               and finding.code in v.verified.findings_removed), None)
    if vf is None:
        return None
    return ClearedByRoot(code=finding.code, rule=finding.rule, finding=i, root=root.code, root_finding=j,
                         edits=vf.edits)


class _Verifier:
    """Runs sets of edits as variants (each distinct set once) and judges them against the baseline."""

    def __init__(self, loaded: LoadedSpec, options: VerifyOptions, baseline: judging.Baseline, folder: Path):
        self.loaded, self.options, self.baseline, self.folder = loaded, options, baseline, folder
        self.cache: dict[str, _Run] = {}
        self.runs = 0
        self.executions: list[str] = []

    def run_all(self, edit_sets: list[dict[str, Any]], round_no: int | str) -> None:
        from trainlint.compare.runner import run_variants, variant_dir

        todo: dict[str, dict[str, Any]] = {}
        for edits in edit_sets:
            key = edits_key(edits)
            if key not in self.cache and key not in todo:
                todo[key] = edits
        valid: dict[str, Variant] = {}
        for key, edits in todo.items():
            variant = Variant(label(edits), dict(edits))
            error = self._invalid(variant)
            if error is None:
                valid[key] = variant
            else:
                self.cache[key] = _Run(VariantResult(variant.label, dict(edits), status="failed", error=error), "")
        if not valid:
            return
        folder = self.folder / (f"round{round_no}" if isinstance(round_no, int) else str(round_no))
        metric = (self.baseline.metric_name, self.baseline.higher_is_better)
        done = run_variants(self.loaded, list(valid.values()), folder, self.options.select, self.options.ignore,
                            metric, self.options.execution, on_done=self.options.on_done)
        for i, (key, result) in enumerate(zip(valid, done.results, strict=True)):
            self.cache[key] = _Run(result, str(variant_dir(folder, i, result.label)))
        self.runs += len(done.results)
        self.executions.append(done.description)

    def check(self, targets: list[str], edits: dict[str, Any]) -> FixCheck:
        run = self.cache[edits_key(edits)]
        return judging.judge(targets, self.baseline, run.result, run.run_dir or None)

    def _invalid(self, variant: Variant) -> str | None:
        """Why the edited spec cannot be built (None when it can)."""
        try:
            check_names(load_spec(self.loaded.path, [*self.loaded.overrides, *variant.overrides]))
        except SpecError as exc:
            return f"the edited spec is invalid: {exc.message}"
        return None


def _fixed_spec(loaded: LoadedSpec, verification: Verification, verifier: _Verifier, options: VerifyOptions,
                out_dir: Path) -> FixedSpec | None:
    """Choose the resolving fixes to apply together, check the combination, write the fixed spec."""
    path = options.fixed_path or out_dir / FIXED_NAME
    groups: dict[str, tuple[dict[str, Any], list[str], FixCheck]] = {}
    for vf in verification.verified_fixes:
        if vf.verified.resolved:
            key = edits_key(vf.edits)
            edits, codes, check = groups.setdefault(key, (vf.edits, [], vf.verified))
            codes.append(vf.code)
    for cleared in verification.cleared_by_root:  # the root's fix resolves its consequences too
        if (group := groups.get(edits_key(cleared.edits))) is not None and cleared.code not in group[1]:
            group[1].append(cleared.code)
    if not groups:
        if options.fixed_path is None:
            path.unlink(missing_ok=True)  # a fixed.yaml from an earlier run no longer holds
        return None
    ranked = sorted(groups.values(), key=lambda g: _rank_key(g[2]))
    chosen: list[tuple[dict[str, Any], list[str], FixCheck]] = []
    dropped: list[str] = []
    for group in ranked:
        clash = next((c for c in chosen if conflicts(group[0], c[0])), None)
        if clash is None:
            chosen.append(group)
        else:
            dropped.append(f"{label(group[0])} ({', '.join(group[1])}): clashes with {label(clash[0])}, "
                           f"which ended with the better val {clash[2].metric_name}")
    check = chosen[0][2]
    if len(chosen) > 1:
        merged = {k: v for group in chosen for k, v in group[0].items()}
        targets = list(dict.fromkeys(c for group in chosen for c in group[1]))
        verifier.run_all([merged], "combined")
        together = verifier.check(targets, merged)
        best = chosen[0][2]
        tolerance = best.metric_tolerance or 0.0
        worse = together.metric_after is None or (best.metric_after is not None and (
            (best.metric_after - together.metric_after) * (1 if best.higher_is_better else -1) > tolerance))
        if together.resolved and not worse:
            check = together
        else:
            why = together.reason if not together.resolved else (
                f"together they ended at val {together.metric_name} {together.metric_after:.3g}, worse than "
                f"{best.metric_after:.3g} with the best fix alone")
            dropped += [f"{label(g[0])} ({', '.join(g[1])}): left out, the fixes together did not hold up ({why})"
                        for g in chosen[1:]]
            chosen = chosen[:1]
    edits = {k: v for group in chosen for k, v in group[0].items()}
    sources: dict[str, list[str]] = {}
    for group in chosen:
        for k in group[0]:
            sources.setdefault(k, []).extend(c for c in group[1] if c not in sources.get(k, []))
    fixed = FixedSpec(edits=edits, sources=sources, check=check, dropped=dropped)
    try:
        written = write_fixed(loaded, as_edits(edits, sources), path, options.backup)
    except SpecError as exc:  # a bug in the editor or an edit the schema rejects: report, never crash
        fixed.note = f"the fixed spec was not written: it would not load ({exc.message})"
        return fixed
    except OSError as exc:
        fixed.note = f"the fixed spec was not written: {exc.strerror or exc}"
        return fixed
    fixed.path, fixed.diff, fixed.note = str(path), written.diff, written.note
    fixed.backup = str(options.backup) if options.backup else None
    return fixed


def _rank_key(check: FixCheck) -> tuple:
    """Best validation metric first; a missing metric last."""
    if check.metric_after is None:
        return (1, 0.0)
    return (0, -check.metric_after if check.higher_is_better else check.metric_after)
