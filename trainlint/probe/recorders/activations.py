"""Activation recorder: dead / saturated fraction, mean and std per activation, sampled.

Activations are recorded alike whether they are modules (`nn.ReLU`...: forward hooks) or
functions called in `forward` (`F.relu`, `torch.sigmoid`, `x.tanh()`...: a `TorchFunctionMode`).
Both are attached only for a sampled step's forward pass and removed right after, so unsampled
steps pay nothing. Statistics are reduced on device to one small tensor per activation.

A functional activation is named `<module>.<function>(<input>)`: the module whose forward
called it (left out for the model itself), the function, and the submodule whose output it
was applied to, relative to the caller: `relu(conv1)` for `F.relu(self.conv1(x))` in the
model's forward, `layer1.0.relu(bn1)` in a block's, `relu()` when the input is no submodule's
output (`F.relu(x + y)`). One call in the code is one activation (a loop's calls are recorded
like a module called several times: the last call); names that would repeat get `#1`, `#2`... in
call order. Its kind is the matching module's class name (`F.relu` → "ReLU"), so rules and plots
treat it as they treat modules.

Why names are fixed by the first sampled forward pass: functional calls are seen only by
running the model, and a series needs its names before its first row. Not recorded: calls first
seen on a later pass (data-dependent branches); calls inside activation modules (`nn.ReLU` calls
`F.relu`: recorded once, as the module); calls outside the model's modules; inside a leaf
module (one without submodules, e.g. Hugging Face's `NewGELUActivation`), calls whose result is
not what the module returns (the tanh inside a tanh-approximated GELU, the sigmoid of a Swish
`x * torch.sigmoid(x)`); a sigmoid/tanh whose result is the model's output (an output
non-linearity, near its bounds by design, as TL404 leaves out an output module).

Why the function mode is entered only when wanted: it sees every torch call of the pass (~3 µs
each on CPU), so when the first pass finds no functional activation, later passes attach the
module hooks only, as before.
"""

from __future__ import annotations

import math
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.overrides import TorchFunctionMode

from trainlint.probe.recorders.host import to_host

if TYPE_CHECKING:
    from trainlint.probe.record import RunRecord

RELU_LIKE = (nn.ReLU, nn.ReLU6)
SIGMOID_LIKE = (nn.Sigmoid, nn.Hardsigmoid)
TANH_LIKE = (nn.Tanh, nn.Hardtanh)
OTHER = (nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
         nn.Softplus, nn.Softsign, nn.Softmax, nn.LogSoftmax)
ACTIVATIONS = RELU_LIKE + SIGMOID_LIKE + TANH_LIKE + OTHER
# Distance from the bound that counts as saturated: the derivative there is below ~1 %.
SATURATION_MARGIN = 0.01
_T = torch.Tensor
# Activation functions, as `__torch_function__` receives them → (name, the module class they act as).
# F.relu_ is torch.relu_; F.sigmoid and F.tanh call x.sigmoid() and x.tanh(). Softmax is left out:
# it has no dead or saturated statistic and runs inside every attention layer.
FUNCTIONS: dict[object, tuple[str, type[nn.Module]]] = {
    f: (name, cls) for cls, name, functions in (
        (nn.ReLU, "relu", (F.relu, torch.relu, torch.relu_, _T.relu, _T.relu_)),
        (nn.ReLU6, "relu6", (F.relu6,)),
        (nn.Sigmoid, "sigmoid", (torch.sigmoid, torch.sigmoid_, _T.sigmoid, _T.sigmoid_, torch.special.expit)),
        (nn.Hardsigmoid, "hardsigmoid", (F.hardsigmoid,)),
        (nn.Tanh, "tanh", (torch.tanh, torch.tanh_, _T.tanh, _T.tanh_)),
        (nn.Hardtanh, "hardtanh", (F.hardtanh, F.hardtanh_)),
        (nn.LeakyReLU, "leaky_relu", (F.leaky_relu, F.leaky_relu_)),
        (nn.ELU, "elu", (F.elu, F.elu_)), (nn.SELU, "selu", (F.selu, F.selu_)), (nn.CELU, "celu", (F.celu, F.celu_)),
        (nn.GELU, "gelu", (F.gelu,)), (nn.SiLU, "silu", (F.silu,)), (nn.Mish, "mish", (F.mish,)),
        (nn.Softplus, "softplus", (F.softplus,)), (nn.Softsign, "softsign", (F.softsign,)),
    ) for f in functions}
