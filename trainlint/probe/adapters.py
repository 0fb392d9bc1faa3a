"""Batches and model outputs of every common shape, read one way for the whole probe.

Models people train take more than one tensor and return more than one: Hugging Face models
take `input_ids=…, attention_mask=…, labels=…` and return a `ModelOutput`; minGPT returns
`(logits, loss)`; a VAE `(recon, mu, logvar)`. The loop, the evaluator, the first-batch facts,
the range test and the thread choice all go through this module, so each shape is handled in
one place:

- `split_batch` turns what the DataLoader yields into a `Batch` (model inputs + target):
  `(x, y)`, `(dict, y)`, `(x1, x2, …, y)`, or a dict whose target sits under `labels`,
  `label`, `y` or `target` (or `dataset.target_key`).
- `call_model` calls `model(*inputs, **keyword_inputs)`; with the model's own loss
  (`loss: {from_model: …}`) the target goes in too, under its key or as the next argument.
- `select_output` picks the tensor the rules and the metric read (`model.output`): a tensor
  itself; a tuple/list's first element; a dict's / `ModelOutput`'s / dataclass's `logits`,
  else its first tensor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

TARGET_KEYS = ("labels", "label", "y", "target", "targets")


class AdapterError(ValueError):
    """A batch or an output trainlint cannot read; the message names its type and fields.

    `field` is the spec field that decides how it is read (a located spec error, exit 2).
    """

    def __init__(self, message: str, field: str = "model.output"):
        super().__init__(message)
        self.field = field


@dataclass(slots=True)
class Batch:
    """One batch: positional and keyword model inputs, and the target (None when there is none)."""

    inputs: tuple = ()
    keyword_inputs: dict[str, Any] = field(default_factory=dict)
    target: Any = None
    target_key: str | None = None  # where a dict batch kept its target

    def to(self, device: torch.device) -> Batch:
        x, y = self.inputs[0] if len(self.inputs) == 1 else None, self.target
        if type(x) is torch.Tensor and type(y) is torch.Tensor and not self.keyword_inputs:  # (x, y): the hot path
            return Batch((x.to(device, non_blocking=True),), {}, y.to(device, non_blocking=True), self.target_key)
        return Batch(tuple(_to(v, device) for v in self.inputs),
                     {k: _to(v, device) for k, v in self.keyword_inputs.items()},
                     _to(self.target, device), self.target_key)

    @property
    def targets_are_inputs(self) -> bool:
        """The target is one of the (integer) inputs itself: Hugging Face's causal-LM convention
        (`labels = input_ids`), where position t's scores predict token t + 1."""
        y = self.target
        if not isinstance(y, torch.Tensor) or y.dim() != 2 or torch.is_floating_point(y):
            return False
        return any(isinstance(v, torch.Tensor) and v.shape == y.shape and not torch.is_floating_point(v)
                   and torch.equal(v, y) for v in (*self.inputs, *self.keyword_inputs.values()))

    @property
    def primary(self) -> torch.Tensor | None:
        """The first input tensor (for statistics, shapes, sensitivity and FLOP counting)."""
        for value in (*self.inputs, *self.keyword_inputs.values()):
            if isinstance(value, torch.Tensor):
                return value
        return None

    @property
    def size(self) -> int:
        x = self.primary
        return int(x.shape[0]) if x is not None and x.dim() > 0 else 1

    def head(self, n: int) -> Batch:
        """The first `n` samples of every tensor (other values unchanged)."""
        return Batch(tuple(_head(v, n) for v in self.inputs), {k: _head(v, n) for k, v in self.keyword_inputs.items()},
                     _head(self.target, n), self.target_key)


def split_batch(raw: Any, target_key: str | None = None, n_inputs: int | None = None) -> Batch:
    """What a DataLoader yielded, as model inputs and a target (see the module docstring)."""
    if type(raw) in (list, tuple) and len(raw) == 2 and type(raw[0]) is torch.Tensor and n_inputs in (None, 1):
        return Batch((raw[0],), {}, raw[1])  # (x, y), every step of most probes: no ABC checks
    if isinstance(raw, Mapping):
        return _from_mapping(dict(raw), target_key)
    if isinstance(raw, Sequence) and not isinstance(raw, str | bytes) and len(raw) >= 2:
        *xs, y = raw
        if n_inputs is not None and len(xs) != n_inputs:
            raise AdapterError(f"a batch has {len(raw)} parts; dataset.inputs says {n_inputs} inputs and a target",
                               "dataset")
        if len(xs) == 1 and isinstance(xs[0], Mapping):
            return Batch((), dict(xs[0]), y)
        return Batch(tuple(xs), {}, y)
    raise AdapterError(f"a batch must be (input, target), (input1, …, target), (dict, target) or a dict with "
                       f"a target under {', '.join(TARGET_KEYS)}; got {_describe(raw)}", "dataset")


