"""Attribution: which knob explains what the record shows (weight decay, target scale, schedule, LR,
frozen parameters, regularisation, labels), so rules blame the cause and not a knob that would
merely mask it.

Why here and not in the rules: several rules see the same symptom (a flat loss: TL203, TL302,
TL303, TL502; large updates: TL301, TL204, TL202) and must agree on its cause. Each measurement
is a pure function of the RunRecord returning plain data (`Remedy` instead of rules' `Fix`, so
analysis/ does not import rules/); rules turn remedies into fixes with `Fix(r.text, r.config_key,
r.value)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainlint.analysis.generalization import dropout_drag, fit_progress, progress_over_chance
from trainlint.analysis.gradients import not_updated, weight_share
from trainlint.analysis.loss import divergence, jump_index, progress
from trainlint.analysis.lr import (
    DIVERGED_PROGRESS_LOST,
    DIVERGED_RATIO,
    TARGET_UPDATE_RATIO,
    UpdateRatio,
    drop_steps,
    first_collapse,
    peak_update_ratio,
    stable_update_ratio,
    stays_below,
)
from trainlint.analysis.series import round_sig
from trainlint.probe.record import RunRecord

DECAY_DOMINATES = 1.0  # decay term ≥ the loss gradient's: decay, not the loss, sets where the weights go
TARGET_DECAY_PULL = 0.1  # what a suggested weight decay brings the pull to (a tenth of the gradient's)
SANE_WEIGHT_DECAY = {True: 1e-2, False: 5e-4}  # decoupled (AdamW's default) / coupled (the classic L2 value)
LOW_UPDATE_RATIO = 3e-4  # the median update ratio 3x under CS231n's ~1e-3 (healthy probes: ≥ 1.7e-3)
CRAWL_LAYER_FACTOR = 3.0  # ...with no layer above 3x that (a layer moving normally: gradients fade; TL302)
CRAWL_PEAK_FACTOR = 30.0  # ...and no sample, the first included, above 30x that (TL302's peak_factor)
HIGH_UPDATE_RATIO = 3e-2  # TL301's min_update_ratio: updates that overshoot
COLLAPSE_FLOOR = 0.01  # an applied LR below 1 % of its peak so far is ~0 (TL303's floor_fraction)
COLLAPSE_BEFORE = 0.5  # ...reached before half the planned steps (healthy schedules: after 86 %)
NEVER_WARMED = 0.25  # an applied LR that never exceeds a quarter of optimizer.lr never warmed up
MIN_TRAINABLE_SHARE = 0.1  # fewer trainable weights than this share of the model: most of it is frozen
AT_CHANCE = 0.1  # a metric less than this share of the way from chance to perfect is at chance
FITS = 0.3  # the train subset this far from chance to perfect: the model does fit the training data
HEAVY_DROPOUT = 0.8  # a dropout probability this high is blamed on sight (0.5 is the classic setting, not a fault)
DROPOUT_DRAG = 0.03  # training-mode loss this share of the prior's loss above the eval-mode loss: dropout holds it up
MEMORISE_RATIO = 10.0  # trainable parameters per training sample from which a model could memorise its data
MIN_HISTORY = 20  # fewest training steps a judgement on the run's course needs (the rules' min_steps)
RAW_TARGET_RMS = 10.0  # regression targets whose RMS exceeds this are on a raw scale (standardised: ~1)


@dataclass(frozen=True)
class Remedy:
    """One piece of advice, as data: a spec edit when `config_key` is set (rules make a `Fix` of it)."""

    text: str
    config_key: str | None = None
    value: Any = None


@dataclass(frozen=True)
class DecayPull:
    """How hard weight decay pulls the weights to zero, against the loss gradient, at the start.

    Attributes:
        pull: decay term / gradient term, median over layers (≥ 1: decay dominates the update).
            Coupled (SGD/Adam `weight_decay`, L2 added to the gradient): wd·‖w‖ / ‖g‖, the
            recorded ‖g‖ being the loss gradient alone (taken before `optimizer.step` adds the
            decay). Decoupled (AdamW): lr·wd against the rest of the first update ratio.
        shrink_per_step: share of ‖w‖ decay alone removes per step: lr·wd (SGD, AdamW); for
            coupled Adam the normalised step lets decay move each weight by up to ~lr.
        coupled: L2 in the gradient (True) or decoupled (False).
        weight_decay: the configured value.
        suggested: the weight decay to set (see `suggest_weight_decay`).
        units_slip: the value looks like a units slip (≥ 0.5 coupled, ≥ 5 decoupled: e.g. 5 for 5e-4).
        step: the sampled step measured.
    """

    pull: float
    shrink_per_step: float
    coupled: bool
    weight_decay: float
    suggested: float
    units_slip: bool
    step: int

    @property
    def dominates(self) -> bool:
        return self.pull >= DECAY_DOMINATES

    @property
    def gradient_share(self) -> float:
        """Share of the measured update ratio that the loss gradient (not decay) accounts for."""
        return 1.0 / (1.0 + self.pull)

    def remedy(self) -> Remedy:
        why = (f"it pulls the weights to zero {self.pull:.3g}x as hard as the loss gradient moves them"
               + (f" and alone shrinks them by {self.shrink_per_step:.0%} per step" if self.shrink_per_step >= 5e-3
                  else ""))
        slip = f"; {self.weight_decay:g} looks like {self.suggested:g} written in the wrong units" \
            if self.units_slip else ""
        return Remedy(f"lower optimizer.args.weight_decay from {self.weight_decay:g} to {self.suggested:g}: "
                      f"{why}{slip}", "optimizer.args.weight_decay", self.suggested)


def suggest_weight_decay(wd: float, pull: float, coupled: bool) -> tuple[float, bool]:
    """(weight decay to suggest, whether the current value looks like a units slip).

    A value ≥ 0.5 (coupled) or ≥ 5 (decoupled) is no regularisation anyone means; it reads as
    5 for 5e-4: a thousandth of it, capped at the usual value. Otherwise the value that brings the
    pull to `TARGET_DECAY_PULL` (a deliberate setting, only too strong for this model).
    """
    if wd >= (0.5 if coupled else 5.0):
        return round_sig(min(wd / 1000, SANE_WEIGHT_DECAY[not coupled])), True
    return round_sig(wd * TARGET_DECAY_PULL / pull), False


def _first_common_row(run: RunRecord) -> tuple[int, dict[str, float], dict[str, float]] | None:
    params, grads = run.layer_param_norm, run.layer_grad_norm
    common = sorted(set(params.steps) & set(grads.steps))
    if not common:
        return None
    s = common[0]
    w = dict(zip(params.names, params.values[params.steps.index(s)], strict=True))
    g = dict(zip(grads.names, grads.values[grads.steps.index(s)], strict=True))
    return s, w, g


def decay_pull(run: RunRecord) -> DecayPull | None:
    """Weight decay's pull against the loss gradient at the first sampled step; None without decay
    or without the norms it needs.

    Why the first sample: a decay that dominates shrinks the weights until the gradient is all
    that is left, so later samples measure the damage, not the setting.
    """
    wd = run.weight_decay
    if not wd > 0:
        return None
    coupled = not run.decoupled_weight_decay
    if coupled:
        row = _first_common_row(run)
        if row is None:
            return None
        step, w, g = row
        pulls = [wd * w[n] / g[n] for n in w if n in g and math.isfinite(w[n]) and math.isfinite(g[n]) and g[n] > 0]
        if not pulls:
            return None
        pull = float(np.median(pulls))
        lr = run.lr_series[step] if step < len(run.lr_series) else run.lr
        sign_step = run.optimizer_class in {"Adam", "NAdam", "RAdam", "Adamax", "Adagrad", "RMSprop"}
        shrink = lr * wd if not sign_step else math.nan  # Adam normalises: decay's step is not lr·wd
    else:
        if not run.update_ratio.values:
            return None
        step = run.update_ratio.steps[0]
        finite = [r for r in run.update_ratio.values[0] if math.isfinite(r) and r > 0]
        if not finite:
            return None
        lr = run.lr_series[step] if step < len(run.lr_series) else run.lr
        shrink = lr * wd
        pull = shrink / max(float(np.median(finite)) - shrink, 0.1 * shrink)
    if not (math.isfinite(pull) and pull > 0):
        return None  # all-zero weights (a zeros init): decay pulls on nothing, there is no ratio to judge
    suggested, slip = suggest_weight_decay(wd, pull, coupled)
    return DecayPull(pull, shrink, coupled, wd, suggested, slip, step)


def decay_dominance(run: RunRecord) -> DecayPull | None:
    """`decay_pull` when weight decay dominates the update (pull ≥ `DECAY_DOMINATES`), else None."""
    d = decay_pull(run)
    return d if d is not None and d.dominates else None


@dataclass(frozen=True)
class TargetScale:
    """Regression targets on a raw scale: what a model must output, and what that does to gradients.

    Attributes:
        rms: the largest per-target RMS √(mean² + std²) (standardised targets: ~1).
        mean, std: that target's mean and standard deviation.
        is_builtin: a built-in dataset (advice names `dataset.args`) or the user's own data.
    """

    rms: float
    mean: float
    std: float
    is_builtin: bool

    def remedies(self) -> list[Remedy]:
        """Standardise the targets first (for built-ins, a `dataset.args` edit when one exists)."""
        code = (f"standardise the targets with train-split statistics, y = (y - {self.mean:.4g}) / {self.std:.3g}, "
                "and un-scale the predictions the same way (sklearn StandardScaler on y)")
        if self.is_builtin:
            code += "; this built-in dataset has no target-scaling argument: load it through a `target:` dataset"
        out = [Remedy(code, "dataset")]
        out.append(Remedy(f"or initialise the output layer's bias to the target mean {self.mean:.4g} and use a "
                          "loss less sensitive to scale (huber/smooth_l1)"))
        return out


def target_scale(run: RunRecord) -> TargetScale | None:
    """The raw scale of regression targets when it is far from unit (RMS > `RAW_TARGET_RMS`); else None.

    Why it matters: an MSE gradient at the output is 2(ŷ - y), on the targets' scale; with targets
    ~150 the gradients are ~150x those of standardised targets, so an SGD step that suits the
    model overshoots, and an adaptive optimizer (step ~lr per weight) needs ~150/lr steps to reach
    the output scale at all.
    """
    d = run.data
    if run.task != "regression" or not d.target_rms:
        return None
    j = int(np.argmax(d.target_rms))
    rms = float(d.target_rms[j])
    if not (math.isfinite(rms) and rms > RAW_TARGET_RMS):
        return None
    mean = float(d.target_mean[j]) if d.target_mean and j < len(d.target_mean) else math.nan
    std = float(d.target_std[j]) if d.target_std and j < len(d.target_std) else math.nan
    return TargetScale(rms, mean, std, d.is_builtin)


# Optimizers whose step is normalised by the gradient's own scale: raw targets do not enlarge their steps.
SCALE_FREE_OPTIMIZERS = frozenset({"Adam", "AdamW", "NAdam", "RAdam", "Adamax", "Adagrad", "Adadelta", "RMSprop"})


def target_scale_drives_steps(run: RunRecord) -> TargetScale | None:
    """`target_scale` when it also sets the size of the steps: an optimizer whose step follows the
    gradient's scale (SGD and the like; not Adam-style normalised steps, whose size the LR alone sets).

    Why: with SGD the targets' scale multiplies every step, so a lower LR only compensates for it;
    with Adam a blow-up on raw targets is the LR's own doing.
    """
    ts = target_scale(run)
    return ts if ts is not None and run.optimizer_class not in SCALE_FREE_OPTIMIZERS else None


def _first_update_ratio(run: RunRecord) -> float:
    """Median over layers of the first sampled update ratio; NaN when none was recorded."""
    rows = run.update_ratio.values
    finite = [r for r in rows[0] if math.isfinite(r) and r > 0] if rows else []
    return float(np.median(finite)) if finite else math.nan


def target_scale_harm(run: RunRecord) -> str | None:
    """What raw-scale targets did to this run, in words; None when the run shows no harm (or has no loss).

    Harm: the loss turned non-finite, jumped above 3x its start, climbed back (TL204's test), or
    fell less than 10 % (TL203's); or the validation MAE removed under 10 % of the mean
    predictor's error. One more is seen on the first step (so `check` sees it too): under an
    SGD-like optimizer, whose step follows the gradient's scale, the first update moved the
    weights by `HIGH_UPDATE_RATIO` of their norm or more. The course of the run needs
    `MIN_HISTORY` steps. Why consequence and not scale alone: Adam at a sound LR fits raw diabetes
    targets (~150) well, and a healthy run must stay quiet.
    """
    loss = run.train_loss
    bad = next((i for i, v in enumerate(loss) if not math.isfinite(v)), None)
    if bad is not None:  # at step 0, before any update, it is the data or the loss (TL104/TL202), not scale
        return f"the loss became non-finite at step {run.steps[bad] if bad < len(run.steps) else bad}" if bad else None
    first = _first_update_ratio(run)
    if target_scale_drives_steps(run) is not None and first >= HIGH_UPDATE_RATIO:  # seen on step one (`check`)
        size = f"{first:.2g}x" if first >= 1 else f"{first:.0%} of"
        return f"the first {run.optimizer_class or 'optimizer'} step moved the weights by {size} their norm"
    if len(loss) < MIN_HISTORY:
        return None  # `check`, or a run cut short: no training to judge
    jump = jump_index(loss)
    if jump is not None:
        return f"the loss jumped above 3x its start at step {run.steps[jump]}"
    d = divergence(loss)
    if d is not None and d.ratio >= DIVERGED_RATIO and d.progress_lost >= DIVERGED_PROGRESS_LOST:
        return f"the loss climbed back to {d.ratio:.1f}x its best level"
    p = progress(loss)
    if p is not None and p.relative_drop < 0.1:
        return f"the loss fell only {max(p.relative_drop, 0.0):.1%}"
    _, val = _train_val_progress(run)
    if val < AT_CHANCE:
        return f"validation {run.evals.metric_name} removed only {max(val, 0.0):.0%} of the mean predictor's error"
    return None


def before_lowering_lr(run: RunRecord) -> list[Remedy]:
    """Remedies that come before "lower the LR" for a loss that blew up, climbed or swung.

    Regression targets on a raw scale make the gradients, and with SGD-like optimizers the steps,
    that large (standardise them; TL103 has the evidence); weight decay that dominates the update makes the steps that large, and
    with coupled SGD at lr·wd > 2 makes every weight flip sign and grow (lower the decay). A
    lower LR would hide either and keep the cause. Empty when neither is measured.
    """
    out: list[Remedy] = []
    ts = target_scale_drives_steps(run)
    if ts is not None:
        out.append(Remedy(f"standardise the regression targets first (RMS {ts.rms:.3g}: the gradients are on their "
                          f"scale; see TL103): y = (y - {ts.mean:.4g}) / {ts.std:.3g}", "dataset"))
    d = decay_dominance(run)
    if d is not None:
        out.append(d.remedy())
    return out


@dataclass(frozen=True)
class ScheduleCollapse:
    """The applied LR fell to ~0 early (`collapse_step` set) or never warmed up (`never_warmed`)."""

    peak_fraction: float  # highest applied LR / optimizer.lr
    collapse_step: int | None
    never_warmed: bool


def schedule_collapse(run: RunRecord, never_warmed: float = NEVER_WARMED) -> ScheduleCollapse | None:
    """The schedule's own failure, read from the applied LR alone (whatever the loss did); None if fine.

    Collapsed: below `COLLAPSE_FLOOR` of its peak before `COLLAPSE_BEFORE` of the planned steps,
    and staying there a fifth of the run (a restart that climbs back is not a collapse).
    """
    lrs = run.lr_series
    if len(lrs) < 10 or run.lr <= 0:
        return None
    peak = max(lrs)
    if peak < never_warmed * run.lr and run.stop_reason == "completed":
        return ScheduleCollapse(peak / run.lr, None, True)
    c = first_collapse(lrs, COLLAPSE_FLOOR)
    if c is None or c >= COLLAPSE_BEFORE * max(run.steps_planned, 1):
        return None
    if not stays_below(lrs, c, COLLAPSE_FLOOR * max(lrs[: c + 1]), max(1, int(0.2 * run.steps_planned))):
        return None
    return ScheduleCollapse(peak / run.lr, c, False)


def steps_per_epoch(run: RunRecord) -> int | None:
    """Optimizer steps per pass over the training split; None when unknown."""
    return math.ceil(run.data.n_train / run.batch_size) if run.data.n_train and run.batch_size else None


def looks_per_epoch(run: RunRecord, collapse_step: int) -> bool:
    """Whether the schedule reads as written in epochs but stepped per optimizer step.

    Its LR changed more often than once per epoch (drops closer than an epoch apart, or a
    continuous decay), and stepped once per epoch instead it would reach the same LR only after
    `collapse_step` epochs: beyond `COLLAPSE_BEFORE` of the probe, i.e. no longer early.
    """
    spe = steps_per_epoch(run)
    if not spe or spe <= 1:
        return False
    drops = drop_steps(run.lr_series[: collapse_step + 1])
    if not drops:
        return False
    gaps = np.diff([0, *drops])
    return bool(np.min(gaps) < spe) and collapse_step * spe >= COLLAPSE_BEFORE * max(run.steps_planned, 1)


def largest_layer_ratio(measured: UpdateRatio) -> float:
    """The largest per-layer typical update ratio: small only when every layer crawls.

    Why the largest: with vanishing gradients the first layers' ratios are tiny while the last
    layer's are normal; that is not a low LR. NaN when nothing usable was recorded.
    """
    return max(measured.by_layer.values()) if measured.by_layer else math.nan


def trainable_share(run: RunRecord) -> float | None:
    """Share of the model's weights that can train; None when the counts were not recorded.

    Parameters with requires_grad=False do not count, nor (by their share of the weight norm)
    layers that get gradients but are outside the optimizer (`not_updated`).
    """
    m = run.model
    if not m.n_params > 0:
        return None
    outside = not_updated(run)
    return m.n_trainable / m.n_params * (1 - weight_share(run, outside) if outside else 1.0)


@dataclass(frozen=True)
class FlatLossCause:
    """The most likely reason a run made no progress, from the record (a differential diagnosis).

    Attributes:
        kind: `schedule` (the applied LR collapsed or never warmed up), `weight_decay` (decay
            dominates the update), `frozen` (most parameters have requires_grad=False),
            `target_scale` (regression targets on a raw scale), `lr_too_low` (every layer's
            update ratio ≪ 1e-3), `lr_too_high` (update ratios ≥ 3e-2 before any blow-up), `labels` (the train subset is fitted, validation stays at chance: the labels
            do not carry over), `regularisation` (even the train subset stays at chance while
            the weights move at a healthy rate, and dropout or weight decay is measured),
            `cannot_fit` (the same without a regulariser: the data first when the model could
            memorise its training set, else capacity),
            or `unexplained` (no measurement points anywhere: check the data first).
        summary: one clause with the numbers, for a finding's message.
        config_key: the spec field to blame, when one is.
        remedies: ordered advice, best first.
        evidence: the numbers behind it.
    """

    kind: str
    summary: str
    config_key: str | None
    remedies: list[Remedy]
    evidence: dict[str, Any] = field(default_factory=dict)


CHECK_DATA = Remedy("check that the targets belong to the inputs: try to overfit a single batch")


def _dropout_blamed(run: RunRecord) -> bool:
    """Dropout is what keeps the model from fitting: a p ≥ `HEAVY_DROPOUT`, or a measured drag.

    Why the drag: dropout is off in eval mode, so a training-mode loss well above the same
    model's eval-mode train-subset loss shows the noise, not the data, setting the training loss
    (dropout 0.95: 0.06 of the prior's loss; healthy runs with p=0.5 stay under it once they fit).
    Functional `F.dropout` has no module, so the drag is its only evidence.
    """
    heavy = max(run.model.dropout.values(), default=0.0) >= HEAVY_DROPOUT
    return heavy or dropout_drag(run) >= DROPOUT_DRAG


def _dropout_words(run: RunRecord) -> str:
    if not run.model.dropout:
        return f", with the training-mode loss {dropout_drag(run):.0%} of the prior's above the eval-mode loss (dropout)"
    name, p = max(run.model.dropout.items(), key=lambda kv: kv[1])
    return f", with dropout p={p:g} (`{name}`)"


def _dropout_remedy(run: RunRecord) -> Remedy:
    """Lower the dropout that the measurements blame: the built-in's argument, the user's modules, or F.dropout."""
    p = max(run.model.dropout.values(), default=None)
    if run.model.is_builtin and p is not None:
        return Remedy(f"lower model.args.dropout from {p:g} to 0.1: at p={p:g} almost no signal reaches the next "
                      "layer in training", "model.args.dropout", 0.1)
    if p is not None:
        shown = ", ".join(f"`{n}` (p={q:g})" for n, q in sorted(run.model.dropout.items(), key=lambda kv: -kv[1])[:3])
        return Remedy(f"lower the dropout probability of {shown} to ~0.1 (p is the share of units *dropped*, not "
                      "kept)", "model")
    return Remedy("lower the dropout probability in forward() (`F.dropout(x, p)`: p is the share of units *dropped*, "
                  "not kept) to ~0.1", "model")


def _cannot_fit(run: RunRecord, evidence: dict[str, Any]) -> FlatLossCause:
    """The model does not fit even its training data while the weights move at a healthy rate.

    Dropout when it is measured (`_dropout_blamed`); weight decay when there is some; the data
    when the model has enough parameters to memorise its training set (`MEMORISE_RATIO`: failing
    to fit then is not a matter of size); capacity otherwise.
    """
    capacity = Remedy("give the model more capacity (more or wider hidden layers) or train longer",
                      "model.args" if run.model.is_builtin else "model")
    held = "even the train subset stays at chance while the weights move at a healthy rate"
    if _dropout_blamed(run):
        return FlatLossCause("regularisation", held + _dropout_words(run),
                             "model.args.dropout" if run.model.is_builtin and run.model.dropout else "model",
                             [_dropout_remedy(run), CHECK_DATA], evidence)
    if run.weight_decay > 0:
        return FlatLossCause("regularisation", held + f", with weight decay {run.weight_decay:g}",
                             "optimizer.args.weight_decay",
                             [Remedy("remove excess regularisation: weight decay to 0 while debugging",
                                     "optimizer.args.weight_decay", 0.0), CHECK_DATA, capacity], evidence)
    n_train, n_weights = run.data.n_train, run.model.n_trainable
    if n_train and n_weights >= MEMORISE_RATIO * n_train:
        return FlatLossCause("cannot_fit", held + f", although its {n_weights:,} trainable weights could memorise "
                             f"the {n_train:,} training samples", None,
                             [CHECK_DATA, Remedy("train longer, or check that the loss suits the outputs (TL206)"),
                              capacity], evidence)
    return FlatLossCause("cannot_fit", held + "; the model may be too small", capacity.config_key,
                         [capacity, CHECK_DATA], evidence)


def _train_val_progress(run: RunRecord) -> tuple[float, float]:
    e = run.evals
    if e.chance_metric is None:
        return math.nan, math.nan
    train = progress_over_chance(e.train_metric[-1], e.chance_metric, e.higher_is_better) if e.train_metric \
        else math.nan
    val = progress_over_chance(e.val_metric[-1], e.chance_metric, e.higher_is_better) if e.val_metric else math.nan
    return train, val


def _schedule_cause(run: RunRecord, s: ScheduleCollapse) -> FlatLossCause:
    if s.never_warmed:
        return FlatLossCause("schedule", f"the applied LR never exceeded {s.peak_fraction:.1%} of optimizer.lr",
                             "scheduler", [Remedy("shorten the warmup or remove the scheduler (see TL303)",
                                                  "scheduler")], {"peak_lr_fraction": s.peak_fraction})
    c = s.collapse_step or 0
    text = "step the scheduler once per epoch (see TL303)" if looks_per_epoch(run, c) else \
        "slow the schedule down or remove it (see TL303)"
    key, value = ("scheduler.interval", "epoch") if looks_per_epoch(run, c) else ("scheduler", None)
    return FlatLossCause("schedule", f"the schedule cut the LR below {COLLAPSE_FLOOR:.0%} of its peak at step {c}",
                         key, [Remedy(text, key, value), CHECK_DATA], {"collapse_step": c})


def flat_loss_cause(run: RunRecord, low_update_ratio: float = LOW_UPDATE_RATIO,
                    never_warmed: float = NEVER_WARMED) -> FlatLossCause:
    """Why a run made no progress (flat loss, or validation at chance), decided from the record.

    The order is the order of mechanisms: a knob that stops the weights from moving usefully
    (schedule LR ~0, decay dominating, frozen weights, raw target scale, tiny updates) explains a
    flat loss whatever the data are; only when none is measured do the train and validation
    metrics decide between labels that do not carry over and a model held at chance by
    regularisation; the data come first only when the evidence points there.

    Args:
        run: the record.
        low_update_ratio: median update ratio below which the LR is too low (with no layer above
            `CRAWL_LAYER_FACTOR` and no sample above `CRAWL_PEAK_FACTOR` times it, as TL302).
        never_warmed: an applied LR that never exceeds this share of optimizer.lr never warmed up.
    """
    s = schedule_collapse(run, never_warmed)
    if s is not None:
        return _schedule_cause(run, s)
    d = decay_dominance(run)
    if d is not None:
        return FlatLossCause("weight_decay", f"weight decay pulls the weights to zero {d.pull:.3g}x as hard as the "
                             "loss gradient moves them", "optimizer.args.weight_decay", [d.remedy(), CHECK_DATA],
                             {"decay_pull": d.pull, "weight_decay": d.weight_decay,
                              "suggested_weight_decay": d.suggested})
    share = trainable_share(run)
    if share is not None and share < MIN_TRAINABLE_SHARE:
        return FlatLossCause(
            "frozen", f"only {share:.1%} of the parameters are trainable ({run.model.n_trainable:,} of "
            f"{run.model.n_params:,})", "model",
            [Remedy("unfreeze the layers that must learn (requires_grad=True; check `freeze`/`requires_grad_(False)` "
                    "calls and which parameters reach the optimizer)", "model"), CHECK_DATA],
            {"trainable_share": share})
    ts = target_scale(run)
    if ts is not None:
        return FlatLossCause("target_scale", f"the regression targets are on a raw scale (RMS {ts.rms:.3g})",
                             "dataset", [Remedy(r.text, r.config_key, r.value) for r in ts.remedies()],
                             {"target_rms": ts.rms})
    measured = stable_update_ratio(run)
    ratio, largest = measured.median, largest_layer_ratio(measured)
    if ratio < low_update_ratio and largest < CRAWL_LAYER_FACTOR * low_update_ratio \
            and peak_update_ratio(run) < CRAWL_PEAK_FACTOR * low_update_ratio:  # NaN is not evidence
        new_lr = round_sig(run.lr * 1e-3 / ratio)
        return FlatLossCause("lr_too_low", f"the weights move only {ratio:.1e} of their norm per step (median over "
                             f"layers, at most {largest:.1e})", "optimizer.lr",
                             [Remedy(f"raise optimizer.lr from {run.lr:g} to {new_lr:g} (brings the update ratio "
                                     f"{ratio:.1e} to ~1e-3; see TL302)", "optimizer.lr", new_lr), CHECK_DATA],
                             {"update_ratio_median": ratio, "update_ratio_largest_layer": largest,
                              "suggested_lr": new_lr})
    if ratio >= HIGH_UPDATE_RATIO:
        return FlatLossCause("lr_too_high", f"the weights move {ratio:.1e} of their norm per step (median over "
                             "layers): updates overshoot", "optimizer.lr",
                             [Remedy("lower optimizer.lr (see TL301 for the value)", "optimizer.lr"), CHECK_DATA],
                             {"update_ratio_median": ratio})
    train, val = _train_val_progress(run)
    p = progress(run.train_loss)
    train_fell = p is not None and p.relative_drop >= 0.1
    evidence = {"train_progress": train, "val_progress": val, "update_ratio_median": ratio}
    if (train >= FITS or (math.isnan(train) and train_fell)) and not val >= AT_CHANCE:
        return FlatLossCause("labels", "the model fits the training data but validation stays at chance", None,
                             [Remedy("check that the targets belong to the inputs (labels shuffled or misaligned "
                                     "with the inputs, a split that leaks nothing between train and validation)"),
                              Remedy("reduce memorisation: more data, a smaller model, more regularisation")],
                             evidence)
    if train < AT_CHANCE or fit_progress(run) < AT_CHANCE:  # by the metric, or by the loss against the prior's
        return _cannot_fit(run, evidence | {"fit_progress": fit_progress(run), "dropout_drag": dropout_drag(run),
                                            "dropout_max": max(run.model.dropout.values(), default=None)})
    gradients = Remedy("check that gradients reach the weights (TL402, TL405) and that the loss suits the "
                       "outputs (TL206)")
    if ratio < TARGET_UPDATE_RATIO:  # below the rule of thumb, short of crawling: the LR is a suspect, not proven
        return FlatLossCause("unexplained", f"no setting is proven at fault; the update ratio {ratio:.1e} is under "
                             "the ~1e-3 rule of thumb", None,
                             [Remedy(f"try a higher optimizer.lr: the update ratio {ratio:.1e} is under the ~1e-3 "
                                     "rule of thumb (run `trainlint lr-find` to pick it)", "optimizer.lr"),
                              CHECK_DATA, gradients], evidence)
    return FlatLossCause("unexplained", "no optimiser setting explains it", None, [CHECK_DATA, gradients], evidence)