# Frames between an activation function's caller and `__torch_function__`: torch's dispatch and F's wrappers.
_DISPATCH = (os.path.join(os.path.dirname(torch.__file__), "overrides.py"),
             os.path.join(os.path.dirname(torch.__file__), "nn", "functional.py"))


def activation_modules(model: nn.Module) -> dict[str, nn.Module]:
    return {name: m for name, m in model.named_modules() if isinstance(m, ACTIVATIONS)}


def _unit_max(y: torch.Tensor) -> torch.Tensor:
    """Per-unit maximum over the batch (and positions): features, channels or last dim.

    Why a maximum: a unit is alive when any of its outputs is positive, i.e. when its maximum
    is; one `amax` reads the activations once, ~10x cheaper than comparing every element
    and reducing the booleans (which also allocates a mask the size of the activations).
    """
    if y.dim() <= 1:
        return y.reshape(-1)
    if y.dim() == 2:
        return y.amax(0)
    if y.dim() == 3:  # (batch, time, features)
        return y.amax((0, 1))
    return y.amax((0, *range(2, y.dim())))  # (batch, channels, ...)


def _n_units(y: torch.Tensor) -> int:
    """How many units `_unit_max` reduces to, from the shape alone."""
    if y.dim() <= 1:
        return y.numel()
    return y.shape[-1] if y.dim() in (2, 3) else y.shape[1]


@cache
def _nan(device: torch.device) -> torch.Tensor:
    return torch.tensor(math.nan, device=device)


def _stats(kind: type[nn.Module], out: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], int, int]:
    """((alive units, saturated values, mean, std) as 0-d tensors on device, units, values).

    `kind` is the activation's module class. NaN where not applicable.

    Why raw counts and no `stack`: each small tensor op costs ~10 µs inside a training step
    (its code and data are cold there), so the fractions (one division each) are formed on
    the host, and the 0-d results are stacked once per flush for every sample together. ReLU-like
    outputs are never negative, so a unit is alive exactly when its maximum is non-zero.
    """
    y = out.detach()
    if y.dtype != torch.float32 and y.dtype != torch.float64:
        y = y.float()
    nan = _nan(y.device)
    alive = saturated = nan
    if issubclass(kind, RELU_LIKE):
        alive = torch.count_nonzero(_unit_max(y))
    elif issubclass(kind, SIGMOID_LIKE):
        saturated = torch.count_nonzero((y - 0.5).abs() > 0.5 - SATURATION_MARGIN)
    elif issubclass(kind, TANH_LIKE):
        saturated = torch.count_nonzero(y.abs() > 1 - SATURATION_MARGIN)
    std = y.std() if y.numel() > 1 else nan
    return (alive, saturated, y.mean(), std), _n_units(y), y.numel()


@dataclass
class _Found:
    """What the first pass learns of a functional activation (a call key)."""

    kind: type[nn.Module] | None  # None: not recorded (an output non-linearity, a part of a leaf's activation)
    source: str | None  # the module whose output it was applied to
    previous: str | tuple | None  # the activation recorded just before its first call
    output: torch.Tensor | None = None  # a sigmoid/tanh's latest result, until the model returns


class _Calls(TorchFunctionMode):
    """Hands each activation function called while active to the recorder."""

    def __init__(self, recorder: ActivationRecorder):
        super().__init__()
        self._recorder = recorder

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        known = FUNCTIONS.get(func)
        if known is not None and isinstance(out, torch.Tensor) and out.numel() > 0:
            self._recorder._called(*known, args[0] if args else (kwargs or {}).get("input"), out)
        return out


def _call_site() -> tuple:
    """(code, instruction) of the call that applied the activation: the first frame outside the dispatch.

    Why the instruction and not the line: `F.relu(self.fc2(F.relu(self.fc1(x))))` makes two calls
    on one line, while a loop repeats one call.
    """
    frame = sys._getframe(3)  # _call_site ← _called ← __torch_function__ ← the dispatch or the caller
    while frame.f_back is not None and frame.f_code.co_filename in _DISPATCH:
        frame = frame.f_back
    return frame.f_code, frame.f_lasti