def _from_mapping(raw: dict, target_key: str | None) -> Batch:
    keys = (target_key,) if target_key else TARGET_KEYS
    key = next((k for k in keys if k in raw), None)
    if key is None:
        raise AdapterError(f"a dict batch has no target: expected one of the keys {', '.join(keys)}, got keys "
                           f"{', '.join(map(str, raw))} (set dataset.target_key to name it)", "dataset.target_key")
    target = raw.pop(key)
    return Batch((), raw, target, key)


def call_model(model: torch.nn.Module, batch: Batch, with_target: bool = False, recurrent: bool = False,
               time_major: bool = False) -> Any:
    """`model(*inputs, **keyword_inputs)`; `with_target` passes the target too (the model's own loss).

    `recurrent`: the pytorch/examples convention `forward(input, hidden)` with a fresh
    `model.init_hidden(batch_size)` per batch (no state carried across shuffled batches, so
    nothing to detach); `time_major` feeds the inputs as (T, B, …).
    """
    if recurrent:
        inputs = tuple(x.transpose(0, 1) if time_major and isinstance(x, torch.Tensor) and x.dim() >= 2 else x
                       for x in batch.inputs)
        return model(*inputs, model.init_hidden(batch.size), **batch.keyword_inputs)
    if not with_target:
        return model(*batch.inputs, **batch.keyword_inputs)
    if batch.target_key is not None:
        return model(*batch.inputs, **batch.keyword_inputs, **{batch.target_key: batch.target})
    if batch.keyword_inputs:  # (dict, y): Hugging Face models take it as `labels`
        return model(*batch.inputs, **batch.keyword_inputs, labels=batch.target)
    return model(*batch.inputs, batch.target, **batch.keyword_inputs)


def select_output(out: Any, how: str | int = "auto") -> torch.Tensor:
    """The tensor of a model's output that the rules and the metric read (`model.output`).

    Raises:
        AdapterError: nothing usable; the message names the type and its fields.
    """
    found = _auto(out) if how == "auto" else _pick(out, how)
    if not isinstance(found, torch.Tensor):
        raise AdapterError(f"cannot read {'a tensor' if how == 'auto' else repr(how)} from the model's output: "
                           f"{_describe(out)}")
    return found


def model_loss(out: Any, how: bool | str | int = True) -> torch.Tensor:
    """The loss the model computed itself (`loss: {from_model: true | KEY | INDEX}`).

    `true` looks for `loss` (a key or attribute), else the first 0-d tensor of a tuple/list.
    """
    if how is True:
        found = _pick(out, "loss", strict=False)
        if found is None and isinstance(out, list | tuple):
            found = next((v for v in out if isinstance(v, torch.Tensor) and v.dim() == 0), None)
    else:
        found = _pick(out, how, strict=False)
    if not isinstance(found, torch.Tensor):
        where = "a `loss` field or a 0-d tensor" if how is True else repr(how)
        raise AdapterError(f"the model's output has no loss ({where}): {_describe(out)}; pass the target so the "
                           "model computes it (its `labels` argument), or name it with loss.from_model",
                           "loss.from_model")
    return found


def _auto(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, list | tuple):
        return _auto(out[0]) if out else None
    logits = _pick(out, "logits", strict=False)
    if isinstance(logits, torch.Tensor):
        return logits
    return next((v for v in _values(out) if isinstance(v, torch.Tensor)), None)


def _pick(out: Any, how: str | int, strict: bool = True) -> Any:
    if isinstance(how, int) or (isinstance(how, str) and how.lstrip("-").isdigit()):
        if isinstance(out, list | tuple) and -len(out) <= int(how) < len(out):
            return out[int(how)]
        values = _values(out)
        return values[int(how)] if values and -len(values) <= int(how) < len(values) else None
    if isinstance(out, Mapping) and how in out:
        return out[how]
    value = getattr(out, how, None) if not isinstance(out, torch.Tensor) else None
    return value if value is not None or not strict else None


def _values(out: Any) -> list:
    if isinstance(out, Mapping):
        return [v for v in out.values() if v is not None]
    if dataclasses.is_dataclass(out) and not isinstance(out, type):
        return [getattr(out, f.name) for f in dataclasses.fields(out) if getattr(out, f.name) is not None]
    if isinstance(out, list | tuple):
        return list(out)
    return []


