"""The "Verified fixes" section of the terminal report and report.md (`--verify-fixes`, `trainlint fix`).

One entry per fix re-run, root causes first: ✓ resolved / ✗ not resolved, the edits made (old →
new value), then what the re-run showed (the findings gone and appeared, the validation metric
and the final train loss before → after); then the consequences their root cause's fix cleared. Then the findings that could not be tried and the fixed
spec, with its unified diff in verbose mode (the terminal) and always in report.md.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from trainlint.analysis.wording import no_negative_zero, num
from trainlint.compare.ranking import fmt_metric
from trainlint.verify.model import ClearedByRoot, FixCheck, Verification, VerifiedFix

MAX_VALUE = 40


def show_value(value: Any) -> str:
    """A spec value as YAML on one line, shortened."""
    from trainlint.verify.yaml_edit import render_value

    text = render_value(value)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"


def edit_text(vf: VerifiedFix) -> str:
    """``optimizer.lr 0.3 → 7.0e-05, probe.clip_grad_norm null → 3200.0``."""
    return ", ".join(f"{k} {show_value(vf.before.get(k))} → {show_value(v)}" for k, v in vf.edits.items())


def outcome_text(check: FixCheck) -> str:
    """The re-run's reason, the train loss, and the other findings gone or appeared."""
    parts = [check.reason]
    if check.train_loss_before is not None or check.train_loss_after is not None:
        parts.append(f"train loss {_num(check.train_loss_before)} → {_num(check.train_loss_after)}")
    if check.findings_added and "appeared" not in check.reason:
        parts.append("appeared: " + " ".join(check.findings_added))
    return "; ".join(parts)


def runs_text(v: Verification) -> str:
    """``3 re-runs with the same seed, ...; 4.2 s``, or that nothing needed re-running."""
    if not v.verified_fixes and not v.not_tried:
        return "no warning or error to fix; nothing was re-run"
    runs = f"{v.runs} re-run{'s' if v.runs != 1 else ''}"
    return (f"{runs} with the same seed, initial weights and data order, at most {v.attempts} per finding; "
            f"{v.wall_seconds:.1f} s")


def header(v: Verification) -> str:
    text = runs_text(v)
    return f"Verified fixes: {text}" if text.startswith("no ") else f"Verified fixes ({text})"


def verification_lines(v: Verification, verbose: bool = False) -> list[Text]:
    """The terminal section (module docstring)."""
    lines = [Text(header(v), style="bold")]
    for vf in v.verified_fixes:
        ok = vf.verified.resolved
        lines.append(Text.assemble(
            "  ", ("✓" if ok else "✗", "green" if ok else "red"), " ", (f"{vf.code} {vf.rule}", "bold"), "  ",
            edit_text(vf), ": ", ("resolved" if ok else "not resolved", "green" if ok else "red"),
            (f" (attempt {vf.attempt})" if vf.attempt > 1 else "", "dim")))
        lines.append(Text.assemble("      ", (_others(vf, v), "dim")))
    for c in v.cleared_by_root:
        lines.append(Text.assemble("  ", ("✓", "green"), " ", (f"{c.code} {c.rule}", "bold"), "  ",
                                   ("resolved", "green"), f" by the fix of its root cause: {cleared_text(c, v)}"))
    for nt in v.not_tried:
        lines.append(Text.assemble("  ", ("–", "dim"), " ", (f"{nt.code} {nt.rule}", "bold"), "  not tried: ",
                                   (nt.reason, "dim")))
    fixed = v.fixed_spec
    if fixed is not None:
        edits = ", ".join(f"{k}: {show_value(val)}" for k, val in fixed.edits.items())
        where = fixed.path or "not written"
        lines.append(Text.assemble("  ", ("fixed spec", "bold"), f"  {where}  ({edits}{_metric(fixed.check)})"))
        if fixed.check is not None and len(fixed.edits) > 1 and fixed.check.run_dir:
            lines.append(Text.assemble("      ", (f"all together: {outcome_text(fixed.check)}", "dim")))
        for line in ([fixed.note] if fixed.note else []) + (fixed.dropped if verbose else []):
            lines.append(Text.assemble("      ", (line, "yellow")))
        if verbose and fixed.diff:
            lines += [Text("    " + line, style=_diff_style(line)) for line in fixed.diff.splitlines()]
    elif v.verified_fixes:
        lines.append(Text.assemble("  ", ("fixed spec", "bold"), "  none: no fix resolved its finding"))
    return lines


