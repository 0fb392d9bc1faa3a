"""TL602 memory-growth on fabricated memory samples (every 20 steps)."""

import math

import pytest
from resources_factory import memory_run

from trainlint.rules.engine import evaluate
from trainlint.rules.resources.memory_growth import memory_growth


def line(mb_per_step, n=16, start=400.0, every=20):
    return [start + mb_per_step * i * every for i in range(n)]


FIRES = [
    ("leak_half_mb_per_step", memory_run(line(0.5))),
    ("just_above_rate", memory_run(line(0.101, n=16, start=400.0))),  # 101 MB/1k steps, 24 MB grown
    ("cuda_allocated", memory_run(line(0.5), field="cuda_mem_mb", device_type="cuda")),
    ("leak_after_startup_jump", memory_run([300.0, 350.0] + line(0.5, n=14, start=360.0))),
]

QUIET = [
    ("flat", memory_run([400.0] * 16)),
    ("just_below_rate", memory_run(line(0.099))),
    ("startup_jump_then_flat", memory_run([300.0, 380.0, 400.0] + [400.5] * 13)),
    ("step_then_plateau", memory_run([400.0] * 8 + [450.0] * 8)),  # R² < 0.8
    ("noisy_flat", memory_run([400 + 4 * math.sin(i) for i in range(16)])),
    ("too_few_samples", memory_run(line(0.5, n=5))),  # 3 left after the start-up ones
    ("rate_high_total_small", memory_run(line(0.2, n=16, every=5), every=5)),  # 200 MB/1k but 12 MB
]


def findings(run):
    found, skipped = evaluate(run, rules=[memory_growth])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL602" and f.evidence["mb_per_1k_steps"] >= f.evidence["min_mb_per_1k_steps"] == 100.0
    assert f.evidence["r2"] >= 0.8


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_evidence():
    (f,) = findings(memory_run(line(0.5)))
    ev = f.evidence
    assert ev["series"] == "rss_mb" and ev["mb_per_1k_steps"] == pytest.approx(500.0)
    assert (ev["first_step"], ev["last_step"]) == (60, 300) and ev["samples"] == 13  # 3 start-up samples skipped
    assert ev["growth_mb"] == pytest.approx(120.0) and f.step == 300
    assert f.config_key == "model" and ".detach()" in f.fixes[0].text


def test_cuda_prefers_allocated_memory():
    (f,) = findings(memory_run(line(0.5), field="cuda_mem_mb", device_type="cuda"))
    assert f.evidence["series"] == "cuda_mem_mb"
