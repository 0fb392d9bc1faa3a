"""The Python API: lint the training loop you already have, with two or three added lines.

    with trainlint.watch(model, optimizer, task="multiclass") as tl:
        for x, y in loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(); loss.backward(); optimizer.step()
            tl.log(loss=loss, inputs=x, targets=y)

Everything else is taken by hooks, not by user calls: the optimizer's step pre-hook reads the
gradients (before the update; after any clipping the user does) and snapshots the weights on
sampled steps, its post-hook measures the update ratio and reads the LR the step used, and a
forward pre/post hook on the model times the data wait, records activations on sampled steps and
keeps the first output for the first-batch checks. The statistics go into the same `Recording`
the YAML probe drives (`probe/session.py`), so the record, metrics.jsonl, the rules, the report
and the plots are the probe's own; rules whose inputs the loop did not give (no validation, no
targets) are listed as not evaluated.

Which step a logged loss belongs to: the first `log` decides. Logged before the first
`optimizer.step()` (loss logged after backward), each step takes the mean of the losses logged
since the previous step (gradient accumulation logs several); logged after it (the snippet
above), a step takes the losses logged between it and the next step. A step for which no loss
was logged is left out of the per-step series (its gradients too), so logging every N steps
gives a sparser record, never an invented one.

Nothing is copied to the host per step: losses logged as tensors stay on their device until a
flush, as in the probe. Only the first batches' inputs and targets (for the data checks) and the
first output are copied, once.

Under `torchrun`/DDP every rank records; at `close` the ranks exchange their step times, rank 0
writes the report and adds TL604 when one rank lags the others (a straggler), the others write
nothing.
"""

from __future__ import annotations

import math
import re
import sys
import time
from pathlib import Path
from typing import Any

import torch

from trainlint.probe.crash import capture
from trainlint.probe.metrics import MetricsWriter
from trainlint.probe.record import DataFacts, FirstBatch, RunRecord
from trainlint.probe.recorders.evaluation import metric_for
from trainlint.probe.recorders.inputs import output_facts, sample_facts
from trainlint.probe.session import Recording

DATA_SAMPLES = 2048  # inputs/targets kept from the first logged batches for the data checks
TASKS = ("multiclass", "binary", "regression")
_METRIC_KEYS = {"val_loss": "val_loss", "eval_loss": "val_loss", "loss": "val_loss",
                "train_loss": "train_loss", "train_eval_loss": "train_loss",
                "val_metric": "val_metric", "metric": "val_metric", "train_metric": "train_metric"}


def watch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, *, task: str | None = None,
          num_classes: int | None = None, out: str | Path | None = None, name: str | None = None,
          scheduler: Any = None, loss_fn: Any = None, stats_every: int = 20, select: tuple[str, ...] = (),
          ignore: tuple[str, ...] = (), plots: bool = True, echo: bool = True) -> Watch:
    """Watch a training run of `model` and `optimizer`; diagnose it when it closes.

    Args:
        task: multiclass | binary | regression; None: inferred from the first logged targets.
        num_classes: the classes of a classifier; None: from the output's width.
        out: the run folder (report.json, report.md, metrics.jsonl, record.json, plots);
            default `trainlint-out/<name>`.
        name: the run's name in reports; default the model's class name.
        scheduler: the LR scheduler, if any (named in the report; the LR itself is read from the
            optimizer at each step, so any scheduler is followed).
        loss_fn: the loss function, if any: the loss of an uninformative output is then measured
            on the first batch (TL201 initial-loss-off and TL206 loss-output-mismatch need it).
            "model" when the model computes its own loss (a Hugging Face model given `labels`):
            a classifier's uninformative loss is then ln(classes), as for the probe's own-loss models.
        stats_every: cadence of the sampled statistics (update ratios, activations), in steps.
        select, ignore: rules to run or leave out (codes, names or prefixes), as `probe`'s options.
        plots: draw the PNG plots at the end.
        echo: print the diagnosis on stderr at the end.
    """
    caller = sys._getframe(1)
    where = f"{_shown_path(caller.f_code.co_filename)}:{caller.f_lineno}"
    return Watch(model, optimizer, where=where, task=task, num_classes=num_classes, out=out, name=name, scheduler=scheduler,
                 loss_fn=loss_fn, stats_every=stats_every, select=select, ignore=ignore, plots=plots, echo=echo)


