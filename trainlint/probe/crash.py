"""Turn an exception raised by the user's model, data or loss into a CrashInfo."""

from __future__ import annotations

import sys
import sysconfig
import traceback
from pathlib import Path

import torch

from trainlint.probe.record import CrashInfo

_LIBRARY_ROOTS = tuple(
    str(Path(p).resolve()) for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
                                    sysconfig.get_paths()["platlib"]}
)
_TRAINLINT_ROOT = str(Path(__file__).resolve().parents[1])


def _is_user_file(filename: str) -> bool:
    path = str(Path(filename).resolve())
    if path.startswith(_TRAINLINT_ROOT):
        return False
    return not path.startswith(_LIBRARY_ROOTS) and not filename.startswith("<")


def describe(value) -> dict | None:
    """Shape, dtype and device of a tensor (or None)."""
    if isinstance(value, torch.Tensor):
        return {"shape": list(value.shape), "dtype": str(value.dtype).replace("torch.", ""),
                "device": str(value.device)}
    return None


def capture(exc: BaseException, phase: str, step: int, **tensors) -> CrashInfo:
    """CrashInfo with the innermost frame in user code and the tensors involved."""
    frames = traceback.extract_tb(exc.__traceback__)
    user = next((f for f in reversed(frames) if _is_user_file(f.filename)), None)
    user_frame = None
    if user is not None:
        user_frame = {"file": user.filename, "line": user.lineno, "function": user.name,
                      "code": (user.line or "").strip()}
    shapes = {k: d for k, v in tensors.items() if (d := describe(v)) is not None}
    tail = traceback.format_exception_only(type(exc), exc)
    last = [f"{f.filename}:{f.lineno} in {f.name}" for f in frames[-4:]]
    return CrashInfo(phase=phase, step=step, exc_type=type(exc).__name__, message=str(exc).strip()[:2000],
                     user_frame=user_frame, shapes=shapes, traceback_tail=last + [t.strip() for t in tail][-1:])


__all__ = ["capture", "describe", "sys"]
