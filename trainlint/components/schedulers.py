"""Scheduler registry: every `torch.optim.lr_scheduler` by name or alias, plus linear warmup.

The scheduler steps once per optimizer step (`scheduler.interval: step`, the default) or once
per epoch (`interval: epoch`, an epoch being len(train loader) optimizer steps). Arguments that
are lengths default to the probe's length in that unit (e.g. `cosine` anneals over
`probe.steps` steps, or over the epochs they make). Those defaults are filled only when the
user did not give the argument. Warmup always counts optimizer steps.
"""

from __future__ import annotations

import inspect
import math
from functools import cache
from pathlib import Path
from typing import Any

from trainlint.components.arguments import check_arguments
from trainlint.components.base import ComponentError
from trainlint.components.naming import normalize

ALIASES = {
    "cosine": "CosineAnnealingLR",
    "cosine_restarts": "CosineAnnealingWarmRestarts",
    "step": "StepLR",
    "multistep": "MultiStepLR",
    "exponential": "ExponentialLR",
    "onecycle": "OneCycleLR",
    "linear": "LinearLR",
    "constant": "ConstantLR",
    "polynomial": "PolynomialLR",
    "plateau": "ReduceLROnPlateau",
    "cyclic": "CyclicLR",
}
NO_SCHEDULE = "none"  # warmup only
# These need callables or other schedulers as arguments: use `target:` for them.
_NEEDS_CODE = {"LambdaLR", "MultiplicativeLR", "SequentialLR", "ChainedScheduler"}


@cache
def _table() -> dict[str, type]:
    import torch.optim.lr_scheduler as sched

    base = (sched.LRScheduler, sched.ReduceLROnPlateau)
    out = {
        normalize(n): c
        for n, c in vars(sched).items()
        if inspect.isclass(c) and issubclass(c, base) and not n.startswith("_")
        and n not in _NEEDS_CODE and n != "LRScheduler"
    }
    for alias, cls_name in ALIASES.items():
        out[normalize(alias)] = getattr(sched, cls_name)
    return out


def names() -> list[str]:
    """Aliases, class names and ``none``, for listings and did-you-mean."""
    classes = {c.__name__ for c in _table().values()}
    return sorted(ALIASES) + [NO_SCHEDULE] + sorted(classes)


def lookup(name: str) -> type | None:
    return _table().get(normalize(name))


def _probe_defaults(cls_name: str, steps: int, lr: float) -> dict[str, Any]:
    """Length-like arguments filled from the probe when the spec leaves them out.

    `steps` is how often the scheduler will step: optimizer steps, or epochs with `interval: epoch`.
    """
    return {
        "CosineAnnealingLR": {"T_max": steps},
        "CosineAnnealingWarmRestarts": {"T_0": max(1, steps // 3)},
        "StepLR": {"step_size": max(1, steps // 3)},
        "MultiStepLR": {"milestones": [steps // 2, (3 * steps) // 4]},
        "ExponentialLR": {"gamma": 0.01 ** (1.0 / max(1, steps))},
        "OneCycleLR": {"max_lr": lr, "total_steps": steps + 1},
        "LinearLR": {"total_iters": steps},
        "PolynomialLR": {"total_iters": steps},
        "CyclicLR": {"base_lr": lr / 10, "max_lr": lr, "step_size_up": max(1, steps // 4)},
    }.get(cls_name, {})


class Schedule:
    """Steps the user's scheduler every `every` optimizer steps and applies the warmup ramp.

    `step()` is called after every optimizer step; `every` is 1 for `interval: step` and the
    epoch length for `interval: epoch`. A plateau scheduler then gets the epoch's mean loss.

    Why: warmup multiplies whatever the inner schedule says; restoring the inner schedule's
    own LR before it steps keeps chainable torch schedulers (which read the group's current
    LR) from compounding the ramp.
    """

    def __init__(self, optimizer, inner=None, warmup_steps: int = 0, every: int = 1):
        self.optimizer = optimizer
        self.inner = inner
        self.warmup_steps = warmup_steps
        self.every = max(1, every)
        self._plateau = inner is not None and _is_plateau(inner)
        self._loss_sum: object = 0.0  # of the losses since the inner scheduler last stepped (plateau only)
        self.t = 0
        self._inner_lrs = [g["lr"] for g in optimizer.param_groups]
        self._apply_ramp()

    def _apply_ramp(self) -> None:
        if self.warmup_steps <= 0:
            return
        factor = min(1.0, (self.t + 1) / self.warmup_steps)
        for group, lr in zip(self.optimizer.param_groups, self._inner_lrs, strict=True):
            group["lr"] = lr * factor

    def step(self, loss: float | None = None) -> None:
        """After an optimizer step whose loss was ``loss`` (a float or a 0-d tensor)."""
        if self.warmup_steps > 0:
            for group, lr in zip(self.optimizer.param_groups, self._inner_lrs, strict=True):
                group["lr"] = lr
        due = (self.t + 1) % self.every == 0
        if self.inner is not None and self._plateau and self.every > 1 and loss is not None:
            self._loss_sum = self._loss_sum + loss  # stays on the device until the epoch ends
            loss = self._loss_sum / self.every if due else None
            if due:
                self._loss_sum = 0.0
        if self.inner is not None and due:
            if self._plateau:
                self.inner.step(loss if loss is not None else float("inf"))
            else:
                self.inner.step()
        self._inner_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.t += 1
        self._apply_ramp()


def _is_plateau(obj) -> bool:
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    return isinstance(obj, ReduceLROnPlateau)


def build_schedule(spec, optimizer, steps: int, lr: float, spec_dir: Path, steps_per_epoch: int = 1) -> Schedule:
    """A `Schedule` for the spec's `scheduler` section (None → constant LR).

    `steps_per_epoch` (len of the training loader) is the epoch length for `interval: epoch`.
    """
    if spec is None:
        return Schedule(optimizer)
    every = max(1, steps_per_epoch) if spec.interval == "epoch" else 1
    if spec.target is not None:
        from trainlint.spec.targets import resolve_target

        factory, field, args = resolve_target(spec.target, spec_dir, "scheduler.target"), "scheduler.target", spec.args
    elif normalize(spec.name) == NO_SCHEDULE:
        return Schedule(optimizer, None, spec.warmup_steps, every)
    else:
        factory = lookup(spec.name)
        if factory is None:
            raise ComponentError(f"unknown scheduler `{spec.name}`", "scheduler.name", ", ".join(names()))
        field = "scheduler.args"
        args = {**_probe_defaults(factory.__name__, math.ceil(steps / every), lr), **spec.args}
    check_arguments(factory, spec.args, "scheduler", filled=1,
                    reserved={"optimizer": "trainlint passes the optimizer"})
    try:
        inner = factory(optimizer, **args)
    except TypeError as exc:
        raise ComponentError(f"{getattr(factory, '__name__', factory)}: {exc}", field) from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code or torch's argument checks
        raise ComponentError(f"constructing the scheduler raised {type(exc).__name__}: {exc}", field) from None
    return Schedule(optimizer, inner, spec.warmup_steps, every)