def _describe(value: Any) -> str:
    """A type and its fields: `SequenceClassifierOutput (loss, logits)`, `tuple of 3 (Tensor, Tensor, int)`."""
    name = type(value).__name__
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, Mapping):
        return f"{name} with keys ({', '.join(map(str, value.keys()))})"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return f"{name} with fields ({', '.join(f.name for f in dataclasses.fields(value))})"
    if isinstance(value, list | tuple):
        return f"{name} of {len(value)} ({', '.join(type(v).__name__ for v in value)})"
    return name


def _to(value: Any, device: torch.device) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, Mapping):
        return {k: _to(v, device) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to(v, device) for v in value)
    return value


def _head(value: Any, n: int) -> Any:
    return value[:n] if isinstance(value, torch.Tensor) and value.dim() > 0 else value


# Losses whose targets are class indices: (B, T, C) outputs with (B, T) targets are read per token.
_CLASS_INDEX_LOSSES = frozenset({"CrossEntropyLoss", "NLLLoss", "MultiMarginLoss"})
IGNORE_INDEX = -100  # as torch's CrossEntropyLoss and Hugging Face


def is_token_level(out: torch.Tensor, y: Any) -> bool:
    """(B, T, C) scores against (B, T) class indices: one prediction per token."""
    return (isinstance(y, torch.Tensor) and out.dim() == 3 and y.dim() == 2 and tuple(out.shape[:2]) == tuple(y.shape)
            and not torch.is_floating_point(y))


def token_layout(out: torch.Tensor, y: Any, loss_class: str) -> tuple[Any, Any]:
    """Token-level outputs flattened to (B·T, C) and targets to (B·T), as the class-index losses expect."""
    if loss_class in _CLASS_INDEX_LOSSES and is_token_level(out, y):
        return out.reshape(-1, out.shape[-1]), y.reshape(-1)
    return out, y


def aligned(out: torch.Tensor, batch: Batch, time_major: bool = False) -> tuple[torch.Tensor, Any]:
    """(scores, targets) position by position: shifted by one when the targets are the inputs
    (causal LM, `labels = input_ids`), as the model's own loss shifts them; for a time-major model,
    (B, T) targets as (T, B), flattened when the model flattened its (T, B, C) scores to (T·B, C)."""
    y = batch.target
    if time_major and isinstance(y, torch.Tensor) and y.dim() == 2:
        y = y.transpose(0, 1)
        if out.dim() == 2 and out.shape[0] == y.numel():
            return out, y.reshape(-1)
        return out, y
    if is_token_level(out, y) and out.shape[1] > 1 and batch.targets_are_inputs:
        return out[:, :-1], y[:, 1:]
    return out, y


@dataclass(frozen=True)
class Reader:
    """How this spec's batches and outputs are read (`dataset.target_key`, `model.output`, `loss.from_model`).

    `loss_class` is the built-in loss's class name; empty for a `target:` loss, which receives the
    model's whole output, and for the model's own loss.
    """

    output: str | int = "auto"
    from_model: bool | str | int = False
    target_key: str | None = None
    loss_class: str = ""
    recurrent: bool = False  # `forward(input, hidden)` with `init_hidden(batch_size)` (see `call_model`)
    time_major: bool = False  # the model takes (T, B, …) inputs

    @property
    def model_computes_loss(self) -> bool:
        return self.from_model is not False

    def batch(self, raw: Any) -> Batch:
        return split_batch(raw, self.target_key)

    def forward(self, model: torch.nn.Module, batch: Batch) -> tuple[Any, torch.Tensor]:
        """(the model's whole output, the tensor the rules and the metric read)."""
        raw = call_model(model, batch, self.model_computes_loss, self.recurrent, self.time_major)
        return raw, select_output(raw, self.output)

    def align(self, out: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, Any]:
        """(scores, targets) paired position by position (see `aligned`)."""
        return aligned(out, batch, self.time_major)

    def loss(self, loss_fn: Any, raw: Any, out: torch.Tensor, batch: Batch) -> Any:
        if self.model_computes_loss:
            return model_loss(raw, self.from_model)
        if self.loss_class:
            return loss_fn(*token_layout(*self.align(out, batch), self.loss_class))
        return loss_fn(raw, self.align(out, batch)[1] if self.time_major else batch.target)


def recurrent_layout(model: torch.nn.Module, time_major: bool | None) -> tuple[bool, bool]:
    """(recurrent, time_major) for a model: recurrent when it has `init_hidden`; time-major as
    `model.time_major` says, else as its first RNN/LSTM/GRU's `batch_first` says."""
    recurrent = callable(getattr(model, "init_hidden", None))
    if time_major is None:
        rnn = next((m for m in model.modules() if isinstance(m, torch.nn.RNNBase)), None)
        time_major = recurrent and rnn is not None and not rnn.batch_first
    return recurrent, bool(time_major)
