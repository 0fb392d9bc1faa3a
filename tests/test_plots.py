"""Plots: drawn from fabricated records (fast), skipped cleanly without data, and end to end for quickstart.

Figures are checked through the returned matplotlib objects: which form was drawn, what the
legends say, and that no legend covers a title.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import CONFIGS
from report_factory import fabricated_record

from trainlint.compare.ranking import VariantResult, rank_variants, recommend
from trainlint.compare.runner import Comparison
from trainlint.plots import activations, draw_all, figures, gradients, updates
from trainlint.plots.compare import draw_comparison, same_as
from trainlint.plots.layers import MAX_MARKED, ZERO_MARKER, zero_note
from trainlint.probe.record import LayerSeries, ModelFacts, RunRecord
from trainlint.rules.base import Finding, Severity

ALL = ["loss.png", "gradients.png", "updates.png", "activations.png"]
PNG = b"\x89PNG\r\n\x1a\n"


def finding(code: str, step: int | None, message: str = "something is off") -> Finding:
    return Finding(code=code, rule="some-rule", severity=Severity.WARNING, message=message, step=step)


def test_every_figure_drawn_from_a_full_record(tmp_path):
    findings = [finding("TL204", 30), finding("TL403", 59, "`net.4` is dead"), finding("TL402", None)]
    result = draw_all(fabricated_record(), findings, tmp_path, "fabricated")
    assert result.written == ALL and not result.failed and not result.skipped
    for name in ALL:
        assert (tmp_path / name).read_bytes()[:8] == PNG


def test_deep_model_gradients_use_a_heatmap(tmp_path):
    record = fabricated_record(n_layers=34)
    result = draw_all(record, [finding("TL402", None, "`net.1` vs `net.67`")], tmp_path, "deep")
    assert not result.failed and "gradients.png" in result.written


def test_probe_stopped_by_nan(tmp_path):
    result = draw_all(fabricated_record(steps=100, stop_at=3), [finding("TL202", 3)], tmp_path, "nan")
    assert not result.failed
    assert "loss.png" in result.written


def test_crashed_probe_with_no_data_skips_every_figure(tmp_path):
    record = RunRecord(spec_name="crashed", steps_planned=100, stop_reason="crashed")
    result = draw_all(record, [finding("TL001", 0)], tmp_path, "crashed")
    assert result.written == [] and not result.failed
    assert sorted(result.skipped) == sorted(ALL)
    assert list(tmp_path.iterdir()) == []


def test_figure_modules_declare_their_file():
    assert [m.FILENAME for m in figures()] == ALL


@pytest.mark.parametrize("plots", [True, False])
def test_quickstart_probe_plots(cli, tmp_path, plots):
    out = tmp_path / "out"
    args = ["probe", CONFIGS / "quickstart.yaml", "--steps", "30", "--out", out, "-q"]
    result = cli(*args, *([] if plots else ["--no-plots"]))
    assert result.exit_code == 0, result.output
    artifacts = json.loads((out / "report.json").read_text())["artifacts"]
    for name in ALL:
        assert (out / name).exists() == plots
        assert (name in artifacts) == plots
    assert ("loss.png" in (out / "report.md").read_text()) == plots


# --- readability: heatmaps for many modules, nothing over the titles ----------------------------

def _titles(fig) -> set[str]:
    """The figure's title, footnote and axes titles."""
    titles = {fig.get_suptitle(), fig.get_supxlabel()}
    titles |= {ax.get_title(loc=loc) for ax in fig.axes for loc in ("left", "center", "right")}
    return {t for t in titles if t}


