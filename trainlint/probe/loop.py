"""The instrumented training loop of the YAML probe: a plain PyTorch loop driving a `Recording`.

The recorders, their flush cadence and the record's bookkeeping live in `probe/session.py`,
shared with the Python API (`trainlint.watch`) and its callbacks; this module owns what only
the probe does: building the spec's components, fetching batches, the forward/loss/backward/step
sequence, the evaluations, the time budget and the crash capture.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from pathlib import Path

import torch

from trainlint.components.base import ComponentError
from trainlint.components.build import Components, build_components, resolve_device
from trainlint.probe import interrupt
from trainlint.probe.adapters import AdapterError
from trainlint.probe.crash import capture
from trainlint.probe.metrics import MetricsWriter
from trainlint.probe.record import ModelFacts, RunRecord
from trainlint.probe.recorders.activations import activation_modules
from trainlint.probe.recorders.evaluation import (
    Evaluator,
    chance_metric,
    metric_for,
    scanned_chance,
)
from trainlint.probe.recorders.inputs import first_batch_facts, scan_data
from trainlint.probe.session import FAMILIES, Progress, Recording
from trainlint.probe.threads import CpuLoad, choose_threads
from trainlint.spec.loader import LoadedSpec

EvalHook = Callable[[int, float], bool]  # (steps done, validation metric) -> stop this probe now (a pruner)


def model_facts(model: torch.nn.Module) -> ModelFacts:
    leaves = [m for m in model.modules() if not list(m.children())]
    params = list(model.named_parameters())
    layers = [n for n, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))]
    owners = set(layers)
    return ModelFacts(
        class_name=type(model).__name__,
        n_params=sum(p.numel() for _, p in params),
        n_trainable=sum(p.numel() for _, p in params if p.requires_grad),
        layers=layers,
        layer_types={n: type(m).__name__ for n, m in model.named_modules() if n in owners},
        frozen_params=[n for n, p in params if not p.requires_grad],
        activations={n: type(m).__name__ for n, m in activation_modules(model).items()},
        last_module=type(leaves[-1]).__name__ if leaves else None,
        is_builtin=type(model).__module__.startswith("trainlint.components.models"),
        dropout={n: float(m.p) for n, m in model.named_modules() if isinstance(m, torch.nn.modules.dropout._DropoutNd)},
        module_classes=sorted({type(m).__name__ for m in model.modules()}),
        layer_params={n: sum(p.numel() for p in m.parameters(recurse=False)) for n, m in model.named_modules()
                      if n in owners},
    )


def run_probe(loaded: LoadedSpec, out_dir: Path | None = None, progress: Progress | None = None,
              components: Components | None = None, families: frozenset[str] = FAMILIES,
              on_eval: EvalHook | None = None) -> RunRecord:
    """Build the spec's components and run the instrumented probe.

    `families` switches recorder families off (the overhead benchmark measures each alone);
    the loss, LR, timing and evaluations are always recorded. `on_eval` is asked after each
    evaluation before the last step whether to stop (a sweep's pruner): the run then ends as
    "pruned", with what it recorded so far.

    Raises:
        ComponentError: the spec names something that cannot be built (a user error).
    """
    started = time.perf_counter()
    load = CpuLoad()  # other processes' CPU use while we set up, for `probe.threads: auto`
    spec = loaded.spec
    comps = components or build_components(loaded, resolve_device(spec.device))
    record = _new_record(loaded, comps)
    writer = MetricsWriter(out_dir / "metrics.jsonl" if out_dir else None)
    try:
        record.data = scan_data(comps.data, spec.dataset.target_key)
        if record.evals.chance_metric is None:  # a user's dataset: scored from its samples, as built-ins are
            record.evals.chance_metric = scanned_chance(record.task, record.data, comps.val_loader, comps.reader)
    except Exception as exc:  # noqa: BLE001 - the user's dataset raised
        record.crash = capture(exc, "data", 0)
        record.stop_reason = "crashed"
    if record.crash is None:
        # Why automatic garbage collection is off during the loop: the recorders keep a few small
        # tensors per step until the flush, each counting toward Python's generation-0
        # threshold, so the collector would interrupt about one step in ten (~5 µs per step on
        # a 0.8 ms MLP step). The loop collects the young generations at each flush instead,
        # after the pending tensors are freed: the same work, done once, ~0.1 ms per flush.
        collecting, n_threads = gc.isenabled(), torch.get_num_threads()
        gc.disable()
        try:
            _train(record, comps, spec, writer, progress, started, families, load, on_eval)
        finally:
            torch.set_num_threads(n_threads)
            if collecting:
                gc.enable()
    writer.close()
    record.wall_seconds = time.perf_counter() - started
    return record


def _weight_decay(optimizer) -> float:
    """The largest weight decay of any parameter group: that of the decayed weights when biases and
    norms sit in a group without decay (`optimizer.param_groups.no_decay`, or a factory's own groups)."""
    values = [g.get("weight_decay", 0.0) for g in optimizer.param_groups]
    return max((float(v) for v in values if isinstance(v, int | float)), default=0.0)


def _decoupled(optimizer) -> bool:
    """AdamW, or an optimizer asked for decoupled decay (`decoupled_weight_decay=True` in torch ≥ 2.6)."""
    return isinstance(optimizer, torch.optim.AdamW) or any(
        bool(g.get("decoupled_weight_decay", False)) for g in optimizer.param_groups)


def _new_record(loaded: LoadedSpec, comps: Components) -> RunRecord:
    spec, info = loaded.spec, comps.info
    name, higher = metric_for(info.task)
    record = RunRecord(
        spec_name=loaded.name, task=info.task, num_classes=info.num_classes, num_outputs=comps.num_outputs,
        loss_class="ModelLoss" if comps.reader.model_computes_loss else type(comps.loss_fn).__name__,
        optimizer_class=type(comps.optimizer).__name__,
        scheduler_class=type(comps.schedule.inner).__name__ if comps.schedule.inner is not None else None,
        lr=spec.optimizer.lr, warmup_steps=spec.scheduler.warmup_steps if spec.scheduler else 0,
        weight_decay=_weight_decay(comps.optimizer), decoupled_weight_decay=_decoupled(comps.optimizer),
        batch_size=spec.dataset.batch_size, steps_planned=spec.probe.steps, eval_every=spec.probe.eval_every,
        stats_every=spec.probe.stats_every, clip_grad_norm=spec.probe.clip_grad_norm,
        device=str(comps.device), seed=spec.seed, model=model_facts(comps.model),
    )
    record.evals.metric_name, record.evals.higher_is_better = name, higher
    tensors = comps.data.tensors
    if tensors is not None:
        record.evals.chance_metric = chance_metric(info.task, tensors[1], tensors[3])
    record.resources.cuda_available = torch.cuda.is_available()
    record.resources.device_type = comps.device.type
    return record


def _train(record: RunRecord, comps: Components, spec, writer: MetricsWriter,
           progress: Progress | None, started: float, families: frozenset[str], load: CpuLoad,
           on_eval: EvalHook | None = None) -> None:
    model, loss_fn, optimizer, schedule = comps.model, comps.loss_fn, comps.optimizer, comps.schedule
    reader = comps.reader
    device, steps = comps.device, spec.probe.steps
    rec = Recording(record, model, device, stats_every=spec.probe.stats_every, writer=writer, progress=progress,
                    families=families)
    evaluator = Evaluator(model, loss_fn, comps.val_loader, comps.data.train, comps.info.task,
                          record.loss_class, device, spec.seed, comps.data.tensors, reader)
    clip, eval_every = spec.probe.clip_grad_norm, spec.probe.eval_every
    budget = spec.probe.max_seconds  # seconds of training loop, from the first step
    model.train()
    batches = iter(comps.train_loader)
    record.startup_seconds = time.perf_counter() - started
    x = y = out = batch = None
    step = 0
    stop = None
    loop_started = time.perf_counter()
    for step in range(steps):
        t0 = time.perf_counter()
        phase = "data"
        try:
            try:
                raw_batch = next(batches)
            except StopIteration:
                batches = iter(comps.train_loader)
                raw_batch = next(batches)
            batch = reader.batch(raw_batch).to(device)
            x, y = batch.primary, batch.target
            t1 = time.perf_counter()
            phase = "forward"
            if step == 0:  # one-off diagnostics, timed apart from training like evaluations
                record.first_step_after_process_start_s = time.time() - _process_start()
                choice = choose_threads(spec.probe.threads, device, model, batch, load, reader)
                torch.set_num_threads(choice.threads)
                record.threads, record.threads_reason = choice.threads, choice.reason
                record.first_batch = first_batch_facts(model, loss_fn, batch, reader, record.loss_class,
                                                       record.num_classes)
                record.eval_seconds += time.perf_counter() - t1
            sampled = rec.sampled(step, last=step == steps - 1)
            optimizer.zero_grad(set_to_none=True)
            with rec.forward(step, sampled):
                raw_out, out = reader.forward(model, batch)
            phase = "loss"
            loss = reader.loss(loss_fn, raw_out, out, batch)
            _check_scalar(loss)
            loss_value = loss.detach()
            if step == 0:
                record.first_batch.initial_loss = float(loss_value)
            phase = "backward"
            loss.backward()
            rec.after_backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(rec.index.params, clip)
            phase = "optimizer"
            rec.before_update(sampled)
            optimizer.step()
            rec.after_update(step, sampled)
            lr = optimizer.param_groups[0]["lr"]
            schedule.step(loss_value)
        except KeyboardInterrupt:
            stop = "interrupted"
            break
        except AdapterError as exc:  # a batch or output the spec does not say how to read: exit 2
            raise ComponentError(str(exc), exc.field) from None
        except Exception as exc:  # noqa: BLE001 - user model/data/loss raised: diagnosed, not dumped
            record.crash = capture(exc, phase, step, input=x, target=y, output=out)
            stop = "crashed"
            break
        t2 = time.perf_counter()
        if not rec.end_step(step, loss_value, lr, t2 - t0, t1 - t0):
            stop = "non_finite_loss"  # on CPU every loss reaches the host at once: a NaN stops this step
        if stop is None and interrupt.requested():  # Ctrl-C: stop after this step (see probe/interrupt.py)
            stop = "interrupted"
        if stop is None and budget is not None and t2 - loop_started >= budget and step < steps - 1:
            stop = "time_budget"  # evaluated below like a last step, so the report has final val metrics
        last = step == steps - 1 or stop is not None
        flushed, finite = rec.flush_if_due(step, last)
        if not finite and stop is None:
            stop = "non_finite_loss"  # off CPU the loss reaches the host only at a flush
        rec.sample_resources(step, last)
        if (stop is None and ((step + 1) % eval_every == 0 or step == steps - 1)) or stop == "time_budget":
            t_eval = time.perf_counter()
            if not _evaluate(record, evaluator, step):
                stop = "crashed"
            elif on_eval is not None and stop is None and step < steps - 1 \
                    and on_eval(step + 1, record.evals.val_metric[-1]):
                stop = "pruned"
            record.eval_seconds += time.perf_counter() - t_eval
        if flushed:
            rec.write()
        if stop is not None:
            break
    record.loop_seconds = time.perf_counter() - loop_started
    record.stop_reason = stop or "completed"
    rec.finish()


def _process_start() -> float:
    import psutil

    return psutil.Process().create_time()


def _check_scalar(loss) -> None:
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"the loss returned {type(loss).__name__}, not a tensor")
    if loss.numel() != 1:
        raise ValueError(f"the loss returned a tensor of shape {tuple(loss.shape)}; a scalar is expected")


def _evaluate(record: RunRecord, evaluator: Evaluator, step: int) -> bool:
    """Append one evaluation; False when the user's model raised in eval mode."""
    try:
        result = evaluator.evaluate()
    except Exception as exc:  # noqa: BLE001 - user model raising in eval mode
        record.crash = capture(exc, "eval", step)
        return False
    e = record.evals
    e.steps.append(step)
    e.val_loss.append(result["val_loss"])
    e.val_metric.append(result["val_metric"])
    e.train_loss.append(result["train_loss"])
    e.train_metric.append(result["train_metric"])
    e.output_sensitivity.append(result["output_sensitivity"])
    return True
