"""TL404 saturated-activations: sigmoid/tanh units stuck near their limits, where their slope is ~0."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from pydantic import Field

from trainlint.analysis.gradients import samples, tail
from trainlint.analysis.wording import count, num, some_of
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class SaturatedActivationsThresholds(Thresholds):
    max_saturated_fraction: float = Field(
        0.5, gt=0, le=1,
        description="Share of a sigmoid/tanh module's outputs within 1% of a bound (slope below ~2% of its "
                    "maximum), averaged over the last samples, that counts as saturated (Glorot & Bengio 2010 "
                    "trace slow sigmoid training to it). The healthy tanh MLP measures 0.12, N(0,1)-initialised "
                    "tanh layers 0.87.")
    last_samples: int = Field(3, ge=1, description="Sampled steps at the end of the probe that are averaged.")
    max_input_rms: float = Field(
        5.0, gt=0, description="Largest per-feature input RMS (as TL103 measures it) for inputs to count as "
                               "standardised; above it, unnormalised inputs are blamed first (they drive the "
                               "pre-activations into saturation whatever the init). Raw wine features: 827.")


def _output_module(run: RunRecord) -> str | None:
    """The model's final activation when it is the last module (an output sigmoid, judged elsewhere)."""
    acts = list(run.model.activations)
    if acts and run.model.last_module == run.model.activations[acts[-1]]:
        return acts[-1]
    return None


@rule(code="TL404", name="saturated-activations", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("saturated_fraction",), thresholds=SaturatedActivationsThresholds)
def saturated_activations(run: RunRecord, t: SaturatedActivationsThresholds) -> Iterator[Finding]:
    """Sigmoid/tanh units sit near their limits, where their derivative is almost zero.

    ## What it checks
    For every sigmoid-like and tanh-like hidden module, the share of its outputs within 1% of
    a bound (0/1 for sigmoid, ±1 for tanh), averaged over the last `last_samples` sampled steps,
    against `max_saturated_fraction`.
    ## Why it matters
    A saturated unit passes almost no gradient (tanh' = 1 - y² ≈ 0.02 at |y| = 0.99), so the
    layers below stop learning, and the unit's output no longer depends on its input. Usual
    causes: weights initialised too large, unnormalised inputs, or a learning rate that blew
    the pre-activations up.
    ## How to fix
    Initialise with Xavier/Glorot weights, standardise the inputs (first, when they are far from
    unit scale: `max_input_rms`), normalise pre-activations (layer/batch norm), lower the
    learning rate, or use ReLU-family activations.
    ## Not flagged
    The model's final activation when it is the output (a confident classifier's sigmoid
    outputs are near 0/1 by design); ReLU-family modules; a minority of saturated outputs.
    """
    skip = _output_module(run)
    saturated = {}
    for name in run.saturated_fraction.names:
        late = tail(run.saturated_fraction, name, t.last_samples)
        if name != skip and late and float(np.mean(late)) >= t.max_saturated_fraction:
            saturated[name] = float(np.mean(late))
    if not saturated:
        return
    start = {n: samples(run.saturated_fraction, n)[0] for n in saturated}
    worst = max(saturated, key=saturated.get)
    builtin = run.model.is_builtin
    rms = run.data.feature_rms_max
    raw_inputs = rms is not None and rms > t.max_input_rms
    scale = f": feature RMS reaches {rms:.3g}" if raw_inputs else ""
    standardise = (Fix(f"standardise the inputs{scale}: set dataset.args.standardize: true (train-split mean/std)",
                       config_key="dataset.args.standardize", value=True) if run.data.is_builtin
                   else Fix(f"standardise the inputs (zero mean, unit variance per feature){scale}"))
    init = Fix("initialise with Xavier/Glorot weights (variance 1/fan_in scale), not N(0, 1)",
               config_key="model.args.init" if builtin else None, value="xavier" if builtin else None)
    norm = Fix("normalise pre-activations (layer or batch norm before the sigmoid/tanh)",
               config_key="model.args.norm" if builtin else None, value="layer" if builtin else None)
    relu = Fix("use ReLU or GELU hidden activations", config_key="model.args.activation" if builtin else None,
               value="relu" if builtin else None)
    fixes = [standardise, init, norm, relu] if raw_inputs else [init, norm, standardise, relu]  # measured cause first
    listing = some_of([f"`{n}` ({run.model.activations.get(n, '?')}) {num(v, '.0%')}"
                       for n, v in sorted(saturated.items(), key=lambda kv: -kv[1])])  # evidence keeps all
    layers = count(len(saturated), "activation layer")
    yield Finding(
        message=f"{layers} {'has' if len(saturated) == 1 else 'have'} ≥ {t.max_saturated_fraction:.0%} of outputs "
                f"saturated at the end of the probe: {listing}",
        evidence={"saturated_fraction": saturated, "saturated_fraction_at_start": start, "worst_module": worst,
                  "max_saturated_fraction": t.max_saturated_fraction, "excluded_output_module": skip,
                  "input_rms_max": rms, "max_input_rms": t.max_input_rms},
        step=run.saturated_fraction.steps[-1], fixes=fixes,
        config_key=fixes[0].config_key or ("dataset" if raw_inputs else "model"),
    )
