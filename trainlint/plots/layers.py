"""Per-layer series, drawn one of two ways: a line per layer (few layers) or a heatmap (many).

Up to MAX_LEGEND layers each gets a line and a legend entry. Deeper models get a heatmap (layers
top to bottom in forward order, one column per sampled step) whose layer names stay readable at
50 layers, where 50 lines and their legend would squash the axes into a strip.

Both forms say what a log axis cannot show: a value of exactly 0 gets a ▼ at the bottom of the
axis and a note ("0 from step 12"), so a line that just stops is never left unexplained.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np

from trainlint.plots.common import MAX_LEGEND, SEVERITY_COLOR, layer_label, positive
from trainlint.probe.record import LayerSeries, RunRecord

MAX_MARKED = 6  # legend entries for layers a finding blames when colouring by depth; the rest are counted
ZERO_MARKER = "v"
ZERO_COLOR = "#1e88e5"  # heatmap cells that are exactly 0
MISSING_COLOR = "#bdbdbd"  # heatmap cells with nothing recorded
DOTS_BELOW = 15  # fewer samples than this: each one gets a dot (a single sample is no line)


def heat(series: LayerSeries, most_lines: int = MAX_LEGEND) -> bool:
    """Whether `series` has more layers than `most_lines` (the heatmap form)."""
    return len(series.names) > most_lines


def zero_note(steps: Sequence[int], values: Sequence[float]) -> str:
    """Where a series is exactly 0 ("0 from step 12", "0 at step 7", "0 at 3 steps from step 5"), else ""."""
    arr = np.asarray(values, dtype=float)
    hit = np.flatnonzero(arr == 0)
    if not hit.size:
        return ""
    first = steps[hit[0]]
    rest = arr[hit[0]:]
    if hit.size == 1 and (hit[0] == len(arr) - 1 or np.isfinite(rest[1:]).any()):
        return f"0 at step {first}"
    if (rest[np.isfinite(rest)] == 0).all():
        return f"0 from step {first}"
    return f"0 at {hit.size} steps from step {first}"


def mark_zeros(ax, steps: Sequence[int], values: Sequence[float], color) -> str:
    """A ▼ on the bottom edge of a log axis at each step where `values` is exactly 0; returns `zero_note`."""
    arr = np.asarray(values, dtype=float)
    hit = arr == 0
    if hit.any():
        ax.plot(np.asarray(steps)[hit], np.zeros(int(hit.sum())), ZERO_MARKER, color=color, ms=6, mec="white",
                mew=0.5, transform=ax.get_xaxis_transform(), clip_on=False, zorder=4)
    return zero_note(steps, arr)


def zero_handle(label: str):
    """A legend entry for the ▼ marks."""
    from matplotlib.lines import Line2D

    return Line2D([], [], marker=ZERO_MARKER, ls="none", color="#555555", ms=6, label=label)


def all_zero_axis(ax, values) -> None:
    """A log axis with nothing positive to show: a sentence instead of an empty frame."""
    if np.isfinite(positive(values)).any():
        return
    ax.text(0.5, 0.5, "every value is exactly 0 (▼ at the bottom)", transform=ax.transAxes, ha="center",
            va="center", fontsize=9, color="#555555")


def layer_lines(fig, ax, series: LayerSeries, record: RunRecord, transform=positive,
                marked: dict[str, str] | None = None, log: bool = True) -> None:
    """One line per layer: a legend up to MAX_LEGEND layers, beyond that colour by depth + colour bar."""
    from matplotlib import cm, colormaps
    from matplotlib.colors import Normalize

    marked = marked or {}
    values = transform(series.values)
    raw = np.asarray(series.values, dtype=float).reshape(len(series.steps), len(series.names))
    n = len(series.names)
    many = n > MAX_LEGEND
    cmap = colormaps["viridis"] if many else None
    dots = len(series.steps) < DOTS_BELOW
    zeros: dict[str, str] = {}
    listed: set[str] = set()  # layers with their own legend entry
    for j, name in enumerate(series.names):
        color = cmap(j / max(n - 1, 1)) if many else f"C{j % 10}"
        bold = name in marked
        note = mark_zeros(ax, series.steps, raw[:, j], color) if log else ""
        if note:
            zeros[name] = note
        label = layer_label(record, name) + (f"  ← {marked[name]}" if bold else "") + (f"  (▼ {note})" if note else "")
        shown = not many or (bold and len(listed) < MAX_MARKED)
        if shown:
            listed.add(name)
        ax.plot(series.steps, values[:, j], color=color, lw=2.4 if bold else (0.9 if many else 1.4),
                alpha=1.0 if bold or not many else 0.8, label=label if shown else None, zorder=3 if bold else 2,
                marker="o" if dots else None, ms=2.5 if many else 3.5)
    if log:
        ax.set_yscale("log")
        all_zero_axis(ax, values)
    if not many:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), framealpha=0.8)
        return
    sm = cm.ScalarMappable(norm=Normalize(0, n - 1), cmap=cmap)
    bar = fig.colorbar(sm, ax=ax, pad=0.01, aspect=30)
    ticks = sorted({0, n // 4, n // 2, (3 * n) // 4, n - 1})
    bar.set_ticks(ticks)
    bar.set_ticklabels([series.names[t] for t in ticks], fontsize=7)
    bar.set_label("layer (input → output)", fontsize=8)
    handles, labels = ax.get_legend_handles_labels()
    if len(marked) > MAX_MARKED:  # a long legend would not fit inside the axes: count the rest
        codes = ", ".join(dict.fromkeys(c for v in marked.values() for c in v.split(", ")))
        handles.append(_blank())
        labels.append(f"… and {len(marked) - MAX_MARKED} more layers ← {codes}")
    if zeros:  # the layers listed above already carry their note
        handles.append(zero_handle(""))
        labels.append(_zero_summary({k: v for k, v in zeros.items() if k not in listed}))
    if handles:  # few entries, inside the axes: never over the title or the colour bar
        ax.legend(handles, labels, fontsize=7, loc="best", framealpha=0.8)


def _blank():
    from matplotlib.patches import Patch

    return Patch(visible=False)


def _zero_summary(zeros: dict[str, str], shown: int = 3) -> str:
    """The legend line for ▼: what it means, and the first few layers not already in the legend."""
    listed = "; ".join(f"{name}: {note}" for name, note in list(zeros.items())[:shown])
    more = f" and {len(zeros) - shown} more" if len(zeros) > shown else ""
    return textwrap.fill("exactly 0 (no point on a log axis)" + (f": {listed}{more}" if zeros else ""), 70)


def cell_edges(steps: Sequence[int], stats_every: int = 1) -> np.ndarray:
    """Heatmap column edges: each sample's cell reaches halfway to its neighbours."""
    s = np.asarray(steps, dtype=float)
    if len(s) == 1:
        half = max(0.5, stats_every / 2)
        return np.array([s[0] - half, s[0] + half])
    mids = (s[1:] + s[:-1]) / 2
    return np.concatenate([[2 * s[0] - mids[0]], mids, [2 * s[-1] - mids[-1]]])


