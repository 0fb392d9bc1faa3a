"""The instrumented training loop: a plain PyTorch loop plus cheap recorders, filling a RunRecord.

Why the loop flushes rarely: every host read of a device tensor (`.item()`, `.tolist()`)
waits for the GPU, and on CPU each flush costs a fixed ~0.5 ms of small tensor and array
ops (more right after a training step, whose caches it shares). Recorders keep their
statistics on device and the loop copies them to the host every `FLUSH_SECONDS` (so
metrics.jsonl and the progress bar still move twice a second), or after `FLUSH_STEPS` steps
on very fast models, which bounds what is pending. On CPU the loss is read every step (it
is free there) so a NaN stops the probe at once; off CPU it is checked at each flush.
"""

from __future__ import annotations

import gc
import math
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
from trainlint.probe.recorders.activations import (
    ActivationRecorder,
    activation_modules,
    name_series,
)
from trainlint.probe.recorders.evaluation import (
    Evaluator,
    chance_metric,
    metric_for,
    scanned_chance,
)
from trainlint.probe.recorders.gradients import GradientRecorder
from trainlint.probe.recorders.host import to_host
from trainlint.probe.recorders.inputs import first_batch_facts, scan_data
from trainlint.probe.recorders.layers import LayerIndex
from trainlint.probe.recorders.resources import ResourceRecorder
from trainlint.probe.recorders.updates import UpdateRecorder
from trainlint.probe.threads import CpuLoad, choose_threads
from trainlint.spec.loader import LoadedSpec

FLUSH_SECONDS = 0.5
FLUSH_STEPS = 1000
RESOURCE_EVERY = 50  # a sample costs ~0.1 ms in the loop; memory growth shows over hundreds of steps
FAMILIES = frozenset({"gradients", "updates", "activations", "resources"})