def cleared_text(c: ClearedByRoot, v: Verification) -> str:
    """``TL301, optimizer.lr 0.5 → 0.06`` for a consequence its root cause's fix cleared."""
    root = next((vf for vf in v.verified_fixes if vf.finding == c.root_finding and vf.edits == c.edits), None)
    edits = edit_text(root) if root is not None else ", ".join(f"{k} → {show_value(val)}" for k, val in c.edits.items())
    return f"{c.root}, {edits}"


def _others(vf: VerifiedFix, v: Verification) -> str:
    """The outcome, the other findings the fix removed, and for a fix that failed, the fix that did remove
    its finding (when another finding's fix did)."""
    check = vf.verified
    text = outcome_text(check)
    others = [c for c in check.findings_removed if c != vf.code]
    text += f"; also gone: {' '.join(others)}" if others else ""
    left = [c for c in check.findings_remaining if c != vf.code]
    text += f"; still there: {' '.join(left)}" if left and check.resolved else ""
    if not check.resolved and v.resolving(vf.finding) is None:
        cover = next((o for o in v.verified_fixes if o.verified.resolved and vf.code in o.verified.findings_removed),
                     None)
        if cover is not None:
            text += f"; {vf.code} is gone with {edit_text(cover)} instead (the fix of {cover.code})"
    return text


def _metric(check: FixCheck | None) -> str:
    if check is None or check.metric_after is None:
        return ""
    before, after = (no_negative_zero(fmt_metric(v)) for v in (check.metric_before, check.metric_after))
    return f"; val {check.metric_name} {before} → {after}"


def _diff_style(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "bold"
    return {"+": "green", "-": "red", "@": "cyan"}.get(line[:1], "dim")


def verification_markdown(v: Verification) -> list[str]:
    """The report.md section."""
    from trainlint.report.markdown import cell, code, prose

    text = runs_text(v)
    lines = ["## Verified fixes", "", prose(text[0].upper() + text[1:]) + ".", ""]
    if v.verified_fixes:
        lines += ["| result | finding | fix | what the re-run showed |", "|---|---|---|---|"]
        for vf in v.verified_fixes:
            mark = "✅ resolved" if vf.verified.resolved else "❌ not resolved"
            attempt = f" (attempt {vf.attempt})" if vf.attempt > 1 else ""
            lines.append(f"| {mark}{attempt} | {code(vf.code)} {cell(vf.rule)} | {code(edit_text(vf))} "
                         f"| {cell(_others(vf, v))} |")
        for c in v.cleared_by_root:
            lines.append(f"| ✅ resolved by its root cause | ↳ {code(c.code)} {cell(c.rule)} | "
                         f"{code(cleared_text(c, v))} | {cell(f'gone with the fix of {c.root}')} |")
        lines.append("")
    if v.not_tried:
        lines += ["Not tried (the best fix is not a spec edit):", ""]
        lines += [f"- {code(nt.code)} {prose(nt.rule)}: {prose(nt.reason)}" for nt in v.not_tried]
        lines.append("")
    fixed = v.fixed_spec
    if fixed is not None:
        edits = ", ".join(code(f"{k}: {show_value(val)}") for k, val in fixed.edits.items())
        lines += [f"Fixed spec: {code(fixed.path) if fixed.path else 'not written'} ({edits}"
                  f"{prose(_metric(fixed.check))})", ""]
        for line in ([fixed.note] if fixed.note else []) + fixed.dropped:
            lines += [f"- {prose(line)}"]
        if fixed.note or fixed.dropped:
            lines.append("")
        if fixed.diff:
            lines += ["```diff", fixed.diff.rstrip("\n"), "```", ""]
    return lines


def _num(value: float | None) -> str:
    if value is None:
        return "–"
    return num(value)
