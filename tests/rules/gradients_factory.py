"""Fabricated RunRecords for the gradient/activation rules (TL4xx): no torch, built in microseconds."""

from __future__ import annotations

from trainlint.probe.record import LayerSeries, ModelFacts, RunRecord


def grad_run(norms: list[float], *, lr: float = 0.01, clip: float | None = None,
             losses: list[float] | None = None) -> RunRecord:
    """A run whose global gradient norm at step i is `norms[i]`."""
    n = len(norms)
    return RunRecord(lr=lr, clip_grad_norm=clip, steps=list(range(n)), grad_norm=list(norms),
                     train_loss=list(losses) if losses is not None else [1.0] * n)


def layer_run(ratios: list[float], *, types: dict[str, str] | None = None, builtin: bool = True,
              activations: dict[str, str] | None = None, stats_every: int = 10) -> RunRecord:
    """A run where, at each sampled step, the first layer's ‖g‖/‖w‖ is `ratio` × the last layer's.

    Layers default to three Linear layers `fc1`, `fc2`, `head`; every ‖w‖ is 2 and the head's ‖g‖ is 1.
    """
    types = types or {"fc1": "Linear", "fc2": "Linear", "head": "Linear"}
    names = list(types)
    steps = [i * stats_every for i in range(len(ratios))]
    grad = LayerSeries(names=names)
    param = LayerSeries(names=names)
    for step, r in zip(steps, ratios, strict=True):
        grad.append(step, [r] + [(r ** 0.5)] * (len(names) - 2) + [1.0])
        param.append(step, [2.0] * len(names))
    return RunRecord(steps=list(range(steps[-1] + 1)) if steps else [], layer_grad_norm=grad,
                     layer_param_norm=param,
                     model=ModelFacts(layers=names, layer_types=types, is_builtin=builtin,
                                      activations=activations or {"act1": "Sigmoid", "act2": "Sigmoid"}))


def activation_run(series: dict[str, list[float]], kinds: dict[str, str], *, field: str = "dead_fraction",
                   last_module: str = "Linear", builtin: bool = True, lr: float = 0.01) -> RunRecord:
    """A run whose `field` (dead_fraction or saturated_fraction) of module `name` is `series[name]`.

    Modules missing from `series` (e.g. a ReLU in a saturation run) are NaN, as the probe records them.
    """
    names = list(kinds)
    n = max(len(v) for v in series.values())
    values = LayerSeries(names=names)
    for i in range(n):
        values.append(i * 10, [series[m][i] if m in series else float("nan") for m in names])
    run = RunRecord(lr=lr, steps=list(range(n * 10)),
                    model=ModelFacts(activations=dict(kinds), last_module=last_module, is_builtin=builtin))
    setattr(run, field, values)
    return run


def params_run(never_grad: list[str], frozen: list[str] = (), *, steps: int = 100,
               n_params: int = 1000, n_trainable: int = 1000) -> RunRecord:
    """A run of `steps` steps with the given never-grad and frozen parameter names."""
    return RunRecord(steps=list(range(steps)), grad_norm=[1.0] * steps, params_never_grad=list(never_grad),
                     model=ModelFacts(frozen_params=list(frozen), n_params=n_params, n_trainable=n_trainable))