class Watch:
    """A watched run: use as a context manager, or call `close()` yourself. After closing,
    `report` is the Report (None on ranks other than 0) and `out_dir` holds the outputs."""

    def __init__(self, model, optimizer, *, where="<python>", task, num_classes, out, name, scheduler, loss_fn, stats_every,
                 select, ignore, plots, echo):
        if task is not None and task not in TASKS:
            raise ValueError(f"trainlint.watch: task must be one of {', '.join(TASKS)}, not {task!r}")
        from trainlint.probe.loop import _decoupled, _weight_decay, model_facts

        inner = getattr(model, "module", model)  # DistributedDataParallel / DataParallel wrap the model
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.rank, self.world = _distributed()
        self.name = name or type(inner).__name__
        self.out_dir = Path(out) if out is not None else Path("trainlint-out") / _slug(self.name)
        self.select, self.ignore, self.plots, self.echo = list(select), list(ignore), plots, echo
        self.report = None
        self.where = where  # the `watch(...)` call, file:line: where the report points the findings
        params = list(inner.parameters())
        self.device = params[0].device if params else torch.device("cpu")
        self.record = RunRecord(
            spec_name=self.name, task=task or "multiclass", num_classes=num_classes,
            loss_class=_loss_class(loss_fn),
            optimizer_class=type(optimizer).__name__,
            scheduler_class=type(scheduler).__name__ if scheduler is not None else None,
            lr=float(optimizer.param_groups[0]["lr"]), weight_decay=_weight_decay(optimizer),
            decoupled_weight_decay=_decoupled(optimizer), stats_every=stats_every, device=str(self.device),
            model=model_facts(inner), seed=torch.initial_seed() % 2**32, grads_after_clipping=True,
        )
        self._task_given = task is not None
        self.record.resources.cuda_available = torch.cuda.is_available()
        self.record.resources.device_type = self.device.type
        writer = None
        if self.rank == 0:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            writer = MetricsWriter(self.out_dir / "metrics.jsonl")
        self.rec = Recording(self.record, inner, self.device, stats_every=stats_every, writer=writer)
        self._handles = [
            optimizer.register_step_pre_hook(self._before_step),
            optimizer.register_step_post_hook(self._after_step),
        ]
        # Until the first step shows which of them the loop calls (see `_forward_modules`), then that one.
        self._forward_hooks = {module: (module.register_forward_pre_hook(self._before_forward),
                                        module.register_forward_hook(self._after_forward, always_call=True))
                               for module in _forward_modules(model)}
        self._started = time.perf_counter()
        self._mode: str | None = None  # "before" | "after": whether losses are logged before or after the step
        self._losses: list = []  # logged, not yet given to a step
        self._open: tuple | None = None  # a finished step awaiting its loss: (step, lr, step time, data wait)
        self._step = 0  # optimizer steps done
        self._phase = "data"
        self._armed = False
        self._forward_module: torch.nn.Module | None = None  # whose forward started this step's recording
        self._t_step_end = self._t_eval_end = self._t_forward = None
        self._data_wait = 0.0
        self._t_forward_end: float | None = None  # the end of this step's first training forward
        self._own_s: list[float] = []  # per step: data wait + forward (see TL604)
        self._first_output = None
        self._first_inputs = None
        self._samples: list[tuple[torch.Tensor | None, torch.Tensor | None]] = []
        self._n_samples = 0
        self._closed = False

    # -- the user's calls -------------------------------------------------------------------------

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.close(exc)
        return False  # the user's exception goes on

    def log(self, loss=None, *, inputs=None, targets=None, outputs=None) -> None:
        """The training loss of this step (a tensor stays on its device); optionally the batch's
        inputs and targets (the first batches feed the data checks) and the model's outputs (when
        the model's forward returns something trainlint cannot read as the prediction)."""
        if self._mode is None:
            self._mode = "before" if self._step == 0 else "after"
        if loss is not None:
            self._losses.append(loss.detach() if isinstance(loss, torch.Tensor) else float(loss))
        if outputs is not None and self._step <= 1 and self.record.first_batch is None:
            self._first_output = _prediction(outputs)
        if targets is not None or inputs is not None:
            self._keep_sample(inputs, targets)

    @property
    def wants_samples(self) -> bool:
        """Whether `log(inputs=, targets=)` still keeps what it is given (the first DATA_SAMPLES
        samples feed the data checks); callbacks skip reading batches once it is False."""
        return self._n_samples < DATA_SAMPLES

    def log_eval(self, **metrics: float) -> None:
        """Validation results at this step: `val_loss`, `val_metric` (or `val_accuracy`, `val_mae`...:
        the suffix names the metric), and optionally `train_loss`/`train_metric` on a train subset."""
        e = self.record.evals
        values = {"val_loss": math.nan, "val_metric": math.nan, "train_loss": math.nan, "train_metric": math.nan}
        for key, value in metrics.items():
            field = _METRIC_KEYS.get(key)
            if field is None and key.startswith(("val_", "eval_")):
                field, e.metric_name = "val_metric", key.split("_", 1)[1]
                e.higher_is_better = e.metric_name not in ("mae", "mse", "rmse", "error", "perplexity", "ppl")
            elif field is None and key.startswith("train_"):
                field = "train_metric"
            if field is None:
                raise TypeError(f"trainlint: log_eval() does not know `{key}`; it takes val_loss, val_metric "
                                f"(or val_<metric name>), train_loss and train_metric")
            values[field] = _scalar(value)
        step = self._open[0] if self._open is not None else max(self._step - 1, 0)
        e.steps.append(step)
        e.val_loss.append(values["val_loss"])
        e.val_metric.append(values["val_metric"])
        e.train_loss.append(values["train_loss"])
        e.train_metric.append(values["train_metric"])
        e.output_sensitivity.append(math.nan)
        self._t_eval_end = time.perf_counter()

    def close(self, exc: BaseException | None = None):
        """Stop recording, diagnose, write the outputs (rank 0) and print the diagnosis; returns the Report.

        `exc`: the exception that ended training, if one did (a KeyboardInterrupt marks the run
        interrupted, anything else records the crash, TL001); the context manager passes it itself.
        """
        if self._closed:
            return self.report
        self._closed = True
        if isinstance(exc, KeyboardInterrupt):
            self.record.stop_reason = "interrupted"
        elif exc is not None:
            x = self._first_inputs if self._step == 0 else None
            self.record.crash = capture(exc, self._phase, self._step, input=x)
            self.record.stop_reason = "crashed"
        for handle in [*self._handles, *(h for pair in self._forward_hooks.values() for h in pair)]:
            handle.remove()
        if self._armed:
            self.rec.disarm_activations(self._step, ok=False)
        self._close_step()
        r = self.record
        r.steps_planned = r.steps_run
        r.eval_every = _eval_every(r.evals.steps)
        r.loop_seconds = r.wall_seconds = time.perf_counter() - self._started
        self._data_facts()
        self.rec.finish()
        if self.world > 1:
            _gather_ranks(r, self._own_s)
        if self.rank != 0:
            return None
        from trainlint.workflow import finish_run

        outcome = finish_run(r, self.out_dir, config_path=self.where, config=self._config(), title=self.name,
                             select=self.select, ignore=self.ignore, command="watch", plots=self.plots)
        self.report = outcome.report
        if self.echo:
            _print(outcome)
        return self.report

    # -- hooks ------------------------------------------------------------------------------------

    def _before_forward(self, module, args) -> None:
        if not (module.training and torch.is_grad_enabled()):
            return
        now = time.perf_counter()
        self._phase = "forward"
        if self._t_forward is None:  # the first training forward of this step (the outermost hooked one)
            self._t_forward, self._forward_module = now, module
            since = max(t for t in (self._t_step_end, self._t_eval_end, self._started) if t is not None)
            self._data_wait = now - since if self._t_step_end is not None else 0.0
            if self._step == 0 and self._first_inputs is None:
                self._first_inputs = next((a for a in args if isinstance(a, torch.Tensor)), None)
            if self.rec.sampled(self._step):
                self.rec.arm_activations(module)
                self._armed = True

    def _after_forward(self, module, args, output) -> None:
        if self._armed and module is self._forward_module:
            self._armed = False
            self.rec.disarm_activations(self._step, ok=output is not None)
        if not (module.training and torch.is_grad_enabled()):
            self._t_eval_end = time.perf_counter()
            return
        if module is not self._forward_module:
            return  # the inner module of a forward the outer one records
        self._phase = "loss"
        if self._t_forward_end is None:
            self._t_forward_end = time.perf_counter()
        if self._step == 0 and self._first_output is None and output is not None:
            self._first_output = _prediction(output)

    def _before_step(self, optimizer, args, kwargs):
        """Read the gradients before the update; given a closure, read them after it runs.

        Why the closure: `optimizer.step(closure)` (Lightning's automatic optimization, LBFGS) runs
        the forward and backward inside the step, after this hook: the gradients here would be
        the previous step's. Only the first call counts (LBFGS calls it again at trial points).
        """
        self._phase = "optimizer"
        if self._mode == "after":
            self._close_step()
        closure = kwargs.get("closure", args[1] if len(args) > 1 else None)  # args[0] is the optimizer
        if closure is None:
            self._gradients_ready()
            return None
        pending = [True]

        def read_after(*a, **kw):
            result = closure(*a, **kw)
            if pending:
                pending.clear()
                self._phase = "optimizer"
                self._gradients_ready()
            return result

        if "closure" in kwargs:
            return args, {**kwargs, "closure": read_after}
        return (args[0], read_after, *args[2:]), kwargs

    def _gradients_ready(self) -> None:
        self.rec.after_backward()
        self.rec.before_update(self.rec.sampled(self._step))

    def _after_step(self, optimizer, args, kwargs) -> None:
        step = self._step
        self.rec.after_update(step, self.rec.sampled(step))
        now = time.perf_counter()
        start = self._t_forward if self._t_forward is not None else (self._t_step_end or self._started)
        self._open = (step, float(optimizer.param_groups[0]["lr"]), now - start + self._data_wait, self._data_wait)
        if self._t_forward is not None and self._t_forward_end is not None and self.world > 1:
            self._own_s.append(self._data_wait + self._t_forward_end - self._t_forward)
        self._step += 1
        self._t_step_end, self._t_forward, self._t_forward_end, self._data_wait = now, None, None, 0.0
        self._phase = "data"
        if step == 0:
            self.record.first_step_after_process_start_s = time.time() - _process_start()
            self._keep_forward_hooks(self._forward_module)
            self.record.startup_seconds = 0.0
        if self._mode == "before":
            self._close_step()

    # -- bookkeeping ------------------------------------------------------------------------------

    def _keep_forward_hooks(self, module: torch.nn.Module | None) -> None:
        """After the first step, hook only the module whose forward the loop called (each hooked
        module costs a few µs a step); when none was seen, keep them all."""
        if module is None:
            return
        for other in [m for m in self._forward_hooks if m is not module]:
            for handle in self._forward_hooks.pop(other):
                handle.remove()

    def _close_step(self) -> None:
        """Give the open step its loss (the mean of those logged for it) and append it; without one it is dropped."""
        if self._open is None:
            return
        step, lr, step_time, data_wait = self._open
        self._open = None
        losses, self._losses = self._losses, []
        if not losses:
            self.rec.drop_step()
            return
        if step == 0:
            self._first_batch(losses[0])
        loss = losses[0] if len(losses) == 1 else _mean(losses)
        finite = self.rec.end_step(step, loss, lr, step_time, data_wait)
        if not finite:
            self.record.stop_reason = "non_finite_loss"
        flushed, finite = self.rec.flush_if_due(step, last=False)
        if not finite:
            self.record.stop_reason = "non_finite_loss"
        self.rec.sample_resources(step)
        if flushed:
            self.rec.write()

    def _keep_sample(self, inputs, targets) -> None:
        if self._n_samples >= DATA_SAMPLES:
            return
        x = inputs.detach().cpu() if isinstance(inputs, torch.Tensor) else None
        y = targets.detach().cpu() if isinstance(targets, torch.Tensor) else None
        if self._first_inputs is None and x is not None:
            self._first_inputs = x
        self._samples.append((x, y))
        self._n_samples += len(x) if x is not None else len(y) if y is not None and y.dim() else 1
        if self._step <= 1 and y is not None and not self._task_given:
            self._infer_task(y)

    def _infer_task(self, y: torch.Tensor) -> None:
        """multiclass for integer labels, binary for 0/1 floats beside a one-column output, else regression."""
        r, out = self.record, self._first_output
        if not torch.is_floating_point(y):
            r.task = "multiclass"
        elif bool(((y == 0) | (y == 1)).all()) and (out is None or out.shape[-1] == 1 or out.shape == y.shape):
            r.task = "binary"
        else:
            r.task = "regression"
        self._task_given = True

    def _first_batch(self, loss) -> None:
        """First-batch facts from what the first step saw: its output (before any update) and targets."""
        out = self._first_output
        x = self._first_inputs
        y = next((t for _, t in self._samples if t is not None), None)
        r = self.record
        if r.num_classes is None and r.task == "multiclass" and out is not None and out.dim() >= 2:
            r.num_classes = int(out.shape[-1])
        r.num_outputs = int(out.shape[-1]) if out is not None and out.dim() >= 1 else None
        fb = FirstBatch(input_shape=list(x.shape) if x is not None else [],
                        input_dtype=str(x.dtype).replace("torch.", "") if x is not None else "",
                        target_shape=list(y.shape) if y is not None else [],
                        target_dtype=str(y.dtype).replace("torch.", "") if y is not None else "")
        fb.initial_loss = _scalar(loss)
        if out is not None:
            fb.output_shape = list(out.shape)
            output_facts(fb, out, y)
            if y is not None and self.loss_fn == "model":
                classifies = not torch.is_floating_point(y) and out.dim() >= 2 and out.shape[-1] > 1
                fb.expected_initial_loss = math.log(out.shape[-1]) if classifies else None
            elif y is not None and self.loss_fn is not None:
                fb.expected_initial_loss = _chance_loss(self.loss_fn, out, y, r.num_classes)
        r.first_batch = fb if out is not None else None

    def _data_facts(self) -> None:
        r = self.record
        xs = [x for x, _ in self._samples if x is not None]
        ys = [y for _, y in self._samples if y is not None]
        name, higher = metric_for(r.task)
        if not r.evals.steps or r.evals.metric_name == "accuracy":
            r.evals.metric_name, r.evals.higher_is_better = name, higher
        if not xs and not ys:
            return  # nothing logged: the data rules are listed as not evaluated
        x = _cat(xs)
        y = _cat(ys)
        facts = DataFacts(input_kind=_input_kind(x), input_shape=list(x.shape[1:]) if x is not None else [])
        r.data = sample_facts(facts, x, y, r.task)
        if y is not None and r.evals.chance_metric is None and r.task != "regression" and not torch.is_floating_point(y):
            r.evals.chance_metric = float(torch.bincount(y.reshape(-1).long().clamp(min=0)).max()) / y.numel()

    def _config(self) -> dict:
        r = self.record
        return {"name": self.name, "source": "trainlint.watch", "task": r.task, "model": r.model.class_name,
                "optimizer": {"name": r.optimizer_class, "lr": r.lr, "weight_decay": r.weight_decay},
                "scheduler": r.scheduler_class, "stats_every": r.stats_every, "world_size": self.world}


