"""TL001 probe-crashed: each kind of captured exception gets its targeted diagnosis."""

from __future__ import annotations

import pytest

from trainlint.probe.record import CrashInfo, DataFacts, RunRecord
from trainlint.rules.engine import evaluate
from trainlint.rules.probe.probe_crashed import probe_crashed

TENSORS = {"input": {"shape": [64, 64], "dtype": "float32", "device": "cpu"},
           "target": {"shape": [64], "dtype": "float32", "device": "cpu"}}


def crashed(exc_type: str, message: str, phase: str = "forward", **kw) -> RunRecord:
    frame = {"file": "/home/u/model.py", "line": 12, "function": "forward", "code": "return self.fc(x)"}
    return RunRecord(crash=CrashInfo(phase=phase, step=0, exc_type=exc_type, message=message,
                                     user_frame=frame, shapes=TENSORS), batch_size=64, **kw)


FIRES = [
    ("matmul", crashed("RuntimeError", "mat1 and mat2 shapes cannot be multiplied (64x64 and 32x10)"),
     "expects 32 input features but receives 64", "model"),
    ("batch", crashed("ValueError", "Expected input batch_size (128) to match target batch_size (64)."),
     "output batch 128 ≠ target batch 64", "model"),
    ("label", crashed("IndexError", "Target 10 is out of bounds.", phase="loss", num_outputs=10,
                      data=DataFacts(target_min=1, target_max=10)),
     "labels found in [1, 10]", "dataset"),
    ("dtype", crashed("RuntimeError", "expected scalar type Long but found Float", phase="loss"),
     "dtype mismatch", "loss"),
    ("device", crashed("RuntimeError", "Expected all tensors to be on the same device, but found cuda:0 and cpu"),
     "different devices", "device"),
    ("oom", crashed("OutOfMemoryError", "CUDA out of memory. Tried to allocate 2.00 GiB"),
     "out of memory", "dataset.batch_size"),
    ("scalar", crashed("ValueError", "the loss returned a tensor of shape (64,); a scalar is expected", phase="loss"),
     "not a scalar", "loss"),
    ("other", crashed("KeyError", "'features'"), "KeyError raised", None),
]


@pytest.mark.parametrize(("label", "record", "text", "key"), FIRES, ids=[f[0] for f in FIRES])
def test_fires_with_a_targeted_diagnosis(label, record, text, key):
    [finding], skipped = evaluate(record, rules=[probe_crashed])
    assert skipped == []
    assert finding.code == "TL001" and finding.severity.value == "error"
    assert text in finding.message
    assert "model.py:12" in finding.message
    assert finding.config_key == key
    assert finding.evidence["phase"] == record.crash.phase
    assert finding.fixes


def test_oom_fix_halves_the_batch():
    [finding], _ = evaluate(FIRES[5][1], rules=[probe_crashed])
    assert finding.fixes[0].config_key == "dataset.batch_size" and finding.fixes[0].value == 32


def test_quiet_without_a_crash():
    assert evaluate(RunRecord(), rules=[probe_crashed]) == ([], [])
