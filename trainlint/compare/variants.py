"""Variants for compare-losses and compare-optimizers, as spec edits.

A variant comes from the command line (``--loss "cross_entropy:label_smoothing=0.1"``), else from
the spec's `compare.losses` / `compare.optimizers` (the same strings, or mappings
``{name:, target:, args:, lr:, label:}``), else from defaults for the task. Each becomes a
`Variant`: a label, the spec edits it makes (dotted key → value, only keys whose value changes),
and notes saying what was adapted and why. Runs receive the edits as `--set` expressions, so a
variant is plain, picklable data.

String syntax: ``name`` or ``name:key=value,key=value`` (values read as YAML: ``0.1``, ``true``,
``[0.9, 0.99]``); a user target is ``pkg.mod:Attr`` or ``file.py:Attr:key=value``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from trainlint.components import losses, optimizers
from trainlint.spec.errors import SpecError, close_matches
from trainlint.spec.loader import LoadedSpec, parse_value

ADAPTERS = "trainlint.compare.adapters"
DEFAULT_LOSSES = {
    "multiclass": ("cross_entropy", "cross_entropy:label_smoothing=0.1", "multi_margin", "mse"),
    "binary": ("bce_with_logits", "soft_margin", "mse"),
    "regression": ("mse", "l1", "huber"),
}
DEFAULT_OPTIMIZERS = ("sgd:momentum=0.9", "adam", "adamw", "rmsprop", "adagrad")
# Common starting LRs (PyTorch/Keras defaults) for an optimizer that replaces the spec's own,
# whose `optimizer.lr` was chosen for another optimizer.
TYPICAL_LR = {"sgd": 1e-2, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 1e-2}
REGRESSION_LOSSES = frozenset({"MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss"})
_ENTRY_KEYS = {"losses": ("name", "target", "args", "label"),
               "optimizers": ("name", "target", "lr", "args", "label")}


@dataclass(frozen=True)
class Variant:
    """One contender: its label, the spec edits it makes, and what was adapted for it."""

    label: str
    edits: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    is_current: bool = False  # makes no edit: the spec's own setting

    @property
    def overrides(self) -> list[str]:
        """The edits as `--set` expressions (JSON values, which the YAML reader reads back exactly)."""
        return [f"{key}={json.dumps(value)}" for key, value in self.edits.items()]


@dataclass
class Entry:
    """A parsed variant before it is turned into edits."""

    label: str
    name: str | None = None
    target: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    lr: float | None = None


def parse_entry(text: str, where: str) -> Entry:
    """Parse ``name``, ``name:k=v,k=v`` or ``pkg.mod:Attr[:k=v]``.

    Raises:
        SpecError: malformed text; `where` names the option or spec field.
    """
    text = text.strip()
    accepted = "name or name:key=value,key=value (e.g. cross_entropy:label_smoothing=0.1)"
    eq = text.find("=")
    if eq < 0:
        head, rest = text, ""
    else:
        colon = text.rfind(":", 0, eq)
        if colon < 0:
            raise SpecError(f"`{text}`: arguments must follow a name and a colon", field=where,
                            accepted=accepted)
        head, rest = text[:colon], text[colon + 1:]
    head = head.strip()
    if not head:
        raise SpecError(f"`{text}` has no name", field=where, accepted=accepted)
    args: dict[str, Any] = {}
    for part in _split_top_level(rest):
        key, sep, raw = part.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_]\w*", key):
            raise SpecError(f"`{part.strip()}` in `{text}` is not key=value", field=where, accepted=accepted)
        args[key] = parse_value(raw.strip())
    lr = args.pop("lr", None)
    entry = Entry(label=text, args=args, lr=lr)
    if ":" in head:
        module = head.rpartition(":")[0]
        if not re.search(r"[./\\]", module):
            raise SpecError(f"`{text}`: arguments must be key=value (a target is pkg.mod:Attr or "
                            "./file.py:Attr)", field=where, accepted=accepted)
        entry.target = head
    else:
        entry.name = head
    return entry


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in parts if p.strip()]


def _entries(loaded: LoadedSpec, section: str, cli: list[str], option: str) -> list[Entry] | None:
    """Entries from the command line, else from the spec's `compare` section; None when neither gives any."""
    if cli:
        return [parse_entry(text, option) for text in cli]
    out = []
    for i, item in enumerate(getattr(loaded.spec.compare, section)):
        where = f"compare.{section}.{i}"
        if isinstance(item, str):
            out.append(_located(loaded, where, lambda text=item, w=where: parse_entry(text, w)))
            continue
        unknown = [k for k in item if k not in _ENTRY_KEYS[section]]
        if unknown:
            key = f"{where}.{unknown[0]}"
            raise _locate(loaded, SpecError(f"unknown key `{unknown[0]}`", field=key,
                                            accepted=", ".join(_ENTRY_KEYS[section]),
                                            suggestions=close_matches(unknown[0], _ENTRY_KEYS[section])))
        if (item.get("name") is None) == (item.get("target") is None):
            raise _locate(loaded, SpecError("give exactly one of `name` or `target`", field=where))
        args = dict(item.get("args") or {})
        lr = item.get("lr", args.pop("lr", None))
        label = str(item.get("label") or item.get("name") or item.get("target"))
        if args and not item.get("label"):
            label += ":" + ",".join(f"{k}={v}" for k, v in args.items())
        out.append(Entry(label=label, name=item.get("name"), target=item.get("target"), args=args, lr=lr))
    return out or None