def _forward_modules(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The model, and the one child holding all its trainable weights, if there is one.

    Why the child too: a LightningModule's `training_step` often calls `self.model(x)` (or
    `self.net(x)`), not `self(x)`, and a DDP wrapper's `module` may be called directly; hooks on the
    child see those forward passes. When both run, the outer one records (see `_before_forward`).
    """
    if any(p.requires_grad for p in model.parameters(recurse=False)):
        return [model]
    owners = [c for c in model.children() if any(p.requires_grad for p in c.parameters())]
    return [model, owners[0]] if len(owners) == 1 else [model]


def _prediction(output) -> torch.Tensor | None:
    """The prediction tensor of a forward's output (a tensor, a Hugging Face ModelOutput's logits, a tuple's first)."""
    from trainlint.probe.adapters import select_output

    try:
        out = select_output(output)
    except Exception:  # noqa: BLE001 - an output trainlint cannot read: the first-batch checks are skipped
        return None
    return out.detach().float().cpu() if isinstance(out, torch.Tensor) else None


def _loss_class(loss_fn) -> str:
    """The record's `loss_class`: the loss's class name, "ModelLoss" for the model's own, "" when unknown."""
    if loss_fn is None:
        return ""
    return "ModelLoss" if loss_fn == "model" else type(loss_fn).__name__


