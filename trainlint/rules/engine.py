"""Runs the selected rules over a RunRecord and stamps each finding with its identity and spec line."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from typing import Any

from trainlint.analysis.wording import count
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, NotEvaluated, Rule, Stage
from trainlint.rules.catalog import all_rules
from trainlint.rules.causes import settle
from trainlint.rules.selection import is_selected

STAGE_ORDER = {Stage.STATIC: 0, Stage.FIRST_BATCH: 1, Stage.RUN: 2}
Locate = Callable[[str], "tuple[int, int] | None"]


def evaluate(record: RunRecord, *, select: Iterable[str] = (), ignore: Iterable[str] = (),
             thresholds: dict[str, dict[str, Any]] | None = None, locate: Locate | None = None,
             up_to: Stage = Stage.RUN, rules: Iterable[Rule] | None = None
             ) -> tuple[list[Finding], list[NotEvaluated]]:
    """Findings of every selected rule, and the rules that could not be evaluated (with why).

    Once every rule has run, `rules.causes.settle` links consequences to their root cause,
    reconciles their fixes, and lowers run-stage errors on a run that ended good.

    Args:
        record: what the probe measured.
        select, ignore: codes, names or prefixes (empty select = all).
        thresholds: per rule name, threshold overrides (already validated by the spec).
        locate: dotted spec key → (line, column), to point findings at the spec.
        up_to: the last stage to run (`check` stops at FIRST_BATCH).
        rules: the rules to consider (default: the whole catalog).
    """
    select, ignore, thresholds = list(select), list(ignore), thresholds or {}
    findings: list[Finding] = []
    skipped: list[NotEvaluated] = []
    considered = list(rules if rules is not None else all_rules())
    for rule in considered:
        if not is_selected(rule, select, ignore) or STAGE_ORDER[rule.stage] > STAGE_ORDER[up_to]:
            continue
        missing = [q for q in rule.requires if not record.has(q)]
        if missing:
            reason = not_recorded(missing, getattr(record, "source", ""))  # a log's records name it (diagnose)
            skipped.append(NotEvaluated(code=rule.code, rule=rule.name, reason=reason))
            continue
        params = rule.thresholds.model_validate(thresholds.get(rule.name, {}))
        if (short := too_short(record, params)) is not None:
            skipped.append(NotEvaluated(code=rule.code, rule=rule.name, reason=short))
            continue
        try:
            found = [_stamp(finding, rule, locate) for finding in rule.check(record, params) or ()]
        except Exception as exc:  # noqa: BLE001 - one rule's bug must not take the report down
            skipped.append(_internal_error(rule, exc))
            continue
        findings.extend(found)
    settle(findings, record, {r.code for r in considered if r.stage == Stage.RUN})
    findings.sort(key=lambda f: (-f.severity.rank, f.code))
    return findings, skipped


# A rule's `requires` entries (RunRecord fields) in the words a report uses.
QUANTITIES = {
    "train_loss": "the training loss", "lr_series": "the learning rate per step",
    "grad_norm": "gradient norms", "layer_grad_norm": "per-layer gradient norms",
    "layer_param_norm": "per-layer weight norms", "update_ratio": "update ratios",
    "dead_fraction": "ReLU-like activations (the model has none that trainlint can see)",
    "saturated_fraction": "sigmoid/tanh activations (the model has none that trainlint can see)",
    "evals": "validation evaluations (trainlint.watch: tl.log_eval)", "first_batch": "the first batch (the probe stopped before it)",
    "data": "the dataset scan (trainlint.watch: tl.log(inputs=, targets=))", "resources": "memory and CPU samples", "step_time_s": "step times",
    "data_wait_s": "data-loading times",
    "loss_class": "the loss function (trainlint.watch: pass loss_fn=)",
}


def too_short(record: RunRecord, params: Any) -> str | None:
    """Why a run its time budget cut short, or a log, has too few steps for a rule (its `min_steps`), or None.

    Why only these: a completed run is as long as the spec asked, and a crash or a non-finite
    loss is reported in its own right; a run the budget stopped, or a log with a few points
    (diagnose), is where a rule passing quietly for want of steps would read as a clean bill of health.
    """
    need = getattr(params, "min_steps", None)
    if not isinstance(need, int) or record.steps_run >= need:
        return None
    if source := getattr(record, "source", ""):  # a log: its points are all there is (diagnose)
        return f"needs at least {need} logged training losses; {source} has {record.steps_run}"
    if record.stop_reason != "time_budget":
        return None
    return f"needs at least {need} steps; the time budget stopped the probe after {count(record.steps_run, 'step')}"


def not_recorded(missing: list[str], source: str = "") -> str:
    """Why a rule could not run, for people: "not recorded: update ratios, the training loss".

    `source` names where a record rebuilt after the fact came from ("the TensorBoard log"): what
    it lacks was never logged there, so the probe's explanations in brackets do not apply.
    """
    if missing == ["crash"]:
        return "nothing to check: the probe did not crash"
    words = [QUANTITIES.get(q, q.replace("_", " ")) for q in missing]
    if source:
        return f"not in {source}: " + ", ".join(w.split(" (")[0] for w in words)
    return "not recorded: " + ", ".join(words)


def _internal_error(rule: Rule, exc: Exception) -> NotEvaluated:
    """The rule's failure as a not-evaluated entry that carries the traceback for the bug report.

    Why keep going: the other rules' findings and every output are still right; the command
    writes them all and then exits 3 (see `cli.output.exit_code`).
    """
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
    return NotEvaluated(code=rule.code, rule=rule.name,
                        reason=f"trainlint failed inside this rule ({text}); this is a bug in trainlint",
                        internal_error="".join(traceback.format_exception(exc)))


def _stamp(finding: Finding, rule: Rule, locate: Locate | None) -> Finding:
    finding.code, finding.rule = rule.code, rule.name
    if "severity" not in finding.model_fields_set:
        finding.severity = rule.severity
    if finding.config_key and locate is not None:
        pos = locate(finding.config_key)
        if pos is not None:
            finding.config_line, finding.config_column = pos
    return finding
