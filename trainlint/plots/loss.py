"""loss.png: train loss (raw and smoothed), validation loss and metric, the LR schedule, findings."""

from __future__ import annotations

import numpy as np

from trainlint.plots.common import (
    centred_median,
    concerning,
    figure,
    finite_array,
    mark_findings,
    note_findings,
    step_axis,
    title_pad,
    wants_log,
)
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding

FILENAME = "loss.png"
CONCERNS = None  # the overview: every finding is marked here


def can_draw(record: RunRecord) -> bool:
    return bool(np.isfinite(finite_array(record.train_loss)).any())


def draw(record: RunRecord, findings: list[Finding], title: str):
    e = record.evals
    has_metric = bool(e.steps) and bool(np.isfinite(finite_array(e.val_metric)).any())
    has_lr = len(record.lr_series) == len(record.steps) and bool(record.lr_series)
    rows = 1 + has_metric + has_lr
    ratios = [3.0] + [1.6] * has_metric + [1.1] * has_lr
    fig, axes = figure(2.8 + 1.6 * (rows - 1) + 0.5, rows=rows, height_ratios=ratios)
    ax = axes[0]
    steps = np.asarray(record.steps[: len(record.train_loss)])
    raw = finite_array(record.train_loss[: len(steps)])
    finite = np.isfinite(raw)
    few = len(steps) < 30
    ax.plot(steps, raw, color="C0", lw=1.2 if few else 0.8, alpha=0.9 if few else 0.35,
            marker="o" if few else None, ms=4, label="train loss (per step)")
    if finite.sum() >= 10:
        width = max(5, int(finite.sum()) // 25)
        ax.plot(steps, centred_median(raw, width), color="C0", lw=2.0,
                label=f"train loss (rolling median, {width} steps)")
    if e.steps and np.isfinite(finite_array(e.val_loss)).any():
        ax.plot(e.steps, finite_array(e.val_loss), "o-", color="C1", lw=1.5, ms=3.5, label="validation loss")
    fb = record.first_batch
    if fb is not None and fb.expected_initial_loss is not None and np.isfinite(fb.expected_initial_loss):
        ax.axhline(fb.expected_initial_loss, color="grey", ls=":", lw=1.2, label="chance-level loss")
    if not finite.all():
        bad = steps[~finite]
        ax.plot(bad, np.full(len(bad), 0.97), "X", color="#c62828", ms=8, transform=ax.get_xaxis_transform(),
                label="loss NaN/Inf", clip_on=False)
    if wants_log([*raw, *finite_array(e.val_loss)]):
        ax.set_yscale("log")
    name = "the model's own" if record.loss_class == "ModelLoss" else record.loss_class or "loss"
    ax.set_ylabel(f"loss ({name})")
    ax.legend(fontsize=8, loc="best", framealpha=0.85)
    i = 1
    if has_metric:
        mx = axes[i]
        i += 1
        mx.plot(e.steps, finite_array(e.val_metric), "o-", color="C2", lw=1.5, ms=3.5,
                label=f"validation {e.metric_name}")
        if np.isfinite(finite_array(e.train_metric)).any():
            mx.plot(e.steps, finite_array(e.train_metric), "--", color="C2", alpha=0.6, lw=1.2,
                    label=f"train {e.metric_name} (eval mode)")
        if e.chance_metric is not None and np.isfinite(e.chance_metric):
            mx.axhline(e.chance_metric, color="grey", ls=":", lw=1.2, label="chance level")
        if e.metric_name == "accuracy":
            mx.set_ylabel("accuracy (0–1)")
            mx.set_ylim(-0.02, 1.02)
        else:
            mx.set_ylabel(f"{e.metric_name.upper()} (target units)")
        mx.legend(fontsize=8, loc="best", framealpha=0.85)
    if has_lr:
        lx = axes[i]
        lx.plot(record.steps, record.lr_series, color="C4", lw=1.5)
        lx.set_ylabel("learning rate")
        lx.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
        lx.set_ylim(bottom=0)  # linear: a schedule that collapses to ~0 should look like it
    step_axis(axes[-1], record)
    mine = concerning(findings, CONCERNS)
    rows = mark_findings(axes, mine)
    ax.set_title(f"{title}: loss, validation {e.metric_name} and learning rate", fontsize=11, loc="left", pad=title_pad(rows))
    note_findings(fig, mine)
    return fig
