"""TensorBoard log directories: which runs a path holds, and their scalars.

Read with tensorboard's own `EventAccumulator`, imported lazily: the package is an optional
extra, and a missing one is a user error (exit 2) that names the install command.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainlint.report.tensorboard import available
from trainlint.spec.errors import SpecError

EVENTS_GLOB = "events.out.tfevents.*"
INSTALL = 'pip install "trainlint[tensorboard]"'


@dataclass(frozen=True)
class Point:
    step: int
    value: float
    wall_time: float


def event_dirs(path: Path) -> list[Path]:
    """The folders under `path` (itself included) that hold event files: one TensorBoard run each."""
    return sorted({f.parent for f in path.rglob(EVENTS_GLOB) if f.is_file()})


def pick_run(path: Path, runs: list[Path]) -> Path:
    """The one run in `path`; several are a user error listing them.

    Why not diagnose each: one diagnosis is one report, one --out folder and one exit status
    for CI to gate on; which of several runs matters is the user's call, not a guess.
    """
    if len(runs) == 1:
        return runs[0]
    shown = ", ".join(f"`{r}`" for r in runs[:10]) + (f" and {len(runs) - 10} more" if len(runs) > 10 else "")
    raise SpecError(f"`{path}` holds {len(runs)} TensorBoard runs (folders with event files): {shown}; "
                    "diagnose one run at a time", accepted="the path of one of these folders")


def read_scalars(run: Path) -> dict[str, list[Point]]:
    """Every scalar tag of one run: its points in step order, one per step (the last one written),
    non-finite values kept (a loss that turned NaN is what TL202 looks for)."""
    if not available():
        raise SpecError(f"`{run}` is a TensorBoard log; reading it needs the optional `tensorboard` package, "
                        f"not installed here: install it with `{INSTALL}`")
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    acc = EventAccumulator(str(run), size_guidance={SCALARS: 0})  # 0: keep every point, not a sample
    acc.Reload()
    out = {}
    for tag in acc.Tags().get("scalars", []):
        by_step = {int(e.step): Point(int(e.step), float(e.value), float(e.wall_time)) for e in acc.Scalars(tag)}
        out[tag] = [by_step[s] for s in sorted(by_step)]
    return out
