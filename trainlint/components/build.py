"""Build everything a spec names (data, model, loss, optimizer, schedule) in a fixed, seeded order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import DataLoader, TensorDataset

from trainlint.components import losses, optimizers, schedulers
from trainlint.components.arguments import check_arguments
from trainlint.components.base import ComponentError, DataBundle, DataInfo
from trainlint.components.schedulers import Schedule
from trainlint.probe.adapters import Reader, recurrent_layout
from trainlint.spec.loader import LoadedSpec


@dataclass
class Components:
    """The live objects of one probe."""

    data: DataBundle
    info: DataInfo
    num_outputs: int | None
    model: torch.nn.Module
    loss_fn: Any
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    train_loader: DataLoader
    val_loader: DataLoader | None
    device: torch.device
    reader: Reader = field(default_factory=Reader)  # how batches and outputs are read (probe/adapters.py)


def resolve_device(requested: str) -> torch.device:
    """`auto` → CUDA when available, else CPU; an unavailable CUDA request is a user error."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = "no CUDA GPU is visible" if torch.backends.cuda.is_built() else "this torch build has no CUDA support"
            raise ComponentError(f"CUDA was requested but is not available here ({why})", "device", "auto, cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ComponentError(
                f"cuda:{device.index} does not exist ({torch.cuda.device_count()} device(s))",
                "device",
                ", ".join(["auto", "cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]),
            )
    return device


def num_outputs_for(info: DataInfo, loss_class: type | None) -> int | None:
    """How many outputs a built-in model should emit for this task and loss."""
    name = loss_class.__name__ if loss_class else ""
    if info.task == "multiclass":
        return info.num_classes
    if info.task == "binary":
        return 2 if name in losses.CLASS_INDEX_LOSSES else 1
    return info.num_targets


def adapt_builtin_targets(data: DataBundle, loss_class: type | None) -> DataBundle:
    """Give trainlint's own binary datasets the target form their loss expects.

    Only built-in data is adapted: a user's dataset is probed exactly as written, so a
    target/loss mismatch there is reported, not silently repaired.
    """
    name = loss_class.__name__ if loss_class else ""
    if not data.builtin or data.info.task != "binary" or name not in losses.BINARY_LOSSES:
        return data
    x_tr, y_tr, x_va, y_va = data.tensors

    def convert(y):
        y = y.float().unsqueeze(1)
        return y * 2 - 1 if name == "SoftMarginLoss" else y

    y_tr = convert(y_tr)
    y_va = convert(y_va) if y_va is not None else None
    val = TensorDataset(x_va, y_va) if x_va is not None else None
    return DataBundle(TensorDataset(x_tr, y_tr), val, data.info, True, (x_tr, y_tr, x_va, y_va), data.notes)


def build_components(loaded: LoadedSpec, device: torch.device) -> Components:
    """Build in a fixed order so the same seed gives the same weights and data order.

    Raises:
        ComponentError: a component cannot be built from the spec (exit 2).
    """
    from trainlint.components.datasets import build_dataset
    from trainlint.components.models import build_model

    spec, base = loaded.spec, loaded.base_dir
    loss_class = losses.lookup(spec.loss.name) if spec.loss.name else None
    data = build_dataset(spec.dataset, spec.seed, base, loss_class.__name__ if loss_class else None)
    data = adapt_builtin_targets(data, loss_class)
    n_out = num_outputs_for(data.info, loss_class)

    torch.manual_seed(spec.seed)
    if spec.model.target is not None:
        from trainlint.spec.targets import resolve_target

        factory = resolve_target(spec.model.target, base, "model.target")
        check_arguments(factory, spec.model.args, "model")
        try:
            model = factory(**spec.model.args)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code
            raise ComponentError(
                f"constructing the model raised {type(exc).__name__}: {exc}", "model.target"
            ) from None
        if not isinstance(model, torch.nn.Module):
            raise ComponentError(
                f"the model factory returned {type(model).__name__}, not a torch.nn.Module", "model.target"
            )
    else:
        model = build_model(spec.model.name, data.info, n_out, dict(spec.model.args))
    model.to(device)
    loss_fn = None if spec.loss.from_model is not False else \
        losses.build_loss(spec.loss.name, spec.loss.target, dict(spec.loss.args), base)
    if isinstance(loss_fn, torch.nn.Module):
        loss_fn.to(device)
    optimizer = optimizers.build_optimizer(spec.optimizer, model, base)
    train_loader, val_loader = make_loaders(data, spec.dataset, spec.seed, device)
    schedule = schedulers.build_schedule(spec.scheduler, optimizer, spec.probe.steps, spec.optimizer.lr, base,
                                         steps_per_epoch=len(train_loader))
    recurrent, time_major = recurrent_layout(model, spec.model.time_major)
    reader = Reader(output=spec.model.output, from_model=spec.loss.from_model, target_key=spec.dataset.target_key,
                    loss_class=loss_class.__name__ if loss_class is not None else "", recurrent=recurrent,
                    time_major=time_major)
    return Components(data, data.info, n_out, model, loss_fn, optimizer, schedule, train_loader, val_loader, device,
                      reader)


def make_loaders(data: DataBundle, ds_spec, seed: int, device: torch.device):
    """Seeded training loader (same order for every variant) and a fixed validation loader."""
    generator = torch.Generator().manual_seed(seed)
    pin = device.type == "cuda"
    train = DataLoader(
        data.train, batch_size=ds_spec.batch_size, shuffle=ds_spec.shuffle, drop_last=False,
        num_workers=ds_spec.num_workers, generator=generator, pin_memory=pin,
        persistent_workers=ds_spec.num_workers > 0,
    )
    val = None
    if data.val is not None and len(data.val) > 0:
        # Its own generator: each pass draws a seed, which must not come from the global RNG that
        # training's dropout draws from (evaluating must not change the run it observes).
        val = DataLoader(data.val, batch_size=max(ds_spec.batch_size, 256), shuffle=False,
                         num_workers=0, pin_memory=pin, generator=torch.Generator())
    return train, val
