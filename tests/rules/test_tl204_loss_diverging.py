"""TL204 loss-diverging on fabricated loss histories."""

import math

import pytest
from loss_factory import decaying, noisy, record

from trainlint.rules.engine import evaluate
from trainlint.rules.loss.loss_diverging import loss_diverging


def fall_then_rise(best: float, final: float, start: float = 2.3, n: int = 100) -> list[float]:
    """Falls linearly from `start` to `best` by step 20, holds it to step 40, climbs to `final`
    by step 70, and stays there."""
    out = []
    for i in range(n):
        if i < 20:
            out.append(start + (best - start) * i / 20)
        elif i < 40:
            out.append(best)
        elif i < 70:
            out.append(best + (final - best) * (i - 40) / 30)
        else:
            out.append(final)
    return out


CLIMB = fall_then_rise(0.5, 2.0)  # 4x the best, all the progress undone

FIRES = [
    ("fall_then_climb", record(CLIMB)),
    ("ratio_just_above", record(fall_then_rise(1.0, 1.55))),  # 1.55x, undid 42 % of the 1.3 gained
    ("never_improved_climbs", record([2.3 * (1 + i / 50) for i in range(100)])),
    ("noisy_climb", record(noisy(CLIMB, 0.2))),
]

QUIET = [
    ("healthy_decay", record(noisy(decaying(100), 0.2))),
    ("ratio_just_below", record(fall_then_rise(1.0, 1.45))),
    ("near_zero_wobble", record(fall_then_rise(0.01, 0.03))),  # 3x, but 1 % of the progress
    ("spike_that_recovers", record(decaying(60) + [50.0] * 3 + decaying(37, 0.2, 0.1))),
    ("non_finite", record(CLIMB[:80] + [math.nan])),
    ("too_short", record(CLIMB[::7][:15])),
]


def findings(run):
    found, skipped = evaluate(run, rules=[loss_diverging])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL204" and f.severity.value == "error"
    assert f.evidence["ratio"] >= f.evidence["min_ratio"] == 1.5
    assert f.config_key == f.fixes[0].config_key == "optimizer.lr"


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_evidence_and_step_of_the_best_level():
    (f,) = findings(record(CLIMB))
    assert f.evidence["best_loss"] == pytest.approx(0.5, rel=0.05)
    assert f.evidence["final_loss"] == pytest.approx(2.0)
    assert f.evidence["ratio"] == pytest.approx(4.0, rel=0.05)
    assert f.evidence["initial_loss"] == pytest.approx(2.12)  # median of the first 5 steps
    assert f.evidence["progress_lost"] == pytest.approx(1.5 / 1.62)
    assert 20 <= f.step <= 40 and "climbed to 2" in f.message


def test_lr_fix_from_update_ratio_before_the_climb():
    # 5e-2 before the best level, tiny afterwards (a dead network): the early ratios decide.
    (f,) = findings(record(CLIMB, lr=0.5, ratio=[0.05] * 4 + [1e-5] * 6))
    assert f.evidence["update_ratio_median"] == pytest.approx(0.05)
    assert f.fixes[0].value == pytest.approx(0.01)  # 0.5 * 1e-3 / 0.05


def test_lr_fix_at_least_the_growth_factor_when_ratios_look_normal():
    (f,) = findings(record(CLIMB, lr=0.01, ratio=1e-4))
    assert f.fixes[0].value == pytest.approx(0.003)  # 0.01 / 4x growth, 1 significant digit


def test_clip_fix_from_norms_before_the_climb():
    (f,) = findings(record(CLIMB, grad_norm=[2.0] * 40 + [50.0] * 60))
    clip = next(x for x in f.fixes if x.config_key == "probe.clip_grad_norm")
    assert clip.value == 2.0 and clip.applicable


def test_warmup_fix_is_a_complete_spec_edit():
    from trainlint.probe.record import RunRecord
    from trainlint.rules.loss.loss_diverging import _warmup_fix

    bare = _warmup_fix(RunRecord(steps_planned=200), best_step=25)
    assert bare.applicable and bare.spec_edits == {"scheduler.name": "none", "scheduler.warmup_steps": 50}
    assert (bare.config_key, bare.value) == ("scheduler.name", "none")
    scheduled = _warmup_fix(RunRecord(steps_planned=200, scheduler_class="CosineAnnealingLR"), best_step=5)
    assert scheduled.spec_edits == {"scheduler.warmup_steps": 12}
    enough = _warmup_fix(RunRecord(steps_planned=200, scheduler_class="X", warmup_steps=100), best_step=5)
    assert not enough.applicable


def test_weight_decay_that_dominates_comes_before_the_lr():
    """Coupled SGD decay at lr·wd > 2 flips every weight's sign and grows it: the decay is the cause."""
    from trainlint.probe.record import LayerSeries

    run = record(CLIMB, lr=0.5, ratio=0.05)
    s = run.update_ratio.steps
    run.layer_param_norm = LayerSeries(list(run.update_ratio.names), list(s), [[1.4] * 3 for _ in s])
    run.layer_grad_norm = LayerSeries(list(run.update_ratio.names), list(s), [[0.1] * 3 for _ in s])
    run.optimizer_class, run.weight_decay = "SGD", 5.0
    (f,) = findings(run)
    assert f.config_key == f.fixes[0].config_key == "optimizer.args.weight_decay"
    assert f.fixes[1].config_key == "optimizer.lr"
    run.weight_decay = 5e-4
    (g,) = findings(run)
    assert g.config_key == g.fixes[0].config_key == "optimizer.lr"