def _legends_over_titles(fig) -> list[str]:
    """Titles a legend covers, legends spilling out of the figure, and axes squashed below an inch."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    names = _titles(fig)
    titles = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text() in names]
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    problems = [f"legend over {t.get_text()!r}" for legend in legends for t in titles
                if legend.get_window_extent(renderer).overlaps(t.get_window_extent(renderer))]
    problems += [f"legend outside the figure: {box}" for box in (lg.get_window_extent(renderer) for lg in legends)
                 if box.y0 < 0 or box.y1 > fig.bbox.height or box.x0 < 0 or box.x1 > fig.bbox.width]
    return problems + [f"squashed axes {ax.get_title(loc='left')!r}" for ax in fig.axes
                       if ax.get_position().height * fig.get_figheight() < 1.0]


def _heatmaps(ax) -> int:
    from matplotlib.collections import QuadMesh

    return sum(isinstance(c, QuadMesh) for c in ax.collections)


def _curves(ax) -> list:
    """Lines with data (not the vertical finding markers)."""
    return [line for line in ax.get_lines() if len(line.get_xdata()) > 2]


def _deep_dead_record(n_modules: int = 50):
    record = fabricated_record(n_layers=n_modules + 1)
    acts = record.dead_fraction.names
    record.dead_fraction.values = [[min(1.0, 0.02 * j + 0.001 * s) for j in range(len(acts))]
                                   for s in record.dead_fraction.steps]
    return record


def test_many_activation_modules_use_a_heatmap_and_the_legend_stays_off_the_title():
    record = _deep_dead_record(50)
    blamed = record.dead_fraction.names[-31:]
    findings = [finding("TL403", 59, "31 ReLU layers dead: " + ", ".join(f"`{n}`" for n in blamed))]
    fig = activations.draw(record, findings, "deep")
    ax = fig.axes[0]
    assert _heatmaps(ax) == 1 and not _curves(ax)  # modules x sampled steps, no 50 lines
    assert len(ax.get_yticklabels()) == 50
    assert sum("← TL403" in t.get_text() for t in ax.get_yticklabels()) == 31
    assert _legends_over_titles(fig) == []
    assert fig.get_figheight() >= 0.16 * 50  # about 0.16 in per module: labels do not overlap


@pytest.mark.parametrize(("n_modules", "heatmap"), [(8, False), (9, True)])
def test_activation_form_switches_above_eight_modules(n_modules, heatmap):
    fig = activations.draw(_deep_dead_record(n_modules), [], "switch")
    assert _heatmaps(fig.axes[0]) == heatmap and bool(_curves(fig.axes[0])) != heatmap
    assert _legends_over_titles(fig) == []


def test_few_activation_modules_keep_lines_with_a_legend_beside_the_axes():
    fig = activations.draw(fabricated_record(n_layers=4), [finding("TL403", 59, "`net.4` is dead")], "few")
    ax = fig.axes[0]
    assert _heatmaps(ax) == 0 and len(_curves(ax)) == 3
    assert ax.get_legend() is not None and _legends_over_titles(fig) == []


def test_many_marked_layers_get_a_short_legend_inside_the_axes():
    record = fabricated_record(n_layers=40)
    names = record.update_ratio.names
    fig = updates.draw(record, [finding("TL301", 30, "blamed " + ", ".join(f"`{n}`" for n in names[:31]))], "lr")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(texts) <= MAX_MARKED + 3 and any("… and 25 more layers ← TL301" in t for t in texts)
    assert _legends_over_titles(fig) == []


# --- skipped when there is nothing to draw ----------------------------------------------------

def test_sample_from_a_step_that_crashed_is_not_drawn(tmp_path):
    """Crash in the loss at step 0: the forward pass sampled activations, but no step completed."""
    record = RunRecord(spec_name="crashed", steps_planned=50, stop_reason="crashed",
                       model=ModelFacts(activations={"net.2": "ReLU"}))
    record.dead_fraction = LayerSeries(["net.2"], [0], [[0.25]])
    record.saturated_fraction = LayerSeries(["net.2"], [0], [[math.nan]])
    result = draw_all(record, [finding("TL001", 0)], tmp_path, "crashed")
    assert result.written == [] and not result.failed and "activations.png" in result.skipped
    assert list(tmp_path.iterdir()) == []


def test_crash_after_some_steps_draws_only_the_completed_steps():
    record = fabricated_record(steps=100, stop_at=25)
    record.stop_reason = "crashed"
    record.dead_fraction.append(26, [0.9] * len(record.dead_fraction.names))  # the step that crashed
    fig = activations.draw(record, [], "crashed")
    assert _curves(fig.axes[0]) and all(max(line.get_xdata()) <= 25 for line in _curves(fig.axes[0]))


def test_a_single_sample_is_drawn_as_a_dot():
    fig = activations.draw(fabricated_record(steps=100, stop_at=3), [], "nan at 3")
    assert all(line.get_marker() == "o" for line in fig.axes[0].get_lines())


# --- a gradient of exactly 0 is marked, not dropped from a log axis ---------------------------

@pytest.mark.parametrize(("values", "note"), [
    ([1.0, 0.5, 0.2], ""),
    ([1.0, 0.0, 0.0, 0.0], "0 from step 11"),
    ([1.0, 0.0, 0.5, 0.5], "0 at step 11"),
    ([1.0, 0.5, 0.5, 0.0], "0 at step 13"),
    ([0.0, 0.5, 0.0, 0.5], "0 at 2 steps from step 10"),
    ([1.0, 0.0, math.nan, 0.0], "0 from step 11"),
])
def test_zero_note(values, note):
    assert zero_note([10, 11, 12, 13], values) == note


def _zero_gradients(n_layers: int):
    record = fabricated_record(n_layers=n_layers)
    for i, step in enumerate(record.layer_grad_norm.steps):
        if step >= 25:
            record.layer_grad_norm.values[i][n_layers - 1] = 0.0
        if step >= 50:
            record.grad_norm[i] = 0.0
    return record


def _zero_marks(ax) -> list:
    return [line for line in ax.get_lines() if line.get_marker() == ZERO_MARKER and len(line.get_xdata())]


def test_gradient_lines_that_hit_zero_are_marked_and_noted():
    fig = gradients.draw(_zero_gradients(4), [], "zeros")
    top, layers = fig.axes[0], fig.axes[1]
    assert [t.get_text() for t in top.get_legend().get_texts()] == [
        "global ‖∇w‖₂ exactly 0 (no point on a log axis): 0 from step 50"]
    assert list(_zero_marks(top)[0].get_xdata()) == list(range(50, 60))
    labels = [t.get_text() for t in layers.get_legend().get_texts()]
    assert "net.7 (Linear)  (▼ 0 from step 25)" in labels
    assert list(_zero_marks(layers)[0].get_xdata()) == list(range(25, 60))


def test_many_layers_hitting_zero_are_summed_up_in_the_legend():
    record = fabricated_record(n_layers=20)
    for row in record.update_ratio.values[3:]:
        row[4] = row[5] = 0.0
    fig = updates.draw(record, [], "zeros")
    (text,) = [t.get_text().replace("\n", " ") for t in fig.axes[0].get_legend().get_texts()
               if "exactly 0" in t.get_text()]
    assert "net.9: 0 from step 30" in text and "net.11: 0 from step 30" in text


def test_zero_gradients_in_the_heatmap_have_their_own_colour():
    fig = gradients.draw(_zero_gradients(20), [], "zeros")
    assert _heatmaps(fig.axes[1]) == 2  # the log10 norms, and the exact zeros over them
    assert "exactly 0" in fig.axes[-1].get_ylabel()  # the colour bar says so


def test_all_zero_gradients_are_drawn_not_skipped(tmp_path):
    record = fabricated_record()
    record.grad_norm = [0.0] * len(record.grad_norm)
    record.layer_grad_norm.values = [[0.0] * 3 for _ in record.layer_grad_norm.steps]
    assert gradients.can_draw(record)
    fig = gradients.draw(record, [], "zero")
    assert any("every value is exactly 0" in t.get_text() for t in fig.axes[0].texts)


# --- compare overlays: identical curves are named -------------------------------------------

def _variant(label, metrics, losses=None):
    return VariantResult(label=label, eval_steps=[24, 49, 74, 99], val_metric=metrics, steps=list(range(100)),
                         train_loss=losses or [1.0 - i / 200 for i in range(100)])


def _comparison(results):
    rows = rank_variants(results)
    return Comparison("optimizers", "accuracy", True, rows, recommend(rows, "accuracy", True), results, 1, 1,
                      "serial", 1.0, Path("."), "spec.yaml")


def test_identical_compare_curves_are_named_in_the_legend():
    same = [0.5, 0.7, 0.8, 0.8]
    fig = draw_comparison(_comparison([
        _variant("adam", same), _variant("sgd", list(same)), _variant("rmsprop", [0.4, 0.6, 0.9, 0.9]),
        _variant("adagrad", [0.3, 0.5, 0.6, 0.6], [0.9] * 100)]))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(t.endswith("sgd (same curves as adam)") for t in labels)
    assert any(t.endswith("rmsprop (same train loss as adam)") for t in labels)  # its metric differs
    assert any(t.endswith("adagrad") for t in labels)

def test_same_as_tells_which_curve_coincides():
    x = np.arange(4.0)
    metric = (x, np.array([0.5, 0.6, 0.7, 0.7]))
    loss, other = (x, np.array([1.0, 0.8, 0.6, 0.5])), (x, np.array([1.0, 0.9, 0.8, 0.7]))
    empty = (np.zeros(0), np.zeros(0))
    notes = same_as(["a", "b", "c", "d", "e"], [metric, metric, metric, (x, metric[1] + 0.1), empty],
                    [loss, loss, other, other, empty], "accuracy")
    assert notes == {1: "same curves as a", 2: "same accuracy curve as a", 3: "same train loss as c"}