def layer_heatmap(fig, ax, series: LayerSeries, record: RunRecord, values: np.ndarray, marked: dict[str, str],
                  cmap: str, vmin: float, vmax: float, label: str, zeros: np.ndarray | None = None) -> None:
    """`values` (layers x sampled steps) as colour, first layer at the top; grey where nothing was recorded.

    Args:
        zeros: layers x steps, True where the statistic is exactly 0 (drawn in ZERO_COLOR, for
            log-scaled values, which cannot show 0).
    """
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    edges = cell_edges(series.steps, record.stats_every)
    rows = np.arange(len(series.names) + 1) - 0.5
    mesh = ax.pcolormesh(edges, rows, np.ma.masked_invalid(values),
                         cmap=colormaps[cmap].with_extremes(bad=MISSING_COLOR), vmin=vmin,
                         vmax=max(vmax, vmin + 1e-6), shading="flat")
    if zeros is not None and zeros.any():
        ax.pcolormesh(edges, rows, np.ma.masked_where(~zeros, np.ones(zeros.shape)),
                      cmap=ListedColormap([ZERO_COLOR]), shading="flat")
    ax.set_ylim(len(series.names) - 0.5, -0.5)  # first layer at the top
    ax.set_yticks(range(len(series.names)))
    labels = ax.set_yticklabels(
        [layer_label(record, name) + (f"  ← {marked[name]}" if name in marked else "") for name in series.names],
        fontsize=max(5.0, min(8.0, 300 / len(series.names))))
    for name, text in zip(series.names, labels, strict=True):
        if name in marked:  # the layers a finding blames, in its colour
            text.set_color(SEVERITY_COLOR["warning"])
            text.set_fontweight("bold")
    ax.grid(False)
    bar = fig.colorbar(mesh, ax=ax, pad=0.01, aspect=40)
    bar.set_label(label, fontsize=8)


def heatmap_height(series: LayerSeries, minimum: float = 3.2) -> float:
    """Inches for a heatmap panel: about 0.16 in per layer, so labels never overlap."""
    return max(minimum, 0.16 * len(series.names))
