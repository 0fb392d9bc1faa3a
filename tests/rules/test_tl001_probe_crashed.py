"""TL001 probe-crashed: each kind of captured exception gets its targeted diagnosis.

The messages are PyTorch's own (2.x wording); end-to-end crashes of real user code are in
tests/test_robustness.py.
"""

from __future__ import annotations

import pytest

from trainlint.probe.record import CrashInfo, DataFacts, RunRecord
from trainlint.rules.engine import evaluate
from trainlint.rules.probe.crash_kinds import tensor
from trainlint.rules.probe.probe_crashed import probe_crashed


def t(*shape, dtype="float32", device="cpu"):
    return {"shape": list(shape), "dtype": dtype, "device": device}


TENSORS = {"input": t(64, 64), "target": t(64), "output": t(64, 10)}
LONG_TARGET = {**TENSORS, "target": t(64, dtype="int64")}


def crashed(exc_type: str, message: str, phase: str = "forward", tensors=None, frame=True, **kw) -> RunRecord:
    user = {"file": "/home/u/model.py", "line": 12, "function": "forward", "code": "return self.fc(x)"}
    crash = CrashInfo(phase=phase, step=0, exc_type=exc_type, message=message,
                      user_frame=user if frame else None, shapes=TENSORS if tensors is None else tensors)
    kw.setdefault("loss_class", "CrossEntropyLoss")
    return RunRecord(crash=crash, batch_size=64, task=kw.pop("task", "multiclass"), **kw)


# (id, record, fragment of the message, blamed spec key, kind)
FIRES = [
    ("matmul", crashed("RuntimeError", "mat1 and mat2 shapes cannot be multiplied (64x64 and 32x10)"),
     "expects 32 input features but receives 64 (input (64, 64) float32)", "model", "linear-shape"),
    ("linear-dtype", crashed("RuntimeError", "mat1 and mat2 must have the same dtype, but got Double and Float",
                             tensors={"input": t(64, 64, dtype="float64")}),
     "input's dtype does not match the model's weights (input (64, 64) float64)", "dataset", "input-dtype"),
    ("embedding", crashed("RuntimeError", "Expected tensor for argument #1 'indices' to have one of the "
                          "following scalar types: Long, Int; but got torch.FloatTensor instead"),
     "Embedding layer needs integer token ids, but the input is (64, 64) float32", "dataset", "input-dtype"),
    ("batch", crashed("ValueError", "Expected input batch_size (128) to match target batch_size (64).", "loss"),
     "output batch 128 ≠ target batch 64", "model", "batch-mismatch"),
    ("ce-target-2d", crashed("RuntimeError", "0D or 1D target tensor expected, multi-target not supported",
                             "loss", tensors={**LONG_TARGET, "target": t(64, 1, dtype="int64")}),
     "expects one class index per sample, shape (64,), but the target is (64, 1) int64", "dataset",
     "target-shape"),
    ("bce-size", crashed("ValueError", "Target size (torch.Size([64, 1])) must be the same as input size "
                         "(torch.Size([64, 10]))", "loss", tensors={**TENSORS, "target": t(64, 1)},
                         loss_class="BCEWithLogitsLoss"),
     "output and target shapes do not fit BCEWithLogitsLoss (output (64, 10) float32, target (64, 1) float32)",
     "model", "target-shape"),
    ("label", crashed("IndexError", "Target 10 is out of bounds.", phase="loss", num_outputs=10,
                      data=DataFacts(target_min=1, target_max=10)),
     "labels found in [1, 10]", "dataset", "label-range"),
    ("ce-float-target", crashed("RuntimeError", "expected target dtype to be Long or Byte, but got Float", "loss"),
     "CrossEntropyLoss needs int64 class indices, but the targets are (64,) float32", "dataset", "target-dtype"),
    ("nll-float-target", crashed("RuntimeError", "expected scalar type Long but found Float", "loss",
                                 loss_class="NLLLoss"),
     "NLLLoss needs int64 class indices", "dataset", "target-dtype"),
    ("bce-long-target", crashed("RuntimeError", "result type Float can't be cast to the desired output type Long",
                                "loss", tensors=LONG_TARGET, loss_class="BCEWithLogitsLoss"),
     "BCEWithLogitsLoss needs float targets shaped like the output, but the targets are (64,) int64",
     "dataset", "target-dtype"),
    ("device", crashed("RuntimeError", "Expected all tensors to be on the same device, but found at least two "
                       "devices, cuda:0 and cpu! (when checking argument for argument mat1 in method "
                       "wrapper_CUDA_addmm)", device="cpu"),
     "tensors on different devices (cuda:0 and cpu) while the probe runs on cpu", "model", "device"),
    ("oom", crashed("OutOfMemoryError", "CUDA out of memory. Tried to allocate 2.00 GiB"),
     "out of memory at batch size 64, trying to allocate 2.00 GiB", "dataset.batch_size", "out-of-memory"),
    ("cpu-oom", crashed("RuntimeError", "[enforce fail at alloc_cpu.cpp:117] . DefaultCPUAllocator: can't "
                        "allocate memory: you tried to allocate 4294967296 bytes."),
     "trying to allocate 4.0 GiB", "dataset.batch_size", "out-of-memory"),
    ("scalar", crashed("ValueError", "the loss returned a tensor of shape (64,); a scalar is expected", phase="loss"),
     "the loss returns a tensor of shape (64,), not a scalar", "loss", "loss-not-scalar"),
    ("no-grad", crashed("RuntimeError", "element 0 of tensors does not require grad and does not have a grad_fn",
                        "backward"),
     "does not depend on any trainable parameter", "model", "no-grad"),
    ("graph-twice", crashed("RuntimeError", "Trying to backward through the graph a second time (or directly "
                            "access saved tensors after they have already been freed).", "backward"),
     "reused after its graph was freed", "model", "graph-reused"),
    ("in-place", crashed("RuntimeError", "one of the variables needed for gradient computation has been modified "
                         "by an inplace operation: [torch.FloatTensor [64, 10]], which is output 0 of ReluBackward0",
                         "backward"),
     "in-place operation overwrote a tensor", "model", "in-place"),
    ("bad-record", crashed("ValueError", "corrupt record 37", "data", tensors={},
                           frame=False),
     "the dataset raised ValueError: corrupt record 37", "dataset", "data"),
    ("other", crashed("KeyError", "'features'"), "the model's forward raised KeyError: 'features'", "model",
     "other"),
    ("other-optimizer", crashed("TypeError", "step() missing 1 required positional argument: 'closure'",
                                "optimizer"),
     "the optimizer step raised TypeError", "optimizer", "other"),
]


