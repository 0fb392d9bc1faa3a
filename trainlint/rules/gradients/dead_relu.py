"""TL403 dead-relu: a large fraction of a ReLU layer's units never activate."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from trainlint.analysis.attribution import decay_dominance
from trainlint.analysis.gradients import samples, tail
from trainlint.analysis.lr import lower_lr
from trainlint.analysis.wording import count, num, some_of
from trainlint.probe.record import RunRecord
from trainlint.rules.base import Finding, Fix, Severity, Stage, Thresholds, rule


class DeadReluThresholds(Thresholds):
    max_dead_fraction: float = Field(
        0.5, gt=0, le=1,
        description="Share of a ReLU module's units (features or channels) inactive on every sample of a "
                    "sampled batch, lowest over the last samples, that counts as dead. CS231n's notes warn a "
                    "too-high LR can kill 40% of a network; healthy configs measure ≤ 0.19, the zoo's "
                    "negative-bias fault 0.78.")
    last_samples: int = Field(
        3, ge=1, description="Sampled steps at the end of the probe; the lowest dead fraction among them "
                             "is used, so a unit alive on any of these batches counts as alive.")


@rule(code="TL403", name="dead-relu", severity=Severity.WARNING, stage=Stage.RUN,
      requires=("dead_fraction",), thresholds=DeadReluThresholds)
def dead_relu(run: RunRecord, t: DeadReluThresholds) -> Iterator[Finding]:
    """A large fraction of a ReLU layer's units never activate, so they neither learn nor pass signal.

    ## What it checks
    For every ReLU module, the share of units (features, or channels of a feature map) whose
    output is zero on every sample of a sampled batch; the lowest share over the last
    `last_samples` sampled steps against `max_dead_fraction`. The first sample tells whether
    the units were dead from initialisation or died during training.
    ## Why it matters
    A ReLU unit that outputs zero for every input gets zero gradient and never recovers: the
    layer's capacity is lost. Units die from a too-high learning rate (one large update pushes
    the bias far negative) or from an initialisation with negative biases / bad scale.
    ## How to fix
    Lower the learning rate when units died during training; fix the initialisation (Kaiming,
    zero biases) when they were dead from the start; LeakyReLU/GELU cannot die; normalisation
    before the activation keeps pre-activations centred.
    ## Not flagged
    A minority of dead units (common and harmless); modules that are not ReLU; runs without a
    sampled activation step.
    """
    dead = {}
    for name in run.dead_fraction.names:
        late = tail(run.dead_fraction, name, t.last_samples)
        if late and min(late) >= t.max_dead_fraction:
            dead[name] = (samples(run.dead_fraction, name)[0], min(late))
    if not dead:
        return
    worst = max(dead, key=lambda n: dead[n][1])
    at_init = all(start >= t.max_dead_fraction for start, _ in dead.values())
    builtin = run.model.is_builtin
    lower = lower_lr(run)
    why = lower.because(run)
    lr_fix = Fix(f"lower optimizer.lr from {run.lr:g} to {lower.value:g}" + (f" ({why})" if why else "")
                 + ": large updates push ReLU biases negative for good", config_key="optimizer.lr", value=lower.value)
    init_fix = Fix("initialise with Kaiming (He) weights and zero biases so pre-activations start centred",
                   config_key="model.args.init" if builtin else None, value="kaiming" if builtin else None)
    fixes = [init_fix, lr_fix] if at_init else [lr_fix, init_fix]
    if not at_init and (decay := decay_dominance(run)) is not None:  # the large updates are decay's, not the LR's
        r = decay.remedy()
        fixes = [Fix(r.text, r.config_key, r.value), init_fix]
    fixes.append(Fix("use LeakyReLU or GELU, whose units cannot die",
                     config_key="model.args.activation" if builtin else None,
                     value="leaky_relu" if builtin else None))
    fixes.append(Fix("normalise before the activation (batch or layer norm)",
                     config_key="model.args.norm" if builtin else None, value="batch" if builtin else None))
    when = "dead from the first sampled step (initialisation)" if at_init else "died during training"
    ranked = sorted(dead.items(), key=lambda kv: -kv[1][1])  # worst first; evidence keeps every layer
    listing = some_of([f"`{n}` {num(end, '.0%')}" for n, (_, end) in ranked])
    yield Finding(
        message=f"{count(len(dead), 'ReLU layer')} kept ≥ {t.max_dead_fraction:.0%} dead units over the last "
                f"{count(t.last_samples, 'sample')} (lowest: {listing}); {when}",
        evidence={"dead_fraction": {n: end for n, (_, end) in dead.items()},
                  "dead_fraction_at_start": {n: start for n, (start, _) in dead.items()},
                  "worst_module": worst, "max_dead_fraction": t.max_dead_fraction, "dead_at_init": at_init},
        step=run.dead_fraction.steps[-1], fixes=fixes,
        config_key=fixes[0].config_key or "model",
    )