Progress = Callable[[int, int, float], None]  # (steps done, steps planned, latest loss)


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
              components: Components | None = None, families: frozenset[str] = FAMILIES) -> RunRecord:
    """Build the spec's components and run the instrumented probe.

    `families` switches recorder families off (the overhead benchmark measures each alone);
    the loss, LR, timing and evaluations are always recorded.

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
            _train(record, comps, spec, writer, progress, started, families, load)
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
           progress: Progress | None, started: float, families: frozenset[str], load: CpuLoad) -> None:
    model, loss_fn, optimizer, schedule = comps.model, comps.loss_fn, comps.optimizer, comps.schedule
    reader = comps.reader
    device, steps, cpu = comps.device, spec.probe.steps, comps.device.type == "cpu"
    index = LayerIndex.of(model)
    grads, updates = GradientRecorder(index), UpdateRecorder(index)
    acts, resources = ActivationRecorder(model), ResourceRecorder(device)
    for series in (record.layer_grad_norm, record.layer_param_norm, record.update_ratio):
        series.names = list(index.layers)
    name_series(record, acts)  # activation modules; functional activations join after the first sampled pass
    evaluator = Evaluator(model, loss_fn, comps.val_loader, comps.data.train, comps.info.task,
                          record.loss_class, device, spec.seed, comps.data.tensors, reader)
    clip, stats_every, eval_every = spec.probe.clip_grad_norm, spec.probe.stats_every, spec.probe.eval_every
    budget = spec.probe.max_seconds  # seconds of training loop, from the first step
    use_grads, use_updates = "gradients" in families, "updates" in families
    use_acts, use_resources = "activations" in families, "resources" in families
    pending_loss: list[torch.Tensor] = []  # off CPU: losses not yet copied to the host
    lr_series, step_times, data_waits = record.lr_series, record.step_time_s, record.data_wait_s
    model.train()
    batches = iter(comps.train_loader)
    record.startup_seconds = time.perf_counter() - started
    x = y = out = batch = None
    step = unflushed = flushes = 0
    stop = None
    last_flush = loop_started = time.perf_counter()
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
            sampled = step % stats_every == 0 or step == steps - 1
            optimizer.zero_grad(set_to_none=True)
            if sampled and use_acts:
                with acts.recording(step):  # detached even when the forward pass raises
                    raw_out, out = reader.forward(model, batch)
                if step == 0:  # the first pass named the functional activations (F.relu, ...)
                    name_series(record, acts)
            else:
                raw_out, out = reader.forward(model, batch)
            phase = "loss"
            loss = reader.loss(loss_fn, raw_out, out, batch)
            _check_scalar(loss)
            loss_value = loss.detach()
            if step == 0:
                record.first_batch.initial_loss = float(loss_value)
            phase = "backward"
            loss.backward()
            if use_grads:
                grads.after_backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(index.params, clip)
            phase = "optimizer"
            if sampled and use_updates:
                updates.before_step()
                optimizer.step()
                updates.after_step(step)
            else:
                optimizer.step()
            lr_series.append(optimizer.param_groups[0]["lr"])
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
        record.steps.append(step)
        step_times.append(t2 - t0)
        data_waits.append(t1 - t0)
        if cpu:  # free on CPU: every loss reaches the host at once, and a NaN stops this step
            value = float(loss_value)
            record.train_loss.append(value)
            if not math.isfinite(value):
                stop = "non_finite_loss"
        else:
            pending_loss.append(loss_value)
        if stop is None and interrupt.requested():  # Ctrl-C: stop after this step (see probe/interrupt.py)
            stop = "interrupted"
        if stop is None and budget is not None and t2 - loop_started >= budget and step < steps - 1:
            stop = "time_budget"  # evaluated below like a last step, so the report has final val metrics
        last = step == steps - 1 or stop is not None
        unflushed += 1
        flushed = last or unflushed >= FLUSH_STEPS or t2 - last_flush >= FLUSH_SECONDS
        if flushed:
            unflushed = 0
            checked = len(record.train_loss)
            _flush(record, pending_loss, grads, updates, acts)
            flushes += 1
            gc.collect(1 if flushes % 10 == 0 else 0)  # see run_probe: automatic collection is off
            if not cpu and not all(math.isfinite(v) for v in record.train_loss[checked:]):
                stop = "non_finite_loss"  # off CPU the loss reaches the host only here
            if progress is not None:
                progress(step + 1, steps, record.train_loss[-1])
            last_flush = time.perf_counter()
        if use_resources and (step % RESOURCE_EVERY == 0 or last):
            _sample_resources(record, resources, step)
        if (stop is None and ((step + 1) % eval_every == 0 or step == steps - 1)) or stop == "time_budget":
            t_eval = time.perf_counter()
            if not _evaluate(record, evaluator, step):
                stop = "crashed"
            record.eval_seconds += time.perf_counter() - t_eval
        if flushed:
            writer.write_available(record)
        if stop is not None:
            break
    if stop in ("interrupted", "crashed"):
        _flush(record, pending_loss, grads, updates, acts)
        writer.write_available(record)
    record.loop_seconds = time.perf_counter() - loop_started
    record.stop_reason = stop or "completed"
    if record.steps and use_grads:
        record.params_never_grad = grads.never_grad()
    if record.steps and use_resources:
        _sample_resources(record, resources, record.steps[-1])


def _process_start() -> float:
    import psutil

    return psutil.Process().create_time()


def _check_scalar(loss) -> None:
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"the loss returned {type(loss).__name__}, not a tensor")
    if loss.numel() != 1:
        raise ValueError(f"the loss returned a tensor of shape {tuple(loss.shape)}; a scalar is expected")


def _flush(record: RunRecord, pending_loss, grads, updates, acts) -> None:
    """Copy the recorders' pending statistics to the host."""
    if pending_loss:
        record.train_loss.extend(to_host([pending_loss], len(pending_loss)).reshape(-1).tolist())
        pending_loss.clear()
    # A step that crashed after backward left a gradient row without a step: drop it.
    for row in grads.flush()[: len(record.steps) - len(record.grad_norm)]:
        record.grad_norm.append(row[0])
        record.layer_grad_norm.append(record.steps[len(record.grad_norm) - 1], row[1:])
    for step, param_norms, ratios in updates.flush():
        record.layer_param_norm.append(step, param_norms)
        record.update_ratio.append(step, ratios)
    for step, rows in acts.flush():
        record.dead_fraction.append(step, [r[0] for r in rows])
        record.saturated_fraction.append(step, [r[1] for r in rows])
        record.activation_mean.append(step, [r[2] for r in rows])
        record.activation_std.append(step, [r[3] for r in rows])


def _sample_resources(record: RunRecord, resources: ResourceRecorder, step: int) -> None:
    rss, cpu, mem, util = resources.sample()
    r = record.resources
    r.steps.append(step)
    r.rss_mb.append(rss)
    r.cpu_percent.append(cpu)
    r.cuda_mem_mb.append(mem)
    r.gpu_util_percent.append(util)


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
