"""The LR suggestion on fabricated range-test curves: a table of shapes, each with its verdict."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainlint.analysis.lr_suggest import LrSuggestion, smooth, suggest_lr

LRS = np.logspace(-7, 1, 100)
log_lr = np.log10(LRS)


def sweep(center: float = -3.0, width: float = 0.35, diverge_at: float = -1.0, noise: float = 0.0,
          seed: int = 0, start: float = 2.3, floor: float = 0.3) -> np.ndarray:
    """A typical curve: flat at `start`, a logistic descent centred at 10**center, then divergence."""
    descent = (start - floor) / (1 + np.exp(-(log_lr - center) / width))
    blow_up = np.exp(np.clip((log_lr - diverge_at) * 6, None, 50)) - 1
    loss = start - descent + np.where(log_lr > diverge_at, blow_up, 0.0)
    return loss + np.random.default_rng(seed).normal(0, noise, len(log_lr)) if noise else loss


def cut_at_4x(loss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the range test records: it stops once the loss exceeds 4x its best."""
    best = np.minimum.accumulate(loss)
    stop = np.argmax(loss > 4 * best) if (loss > 4 * best).any() else len(loss)
    return LRS[:stop], loss[:stop]


def test_clean_curve_suggests_inside_the_descent():
    lrs, loss = cut_at_4x(sweep())
    s = suggest_lr(lrs, loss)
    assert s.status == "ok" and s.lr is not None
    assert 5e-4 <= s.lr <= 1e-2, s
    lo, hi = s.valley
    assert lo <= s.lr * 1.5 and s.lr <= hi * 1.5
    assert "descent midpoint" in s.reason and len(s.smoothed) == len(loss)


@pytest.mark.parametrize("seed", range(5))
def test_noisy_curve_still_suggests_close_to_the_clean_one(seed):
    clean = suggest_lr(*cut_at_4x(sweep())).lr
    lrs, loss = cut_at_4x(sweep(noise=0.08, seed=seed))
    s = suggest_lr(lrs, loss)
    assert s.status == "ok", s.reason
    assert clean / 3 <= s.lr <= clean * 3


def test_single_spike_does_not_move_the_suggestion():
    lrs, loss = cut_at_4x(sweep())
    spiked = loss.copy()
    spiked[30] = 50.0  # one bad batch at a low LR
    assert suggest_lr(lrs, spiked).lr == suggest_lr(lrs, loss).lr


def test_flat_curve_gives_no_suggestion():
    loss = 2.3 + np.random.default_rng(0).normal(0, 0.02, len(LRS))
    s = suggest_lr(LRS, loss)
    assert s.lr is None and s.status == "flat"
    assert "flat" in s.reason


def test_diverging_from_the_start_gives_no_suggestion():
    lrs, loss = cut_at_4x(2.3 * np.exp(np.linspace(0, 3, len(LRS))))
    s = suggest_lr(lrs, loss)
    assert s.lr is None and s.status == "diverging"
    assert "--start-lr" in s.reason


def test_non_finite_from_the_first_step_gives_no_suggestion():
    s = suggest_lr(LRS[:5], [math.nan] * 5)
    assert s.lr is None and s.status == "diverging"


def test_too_noisy_gives_no_suggestion():
    lrs, loss = cut_at_4x(sweep(start=2.3, floor=2.0, noise=0.4, seed=1))
    s = suggest_lr(lrs, loss)
    assert s.lr is None and s.status in {"noisy", "flat"}, s.reason


def test_minimum_at_the_end_is_flagged_in_notes():
    s = suggest_lr(LRS, sweep(center=-1.5, diverge_at=5.0))
    assert s.status == "ok"
    assert any("still falling" in n for n in s.notes)


def test_too_few_points():
    s = suggest_lr(LRS[:6], [2.3, 2.2, 2.1, 2.0, 1.9, 1.8])
    assert s.lr is None and s.status == "too_few_points"


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError):
        suggest_lr([1e-3, 1e-2], [1.0])


def test_smooth_is_centred_and_robust_to_spikes():
    values = [1.0] * 11
    values[5] = 100.0
    assert np.allclose(smooth(values, 5), 1.0)


def test_result_type():
    assert isinstance(suggest_lr(*cut_at_4x(sweep())), LrSuggestion)