def _located(loaded: LoadedSpec, where: str, parse):
    try:
        return parse()
    except SpecError as exc:
        raise _locate(loaded, exc) from None


def _locate(loaded: LoadedSpec, exc: SpecError) -> SpecError:
    line, col = loaded.position(exc.field) or (None, None)
    return SpecError(exc.message, path=loaded.path, line=line, col=col, field=exc.field,
                     accepted=exc.accepted, suggestions=exc.suggestions)


def _check_name(name: str | None, lookup, known: list[str], kind: str, where: str) -> None:
    if name is not None and lookup(name) is None:
        reason = optimizers.unsupported_reason(name) if kind == "optimizer" else None
        raise SpecError(reason or f"unknown {kind} `{name}`", field=where, accepted=", ".join(known),
                        suggestions=[] if reason else close_matches(name, known))


def _finish(loaded: LoadedSpec, entry: Entry, edits: dict[str, Any], notes: list[str]) -> Variant:
    """Keep the edits that change the spec; no edit left means the spec's own setting."""
    spec = json.loads(loaded.spec.model_dump_json())
    changed = {}
    for key, value in edits.items():
        node: Any = spec
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node != value:
            changed[key] = value
    return Variant(entry.label, changed, tuple(notes), is_current=not changed)


def loss_variants(loaded: LoadedSpec, cli: list[str], task: str) -> list[Variant]:
    """The loss variants to compare, adapted to the task's target form where a loss needs it.

    Raises:
        SpecError: a malformed variant or an unknown loss name.
    """
    entries = _entries(loaded, "losses", cli, "--loss")
    defaults = entries is None
    if defaults:
        entries = [parse_entry(text, "defaults") for text in DEFAULT_LOSSES[task]]
    variants = []
    for entry in entries:
        _check_name(entry.name, losses.lookup, losses.names(), "loss", "--loss" if cli else "compare.losses")
        variants.append(_loss_variant(loaded, entry, task))
    return _with_current(loaded, variants, defaults, loaded.spec.loss.name or loaded.spec.loss.target)


