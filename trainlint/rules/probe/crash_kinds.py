"""What a captured crash means: one matcher per kind of failure, each with its targeted fixes.

Used by TL001 (probe-crashed). Each matcher reads the exception text, the phase (data, forward,
loss, backward, optimizer, eval) and the tensors in flight, and returns a `Diagnosis` whose text
names the tensors involved (shape, dtype, device), or None. The first match wins; a crash no
matcher knows still gets the user's own message and frame.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from trainlint.probe.record import CrashInfo, RunRecord
from trainlint.rules.base import Fix


@dataclass(frozen=True)
class Diagnosis:
    kind: str  # stable, for evidence and tests: linear-shape, target-dtype, device, ...
    text: str  # what went wrong, with the shapes and dtypes involved
    fixes: list[Fix]
    config_key: str | None


_OOM = re.compile(r"out of memory|OutOfMemoryError|DefaultCPUAllocator: can't allocate", re.I)
_ALLOC = re.compile(r"Tried to allocate ([\d.]+ \w+)|you tried to allocate (\d+) bytes")
_MATMUL = re.compile(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)")
_MATMUL_DTYPE = re.compile(r"mat1 and mat2 must have the same dtype|m1 and m2 to have the same dtype|"
                           r"Input type \(\S+\) and (weight|bias) type \(\S+\) should be the same")
_BATCH = re.compile(r"Expected input batch_size \((\d+)\) to match target batch_size \((\d+)\)")
_MULTI_TARGET = re.compile(r"0D or 1D target tensor expected|multi-target not supported")
_SIZE = re.compile(r"Target size \(.*\) must be the same as input size|"
                   r"size of tensor a \(\d+\) must match the size of tensor b \(\d+\)|"
                   r"Using a target size .* different to the input size")
_LABEL = re.compile(r"Target -?\d+ is out of bounds|index -?\d+ is out of bounds|"
                    r"device-side assert|index out of range", re.I)
_EMBEDDING = re.compile(r"'indices' to have one of the following scalar types")
_DTYPE = re.compile(r"expected scalar type (\w+) but found (\w+)|Found dtype (\w+) but expected (\w+)|"
                    r"result type (\w+) can't be cast to the desired output type (\w+)|"
                    r"expected target dtype to be|not implemented for '(\w+)'", re.I)
_DEVICE = re.compile(r"Expected all tensors to be on the same device|on different devices|"
                     r"Expected .* to be on (the same )?device", re.I)
_DEVICES = re.compile(r"found at least two devices, (\S+) and (\S+?)[!,.]|devices? (\w+(?::\d+)?) and (\w+(?::\d+)?)")
_SCALAR = re.compile(r"a scalar is expected|grad can be implicitly created only for scalar outputs|"
                     r"the loss returned \w+, not a tensor")
_LOSS_SHAPE = re.compile(r"tensor of shape (\([\d, ]*\))")
_NO_GRAD = re.compile(r"does not require grad and does not have a grad_fn")
_TWICE = re.compile(r"backward through the graph a second time")
_INPLACE = re.compile(r"modified by an inplace operation")

_SUBJECT = {"data": "reading the data", "forward": "the model's forward", "loss": "the loss",
            "backward": "the backward pass", "optimizer": "the optimizer step",
            "eval": "the model in evaluation", "setup": "setting up the probe"}
_PHASE_KEY = {"data": "dataset", "forward": "model", "loss": "loss", "backward": "model",
              "optimizer": "optimizer", "eval": "model"}


def tensor(crash: CrashInfo, key: str) -> str | None:
    """``(16, 3) float32`` (plus ``on cuda:0`` off the CPU) for a tensor in flight, or None."""
    d = crash.shapes.get(key)
    if not d:
        return None
    shape = "(" + ", ".join(str(s) for s in d["shape"]) + ("," if len(d["shape"]) == 1 else "") + ")"
    device = "" if d.get("device", "cpu") == "cpu" else f" on {d['device']}"
    return f"{shape} {d['dtype']}{device}"


def _involved(crash: CrashInfo, *keys: str) -> str:
    parts = [f"{k} {t}" for k in keys if (t := tensor(crash, k))]
    return f" ({', '.join(parts)})" if parts else ""


def _dtype(crash: CrashInfo, key: str) -> str:
    d = crash.shapes.get(key)
    return d["dtype"] if d else ""


def _dims(crash: CrashInfo, key: str) -> list[int]:
    d = crash.shapes.get(key)
    return list(d["shape"]) if d else []


def _module(crash: CrashInfo) -> str:
    m = (crash.user_frame or {}).get("module")
    return f" (`{m}`)" if m else ""


def _loss(record: RunRecord) -> str:
    return record.loss_class or "the loss"


def oom(crash: CrashInfo, record: RunRecord, text: str) -> Diagnosis | None:
    if not _OOM.search(text):
        return None
    m = _ALLOC.search(text)
    tried = ""
    if m:
        tried = f", trying to allocate {m.group(1) or f'{int(m.group(2)) / 2**30:.1f} GiB'}"
    fixes = []
    if record.batch_size > 1:
        half = record.batch_size // 2
        fixes.append(Fix(f"halve the batch size to {half}", "dataset.batch_size", half))
    fixes += [Fix("use a smaller model (fewer or narrower layers, shorter sequences)"),
              Fix("on a GPU: free memory held by other processes (nvidia-smi), or train in mixed precision")]
    return Diagnosis("out-of-memory", f"out of memory at batch size {record.batch_size}{tried}", fixes,
                     "dataset.batch_size")


def linear_shape(crash: CrashInfo, record: RunRecord, text: str) -> Diagnosis | None:
    m = _MATMUL.search(text)
    if not m:
        return None
    got, expected = int(m.group(2)), int(m.group(3))
    dims = _dims(crash, "input")
    if len(dims) > 2:
        flat = 1
        for d in dims[1:]:
            flat *= d
        fix = Fix(f"flatten the input before the first Linear (x.flatten(1) gives {flat} features) and "
                  f"size that layer's in_features to match")
    elif dims and dims[-1] == got:
        fix = Fix(f"make the first Linear's in_features {got}: the input has {got} features")
    else:
        fix = Fix(f"the layer before it outputs {got} features: make this layer's in_features {got}, "
                  f"or the previous layer's out_features {expected}")
    return Diagnosis("linear-shape", f"a Linear layer{_module(crash)} expects {expected} input features "
                     f"but receives {got}{_involved(crash, 'input')}", [fix], "model")


def input_dtype(crash: CrashInfo, record: RunRecord, text: str) -> Diagnosis | None:
    if _EMBEDDING.search(text):
        return Diagnosis("input-dtype", f"an Embedding layer needs integer token ids, but the input is "
                         f"{tensor(crash, 'input') or 'not integer'}",
                         [Fix("return the inputs as torch.long token ids from your dataset")], "dataset")
    if not _MATMUL_DTYPE.search(text):
        return None
    return Diagnosis("input-dtype", f"the input's dtype does not match the model's weights"
                     f"{_involved(crash, 'input')}: {text.split(': ', 1)[-1][:120]}",
                     [Fix("convert the inputs to float32 in your dataset (torch.as_tensor(x, dtype="
                          "torch.float32)); NumPy arrays are float64 by default")], "dataset")


def batch_mismatch(crash: CrashInfo, record: RunRecord, text: str) -> Diagnosis | None:
    m = _BATCH.search(text)
    if not m:
        return None
    return Diagnosis("batch-mismatch", f"output batch {m.group(1)} ≠ target batch {m.group(2)}"
                     f"{_involved(crash, 'input', 'output', 'target')}: the model reshapes away the batch "
                     "dimension, or the targets are not one per sample",
                     [Fix("keep the batch dimension first in forward (use x.flatten(1), not x.view(-1, ...))")],
                     "model")


def target_shape(crash: CrashInfo, record: RunRecord, text: str) -> Diagnosis | None:
    if crash.phase not in ("loss", "eval"):
        return None
    if _MULTI_TARGET.search(text):
        n = _dims(crash, "target")[:1] or ["N"]
        return Diagnosis("target-shape", f"{_loss(record)} expects one class index per sample, shape "
                         f"({n[0]},), but the target is {tensor(crash, 'target') or 'not 1-D'}",
                         [Fix("return each sample's label as a scalar, not a 1-element vector "
                              "(y.squeeze(-1) in the dataset, or y[0] in __getitem__)"),
                          Fix("for one-hot or soft labels, return float probabilities shaped like the output")],
                         "dataset")
    if _SIZE.search(text):
        out = _dims(crash, "output")
        width = f" ({out[-1]} now)" if out else ""
        return Diagnosis("target-shape", f"output and target shapes do not fit {_loss(record)}"
                         f"{_involved(crash, 'output', 'target')}",
                         [Fix(f"make the model output one value per target column: the last layer's "
                              f"out_features must equal the target's width{width}"),
                          Fix("for integer class labels use a class-index loss", "loss.name", "cross_entropy",
                              applicable=record.task == "multiclass")],
                         "model")
    return None


def labels(crash: CrashInfo, record: RunRecord, text: str) -> Diagnosis | None:
    if record.task == "regression" or not _LABEL.search(text):
        return None
    if crash.phase not in ("loss", "eval") and not crash.message.startswith("Target"):
        return None
    lo, hi = record.data.target_min, record.data.target_max
    found = f"labels found in [{lo:g}, {hi:g}]" if lo is not None and hi is not None else "labels out of range"
    n = record.num_outputs or record.num_classes
    return Diagnosis("label-range", f"class labels do not fit the model's {n} outputs ({found})",
                     [Fix("relabel classes as 0..C-1 (e.g. subtract 1 from 1-based labels)"),
                      Fix("give the model one output per class")], "dataset")


def target_dtype(crash: CrashInfo, record: RunRecord, text: str) -> Diagnosis | None:
    m = _DTYPE.search(text)
    if not m:
        return None
    dtype, loss = _dtype(crash, "target"), _loss(record)
    if crash.phase in ("loss", "eval") and dtype.startswith(("float", "bfloat", "half")):
        return Diagnosis("target-dtype", f"{loss} needs int64 class indices, but the targets are "
                         f"{tensor(crash, 'target')}",
                         [Fix("return the targets as torch.long from your dataset (y.long()): "
                              "class-index losses need integer labels"),
                          Fix("for real-valued targets use a regression loss such as mse", "loss.name")],
                         "dataset")
    if crash.phase in ("loss", "eval") and dtype.startswith(("int", "uint", "bool")):
        return Diagnosis("target-dtype", f"{loss} needs float targets shaped like the output, but the "
                         f"targets are {tensor(crash, 'target')}{_involved(crash, 'output')}",
                         [Fix("return float targets from your dataset (y.float()), shaped like the output"),
                          Fix("for integer class labels use a class-index loss", "loss.name", "cross_entropy",
                              applicable=record.task == "multiclass")],
                         "dataset")
    return Diagnosis("dtype", f"dtype mismatch ({m.group(0)}){_involved(crash, 'input', 'output', 'target')}",
                     [Fix("class-index losses (cross_entropy, nll) need int64 targets; regression and BCE "
                          "losses need float targets shaped like the output: convert the targets in your dataset"),
                      Fix("or choose a loss that matches your targets", "loss.name")], "loss")


def device(crash: CrashInfo, record: RunRecord, text: str) -> Diagnosis | None:
    if not _DEVICE.search(text):
        return None
    m = _DEVICES.search(text)
    pair = f" ({' and '.join(g for g in m.groups() if g)})" if m else ""
    key = "model" if crash.phase in ("forward", "eval") else "device"
    return Diagnosis("device", f"tensors on different devices{pair} while the probe runs on {record.device}",
                     [Fix("create tensors inside forward on the input's device (torch.zeros(..., "
                          "device=x.device)); register constant tensors with self.register_buffer so "
                          "model.to(device) moves them; remove hard-coded .cuda() / .to('cuda')"),
                      Fix("run on one device", "device", "cpu")], key)


def not_scalar(crash: CrashInfo, record: RunRecord, text: str) -> Diagnosis | None:
    if not _SCALAR.search(text):
        return None
    m = _LOSS_SHAPE.search(text)
    got = f"a tensor of shape {m.group(1)}" if m else text.split("returned ", 1)[-1].split(";")[0]
    return Diagnosis("loss-not-scalar", f"the loss returns {got}, not a scalar (one value per sample?)",
                     [Fix("reduce the loss to a scalar (reduction='mean'), or call .mean() on it",
                          "loss.args.reduction", "mean")], "loss")


def autograd(crash: CrashInfo, record: RunRecord, text: str) -> Diagnosis | None:
    if _NO_GRAD.search(text):
        return Diagnosis("no-grad", "the loss does not depend on any trainable parameter: nothing to "
                         "backpropagate",
                         [Fix("do not detach the output in forward or the loss (.detach(), .item(), "
                              ".numpy(), torch.no_grad())"),
                          Fix("check that not every parameter is frozen (requires_grad=False)")], "model")
    if _TWICE.search(text):
        return Diagnosis("graph-reused", "a tensor from an earlier step is reused after its graph was freed",
                         [Fix("detach state kept across steps (e.g. a cached hidden state: h = h.detach())")],
                         "model")
    if _INPLACE.search(text):
        return Diagnosis("in-place", "an in-place operation overwrote a tensor autograd needs for the gradient",
                         [Fix("replace in-place ops (x += y, x[i] = ..., .add_(), nn.ReLU(inplace=True)) "
                              "with out-of-place ones (x = x + y)")], "model")
    return None


def bad_sample(crash: CrashInfo, record: RunRecord, text: str) -> Diagnosis | None:
    if crash.phase != "data":
        return None
    index = (crash.user_frame or {}).get("index")
    at = f" on index {index!r}" if index is not None else ""
    fixes = []
    if index is not None:
        fixes.append(Fix(f"fix or drop the record at index {index!r}: `dataset[{index!r}]` reproduces the error"))
    fixes.append(Fix("make __getitem__ return an (input, target) pair of tensors for every index"))
    return Diagnosis("data", f"the dataset raised {crash.exc_type}{at}: {_first_line(crash.message)}",
                     fixes, "dataset")


def _first_line(message: str, limit: int = 200) -> str:
    line = message.strip().splitlines()[0] if message.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def other(crash: CrashInfo, record: RunRecord, text: str) -> Diagnosis:
    subject = _SUBJECT.get(crash.phase, crash.phase)
    f = crash.user_frame
    where = f"in {f['function']}() at {f['file']}:{f['line']}" if f else f"during {crash.phase}"
    return Diagnosis("other", f"{subject} raised {crash.exc_type}: {_first_line(crash.message)}",
                     [Fix(f"fix the error {where}; `trainlint check` reproduces it on one batch")],
                     _PHASE_KEY.get(crash.phase))


MATCHERS: list[Callable[[CrashInfo, RunRecord, str], Diagnosis | None]] = [
    oom, linear_shape, input_dtype, batch_mismatch, target_shape, labels, target_dtype, device,
    not_scalar, autograd, bad_sample,
]


def diagnose(crash: CrashInfo, record: RunRecord) -> Diagnosis:
    """The first matching diagnosis, else the user's own message."""
    text = f"{crash.exc_type}: {crash.message}"
    for matcher in MATCHERS:
        if (found := matcher(crash, record, text)) is not None:
            return found
    return other(crash, record, text)
