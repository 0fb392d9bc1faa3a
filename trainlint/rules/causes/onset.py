"""Onset: the step at which a finding's own quantity went bad, measured on the record.

Why not `Finding.step` alone: rules report the step that best illustrates their finding (TL301 the
blow-up, TL204 its best level, TL502 the last evaluation); which fault came first is a question of
when each quantity crossed its threshold, so it is measured here from the record. A fault of the
setup (data, loss, configured LR, frozen weights) is there `BEFORE_TRAINING`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from trainlint.analysis.gradients import comparable_layers, norm_profile, runaway_index
from trainlint.analysis.loss import first_non_finite
from trainlint.analysis.lr import first_collapse
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding

BEFORE_TRAINING = -1  # onset of a fault present before the first update (data, loss, configured LR)

LARGE_UPDATE_RATIO = 3e-2  # TL301's default `min_update_ratio`: 30x the ~1e-3 rule of thumb
DEAD_FRACTION = 0.5  # TL403's default `max_dead_fraction`
SPIKE_FACTOR = 10.0  # a gradient norm this many times its early median has run away
LR_FLOOR = 0.01  # TL303's default `floor_fraction`: an LR under 1 % of its peak is ~0
VANISHING_RATIO = 1e-3  # TL402's default `max_ratio`
NEVER_WARMED = 0.25  # TL303's default `min_peak_fraction`: an LR that never rose above this never warmed up


def _sampled_steps_where(steps: list[int], values: list[float], crossed: Callable[[float], bool]) -> int | None:
    return next((s for s, v in zip(steps, values, strict=False) if math.isfinite(v) and crossed(v)), None)


def onset_large_updates(run: RunRecord, finding: Finding) -> int | None:
    """First sampled step whose median update ratio (rescaled to optimizer.lr) crossed TL301's limit."""
    limit = finding.evidence.get("min_update_ratio", LARGE_UPDATE_RATIO)
    ur = run.update_ratio
    medians = []
    for step, row in zip(ur.steps, ur.values, strict=False):
        applied = run.lr_series[step] if step < len(run.lr_series) else math.nan
        moved = [v for v in row if math.isfinite(v) and v > 0]
        scale = run.lr / applied if applied > 0 and run.lr > 0 else math.nan
        medians.append(float(np.median(moved)) * scale if moved else math.nan)
    return _sampled_steps_where(ur.steps, medians, lambda v: v >= limit)


def onset_non_finite(run: RunRecord, finding: Finding) -> int | None:
    idx = first_non_finite(run.train_loss)
    return run.steps[idx] if idx is not None and idx < len(run.steps) else finding.step


def onset_grad_runaway(run: RunRecord, finding: Finding) -> int | None:
    """First step whose gradient norm is non-finite or `SPIKE_FACTOR` x its early median (the
    finding's peak step for a norm that only grew)."""
    p = norm_profile(run.grad_norm)
    if p is None:
        return finding.step
    i = runaway_index(run.grad_norm, SPIKE_FACTOR * p.early) if p.early > 0 else len(run.grad_norm)
    return run.steps[i] if i < len(run.steps) else finding.step


def onset_dead_units(run: RunRecord, finding: Finding) -> int | None:
    """First sampled step where a ReLU module was mostly dead; before training when dead at step 0."""
    limit = finding.evidence.get("max_dead_fraction", DEAD_FRACTION)
    df = run.dead_fraction
    worst = [max((v for v in row if math.isfinite(v)), default=math.nan) for row in df.values]
    step = _sampled_steps_where(df.steps, worst, lambda v: v >= limit)
    return BEFORE_TRAINING if step == 0 else (step if step is not None else finding.step)


def onset_output_collapse(run: RunRecord, finding: Finding) -> int | None:
    """The evaluation at which the output stopped depending on the input; before training when it never did."""
    limit = finding.evidence.get("effective_limit")
    first = run.first_batch.output_sensitivity if run.first_batch else None
    if limit is None or first is None or not first >= limit:
        return BEFORE_TRAINING
    e = run.evals
    step = _sampled_steps_where(e.steps, e.output_sensitivity, lambda v: v < limit)
    return step if step is not None else finding.step


def onset_vanishing(run: RunRecord, finding: Finding) -> int | None:
    """First sampled step where the first feature-mixing layer's relative gradient ‖g‖/‖w‖ fell under
    TL402's `max_ratio` of the last one's; before training when it was so at step 0."""
    limit = finding.evidence.get("max_ratio", VANISHING_RATIO)
    grad, param = run.layer_grad_norm, run.layer_param_norm
    names = comparable_layers(run.model, grad.names)
    if len(names) < 2 or names[0] not in param.names or names[-1] not in param.names:
        return finding.step
    at = dict(zip(param.steps, param.values, strict=False))
    gi, gj, pi, pj = (grad.names.index(names[0]), grad.names.index(names[-1]),
                      param.names.index(names[0]), param.names.index(names[-1]))
    for step, g in zip(grad.steps, grad.values, strict=False):
        p = at.get(step)
        if p is None or not all(math.isfinite(v) and v > 0 for v in (g[gi], g[gj], p[pi], p[pj])):
            continue
        if (g[gi] / p[pi]) / (g[gj] / p[pj]) < limit:
            return BEFORE_TRAINING if step == 0 else step
    return finding.step


def onset_lr_collapse(run: RunRecord, finding: Finding) -> int | None:
    """The step the schedule cut the LR to ~0; before training when it never warmed up."""
    if run.lr_series and max(run.lr_series) < NEVER_WARMED * run.lr:
        return BEFORE_TRAINING
    c = first_collapse(run.lr_series, LR_FLOOR) if run.lr_series else None
    return run.steps[c] if c is not None and c < len(run.steps) else finding.step


def onset_before_training(run: RunRecord, finding: Finding) -> int | None:
    return BEFORE_TRAINING


def onset_reported(run: RunRecord, finding: Finding) -> int | None:
    return finding.step


ONSET: dict[str, Callable[[RunRecord, Finding], int | None]] = {
    "TL101": onset_before_training, "TL103": onset_before_training, "TL104": onset_before_training,
    "TL105": onset_before_training, "TL206": onset_before_training, "TL302": onset_before_training,
    "TL405": onset_before_training, "TL201": onset_before_training,
    "TL301": onset_large_updates, "TL202": onset_non_finite, "TL401": onset_grad_runaway,
    "TL403": onset_dead_units, "TL106": onset_output_collapse, "TL303": onset_lr_collapse,
    "TL402": onset_vanishing,
}


def onset(run: RunRecord, finding: Finding) -> int | None:
    """When the finding's quantity went bad (`BEFORE_TRAINING` for a fault in the setup); None: unknown."""
    return ONSET.get(finding.code, onset_reported)(run, finding)
