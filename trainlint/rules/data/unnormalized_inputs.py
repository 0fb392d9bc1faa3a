"""TL103 unnormalized-inputs: input features are far from zero mean and unit scale."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.attribution import RAW_TARGET_RMS, target_scale, target_scale_harm
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class UnnormalizedInputsThresholds(Thresholds):
    max_scale: float = Field(
        5.0, gt=1, description="Largest per-feature RMS (√(mean² + std²)) still close to unit scale. "
                               "Standardised data measures 1.0 and the bundled synthetic data ≤ 1.22; raw "
                               "digits pixels (0-16) measure 7.8-12.9, raw wine/breast-cancer 800-1000.")
    min_scale: float = Field(
        0.01, gt=0, description="Largest per-feature RMS below which every input is vanishingly small "
                                "(e.g. pixels divided by 255 twice: RMS ≈ 0.002).")
    max_scale_spread: float = Field(
        1000.0, gt=1, description="Largest/smallest feature RMS ratio (non-constant features): three orders "
                                  "of magnitude; a binary feature present in 1 of 20,000 rows is only 141× "
                                  "below a unit feature.")
    max_target_scale: float = Field(
        RAW_TARGET_RMS, gt=1,
        description="Largest regression-target RMS (√(mean² + std²)) still treated as scaled: standardised "
                    "targets measure 1, raw diabetes targets 170. Flagged only with harm in the run.")


@rule(code="TL103", name="unnormalized-inputs", severity=Severity.WARNING, stage=Stage.FIRST_BATCH,
      requires=("data",), thresholds=UnnormalizedInputsThresholds)
def unnormalized_inputs(run: RunRecord, t: UnnormalizedInputsThresholds) -> Iterator[Finding]:
    """Input features (or regression targets) are far from zero mean / unit scale.

    ## What it checks
    Per-feature statistics of the training inputs (columns for tabular data, channels for
    images, feature dimensions for sequences): the largest root-mean-square √(mean² + std²)
    against `max_scale` and `min_scale`, and the ratio of the largest to the smallest.
    Regression targets too: a target RMS above `max_target_scale` is flagged when the run shows
    the harm it does (the loss turned non-finite, jumped, climbed back or barely fell, or the
    validation MAE stayed near the mean predictor's; see `analysis.attribution.target_scale_harm`).
    ## Why it matters
    Default initialisations assume unit-scale inputs: large or offset features blow up
    pre-activations (saturating tanh/sigmoid, ill-conditioning the loss), tiny ones starve the
    first layer, and features on different scales make one learning rate wrong for most weights
    (LeCun et al., "Efficient BackProp": centre inputs and give them similar variances).
    Targets on a raw scale (~150) make MSE gradients ~150x larger than standardised ones: an
    SGD step that suits the model overshoots, and lowering the LR only hides the cause.
    ## How to fix
    Standardise with train-split statistics (`dataset.args.standardize: true` for built-in
    data; StandardScaler or per-channel `Normalize` for your own), or normalise at the model input.
    Standardise regression targets with train-split mean/std and un-scale the predictions.
    ## Not flagged
    Token ids and other integer inputs; constant features; standardised data with outliers
    (a rare large value barely moves a feature's RMS); raw-scale targets in a run they did not
    harm (e.g. Adam fitting diabetes's raw targets), or before any training step (`check`).
    """
    yield from _inputs(run, t)
    yield from _targets(run, t)


def _targets(run: RunRecord, t: UnnormalizedInputsThresholds) -> Iterator[Finding]:
    """Regression targets on a raw scale, when the run shows what they did."""
    ts = target_scale(run)
    if ts is None or ts.rms <= t.max_target_scale:
        return
    harm = target_scale_harm(run)
    if harm is None:
        return
    fb = run.first_batch
    loss0 = fb.initial_loss if fb is not None else None
    grad0 = run.grad_norm[0] if run.grad_norm else None
    first = (f"; the first loss {loss0:.4g} and gradient norm {grad0:.3g} are on that scale"
             if loss0 is not None and grad0 is not None else "")
    yield Finding(
        message=f"regression targets are on a raw scale: RMS {ts.rms:.3g} (mean {ts.mean:.4g}, std {ts.std:.3g}; "
                f"> {t.max_target_scale:g}), and {harm}{first}: standardise the targets before lowering the LR",
        evidence={"target_rms": ts.rms, "target_mean": ts.mean, "target_std": ts.std,
                  "max_target_scale": t.max_target_scale, "harm": harm, "initial_loss": loss0,
                  "initial_grad_norm": grad0},
        fixes=[Fix(r.text, r.config_key, r.value) for r in ts.remedies()], config_key="dataset")


def _inputs(run: RunRecord, t: UnnormalizedInputsThresholds) -> Iterator[Finding]:
    d = run.data
    if d.feature_rms_max is None or d.feature_rms_min is None:
        return  # integer inputs or no varying feature: nothing to judge
    unit = "channel" if d.input_kind == "image" else "feature"
    where = f"{unit} {d.feature_rms_argmax}" if d.feature_rms_argmax is not None else f"one {unit}"
    spread = d.feature_rms_max / max(d.feature_rms_min, 1e-30)
    if d.feature_rms_max > t.max_scale:
        problem = (f"{where} has RMS {d.feature_rms_max:.3g} (> {t.max_scale:g}); feature means reach "
                   f"|{d.feature_mean_abs_max:.3g}|, stds span {d.feature_std_min:.3g}-{d.feature_std_max:.3g}")
        crossed = {"max_scale": t.max_scale}
    elif d.feature_rms_max < t.min_scale:
        problem = f"every {unit} is tiny: the largest RMS is {d.feature_rms_max:.2g} (< {t.min_scale:g})"
        crossed = {"min_scale": t.min_scale}
    elif spread > t.max_scale_spread:
        problem = (f"{unit} scales span {spread:.3g}×: RMS from {d.feature_rms_min:.3g} to "
                   f"{d.feature_rms_max:.3g} (> {t.max_scale_spread:g}×)")
        crossed = {"max_scale_spread": t.max_scale_spread}
    else:
        return
    fixes = [Fix("set dataset.args.standardize: true (train-split mean/std)", config_key="dataset.args.standardize",
                 value=True)] if d.is_builtin else [
        Fix(f"standardise each {unit} with train-split statistics, x = (x - mean) / std "
            "(sklearn StandardScaler; torchvision Normalize per channel for images)")]
    fixes.append(Fix("or normalise at the model input (BatchNorm/LayerNorm as the first layer)"))
    yield Finding(
        message=f"inputs are far from unit scale: {problem}",
        evidence={"feature_rms_max": d.feature_rms_max, "feature_rms_min": d.feature_rms_min,
                  "feature_rms_argmax": d.feature_rms_argmax, "scale_spread": spread,
                  "feature_mean_abs_max": d.feature_mean_abs_max, "feature_std_min": d.feature_std_min,
                  "feature_std_max": d.feature_std_max, "input_kind": d.input_kind} | crossed,
        fixes=fixes, config_key="dataset.args.standardize" if d.is_builtin else "dataset")
