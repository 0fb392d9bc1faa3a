"""Turn an exception raised by the user's model, data or loss into a CrashInfo.

What TL001 needs to explain a crash without the traceback: the innermost frame in the user's
own code (file, line, function, source line), the tensors in flight (shape, dtype, device),
the innermost `nn.Module` that was running (say, the `Linear` whose sizes do not chain), and,
when the user frame is a dataset's `__getitem__`, the index it was asked for.
"""

from __future__ import annotations

import sysconfig
import traceback
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import torch

from trainlint.probe.record import CrashInfo

_LIBRARY_ROOTS = tuple(
    str(Path(p).resolve()) for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
                                    sysconfig.get_paths()["platlib"]}
)
_TRAINLINT_ROOT = str(Path(__file__).resolve().parents[1])
MAX_MESSAGE = 2000


def _is_user_file(filename: str) -> bool:
    if filename.startswith("<"):
        return False
    path = str(Path(filename).resolve())
    if path.startswith(_TRAINLINT_ROOT):
        return False
    return not path.startswith(_LIBRARY_ROOTS)


def describe(value) -> dict | None:
    """Shape, dtype and device of a tensor (or None)."""
    if isinstance(value, torch.Tensor):
        return {"shape": list(value.shape), "dtype": str(value.dtype).replace("torch.", ""),
                "device": str(value.device)}
    return None


def _frames(tb: TracebackType | None) -> list[tuple[FrameType, int]]:
    out = []
    while tb is not None:
        out.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    return out


def _index_argument(frame: FrameType) -> Any:
    """The index a `__getitem__(self, index)` frame was called with, when it is a plain value."""
    code = frame.f_code
    if code.co_argcount < 2:
        return None
    value = frame.f_locals.get(code.co_varnames[1])
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    return value if isinstance(value, int | str) and not isinstance(value, bool) else None


def _running_module(frames: list[tuple[FrameType, int]]) -> str | None:
    """The innermost `nn.Module` whose code was running, as its repr (`Linear(in_features=8, ...)`)."""
    for frame, _ in reversed(frames):
        module = frame.f_locals.get("self")
        if isinstance(module, torch.nn.Module):
            try:
                text = repr(module) if not list(module.children()) else type(module).__name__
            except Exception:  # noqa: BLE001 - a user's __repr__ may itself fail
                text = type(module).__name__
            return text[:200]
    return None


def _user_frame(frames: list[tuple[FrameType, int]]) -> dict[str, Any] | None:
    for frame, lineno in reversed(frames):
        filename = frame.f_code.co_filename
        if not _is_user_file(filename):
            continue
        summary = traceback.FrameSummary(filename, lineno, frame.f_code.co_name)
        found: dict[str, Any] = {"file": filename, "line": lineno, "function": frame.f_code.co_name,
                                 "code": (summary.line or "").strip()}
        if frame.f_code.co_name == "__getitem__" and (index := _index_argument(frame)) is not None:
            found["index"] = index
        if (module := _running_module(frames)) is not None:
            found["module"] = module
        return found
    return None


def capture(exc: BaseException, phase: str, step: int, **tensors) -> CrashInfo:
    """CrashInfo with the innermost frame in user code and the tensors involved.

    ``user_frame`` holds ``file``, ``line``, ``function`` and ``code``; also ``index`` when that
    frame is a ``__getitem__`` and ``module`` (the innermost running ``nn.Module``) when known.
    """
    frames = _frames(exc.__traceback__)
    shapes = {k: d for k, v in tensors.items() if (d := describe(v)) is not None}
    try:
        message = str(exc).strip()
    except Exception:  # noqa: BLE001 - a user exception whose __str__ fails
        message = f"<{type(exc).__name__} whose message cannot be shown>"
    summaries = traceback.extract_tb(exc.__traceback__)
    last = [f"{f.filename}:{f.lineno} in {f.name}" for f in summaries[-4:]]
    tail = traceback.format_exception_only(type(exc), exc)
    return CrashInfo(phase=phase, step=step, exc_type=type(exc).__name__, message=message[:MAX_MESSAGE],
                     user_frame=_user_frame(frames), shapes=shapes,
                     traceback_tail=last + [t.strip() for t in tail][-1:])


__all__ = ["capture", "describe"]
