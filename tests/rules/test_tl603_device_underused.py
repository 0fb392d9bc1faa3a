"""TL603 device-underused on fabricated device facts (no GPU needed: every case is fabricated)."""

import math

import pytest
from resources_factory import device_run

from trainlint.rules.base import Severity
from trainlint.rules.engine import evaluate
from trainlint.rules.resources.device_underused import device_underused

FIRES = [  # (name, run, severity)
    ("cpu_next_to_idle_gpu", device_run(cuda_available=True, device="cpu"), "warning"),
    ("low_gpu_util", device_run(cuda_available=True, device="cuda:0", util=[10, 12, 8, 15]), "info"),
    ("util_just_below", device_run(cuda_available=True, device="cuda", util=[29.9] * 3), "info"),
]

QUIET = [
    ("no_cuda", device_run(cuda_available=False, device="cpu")),
    ("busy_gpu", device_run(cuda_available=True, device="cuda", util=[90, 95, 97])),
    ("util_at_threshold", device_run(cuda_available=True, device="cuda", util=[30.0] * 3)),
    ("util_not_recorded", device_run(cuda_available=True, device="cuda", util=[math.nan] * 5)),
    ("too_few_util_samples", device_run(cuda_available=True, device="cuda", util=[5.0, 5.0])),
]


def findings(run):
    found, skipped = evaluate(run, rules=[device_underused])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run, severity", FIRES, ids=[n for n, _, _ in FIRES])
def test_fires(name, run, severity):
    (f,) = findings(run)
    assert f.code == "TL603" and f.severity.value == severity


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_cpu_with_cuda_fix_sets_device():
    (f,) = findings(device_run(cuda_available=True, device="cpu"))
    assert f.severity == Severity.WARNING and f.config_key == "device"
    assert (f.fixes[0].config_key, f.fixes[0].value) == ("device", "cuda")
    assert f.evidence == {"cuda_available": True, "device": "cpu"}


def test_low_util_evidence_and_batch_fix():
    (f,) = findings(device_run(cuda_available=True, device="cuda:0", util=[10, 12, 8, 15], batch_size=64))
    assert f.evidence["median_gpu_util_percent"] == pytest.approx(11.0) and f.evidence["samples"] == 4
    assert (f.fixes[0].config_key, f.fixes[0].value) == ("dataset.batch_size", 256)