@pytest.mark.parametrize(("label", "record", "text", "key", "kind"), FIRES, ids=[f[0] for f in FIRES])
def test_fires_with_a_targeted_diagnosis(label, record, text, key, kind):
    [finding], skipped = evaluate(record, rules=[probe_crashed])
    assert skipped == []
    assert finding.code == "TL001" and finding.severity.value == "error"
    assert text in finding.message
    if record.crash.user_frame:
        assert "model.py:12" in finding.message
    assert finding.config_key == key
    assert finding.evidence["kind"] == kind
    assert finding.evidence["phase"] == record.crash.phase
    assert finding.evidence["tensors"] == record.crash.shapes
    assert finding.fixes and all(f.text for f in finding.fixes)


def by_label(label: str) -> RunRecord:
    return next(f[1] for f in FIRES if f[0] == label)


def test_oom_fix_halves_the_batch():
    [finding], _ = evaluate(by_label("oom"), rules=[probe_crashed])
    assert finding.fixes[0].config_key == "dataset.batch_size" and finding.fixes[0].value == 32


def test_oom_at_batch_size_one_does_not_suggest_batch_zero():
    record = crashed("OutOfMemoryError", "CUDA out of memory.")
    record.batch_size = 1
    [finding], _ = evaluate(record, rules=[probe_crashed])
    assert all(f.config_key != "dataset.batch_size" for f in finding.fixes)


def test_linear_fix_depends_on_where_the_features_come_from():
    from_input = crashed("RuntimeError", "mat1 and mat2 shapes cannot be multiplied (16x4 and 32x3)",
                         tensors={"input": t(16, 4)})
    between = crashed("RuntimeError", "mat1 and mat2 shapes cannot be multiplied (16x16 and 8x3)",
                      tensors={"input": t(16, 4)})
    images = crashed("RuntimeError", "mat1 and mat2 shapes cannot be multiplied (128x8 and 64x10)",
                     tensors={"input": t(16, 1, 8, 8)})
    texts = [evaluate(r, rules=[probe_crashed])[0][0].fixes[0].text for r in (from_input, between, images)]
    assert "the input has 4 features" in texts[0]
    assert "the layer before it outputs 16 features" in texts[1]
    assert "x.flatten(1) gives 64 features" in texts[2]


def test_the_bad_record_index_and_running_layer_come_from_the_frame():
    record = crashed("ValueError", "corrupt record 37", "data", tensors={})
    record.crash.user_frame = {**record.crash.user_frame, "function": "__getitem__", "index": 37}
    [finding], _ = evaluate(record, rules=[probe_crashed])
    assert "raised ValueError on index 37" in finding.message
    assert "`dataset[37]` reproduces the error" in finding.fixes[0].text
    layer = crashed("RuntimeError", "mat1 and mat2 shapes cannot be multiplied (64x64 and 32x10)")
    layer.crash.user_frame = {**layer.crash.user_frame, "module": "Linear(in_features=32, out_features=10)"}
    [finding], _ = evaluate(layer, rules=[probe_crashed])
    assert "a Linear layer (`Linear(in_features=32, out_features=10)`) expects 32" in finding.message


def test_a_broad_index_error_in_forward_is_not_blamed_on_labels():
    record = crashed("IndexError", "list index out of range", "forward")
    [finding], _ = evaluate(record, rules=[probe_crashed])
    assert finding.evidence["kind"] == "other"
    assert "list index out of range" in finding.message


def test_only_the_first_line_of_a_long_message_is_quoted():
    record = crashed("RuntimeError", "first line\n" + "x" * 5000, "forward")
    [finding], _ = evaluate(record, rules=[probe_crashed])
    assert "first line" in finding.message and "xxx" not in finding.message


def test_tensor_description():
    crash = CrashInfo(phase="loss", step=0, exc_type="E", message="",
                      shapes={"a": t(3), "b": t(2, 5, dtype="int64", device="cuda:0")})
    assert tensor(crash, "a") == "(3,) float32"
    assert tensor(crash, "b") == "(2, 5) int64 on cuda:0"
    assert tensor(crash, "missing") is None


def test_quiet_without_a_crash():
    assert evaluate(RunRecord(), rules=[probe_crashed]) == ([], [])
