"""Fixes under a root cause: drop a consequence's fixes that contradict the root's, move masking ones last."""

from __future__ import annotations

import re

from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix
from trainlint.rules.causes.links import knob_of, root_of

# Kinds of advice recognised in a fix. Why text patterns at all: advice such as "more capacity"
# is not a spec edit; these patterns are the whole documented list, matched case-insensitively.
ADVICE_KINDS: dict[str, re.Pattern[str]] = {
    "more_capacity": re.compile(r"more capacity|wider|more (hidden )?layers|bigger model|larger model", re.I),
    "train_longer": re.compile(r"train(ing)? longer|more steps|more epochs", re.I),
    "raise_lr": re.compile(r"\b(raise|increase)\b[^.;:]*\b(lr|learning rate)\b", re.I),
    "lower_lr": re.compile(r"\b(lower|reduce|decrease)\b[^.;:]*\b(lr|learning rate)\b", re.I),
}
# What a root's advice rules out in its consequences' advice.
CONTRADICTS: dict[str, frozenset[str]] = {
    "lower_lr": frozenset({"raise_lr", "more_capacity", "train_longer"}),  # the step is too large
    "raise_lr": frozenset({"lower_lr", "more_capacity"}),  # the step is too small
    "unfreeze": frozenset({"more_capacity"}),  # the capacity is there, it just does not train
}
# What a root's diagnosis makes a *masking* fix in its consequences: kept, but after the others.
# Unscaled inputs or targets (TL103) make every gradient large; a lower LR hides that, the scaling
# cures it. Under a weight decay that dominates the update, any LR change only rescales the damage.
DEMOTES: dict[str, frozenset[str]] = {"TL103": frozenset({"lower_lr"}),
                                      "optimizer.args.weight_decay": frozenset({"lower_lr", "raise_lr"})}


def masking_kinds(root: Finding, run: RunRecord) -> frozenset[str]:
    """The advice kinds that would only mask what `root` found (`DEMOTES`, by its code or measured knob)."""
    return DEMOTES.get(root.code, frozenset()) | DEMOTES.get(knob_of(root, run) or "", frozenset())
LR_KEY = "optimizer.lr"
STEP_TOO_SMALL = frozenset({"TL302", "TL303"})


def advice_kinds(fix: Fix, run: RunRecord) -> set[str]:
    """What a fix advises: by its spec edit of optimizer.lr when it has one, else by its text."""
    kinds = {kind for kind, pattern in ADVICE_KINDS.items() if pattern.search(fix.text)}
    value = fix.spec_edits.get(LR_KEY)
    if isinstance(value, int | float) and run.lr > 0:
        kinds -= {"raise_lr", "lower_lr"}
        kinds.add("raise_lr" if value > run.lr else "lower_lr")
    return kinds


def root_direction(root: Finding, run: RunRecord) -> set[str]:
    """What the root says is wrong, as advice kinds: the direction of its best fix when that edits
    the LR; else "the step is too large" for TL301 or a root any of whose fixes lowers the LR
    (TL204, TL202...), "too small" for TL302/TL303; plus "unfreeze" for TL405."""
    lr = {"lower_lr", "raise_lr"}
    kinds = advice_kinds(root.fixes[0], run) & lr if root.fixes else set()
    if not kinds and (root.code == "TL301" or any("lower_lr" in advice_kinds(f, run) for f in root.fixes)):
        kinds = {"lower_lr"}
    elif not kinds and root.code in STEP_TOO_SMALL:
        kinds = {"raise_lr"}
    return kinds | ({"unfreeze"} if root.code == "TL405" else set())


def contradicts(fix: Fix, root: Finding, run: RunRecord) -> bool:
    """Whether `fix` contradicts the root's advice: the same spec key edited to another value, or
    advice of a kind the root's diagnosis rules out (`CONTRADICTS`)."""
    root_edits = {k: v for f in root.fixes for k, v in f.spec_edits.items()}
    if any(k in root_edits and root_edits[k] != v for k, v in fix.spec_edits.items()):
        return True
    ruled_out = set().union(*(CONTRADICTS.get(k, frozenset()) for k in root_direction(root, run)))
    return bool(advice_kinds(fix, run) & ruled_out)


def reconcile_fixes(findings: list[Finding], run: RunRecord) -> None:
    """Drop each consequence's fixes that contradict its root cause's; a consequence left with no
    fix points at its cause instead."""
    for f in findings:
        if f.caused_by is None:
            continue
        root = root_of(f, findings)
        kept = [fix for fix in f.fixes if not contradicts(fix, root, run)]
        if len(kept) != len(f.fixes):
            f.evidence["fixes_dropped_for_root_cause"] = len(f.fixes) - len(kept)
        masking = masking_kinds(root, run)
        kept.sort(key=lambda fix: bool(advice_kinds(fix, run) & masking))  # stable: otherwise as the rule ranked
        f.fixes = kept or [Fix(f"fix the root cause first: {root.code} {root.rule}")]
