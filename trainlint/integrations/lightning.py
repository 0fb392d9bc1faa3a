"""Lint a Lightning `Trainer.fit` run: `Trainer(callbacks=[TrainlintCallback()])`.

    from trainlint.integrations.lightning import TrainlintCallback

    trainer = L.Trainer(max_epochs=8, callbacks=[TrainlintCallback()])
    trainer.fit(module, train_loader, val_loader)   # the diagnosis is printed when fit ends

Needs `lightning` (or the older `pytorch_lightning`): pip install "trainlint[lightning]".
"""

from __future__ import annotations

from typing import Any

import trainlint
from trainlint.integrations import (
    LIGHTNING_PREFIXES,
    caller,
    check_options,
    eval_metrics,
    inputs_and_targets,
    require,
)

_pl = require(("lightning.pytorch", "pytorch_lightning"), "lightning")


class TrainlintCallback(_pl.Callback):
    """Record a Lightning fit with `trainlint.watch` and write its diagnosis when the fit ends.

    What it reads, and when:

    - the model: the LightningModule; activations and the first output are recorded when its
      `forward` runs, or that of the one submodule holding all its weights (`self.net(x)` or
      `self.model(x)` in `training_step` work as `self(x)` does).
    - the optimizer: `trainer.optimizers[0]` (the first, with several) and its scheduler from
      `trainer.lr_scheduler_configs`; the LR series is read from the optimizer at each step,
      so whatever the scheduler (or a warm-up in `optimizer_step`) sets is what is recorded.
    - the loss: each micro-batch's loss in `on_before_backward`, times `accumulate_grad_batches`
      (Lightning divides it before backward), so a step's loss is the mean over its micro-batches.
      Why not `on_train_batch_end`: it runs after the step, so with gradient accumulation the
      loss of a step's last micro-batch would be counted in the next step.
    - the gradient norm: read when Lightning's closure (forward, backward, `on_before_optimizer_step`,
      gradient clipping) has run inside `optimizer.step`: it is the norm after `gradient_clip_val`
      clipping, the gradient the update uses (as with the Hugging Face callback and a plain loop).
    - the data: the first batches' inputs and targets (`(x, y)`, `(x1, ..., y)` or a dict with
      `labels`/`label`/`y`/`target`), for the data checks.
    - validation: after each validation run (not the sanity check), what the module logged under
      `val_`, `valid_` or `validation_` (or `val/...`) in `trainer.callback_metrics`: the loss
      and one metric (accuracy when logged).

    The report is written at the end of `fit`, and also when it stops on an exception or Ctrl-C
    (the crash is recorded: TL001). Under DDP every rank records and rank 0 writes the report.

    Args:
        out: the run folder; default `trainlint-out/<name>`.
        **options: `trainlint.watch`'s options: task, num_classes, name, loss_fn, stats_every,
            select, ignore, plots, echo.

    Attributes:
        watch: the Watch while fitting (and after: `watch.out_dir`, `watch.record`).
        report: the Report once the fit has ended (None before, and on ranks other than 0).
    """

    def __init__(self, out: Any = None, **options: Any):
        check_options(options)
        self.out, self.options = out, options
        self.watch: trainlint.Watch | None = None
        self._where = caller()
        self._loss_scale = 1
        self._fitting = False

    @property
    def report(self):
        return self.watch.report if self.watch is not None else None

    def on_fit_start(self, trainer, pl_module) -> None:
        configs = trainer.lr_scheduler_configs
        self.watch = trainlint.watch(pl_module, trainer.optimizers[0], out=self.out,
                                     scheduler=configs[0].scheduler if configs else None, **self.options)
        self.watch.where = self._where
        self._loss_scale = trainer.accumulate_grad_batches if pl_module.automatic_optimization else 1
        self._fitting = True

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if not self.watch.wants_samples:  # the first batches feed the data checks; later ones cost nothing
            return
        x, y = inputs_and_targets(batch)
        if x is not None or y is not None:
            self.watch.log(inputs=x, targets=y)

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        if self._fitting:
            loss = loss.detach()
            self.watch.log(loss=loss * self._loss_scale if self._loss_scale != 1 else loss)

    def on_validation_end(self, trainer, pl_module) -> None:
        if not self._fitting or trainer.sanity_checking:
            return
        metrics = eval_metrics(trainer.callback_metrics, LIGHTNING_PREFIXES)
        if metrics:
            self.watch.log_eval(**metrics)

    def on_fit_end(self, trainer, pl_module) -> None:
        self._close()

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._close(exception)

    def _close(self, exc: BaseException | None = None) -> None:
        if self._fitting:
            self._fitting = False
            self.watch.close(exc)
