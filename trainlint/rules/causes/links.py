"""The table of which codes can be consequences of which, and the linking of one report's findings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding
from trainlint.rules.causes.support import (
    blames_its_own_knob,
    explains_no_fit,
    frozen_model,
    precedes,
    precedes_and_no_fit,
    scaled_and_precedes,
    starved_by_schedule,
    train_never_fit,
)

Support = Callable[[RunRecord, Finding, Finding], bool]


@dataclass(frozen=True)
class Link:
    """`consequence` can be produced by `cause`; `supports` checks the record shows it did."""

    cause: str
    consequence: str
    why: str
    supports: Support = precedes


_STEP = "too large a step"
LINKS: tuple[Link, ...] = (
    # The data and the loss, before training.
    Link("TL101", "TL001", "labels outside the model's classes make the loss raise"),
    Link("TL104", "TL001", "NaN/Inf in the data make the model or the loss raise"),
    Link("TL105", "TL001", "outputs and targets of shapes the loss cannot pair make it raise"),
    Link("TL104", "TL202", "NaN/Inf in the inputs or targets make the loss NaN"),
    Link("TL105", "TL203", "a loss on broadcast shapes compares the wrong pairs and barely moves", precedes_and_no_fit),
    Link("TL105", "TL502", "a loss on broadcast shapes trains the wrong thing", precedes_and_no_fit),
    Link("TL106", "TL203", "a model whose output ignores its input can only learn the prior", precedes_and_no_fit),
    Link("TL106", "TL502", "a model whose output ignores its input cannot beat chance", precedes_and_no_fit),
    Link("TL201", "TL404", "the large initial scale that puts the first loss off saturates sigmoid/tanh units"),
    Link("TL103", "TL201", "large inputs inflate the first outputs, and with them the initial loss"),
    Link("TL103", "TL301", "unscaled inputs or targets make large gradients, hence large updates", scaled_and_precedes),
    Link("TL103", "TL401", "unscaled inputs or targets make large gradients", scaled_and_precedes),
    Link("TL103", "TL204", "unscaled inputs or targets make large updates that overshoot", scaled_and_precedes),
    Link("TL103", "TL202", "unscaled inputs or targets make large updates that overflow", scaled_and_precedes),
    Link("TL103", "TL404", "large inputs push sigmoid/tanh units into their flat tails"),
    Link("TL206", "TL301", "a loss that does not suit the outputs gives gradients of the wrong scale"),
    Link("TL206", "TL401", "a loss that does not suit the outputs gives gradients of the wrong scale"),
    Link("TL206", "TL204", "a loss that does not suit the outputs cannot be minimised steadily"),
    Link("TL206", "TL202", "probabilities fed to a loss on logits (or the reverse) overflow"),
    Link("TL206", "TL203", "a loss that does not suit the outputs barely moves", precedes_and_no_fit),
    Link("TL206", "TL502", "a loss that does not suit the outputs trains the wrong thing", precedes_and_no_fit),
    # The LR, the schedule, frozen weights.
    Link("TL302", "TL203", "updates of a millionth of the weights do not move the loss", precedes_and_no_fit),
    Link("TL302", "TL502", "updates too small to learn anything in the probe", precedes_and_no_fit),
    Link("TL303", "TL203", "with the LR at ~0 the weights stop moving", starved_by_schedule),
    Link("TL303", "TL502", "with the LR at ~0 the model stops learning", starved_by_schedule),
    Link("TL405", "TL203", "weights that cannot train cannot lower the loss", frozen_model),
    Link("TL405", "TL502", "weights that cannot train cannot fit the data", frozen_model),
    Link("TL301", "TL202", f"{_STEP} overshoots until the loss overflows"),
    Link("TL301", "TL204", f"{_STEP} overshoots the minimum and the loss climbs"),
    Link("TL301", "TL205", f"{_STEP} bounces the loss around the minimum"),
    Link("TL301", "TL401", f"{_STEP} throws the weights where the gradients are huge"),
    Link("TL301", "TL403", f"{_STEP} pushes ReLU biases negative for good"),
    Link("TL301", "TL404", f"{_STEP} pushes sigmoid/tanh units into their flat tails"),
    Link("TL301", "TL106", f"{_STEP} kills the units the output depends on"),
    Link("TL301", "TL203", f"{_STEP} kills the network and freezes the loss", precedes_and_no_fit),
    Link("TL301", "TL502", f"{_STEP} keeps the model from fitting anything", precedes_and_no_fit),
    # Symptoms of instability feeding each other.
    Link("TL401", "TL202", "exploding gradients overflow the loss"),
    Link("TL401", "TL204", "exploding gradients throw the weights off and the loss climbs"),
    Link("TL401", "TL403", "a huge update pushes ReLU biases negative for good"),
    Link("TL204", "TL403", "the overshooting updates that made the loss climb killed ReLU units"),
    Link("TL204", "TL106", "the overshooting updates killed the units the output depends on"),
    Link("TL204", "TL502", "a loss that climbs back leaves the model at chance", precedes_and_no_fit),
    Link("TL202", "TL502", "weights turned non-finite predict nothing", precedes_and_no_fit),
    Link("TL205", "TL502", "a loss bouncing around without progress leaves the model at chance",
         precedes_and_no_fit),
    Link("TL403", "TL106", "with its units dead the output no longer sees the input"),
    Link("TL404", "TL402", "saturated sigmoid/tanh units pass almost no gradient back"),
    Link("TL403", "TL402", "dead ReLU units pass no gradient back to the layers before them"),
    Link("TL402", "TL203", "gradients that fade before the early layers leave the loss flat", precedes_and_no_fit),
    Link("TL402", "TL502", "a network whose early layers do not learn cannot fit", precedes_and_no_fit),
    Link("TL301", "TL402", f"{_STEP} kills the units the early layers' gradients flow through"),
    Link("TL203", "TL502", "a model whose training loss never fell cannot beat chance", explains_no_fit),
)

# The order in which causes are preferred when several are supported: the setup before the LR,
# the LR before its symptoms. Every link points from a lower rank to a higher one (no cycles).
RANK = ("TL101", "TL104", "TL105", "TL001", "TL103", "TL206", "TL201", "TL405", "TL304", "TL302", "TL303", "TL301", "TL401",
        "TL202", "TL204", "TL205", "TL404", "TL403", "TL402", "TL106", "TL203", "TL502", "TL501")


def rank(code: str) -> int:
    return RANK.index(code) if code in RANK else len(RANK)


def causes_of(code: str) -> list[Link]:
    """The links that can explain `code`, most fundamental cause first."""
    return sorted((lk for lk in LINKS if lk.consequence == code), key=lambda lk: rank(lk.cause))


def consequences_of(code: str) -> list[Link]:
    return [lk for lk in LINKS if lk.cause == code]


# A knob a rule blamed by measurement (its best fix edits it) is a root cause for the symptoms it
# produces, whichever rule found it: weight decay that pulls harder than the gradient shrinks the
# weights until relative updates look huge, units die, gradients fade and the output collapses;
# dropout that drops nearly every unit keeps the loss flat and the metric at chance.
KNOB_SYMPTOMS: dict[str, frozenset[str]] = {
    "optimizer.args.weight_decay": frozenset({"TL301", "TL401", "TL204", "TL205", "TL402", "TL403", "TL404",
                                              "TL106", "TL203", "TL502"}),
    "model.args.dropout": frozenset({"TL203", "TL502"}),
}


def knob_measured(run: RunRecord, key: str) -> bool:
    """The record shows the knob at work: weight decay dominating the update (`decay_dominance`), or
    a model that does not fit even its training data (too much dropout)."""
    if key == "optimizer.args.weight_decay":
        from trainlint.analysis.attribution import decay_dominance

        return decay_dominance(run) is not None
    return train_never_fit(run)


def knob_of(finding: Finding, run: RunRecord) -> str | None:
    """The `KNOB_SYMPTOMS` knob the finding's best fix edits, when the record shows it at work."""
    edits = finding.fixes[0].spec_edits if finding.fixes else {}
    return next((k for k in KNOB_SYMPTOMS if k in edits and knob_measured(run, k)), None)


