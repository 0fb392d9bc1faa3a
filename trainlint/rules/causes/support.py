"""Support: whether the record shows a cause producing a consequence (the checks `LINKS` use)."""

from __future__ import annotations

import numpy as np

from trainlint.analysis.attribution import target_scale, trainable_share
from trainlint.analysis.generalization import progress_over_chance
from trainlint.analysis.gradients import not_updated
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding
from trainlint.rules.causes.onset import BEFORE_TRAINING, onset

FITTED_PROGRESS = 0.5  # a train subset half-way from chance to perfect has fitted something
STARVED_LR_FRACTION = 0.1  # an applied LR under a tenth of optimizer.lr hardly moves the weights
FROZEN_SHARE = 0.5  # half the weights frozen: the model that trains is not the one written


def came_first(run: RunRecord, cause: Finding, effect: Finding) -> bool:
    """The cause's quantity crossed its threshold strictly before the consequence's did.

    Why strictly: an update applied at step s shows in the loss at step s + 1 at the earliest,
    so a consequence at the cause's own step (a NaN at step 0, units dead at initialisation) was
    not produced by it. Two faults of the setup (both before training) may explain each other:
    large inputs make the initial loss off.
    """
    a, b = onset(run, cause), onset(run, effect)
    return a is not None and b is not None and (a < b or a == b == BEFORE_TRAINING)


def train_never_fit(run: RunRecord) -> bool:
    """The train subset stayed short of half-way from chance to perfect (or was never measured):
    the model did not fit, so a fault in the optimisation explains a validation metric at chance.
    A model that fits its training data but not new data has another cause (labels, generalisation)."""
    e = run.evals
    if e.chance_metric is None or not e.train_metric:
        return True
    progress = progress_over_chance(e.train_metric[-1], e.chance_metric, e.higher_is_better)
    return not progress >= FITTED_PROGRESS


def lr_starved(run: RunRecord) -> bool:
    """The applied LR stayed under a tenth of optimizer.lr for most of the run (a schedule collapse
    or a warmup that outlasts it): the optimiser hardly moved, whatever the loss did."""
    return bool(run.lr_series) and run.lr > 0 and float(np.median(run.lr_series)) < STARVED_LR_FRACTION * run.lr


def mostly_frozen(run: RunRecord) -> bool:
    """At least half the weights cannot train (requires_grad=False, or outside the optimizer: see
    `analysis.attribution.trainable_share`), parameters got no gradient at all, or at least half the
    layers never moved although they had gradients (`analysis.gradients.not_updated`)."""
    share = trainable_share(run)
    layers = run.update_ratio.names
    return bool(run.params_never_grad) or (share is not None and 1 - share >= FROZEN_SHARE) or (
        bool(layers) and len(not_updated(run)) >= FROZEN_SHARE * len(layers))


def scale_explains(run: RunRecord) -> bool:
    """Unscaled inputs or regression targets explain large updates and gradients: the layer the
    inputs enter moves most (its gradient scales with the inputs), or regression targets ≥ 10 in
    scale (every layer's gradient scales with the error)."""
    if target_scale(run) is not None:  # the same "raw scale" TL103 and the flat-loss diagnosis use
        return True
    ur = run.update_ratio
    if not ur.names or not ur.values:
        return False
    first = np.nanmedian(np.asarray(ur.values, float), axis=0)
    return bool(np.isfinite(first).any()) and int(np.nanargmax(first)) == 0 and len(ur.names) > 1


# Spec keys a consequence's own rule may blame directly, though no rule of the table stands for
# them: weight decay and dropout. When the consequence's best fix edits one of them and the
# cause's fixes do not, its rule measured a cause of its own (decay crushing the weights), so the
# link is not made.
CAUSE_KEYS = ("optimizer.args.weight_decay", "model.args.dropout")


def blames_its_own_knob(cause: Finding, effect: Finding) -> bool:
    """The consequence's best fix edits a `CAUSE_KEYS` knob that none of the cause's fixes touch."""
    if not effect.fixes:
        return False
    own = {k for k in effect.fixes[0].spec_edits if k in CAUSE_KEYS}
    theirs = {k for f in cause.fixes for k in f.spec_edits}
    return bool(own - theirs)


def precedes(run: RunRecord, cause: Finding, effect: Finding) -> bool:
    return came_first(run, cause, effect)


def explains_no_fit(run: RunRecord, cause: Finding, effect: Finding) -> bool:
    """For two end-of-run findings (a flat loss, a metric at chance): the train subset did not fit either."""
    return train_never_fit(run)


def precedes_and_no_fit(run: RunRecord, cause: Finding, effect: Finding) -> bool:
    return came_first(run, cause, effect) and train_never_fit(run)


def starved_by_schedule(run: RunRecord, cause: Finding, effect: Finding) -> bool:
    return lr_starved(run) and train_never_fit(run)


def frozen_model(run: RunRecord, cause: Finding, effect: Finding) -> bool:
    return mostly_frozen(run) and train_never_fit(run)


def scaled_and_precedes(run: RunRecord, cause: Finding, effect: Finding) -> bool:
    return came_first(run, cause, effect) and scale_explains(run)
