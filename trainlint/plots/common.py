"""What every figure shares: a pyplot-free Agg figure, severity colours, finding markers, layer labels.

Why no pyplot: `matplotlib.figure.Figure` renders with Agg on its own, so drawing never touches
global backend state (safe inside a notebook or a test run) and skips pyplot's import cost.
Matplotlib is imported here, lazily: only when a figure is actually drawn.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from trainlint.analysis.wording import stop_text
from trainlint.probe.record import LayerSeries, RunRecord
from trainlint.report.model import write_atomic
from trainlint.rules.base import Finding

SEVERITY_COLOR = {"error": "#c62828", "warning": "#ef6c00", "info": "#1565c0"}
MAX_LEGEND = 10  # more layers than this: a heatmap, or colour by depth with a colour bar (see layers.py)
DPI = 110
LABEL_GAP = 0.06  # finding labels closer than this (fraction of the axis width) are staggered


def save(fig, path) -> None:
    """Save `fig` through a temporary file and a rename: a killed process never leaves half an image."""
    path = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=path.suffix.lstrip(".") or "png")
    write_atomic(path, buffer.getvalue())


def figure(height: float, width: float = 10.0, rows: int = 1, height_ratios: Sequence[float] | None = None,
           sharex: bool = True):
    """A Figure with `rows` stacked axes (constrained layout), without pyplot."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, 1, sharex=sharex, squeeze=False,
                        gridspec_kw={"height_ratios": list(height_ratios)} if height_ratios else None)[:, 0]
    for ax in axes:
        ax.grid(True, which="major", alpha=0.25)
        ax.spines[["top", "right"]].set_visible(False)
    return fig, list(axes)


def concerning(findings: Iterable[Finding], prefixes: Sequence[str] | None) -> list[Finding]:
    """The findings whose code starts with one of `prefixes` (all of them when None)."""
    return [f for f in findings if prefixes is None or f.code.startswith(tuple(prefixes))]


def mark_findings(axes: Sequence, findings: Sequence[Finding]) -> int:
    """A vertical line per finding step on every axis, its codes written above the top axis.

    Labels sit outside the plot area so they never hide data or a legend; a label that would
    overlap its left neighbour moves up a row. Returns the rows used (see `title_pad`).
    """
    by_step: dict[int, list[Finding]] = {}
    for f in findings:
        if f.step is not None:
            by_step.setdefault(f.step, []).append(f)
    if not by_step:
        return 0
    top = axes[0]
    lo, hi = top.get_xlim()
    width_pt = top.figure.get_figwidth() * 72 * 0.8  # about the axis width
    row_ends: list[float] = []  # right end (axis fraction) of the last label in each row
    for step, group in sorted(by_step.items()):
        worst = max(group, key=lambda f: f.severity.rank)
        color = SEVERITY_COLOR[worst.severity.value]
        for ax in axes:
            ax.axvline(step, color=color, lw=1.2, ls="--", alpha=0.8, zorder=1)
        text = ",".join(dict.fromkeys(f.code for f in group))
        x = (step - lo) / (hi - lo) if hi > lo else 0.0
        w = len(text) * 5.0 / width_pt
        ha, start = ("left", x) if x < 0.04 else ("right", x - w) if x > 0.96 else ("center", x - w / 2)
        row = next((i for i, end in enumerate(row_ends) if start > end + 0.01), len(row_ends))
        if row == len(row_ends):
            row_ends.append(0.0)
        row_ends[row] = start + w
        top.annotate(text, xy=(step, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 3 + 10 * row),
                     textcoords="offset points", va="bottom", ha=ha, fontsize=8, color=color,
                     fontweight="bold", annotation_clip=False)
    return len(row_ends)


def title_pad(label_rows: int) -> float:
    """Room above the top axis for `label_rows` rows of finding labels."""
    return 6 + 10 * label_rows