def link_causes(findings: list[Finding], run: RunRecord) -> None:
    """Set `caused_by` on every finding the record shows to be a consequence of another finding.

    A finding that blames a measured knob (`knob_of`) is a root for that knob's symptoms (the first
    such finding, by `RANK`, roots the others that blame the same knob); everything else follows
    `LINKS`, the most fundamental supported cause first.
    """
    by_code: dict[str, list[Finding]] = {}
    for f in findings:
        by_code.setdefault(f.code, []).append(f)
    knobs = sorted(((f, k) for f in findings if (k := knob_of(f, run)) is not None), key=lambda fk: rank(fk[0].code))
    for effect in findings:
        effect.caused_by = None
        own = knob_of(effect, run)
        knob_root = next((f for f, k in knobs if f is not effect and effect.code in KNOB_SYMPTOMS[k]
                          and (own is None or (own == k and rank(f.code) < rank(effect.code)))), None)
        if knob_root is not None:
            effect.caused_by = knob_root.code
            continue
        if own is not None:
            continue  # its rule measured its own cause
        for lk in causes_of(effect.code):
            cause = next((c for c in by_code.get(lk.cause, []) if _supported(lk, run, c, effect)), None)
            if cause is not None:
                effect.caused_by = cause.code
                break


def _supported(link: Link, run: RunRecord, cause: Finding, effect: Finding) -> bool:
    """The link's check, where a check that cannot read the record counts as no support; never when
    the consequence blames a knob of its own (`blames_its_own_knob`)."""
    try:
        return not blames_its_own_knob(cause, effect) and bool(link.supports(run, cause, effect))
    except (ValueError, IndexError, KeyError, ZeroDivisionError, TypeError):
        return False


def root_of(finding: Finding, findings: list[Finding]) -> Finding:
    """Follow `caused_by` to the finding that has no cause (links only go up in `RANK`: no cycles)."""
    seen = {id(finding)}
    while finding.caused_by is not None:
        parent = next((f for f in findings if f.code == finding.caused_by and f.caused_by != finding.code), None)
        if parent is None or id(parent) in seen:
            break
        seen.add(id(parent))
        finding = parent
    return finding