def _loss_variant(loaded: LoadedSpec, entry: Entry, task: str) -> Variant:
    spec_loss = loaded.spec.loss
    name, target, args, notes = entry.name, entry.target, dict(entry.args), []
    cls = losses.lookup(name).__name__ if name else None
    if name and spec_loss.name and losses.lookup(spec_loss.name) is losses.lookup(name):
        name = spec_loss.name  # same loss, the spec's spelling: no edit
    wrapper = None
    if task == "multiclass" and cls in REGRESSION_LOSSES:
        wrapper, why = "OneHotTargets", "class indices become one-hot float vectors compared with the logits"
    elif task == "binary" and cls in REGRESSION_LOSSES:
        wrapper, why = "SigmoidProbability", "the logit goes through a sigmoid and is compared with the 0/1 target"
    elif task == "binary" and cls == "SoftMarginLoss":
        wrapper, why = "SignedTargets", ("0/1 targets become -1/+1, as soft margin expects (log(1+exp(-y·x)): "
                                         "the same function as BCE-with-logits, so expect the same results)")
    if wrapper:
        target, args, name = f"{ADAPTERS}:{wrapper}", {"loss": name, **args}, None
        notes.append(f"{cls} adapted for {task} targets by the wrapper loss {wrapper}: {why}")
        short = {"OneHotTargets": "one-hot", "SigmoidProbability": "sigmoid prob",
                 "SignedTargets": "±1 targets"}[wrapper]
        entry = Entry(f"{entry.label} [{short}]", name, target, args, entry.lr)
    edits = {"loss.name": name, "loss.target": target, "loss.args": args}
    if loaded.spec.dataset.task is None and loaded.spec.dataset.target:
        # One task for every variant: a user dataset's task is inferred with the loss in view (0/1
        # floats are binary under BCE, regression under MSE), and one ranking needs one metric.
        edits["dataset.task"] = task
    return _finish(loaded, entry, edits, notes)


def optimizer_variants(loaded: LoadedSpec, cli: list[str]) -> list[Variant]:
    """The optimizer variants to compare, each with its LR (given, the spec's, or a typical one).

    Raises:
        SpecError: a malformed variant or an unknown optimizer name.
    """
    entries = _entries(loaded, "optimizers", cli, "--optimizer")
    defaults = entries is None
    if defaults:
        entries = [parse_entry(text, "defaults") for text in DEFAULT_OPTIMIZERS]
    variants = []
    for entry in entries:
        _check_name(entry.name, optimizers.lookup, optimizers.names(), "optimizer",
                    "--optimizer" if cli else "compare.optimizers")
        variants.append(_optimizer_variant(loaded, entry))
    spec_opt = loaded.spec.optimizer
    return _with_current(loaded, variants, defaults, spec_opt.name or spec_opt.target)


def _optimizer_variant(loaded: LoadedSpec, entry: Entry) -> Variant:
    spec_opt = loaded.spec.optimizer
    name, notes = entry.name, []
    same = (entry.target is not None and entry.target == spec_opt.target) or (
        name is not None and spec_opt.name is not None
        and optimizers.lookup(name) is optimizers.lookup(spec_opt.name))
    if same and name is not None:
        name = spec_opt.name
    args = {**spec_opt.args, **entry.args} if same else dict(entry.args)
    lr = entry.lr
    if lr is None and same:
        lr = spec_opt.lr
    elif lr is None:
        cls = optimizers.lookup(name) if name else None
        key = cls.__name__.lower() if cls else ""
        lr = TYPICAL_LR.get(key)
        if lr is not None and lr != spec_opt.lr:
            notes.append(f"lr {lr:g}: a typical starting LR for {key} (the spec's {spec_opt.lr:g} is set "
                         f"for {spec_opt.name or spec_opt.target})")
        elif lr is None:
            lr = spec_opt.lr
            notes.append(f"lr {lr:g} taken from the spec")
    edits = {"optimizer.name": name, "optimizer.target": entry.target, "optimizer.lr": float(lr),
             "optimizer.args": args}
    return _finish(loaded, entry, edits, notes)


def _with_current(loaded: LoadedSpec, variants: list[Variant], defaults: bool, current: str) -> list[Variant]:
    """With default variants, the spec's own setting always competes (first, when it is not a default)."""
    if defaults and not any(v.is_current for v in variants):
        variants.insert(0, Variant(str(current), {}, ("the spec's own setting",), is_current=True))
    seen: dict[str, int] = {}
    for i, v in enumerate(variants):  # labels name rows, plots and folders: keep them distinct
        seen[v.label] = seen.get(v.label, 0) + 1
        if seen[v.label] > 1:
            variants[i] = Variant(f"{v.label} ({seen[v.label]})", v.edits, v.notes, v.is_current)
    return variants