class ActivationRecorder:
    """Per activation (module or functional call) of a model, its statistics on each armed forward pass."""

    def __init__(self, model: nn.Module):
        self.modules = activation_modules(model)
        self.names = list(self.modules)
        self.kinds = {n: type(m).__name__ for n, m in self.modules.items()}  # name → module class name
        self._module_names = {id(m): n for n, m in model.named_modules()}
        self._slots: list = list(self.names)  # per name, its key in `_current`: module name or call key
        self._calls: dict[tuple, type[nn.Module]] | None = None  # named call keys → kind; None before the first pass
        self._found: dict[tuple, _Found] = {}  # first pass, in call order
        self._stack: list[nn.Module] = []  # modules running, innermost last
        self._returned: tuple = (None, None)  # (module, output) of the latest module to return
        self._previous = None  # slot of the latest activation recorded (first pass)
        self._in_leaf: dict[int, list] = {}  # first pass: leaf module → its calls, until it returns
        self._mode, self._mode_on = _Calls(self), False
        self._handles: list = []
        self._current: dict = {}
        # (step, [(alive, saturated, mean, std), (units, values)] per module)
        self._pending: list[tuple[int, list[tuple[tuple[torch.Tensor, ...], int, int]]]] = []

    @contextmanager
    def recording(self, step: int):
        """Records the forward pass run inside; one that raises records nothing (and detaches all)."""
        self.arm()
        try:
            yield
        except BaseException:
            self.disarm(step, keep=False)
            raise
        self.disarm(step)

    @property
    def named(self) -> bool:
        """Whether a first pass has fixed the names of the functional activations."""
        return self._calls is not None

    def arm(self, running: nn.Module | None = None) -> None:
        """Attach to the model; the function mode and the module stack only while functional calls are wanted.

        `running`: the module whose forward is already under way when this is called from its forward
        pre-hook (the Python API arms from the model's own hook): it starts the module stack.
        """
        for name, module in self.modules.items():
            self._handles.append(module.register_forward_hook(self._hook(name)))
        if self._calls is None or self._calls:
            self._handles.append(register_module_forward_pre_hook(self._enter))
            self._handles.append(register_module_forward_hook(self._leave, always_call=True))
            self._mode.__enter__()
            self._mode_on = True
            if running is not None:
                self._stack.append(running)

    def _hook(self, name: str):
        def hook(module, _inputs, output):
            if isinstance(output, torch.Tensor) and output.numel() > 0:
                self._current[name] = _stats(type(module), output)
                self._previous = name

        return hook

    def _enter(self, module, _inputs) -> None:
        self._stack.append(module)

    def _leave(self, module, _inputs, output) -> None:
        if self._stack:
            self._stack.pop()
        self._returned = (module, output)
        if self._calls is None and self._in_leaf:
            # A leaf module (no submodules) is an activation module of its own (Hugging Face's
            # GELUActivation, a Swish): a call counts when its result is what the module returns;
            # the tanh inside a tanh-approximated GELU or the sigmoid of x * sigmoid(x) does not.
            ptrs = _storages(output)
            for found, out in self._in_leaf.pop(id(module), ()):
                if out.untyped_storage().data_ptr() not in ptrs:
                    found.kind = None
        if not self._stack and self._calls is None:
            self._skip_output_activation(output)

    def _caller(self) -> tuple[str, nn.Module] | tuple[None, None]:
        """The innermost running module of the model and its name; None inside an activation module or outside."""
        for module in reversed(self._stack):
            if isinstance(module, ACTIVATIONS):
                break
            name = self._module_names.get(id(module))
            if name is not None:
                return name, module
        return None, None

    def _called(self, function: str, kind: type[nn.Module], x, out: torch.Tensor) -> None:
        caller, module = self._caller()
        if caller is None:
            return
        key = (caller, function, *_call_site())
        if self._calls is None:  # first pass: note what the name, the order and the checks in _leave need
            found = self._found.get(key)
            if found is None:
                returned, output = self._returned
                source = self._module_names.get(id(returned)) if x is output and output is not None else None
                found = self._found[key] = _Found(kind, source, self._previous)
            if next(module.children(), None) is None:  # a leaf: an activation module of the user's own?
                self._in_leaf.setdefault(id(module), []).append((found, out))
            if issubclass(kind, SIGMOID_LIKE + TANH_LIKE):
                found.output = out  # the model's output? (see _leave)
            self._previous = key
        elif key not in self._calls:
            return
        self._current[key] = _stats(kind, out)

    def _skip_output_activation(self, output) -> None:
        """A sigmoid/tanh whose result the model returns (or a view of it) is its output non-linearity."""
        ptrs = _storages(output)
        for found in self._found.values():
            if found.output is not None and found.output.untyped_storage().data_ptr() in ptrs:
                found.kind = None
            found.output = None

    def _name_calls(self) -> None:
        """Fix names, kinds and order after the first pass: each call placed after the activation run before it."""
        after: dict = {}
        for key, found in self._found.items():
            after.setdefault(found.previous, []).append(key)
        slots: list = []

        def place(anchor) -> None:
            for key in after.pop(anchor, []):
                if self._found[key].kind is not None:
                    slots.append(key)
                place(key)

        place(None)
        for name in self.modules:
            slots.append(name)
            place(name)
        labels = {key: _label(key, self._found[key].source) for key in slots if isinstance(key, tuple)}
        repeated = {label for label in labels.values() if list(labels.values()).count(label) > 1}
        seen: dict[str, int] = {}
        for key in labels:  # call order
            if labels[key] in repeated:
                seen[labels[key]] = seen.get(labels[key], 0) + 1
                labels[key] = f"{labels[key]}#{seen[labels[key]]}"
        self._calls = {key: self._found[key].kind for key in labels}
        self._slots = slots
        self.names = [labels.get(s, s) for s in slots]
        self.kinds = {n: self._calls[s].__name__ if isinstance(s, tuple) else type(self.modules[s]).__name__
                      for n, s in zip(self.names, slots, strict=True)}
        self._found = {}

    def disarm(self, step: int, keep: bool = True) -> None:
        """Detach; `keep=False` after a pass that raised: nothing of it is kept."""
        for handle in self._handles:
            handle.remove()
        if self._mode_on:
            self._mode.__exit__(None, None, None)
            self._mode_on = False
        self._handles.clear()
        self._stack.clear()
        self._returned = (None, None)
        self._in_leaf.clear()
        if keep and self._calls is None:
            self._name_calls()
        if keep and self._current:
            values, _, _ = next(iter(self._current.values()))
            nan = _nan(values[0].device)
            missing = ((nan, nan, nan, nan), 0, 0)
            self._pending.append((step, [self._current.get(s, missing) for s in self._slots]))
        self._current = {}

    def flush(self) -> list[tuple[int, list[list[float]]]]:
        """(step, [[dead, saturated, mean, std] per activation]) rows since the last flush."""
        if not self._pending:
            return []
        rows = [[v for values, _, _ in stats for v in values] for _, stats in self._pending]
        values = to_host(rows, 4 * len(self.names)).reshape(len(rows), len(self.names), 4).tolist()
        out = []
        for (step, stats), rows in zip(self._pending, values, strict=True):
            out.append((step, [_fractions(row, units, n) for row, (_, units, n) in zip(rows, stats, strict=True)]))
        self._pending.clear()
        return out


