"""TL205 loss-oscillating on fabricated loss histories."""

import math
import random

import pytest
from loss_factory import decaying, noisy, record

from trainlint.rules.engine import evaluate
from trainlint.rules.loss.loss_oscillating import loss_oscillating


def bouncing(low: float, high: float, start: float = 2.3, n: int = 100, seed: int = 1) -> list[float]:
    """Starts at `start`, then every loss drawn uniformly from [low, high], reproducibly."""
    rng = random.Random(seed)
    return [start] * 5 + [low + (high - low) * rng.random() for _ in range(n - 5)]


BOUNCE = bouncing(1.4, 3.0)  # median ~2.2, p10-p90 ~1.3 (spread ~0.6), ~40 % above 2.3

FIRES = [
    ("bouncing", record(BOUNCE, batch_size=4)),
    ("spread_just_above", record(bouncing(1.88, 2.92, start=2.35))),  # spread 0.305
    ("rare_overshoots_just_above", record([2.3] * 50 + ([1.2] * 8 + [3.0] * 2) * 5)),
    ("metric_bounces", record(BOUNCE, val_metric=[0.17, 0.47, 0.31, 0.17])),  # bounce 0.33
    ("metric_bounce_just_above", record(BOUNCE, val_metric=[0.2, 0.3, 0.2, 0.2])),  # 0.111
]

QUIET = [
    ("healthy_noisy_decay", record(noisy(decaying(100), 0.5))),  # wide swings, but far below the start
    ("spread_just_below", record(bouncing(1.92, 2.88, start=2.35))),  # spread 0.282
    ("rare_overshoots_just_below", record([2.3] * 50 + ([1.2] * 10 + [3.0]) * 4 + [1.2] * 6)),
    ("flat_low_noise", record(noisy([2.3] * 100, 0.02))),
    ("progress_despite_swings", record([2.3] * 4 + [0.2, 0.2, 0.2, 2.5] * 24)),  # median fell 91 %
    ("above_the_start_for_good", record([2.3] * 5 + bouncing(3.0, 6.0)[5:])),  # diverged: TL204
    ("metric_bounce_just_below", record(BOUNCE, val_metric=[0.2, 0.28, 0.2, 0.2])),  # 0.089
    ("steady_metric_minibatch_noise", record(BOUNCE, val_metric=[0.15, 0.16, 0.17, 0.18])),
    ("non_finite", record(BOUNCE[:60] + [math.nan])),
    ("too_short", record(BOUNCE[:30])),
]


def findings(run):
    found, skipped = evaluate(run, rules=[loss_oscillating])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL205" and f.severity.value == "warning"
    assert f.evidence["relative_spread"] >= f.evidence["min_spread"] == 0.3
    assert f.evidence["above_start"] >= f.evidence["min_above_start"] == 0.1
    assert f.config_key == f.fixes[0].config_key == "optimizer.lr"


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_evidence_and_fixes_for_a_small_batch():
    (f,) = findings(record(BOUNCE, lr=0.5, ratio=0.05, batch_size=4))
    assert 0.5 < f.evidence["relative_spread"] < 0.8 and 0.3 < f.evidence["above_start"] < 0.5
    assert f.step == 50 and "above its initial 2.3" in f.message
    assert f.fixes[0].value == pytest.approx(0.01)  # 0.5 * 1e-3 / 0.05
    batch = f.fixes[1]
    assert batch.config_key == "dataset.batch_size" and batch.value == 16


def test_lr_fix_shrinks_by_the_swing_when_ratios_look_normal():
    (f,) = findings(record(BOUNCE, lr=0.1, ratio=1e-4))
    spread = f.evidence["relative_spread"]
    assert f.fixes[0].value == pytest.approx(float(f"{0.1 / (1 + spread):.0e}"))
    assert all(x.config_key != "dataset.batch_size" for x in f.fixes)  # batch 64 is not small


def test_metric_bounce_evidence():
    (f,) = findings(record(BOUNCE, val_metric=[0.17, 0.47, 0.31, 0.17]))
    assert f.evidence["metric_bounce"] == pytest.approx(0.3 / 0.9)
    assert f.evidence["min_metric_bounce"] == 0.1


def test_message_says_rose_when_the_loss_ended_higher():
    """A negative drop is a rise: "rose 8%", never "fell only -8%"."""
    (f,) = findings(record(BOUNCE))
    assert f.evidence["relative_drop"] < 0
    assert f.message.endswith(f"and rose {-f.evidence['relative_drop']:.0%} overall") and "-" not in f.message[-20:]
    (g,) = findings(record([2.3] * 50 + ([1.2] * 8 + [3.0] * 2) * 5))
    assert g.message.endswith("and fell only 48% overall")


def test_raw_regression_targets_come_before_the_lr():
    run = record(BOUNCE, lr=0.5, ratio=0.05)
    run.optimizer_class = "SGD"
    run.task, run.data.target_rms, run.data.target_mean, run.data.target_std = "regression", [170.0], [151.0], [77.0]
    (f,) = findings(run)
    assert "standardise the regression targets" in f.fixes[0].text and f.config_key == "dataset"
    assert f.fixes[1].config_key == "optimizer.lr"
