"""Lint a Hugging Face `Trainer` run: `Trainer(..., callbacks=[TrainlintCallback()])`.

    from trainlint.integrations.transformers import TrainlintCallback

    tl = TrainlintCallback()
    trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=val, callbacks=[tl])
    with tl:              # optional: also writes the report when training raises or is interrupted
        trainer.train()   # the diagnosis is printed when training ends

Needs `transformers` and `accelerate`: pip install "trainlint[hf]".
"""

from __future__ import annotations

from typing import Any

import torch

import trainlint
from trainlint.integrations import (
    HF_PREFIXES,
    caller,
    check_options,
    eval_metrics,
    inputs_and_targets,
    require,
)

_hf = require(("transformers",), "hf")


class TrainlintCallback(_hf.TrainerCallback):
    """Record a `Trainer.train()` run with `trainlint.watch` and write its diagnosis when it ends.

    What it reads, and when:

    - the model and optimizer the Trainer trains (the torch optimizer inside accelerate's
      wrapper), from `on_train_begin`; steps are optimizer steps, however many micro-batches
      `gradient_accumulation_steps` gathers into one.
    - the loss: the `loss` the model's forward returns (a `ModelOutput` or a dict), taken by a
      forward hook on each training micro-batch, and given to the step as the Trainer itself
      counts it: the mean of the micro-batches, or their sum when the Trainer passed the model
      `num_items_in_batch` (each micro-batch's loss is then its share of the step's).
      Why not `on_log`'s loss: it is averaged over `logging_steps`, so the per-step series
      would be that sparse. It is the fallback when the model returns no loss (a custom
      `compute_loss` or `compute_loss_func`): set `logging_steps=1` then for a step-by-step record.
    - the LR: read from the optimizer at each step, as the Trainer's scheduler (warm-up,
      linear decay, ...) set it: the series is the scheduler's, not `learning_rate`.
    - the gradient norm: read inside `optimizer.step()`, after the Trainer clipped the
      gradients to `max_grad_norm` (1.0 by default): the gradient the update uses. The
      Trainer's logged `grad_norm` is the norm before clipping.
    - the data: the first micro-batches' inputs (`input_ids`, `pixel_values`, or the first
      tensor) and `labels`, for the data checks.
    - validation: `on_evaluate`'s metrics: `eval_loss` and one `eval_<metric>` (accuracy
      when `compute_metrics` returns it).

    The report is written at `on_train_end`. The Trainer has no event for an exception; run
    `trainer.train()` inside `with callback:` to get the report (with the crash, TL001, or the
    interruption) when training raises or is interrupted; the exception goes on.

    Args:
        out: the run folder; default `trainlint-out/<name>`.
        **options: `trainlint.watch`'s options: task, num_classes, name, loss_fn, stats_every,
            select, ignore, plots, echo.

    Attributes:
        watch: the Watch while training (and after: `watch.out_dir`, `watch.record`).
        report: the Report once training has ended (None before, and on ranks other than 0).
    """

    def __init__(self, out: Any = None, **options: Any):
        check_options(options)
        self.out, self.options = out, options
        self.watch: trainlint.Watch | None = None
        self._where = caller()
        self._training = False
        self._hook = None
        self._losses: list[torch.Tensor] = []  # this step's micro-batch losses, from the model's outputs
        self._is_share = False  # the losses are shares of the step's (num_items_in_batch): summed, not averaged
        self._batches: list[tuple[Any, Any]] = []  # this step's (inputs, targets)
        self._loss_from_log: bool | None = None  # decided at the first step: no loss in the model's output

    @property
    def report(self):
        return self.watch.report if self.watch is not None else None

    def __enter__(self) -> TrainlintCallback:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self._close(exc)
        return False

    # -- the Trainer's events -----------------------------------------------------------------------

    def on_train_begin(self, args, state, control, model=None, optimizer=None, lr_scheduler=None, **kwargs):
        optimizer = getattr(optimizer, "optimizer", optimizer)  # accelerate's AcceleratedOptimizer wraps it
        options = dict(self.options)
        if "loss_fn" not in options and isinstance(model, _hf.PreTrainedModel):
            options["loss_fn"] = "model"  # it computes its own loss from `labels`: ln(classes) at chance
        self.watch = trainlint.watch(model, optimizer, out=self.out, scheduler=lr_scheduler, **options)
        self.watch.where = self._where
        self._hook = model.register_forward_hook(self._read_forward, with_kwargs=True)
        self._losses, self._batches, self._loss_from_log = [], [], None  # a second train() starts afresh
        self._training = True

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        if self._loss_from_log is None:
            self._loss_from_log = not self._losses
        if self._loss_from_log:
            return
        self._log_batches()  # before the loss: the first step's facts (the chance-level loss) read its targets
        if len(self._losses) == 1:  # no accumulation: no tensor op at all
            loss = self._losses[0]
        else:
            total = torch.stack(self._losses).sum()
            loss = total if self._is_share else total / len(self._losses)
        self.watch.log(loss=loss)
        self._losses.clear()

    def on_step_end(self, args, state, control, **kwargs):
        """With `on_log`'s loss the data goes in after the step: logged before the first one, it
        would tell the Watch that losses come before steps, which `on_log`'s do not."""
        if self._loss_from_log:
            self._log_batches()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self._training and self._loss_from_log and logs and "loss" in logs:
            self.watch.log(loss=logs["loss"])

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        found = eval_metrics(metrics or {}, HF_PREFIXES) if self._training else {}
        if found:
            self.watch.log_eval(**found)

    def on_train_end(self, args, state, control, **kwargs):
        self._close()

    # -- helpers ------------------------------------------------------------------------------------

    def _read_forward(self, module, args, kwargs, output) -> None:
        """A training micro-batch's loss and batch (evaluation forwards run in eval mode and are skipped)."""
        if not (module.training and torch.is_grad_enabled()):
            return
        loss = output.get("loss") if isinstance(output, dict) else getattr(output, "loss", None)
        if isinstance(loss, torch.Tensor):
            loss = loss.detach()
            self._losses.append(loss if loss.dim() == 0 else loss.float().mean())  # DataParallel: one per device
            self._is_share = kwargs.get("num_items_in_batch") is not None
        if self.watch.wants_samples:  # the first batches feed the data checks; later ones cost nothing
            batch = {k: v for k, v in kwargs.items() if k != "num_items_in_batch"} or args
            self._batches.append(inputs_and_targets(batch))

    def _log_batches(self) -> None:
        for x, y in self._batches:
            if x is not None or y is not None:
                self.watch.log(inputs=x, targets=y)
        self._batches.clear()

    def _close(self, exc: BaseException | None = None) -> None:
        if self._training:
            self._training = False
            self._hook.remove()
            self.watch.close(exc)