def _chance_loss(loss_fn, out: torch.Tensor, y: torch.Tensor, num_classes: int | None) -> float | None:
    from trainlint.probe.recorders.inputs import chance_output

    try:
        with torch.no_grad():
            chance = chance_output(out, type(loss_fn).__name__, num_classes)
            return float(loss_fn(chance.to(y.device) if y.device != chance.device else chance, y))
    except Exception:  # noqa: BLE001 - a loss that wants another layout: not measured
        return None


def _scalar(value) -> float:
    if isinstance(value, torch.Tensor):
        return float(value.detach().float().mean())
    return float(value)


def _mean(losses: list):
    if all(isinstance(v, torch.Tensor) for v in losses):
        return torch.stack([v.float().reshape(()) for v in losses]).mean()
    return sum(_scalar(v) for v in losses) / len(losses)


def _cat(parts: list[torch.Tensor]) -> torch.Tensor | None:
    parts = [p for p in parts if p.dim() > 0]
    if not parts:
        return None
    try:
        return torch.cat(parts)[:DATA_SAMPLES]
    except RuntimeError:  # batches of different shapes (padded sequences): the first batch alone
        return parts[0]


def _input_kind(x: torch.Tensor | None) -> str:
    if x is None or x.dim() <= 1:
        return "tabular"
    if not torch.is_floating_point(x):
        return "tokens"
    return {2: "tabular", 3: "sequence"}.get(x.dim(), "image")