def _storages(output) -> set[int]:
    """Addresses of the storages of a module's output tensors (a tensor, tuple, list or dict of them)."""
    if isinstance(output, dict):
        output = list(output.values())
    outputs = output if isinstance(output, tuple | list) else (output,)
    return {t.untyped_storage().data_ptr() for t in outputs if isinstance(t, torch.Tensor) and t.numel() > 0}


def name_series(record: RunRecord, recorder: ActivationRecorder) -> None:
    """Names the record's activation series and kinds as the recorder does (again after its first pass)."""
    record.model.activations = dict(recorder.kinds)
    for series in (record.dead_fraction, record.saturated_fraction, record.activation_mean, record.activation_std):
        series.names = list(recorder.names)


def _label(key: tuple, source: str | None) -> str:
    """`caller.function(input)`, the input relative to the caller (see the module docstring)."""
    caller, function = key[0], key[1]
    inner = ""
    if source is not None and (not caller or source.startswith(caller + ".")):
        inner = source[len(caller) + 1:] if caller else source
    return f"{caller + '.' if caller else ''}{function}({inner})"


def _fractions(row: list[float], units: int, values: int) -> list[float]:
    """[dead fraction, saturated fraction, mean, std] from [alive units, saturated values, mean, std]."""
    alive, saturated, mean, std = row
    return [1.0 - alive / units if units else math.nan, saturated / values if values else math.nan, mean, std]