def note_findings(fig, findings: Sequence[Finding], width: int = 150) -> None:
    """A footnote listing the figure's findings (the only mark for those without a step)."""
    if not findings:
        return
    lines = []
    for f in sorted(findings, key=lambda f: f.caused_by is not None):  # root causes first, as the reports
        where = f" (step {f.step})" if f.step is not None else ""
        cause = f"↳ caused by {f.caused_by}: " if f.caused_by else ""
        text = f"{cause}{f.code} {f.rule} [{f.severity.value}]{where}: {f.message}"
        lines.append(textwrap.shorten(text, width=width, placeholder=" …"))
    fig.supxlabel("\n".join(lines), fontsize=8, x=0.01, ha="left", color="#333333")


def positive(values: Sequence[float]) -> np.ndarray:
    """Values for a log axis: non-finite and non-positive entries become gaps (NaN)."""
    arr = np.asarray(values, dtype=float)
    return np.where(np.isfinite(arr) & (arr > 0), arr, np.nan)


def finite_array(values: Sequence[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return np.where(np.isfinite(arr), arr, np.nan)


def has_values(series: LayerSeries, transform=finite_array) -> bool:
    return len(series) > 0 and bool(series.names) and bool(np.isfinite(transform(series.values)).any())


def wants_log(values: Sequence[float], ratio: float = 30.0) -> bool:
    """Whether a positive series spans enough orders of magnitude to need a log axis."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    return bool(len(arr)) and arr.min() > 0 and arr.max() / arr.min() > ratio


def layer_label(record: RunRecord, name: str) -> str:
    kind = record.model.layer_types.get(name) or record.model.activations.get(name)
    return f"{name} ({kind})" if kind else name


def emphasised(findings: Sequence[Finding], names: Sequence[str]) -> dict[str, str]:
    """Layer name → codes of the findings that blame it (`name` in backquotes, or a string evidence value)."""
    out: dict[str, str] = {}
    for f in findings:
        values = {v for v in f.evidence.values() if isinstance(v, str)}
        for name in names:
            if f"`{name}`" in f.message or name in values:
                out[name] = ", ".join(filter(None, [out.get(name), f.code]))
    return out if len(out) < len(names) else {}  # emphasising every layer says nothing


def completed(series: LayerSeries, record: RunRecord) -> LayerSeries:
    """`series` at the steps the probe completed: a sample taken in the step that crashed is dropped.

    Why: a probe that crashes in the loss at step 0 has already sampled that forward pass's
    activations; one point with no step around it draws as an empty frame, and a figure
    without data is skipped instead (`can_draw`), as the README promises.
    """
    done = set(record.steps)
    keep = [i for i, s in enumerate(series.steps) if s in done]
    if len(keep) == len(series.steps):
        return series
    return LayerSeries(list(series.names), [series.steps[i] for i in keep], [series.values[i] for i in keep])


def step_axis(ax, record: RunRecord) -> None:
    """The x axis every figure shares: optimizer steps, 0 to the planned end.

    A probe that stopped early is shown up to where it stopped, so a NaN at step 3 of 300 is
    not a sliver at the left edge; the top axis says why it stopped.
    """
    last = record.steps[-1] if record.steps else 0
    early = record.stop_reason != "completed"
    end = last + max(1.0, 0.05 * last) if early else max(record.steps_planned - 1, last) + 0.5
    ax.set_xlim(-0.5, end)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("optimizer step" + (f" (probe stopped at step {last} of {record.steps_planned}: "
                                      f"{stop_text(record.stop_reason)})" if early else ""))


def centred_median(values: np.ndarray, width: int) -> np.ndarray:
    """Centred rolling median over the finite values (NaN stays NaN).

    Why a centred median: an EMA lags the raw curve (a falling loss looks higher than it is), and
    a mean is dragged up by one spike by orders of magnitude on a log axis.
    """
    out = np.full_like(values, np.nan, dtype=float)
    ok = np.isfinite(values)
    v = values[ok]
    if len(v) == 0:
        return out
    half = max(1, width // 2)
    padded = np.pad(v, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    out[ok] = np.median(windows, axis=1)
    return out