def _eval_every(steps: list[int]) -> int:
    gaps = [b - a for a, b in zip(steps, steps[1:], strict=False) if b > a]
    return min(gaps) if gaps else 0


def _shown_path(filename: str) -> str:
    """A path relative to the working folder when it is inside it."""
    try:
        return str(Path(filename).resolve().relative_to(Path.cwd()))
    except ValueError:
        return filename


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()).strip("-") or "run"


def _process_start() -> float:
    import psutil

    return psutil.Process().create_time()


def _distributed() -> tuple[int, int]:
    """(rank, world size) of a torch.distributed run, (0, 1) otherwise."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _gather_ranks(record: RunRecord, own: list[float]) -> None:
    """Every rank's medians per step (whole step, data wait, own time), on every rank; rank 0's report
    judges them (TL604)."""
    import statistics

    def median(values: list[float]) -> float:
        return statistics.median(values) if values else math.nan

    dist = torch.distributed
    gathered: list = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, (median(record.step_time_s), median(record.data_wait_s), median(own)))
    record.rank_step_time_s = [float(g[0]) for g in gathered]
    record.rank_data_wait_s = [float(g[1]) for g in gathered]
    record.rank_own_time_s = [float(g[2]) for g in gathered]


def _print(outcome) -> None:
    from rich.console import Console

    from trainlint.report.text import render_text

    console = Console(file=sys.stderr, highlight=False, soft_wrap=True)
    console.print(f"trainlint: diagnosis of {outcome.report.config.get('name')}", style="bold")
    render_text(outcome.report, console, out_dir=str(outcome.out_dir))
