"""TL302 lr-too-low: progress is slow and the updates are far smaller than ~1e-3 of the weights."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.attribution import largest_layer_ratio
from trainlint.analysis.loss import metric_gain, progress
from trainlint.analysis.lr import lr_for_ratio, peak_update_ratio, stable_update_ratio
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class LrTooLowThresholds(Thresholds):
    max_update_ratio: float = Field(
        3e-4, gt=0,
        description="Update ratio ‖Δw‖/‖w‖ (median over layers of each layer's median over the stable part "
                    "of the run, rescaled to optimizer.lr: the ratio every finding quotes) below which the LR "
                    "is blamed: 3x under the ~1e-3 rule of thumb (CS231n). Healthy probes with SGD, Adam, AdamW, "
                    "RMSprop and Adagrad: 1.7e-3 or more; LR/100 faults 4.8e-5 to 1.9e-4 (Adagrad), LR/1000 "
                    "faults 3e-6 to 7e-6.")
    layer_factor: float = Field(
        3.0, gt=1,
        description="...and no layer's typical ratio above this multiple of `max_update_ratio` (9e-4 by default, "
                    "under the rule of thumb): a layer moving normally means gradients fade on the way "
                    "(vanishing gradients, TL402), not a low LR. LR/100 faults' largest layer: 1.2e-4 to 3.6e-4.")
    peak_factor: float = Field(
        30.0, gt=1,
        description="...and no sample, the first included, above this multiple of `max_update_ratio` (9e-3): "
                    "weights that once moved that much are not crawling (later small ratios mean they grew). "
                    "First steps at LR/100: Adam 2.1e-4, Adagrad 4.2e-3; healthy peaks 1.2e-2 or more.")
    target_update_ratio: float = Field(
        1e-3, gt=0, description="Update ratio the suggested LR aims at (CS231n's ~1e-3).")
    max_relative_drop: float = Field(
        0.25, gt=0, lt=1,
        description="Progress counts as slow while the typical loss fell less than this fraction "
                    "(healthy probes fell 0.50-1.00; Adam at lr 1e-7, -0.002).")
    max_metric_gain: float = Field(
        0.5, ge=0, le=1,
        description="...and the validation metric got less than this far from chance towards perfect "
                    "(0 = chance, 1 = perfect; healthy probes reached 0.32-1.00).")
    min_steps: int = Field(20, ge=5, description="Fewest finite loss values needed to judge.")


@rule(code="TL302", name="lr-too-low", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("train_loss", "update_ratio", "lr_series"), thresholds=LrTooLowThresholds)
def lr_too_low(run: RunRecord, t: LrTooLowThresholds) -> Iterator[Finding]:
    """Progress is slow and the updates are far smaller than ~1e-3 of the weights: the LR is too low.

    ## What it checks
    Two measurements together: the loss fell less than `max_relative_drop` (and the validation
    metric stayed near chance), and the update ratio ‖Δw‖/‖w‖ (each layer's median over the
    samples before any blow-up, the first step left out as for every quoted ratio, rescaled to
    `optimizer.lr`; median over layers) is below `max_update_ratio`, with no layer above
    `layer_factor` times it and no sample at all above `peak_factor` times it.
    Why medians and not the peak: an adaptive optimizer's first step is a sign step several
    times its later ones, so at LR/100 a single first sample could hide a crawling run.
    ## Why it matters
    Steps that move the weights by a millionth of their size need millions of steps to get
    anywhere: the run looks "stuck" while it is merely crawling.
    ## How to fix
    Set `optimizer.lr` to the suggested value: the current LR scaled by `target_update_ratio` /
    the run's update ratio (median over layers, before any blow-up: the value every finding
    quotes); confirm with `trainlint lr-find`.
    ## Not flagged
    Small updates while the loss falls well (the model may be near its optimum); tiny updates in
    the first layers only (vanishing gradients: TL402); tiny late updates after the weights blew
    up early (TL301); a schedule that
    keeps the LR far below `optimizer.lr` (ratios are rescaled to the configured LR, so a warmup
    longer than the run is TL303's finding, not this one).
    """
    p = progress(run.train_loss)
    if p is None or len(run.finite_train_loss) < t.min_steps or p.relative_drop >= t.max_relative_drop:
        return
    gain = metric_gain(run.evals)
    if gain is not None and gain >= t.max_metric_gain:
        return
    measured = stable_update_ratio(run)
    ratio, per_layer, largest = measured.median, measured.by_layer, largest_layer_ratio(measured)
    if not (ratio < t.max_update_ratio and largest < t.layer_factor * t.max_update_ratio):
        return  # NaN (no usable sample) is not evidence
    peak = peak_update_ratio(run)
    if not peak < t.peak_factor * t.max_update_ratio:
        return
    new_lr = lr_for_ratio(run.lr, ratio, t.target_update_ratio)
    yield Finding(
        message=f"LR {run.lr:g} is too low: update ratio {ratio:.1e} (the weights move that share of their norm "
                f"per step; median over layers), {t.target_update_ratio / ratio:.0f}x under the ~"
                f"{t.target_update_ratio:g} rule of thumb, and the loss "
                + (f"fell only {p.relative_drop:.1%}" if p.relative_drop >= 0 else f"rose {-p.relative_drop:.1%}"),
        evidence={"update_ratio_median": ratio, "update_ratio_peak": peak, "update_ratio_largest_layer": largest,
                  "max_update_ratio": t.max_update_ratio,
                  "update_ratio_by_layer": per_layer, "relative_drop": p.relative_drop,
                  "max_relative_drop": t.max_relative_drop, "metric_gain": gain, "suggested_lr": new_lr},
        step=run.steps[-1] if run.steps else None, config_key="optimizer.lr",
        fixes=[Fix(f"raise optimizer.lr from {run.lr:g} to {new_lr:g} (brings the update ratio to "
                   f"~{t.target_update_ratio:g})", "optimizer.lr", new_lr),
               Fix("confirm with `trainlint lr-find`")])
