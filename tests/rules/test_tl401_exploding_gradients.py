"""TL401 exploding-gradients on fabricated gradient-norm histories."""

import math

import pytest
from gradients_factory import grad_run

from trainlint.rules.engine import evaluate
from trainlint.rules.gradients.exploding_gradients import exploding_gradients

STEADY = [1.0] * 100
GROWING = [10 ** (3 * i / 99) for i in range(100)]  # 1 → 1000: medians 1.2 vs 816
SPIKE = [5.0] * 60 + [2000.0] + [5.0] * 39  # 400x the early median, above 1000

FIRES = [
    ("growth_1000x", grad_run(GROWING)),
    ("growth_just_above", grad_run([1.0] * 50 + [101.0] * 50)),
    ("spike", grad_run(SPIKE)),
    ("spike_just_above", grad_run([20.0] * 60 + [1001.0] + [20.0] * 39)),  # 50.05x
    ("overflow_with_finite_loss", grad_run([1.0] * 20 + [math.inf] + [1.0] * 9)),
    ("explodes_within_8_steps", grad_run([1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7])),
    ("clip_already_set", grad_run(GROWING, clip=1.0)),
]

QUIET = [
    ("steady", grad_run(STEADY)),
    ("growth_just_below", grad_run([1.0] * 50 + [99.0] * 50)),
    ("large_but_steady", grad_run([5000.0] * 100)),  # MSE on unscaled targets: big, not exploding
    ("large_noisy_start", grad_run([8000.0, 1000.0, 1200.0, 900.0, 1100.0] + [800.0] * 95)),
    ("spike_below_max_norm", grad_run([1.0] * 60 + [900.0] + [1.0] * 39)),
    ("spike_just_below_factor", grad_run([30.0] * 60 + [1490.0] + [30.0] * 39)),  # 49.7x
    ("diabetes_like_noisy_spike", grad_run([1200.0] * 30 + [13000.0] + [800.0] * 69)),  # 10.8x
    ("decreasing", grad_run([100.0 / (1 + i) for i in range(100)])),
    ("nan_loss_everywhere", grad_run([math.nan] * 10, losses=[math.nan] * 10)),
    ("inf_grad_with_nan_loss", grad_run([1.0] * 9 + [math.inf], losses=[1.0] * 9 + [math.nan])),
    ("too_short_for_growth", grad_run([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0])),
]


def findings(run):
    found, skipped = evaluate(run, rules=[exploding_gradients])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL401" and f.severity.value == "warning"
    assert f.evidence["max_grad_norm"] == 1000.0


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_growth_evidence_and_clip_fix():
    (f,) = findings(grad_run(GROWING, lr=0.1))
    assert f.evidence["growth"] > 100 and f.evidence["early_median"] < 2
    assert f.config_key == "probe.clip_grad_norm"
    clip = f.fixes[0]
    assert clip.config_key == "probe.clip_grad_norm" and clip.applicable
    assert 1.0 < clip.value < 10.0  # from the first 20% of steps' norms, before the run-away
    assert f.fixes[1].config_key == "optimizer.lr" and f.fixes[1].value == pytest.approx(0.01)


def test_spike_evidence_and_step():
    (f,) = findings(grad_run(SPIKE))
    assert f.evidence["peak_grad_norm"] == 2000.0 and f.evidence["spike"] == pytest.approx(400.0)
    assert f.step == 60 and "spiked to 2e+03 at step 60" in f.message
    assert f.fixes[0].value == 5.0  # the norms before the spike


def test_clip_already_set_blames_lr():
    (f,) = findings(grad_run(GROWING, clip=1.0))
    assert f.config_key == "optimizer.lr" and f.fixes[0].config_key == "optimizer.lr"
    assert "before clipping" in f.message


def test_overflow_evidence():
    (f,) = findings(grad_run([1.0] * 20 + [math.inf] + [1.0] * 9))
    assert f.evidence["overflow_steps"] == 1 and "inf" in f.message


def test_threshold_override():
    found, _ = evaluate(grad_run(SPIKE), rules=[exploding_gradients],
                        thresholds={"exploding-gradients": {"max_grad_norm": 5000.0}})
    assert found == []


def test_clip_capped_at_max_grad_norm_when_huge_from_the_start():
    (f,) = findings(grad_run([1e5, 2e5, 1e9, 1e10, 1e11]))
    assert (f.fixes[0].config_key, f.fixes[0].value) == ("probe.clip_grad_norm", 1000.0)
    assert "already huge" in f.fixes[0].text
