"""Recorders against naive references: fused on-device statistics == a plain per-parameter loop."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from trainlint.probe.recorders.activations import ActivationRecorder
from trainlint.probe.recorders.gradients import GradientRecorder
from trainlint.probe.recorders.layers import LayerIndex
from trainlint.probe.recorders.updates import UpdateRecorder


class Tiny(nn.Module):
    """Linear → LayerNorm → ReLU → Linear → Tanh → head, plus an unused layer and a frozen bias."""

    def __init__(self):
        super().__init__()
        self.fc1, self.norm, self.relu = nn.Linear(5, 8), nn.LayerNorm(8), nn.ReLU()
        self.fc2, self.tanh = nn.Linear(8, 6), nn.Tanh()
        self.head = nn.Linear(6, 3)
        self.unused = nn.Linear(3, 3)
        self.head.bias.requires_grad_(False)

    def forward(self, x):
        return self.head(self.tanh(3 * self.fc2(self.relu(self.norm(self.fc1(x))))))


TRAINABLE_LAYERS = ["fc1", "norm", "fc2", "head", "unused"]


def naive_layer_norms(model: nn.Module, of) -> dict[str, float]:
    """Per owning module, sqrt(sum over its trainable parameters of ‖of(p)‖²), by a plain loop."""
    out = {}
    for name, module in model.named_modules():
        params = [p for p in module.parameters(recurse=False) if p.requires_grad]
        if params:
            out[name] = math.sqrt(sum(float(of(p).double().norm()) ** 2 for p in params))
    return out


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = Tiny()
    index = LayerIndex.of(model)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
    return model, index, optimizer, x, y


def test_layer_index_groups_trainable_parameters_by_owner(setup):
    model, index, *_ = setup
    assert index.layers == TRAINABLE_LAYERS
    assert "head.bias" not in index.param_names  # frozen: not recorded
    assert index.owner == [0, 0, 1, 1, 2, 2, 3, 4, 4]


def test_gradient_and_update_recorders_match_naive_loop(setup):
    model, index, optimizer, x, y = setup
    grads, updates = GradientRecorder(index), UpdateRecorder(index)
    expected_grad, expected_param, expected_ratio = [], [], []
    for step in range(3):
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        grads.after_backward()
        layer_grad = naive_layer_norms(model, lambda p: p.grad if p.grad is not None else torch.zeros_like(p))
        total = math.sqrt(sum(v * v for v in layer_grad.values()))
        expected_grad.append([total] + [layer_grad[n] for n in TRAINABLE_LAYERS])
        before = {id(p): p.detach().clone() for p in model.parameters()}
        updates.before_step()
        optimizer.step()
        updates.after_step(step)
        w = naive_layer_norms(model, lambda p, b=before: b[id(p)])
        d = naive_layer_norms(model, lambda p, b=before: p.detach() - b[id(p)])
        expected_param.append([w[n] for n in TRAINABLE_LAYERS])
        expected_ratio.append([d[n] / w[n] for n in TRAINABLE_LAYERS])
    for got, want in zip(grads.flush(), expected_grad, strict=True):
        assert got == pytest.approx(want, rel=1e-5)
    rows = updates.flush()
    assert [s for s, _, _ in rows] == [0, 1, 2]
    for (_, param_norms, ratios), want_param, want_ratio in zip(rows, expected_param, expected_ratio, strict=True):
        assert param_norms == pytest.approx(want_param, rel=1e-5)
        assert ratios == pytest.approx(want_ratio, rel=1e-4)
    assert grads.flush() == []  # flushed rows are forgotten
    assert grads.never_grad() == ["unused.weight", "unused.bias"]


def test_global_norm_is_the_clip_grad_norm_total(setup):
    model, index, _, x, y = setup
    grads = GradientRecorder(index)
    nn.functional.cross_entropy(model(x), y).backward()
    grads.after_backward()
    total = grads.flush()[0][0]
    params = [p for p in model.parameters() if p.grad is not None]
    assert total == pytest.approx(float(torch.nn.utils.clip_grad_norm_(params, 1e9)), rel=1e-6)


def test_never_grad_includes_always_zero_gradients():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():
        model[0].bias.fill_(-100.0)  # every ReLU unit dead: the first layer's gradient is exactly zero
    grads = GradientRecorder(LayerIndex.of(model))
    for _ in range(2):
        model.zero_grad(set_to_none=True)
        model(torch.randn(8, 4)).sum().backward()
        grads.after_backward()
    # The head's weight multiplies the dead (all-zero) activations: its gradient is zero too.
    assert grads.never_grad() == ["0.weight", "0.bias", "2.weight"]


def test_activation_recorder_matches_naive_fractions(setup):
    model, _, _, x, _ = setup
    recorder = ActivationRecorder(model)
    assert recorder.names == ["relu", "tanh"]
    seen = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, n=n: seen.__setitem__(n, o.detach()))
             for n, m in (("relu", model.relu), ("tanh", model.tanh))]
    recorder.arm()
    model(x)
    recorder.disarm(step=7)
    for h in hooks:
        h.remove()
    model(x)  # disarmed: nothing more is recorded
    ((step, rows),) = recorder.flush()
    relu, tanh = seen["relu"], seen["tanh"]
    dead = float((~(relu > 0).any(0)).float().mean())
    saturated = float((tanh.abs() > 0.99).float().mean())
    assert step == 7
    assert rows[0][0] == pytest.approx(dead) and math.isnan(rows[0][1])
    assert math.isnan(rows[1][0]) and rows[1][1] == pytest.approx(saturated)
    assert rows[0][2:] == pytest.approx([float(relu.mean()), float(relu.std())], rel=1e-5)
    assert rows[1][2:] == pytest.approx([float(tanh.mean()), float(tanh.std())], rel=1e-5)


def test_dead_units_of_feature_maps_are_channels():
    recorder = ActivationRecorder(nn.Sequential(nn.ReLU()))
    x = torch.randn(4, 3, 5, 5)
    x[:, 1] = -1.0  # channel 1 never fires, on any sample or position
    recorder.arm()
    recorder.modules["0"](x)
    recorder.disarm(0)
    ((_, rows),) = recorder.flush()
    assert rows[0][0] == pytest.approx(1 / 3)


def test_three_step_probe_records_consistent_series(tmp_path):
    from trainlint.probe.loop import run_probe
    from trainlint.spec.loader import load_spec

    spec = tmp_path / "tiny.yaml"
    spec.write_text("dataset: {name: iris, args: {standardize: true}, batch_size: 16}\n"
                    "model: {name: mlp, args: {hidden: [8], activation: tanh}}\n"
                    "loss: {name: cross_entropy}\n"
                    "optimizer: {name: sgd, lr: 0.1}\n"
                    "probe: {steps: 3, eval_every: 3, stats_every: 2}\n")
    record = run_probe(load_spec(spec))
    assert record.steps == [0, 1, 2] and len(record.grad_norm) == 3
    assert record.layer_grad_norm.names == ["net.1", "net.3"] and record.layer_grad_norm.steps == [0, 1, 2]
    for total, row in zip(record.grad_norm, record.layer_grad_norm.values, strict=True):
        assert total == pytest.approx(math.sqrt(sum(v * v for v in row)), rel=1e-5)
    assert record.update_ratio.steps == [0, 2] == record.saturated_fraction.steps
    assert all(0 < r < 1 for row in record.update_ratio.values for r in row)
    assert record.params_never_grad == [] and record.resources.rss_mb


def test_sigmoid_saturation_counts_both_bounds():
    recorder = ActivationRecorder(nn.Sequential(nn.Sigmoid()))
    x = torch.tensor([[-10.0, -4.0, 0.0, 4.0, 10.0, 6.0]])  # sigmoid: ~0, 0.018, 0.5, 0.982, ~1, 0.9975
    recorder.arm()
    recorder.modules["0"](x)
    recorder.disarm(0)
    ((_, ((dead, saturated, mean, std),)),) = recorder.flush()
    assert math.isnan(dead)
    assert saturated == pytest.approx(3 / 6)  # -10, 10 and 6 are within 0.01 of a bound
    y = torch.sigmoid(x)
    assert (mean, std) == pytest.approx((float(y.mean()), float(y.std())), rel=1e-5)


def test_resource_sample_matches_psutil_and_counts_cpu_time():
    import time

    import psutil

    from trainlint.probe.recorders.resources import ResourceRecorder

    recorder = ResourceRecorder(torch.device("cpu"))
    start = time.perf_counter()
    while time.perf_counter() - start < 0.2:  # busy: CPU time ≈ wall time on this thread
        pass
    rss, cpu, cuda_mem, gpu_util = recorder.sample()
    assert rss == pytest.approx(psutil.Process().memory_info().rss / 2**20, rel=0.05)
    assert 50 < cpu < 250
    assert math.isnan(cuda_mem) and math.isnan(gpu_util)
    time.sleep(0.2)  # idle: little CPU time since the previous sample
    assert recorder.sample()[1] < 50


def _tiny_spec(tmp_path, steps: int = 60):
    from trainlint.spec.loader import load_spec

    spec = tmp_path / "tiny.yaml"
    spec.write_text("dataset: {name: iris, args: {standardize: true}, batch_size: 16}\n"
                    "model: {name: mlp, args: {hidden: [8], activation: relu}}\n"
                    "loss: {name: cross_entropy}\n"
                    "optimizer: {name: adam, lr: 0.01}\n"
                    f"probe: {{steps: {steps}, eval_every: 20, stats_every: 7}}\n")
    return load_spec(spec)


def test_flush_cadence_changes_nothing_recorded(tmp_path, monkeypatch):
    """Flushing every 7 steps (and writing metrics.jsonl each time) records what one flush at the end does."""
    from dataclasses import asdict

    from trainlint.probe import loop, session

    volatile = ("step_time_s", "data_wait_s", "loop_seconds", "eval_seconds", "wall_seconds", "startup_seconds",
                "first_step_after_process_start_s", "resources")
    records, lines, progress = [], [], []
    for flush_steps, out in ((7, tmp_path / "often"), (10_000, tmp_path / "once")):
        monkeypatch.setattr(session, "FLUSH_STEPS", flush_steps)
        monkeypatch.setattr(session, "FLUSH_SECONDS", 1e9)
        calls = []
        record = loop.run_probe(_tiny_spec(tmp_path), out, progress=lambda done, *_, seen=calls: seen.append(done))
        records.append(json.dumps({k: v for k, v in asdict(record).items() if k not in volatile}, sort_keys=True))
        lines.append([{k: v for k, v in json.loads(line).items() if k not in ("step_time_s", "data_wait_s")}
                      for line in (out / "metrics.jsonl").read_text().splitlines()])
        progress.append(calls)
    assert records[0] == records[1]  # as JSON text: NaN (no saturation for ReLU) equals NaN there
    assert lines[0] == lines[1] and [r["step"] for r in lines[0]] == list(range(60))
    assert progress == [[7, 14, 21, 28, 35, 42, 49, 56, 60], [60]]


def test_metrics_lines_equal_json_dumps_of_the_record(tmp_path):
    """The hand-formatted rows parse to exactly what json.dumps of the record's values gives."""
    from trainlint.probe.loop import run_probe
    from trainlint.probe.metrics import SERIES, MetricsWriter, _clean

    record = run_probe(_tiny_spec(tmp_path, steps=30))
    record.train_loss[3], record.grad_norm[5], record.layer_grad_norm.values[7][0] = math.nan, math.inf, -math.inf
    writer = MetricsWriter(tmp_path / "m.jsonl")
    writer.write_available(record)
    writer.close()
    rows = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert len(rows) == 30
    for i, row in enumerate(rows):
        step = record.steps[i]
        want = {"step": step, "train_loss": _clean(record.train_loss[i]), "lr": _clean(record.lr_series[i]),
                "step_time_s": record.step_time_s[i], "data_wait_s": record.data_wait_s[i],
                "grad_norm": _clean(record.grad_norm[i])}
        for key in SERIES:
            series = getattr(record, key)
            if step in series.steps:
                values = series.values[series.steps.index(step)]
                want[key] = {n: _clean(v) for n, v in zip(series.names, values, strict=True)}
        if step in record.evals.steps:
            j = record.evals.steps.index(step)
            want.update(val_loss=record.evals.val_loss[j], val_metric=record.evals.val_metric[j],
                        train_eval_loss=record.evals.train_loss[j], train_eval_metric=record.evals.train_metric[j])
        assert json.loads(json.dumps(want)) == row
    assert rows[3]["train_loss"] is None and rows[5]["grad_norm"] is None
    assert rows[7]["layer_grad_norm"][record.layer_grad_norm.names[0]] is None


def test_probe_restores_garbage_collection(tmp_path):
    import gc

    from trainlint.probe.loop import run_probe

    assert gc.isenabled()
    run_probe(_tiny_spec(tmp_path, steps=5))
    assert gc.isenabled()
    gc.disable()
    try:
        run_probe(_tiny_spec(tmp_path, steps=5))
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


@pytest.mark.parametrize("config", ["quickstart.yaml", "healthy/diabetes-regression.yaml"])
def test_evaluating_a_builtin_dataset_by_slices_equals_the_data_loader(config):
    from conftest import CONFIGS

    from trainlint.components.build import build_components
    from trainlint.probe.recorders.evaluation import Evaluator
    from trainlint.spec.loader import load_spec

    comps = build_components(load_spec(CONFIGS / config, ["device=cpu"]), torch.device("cpu"))
    args = (comps.model, comps.loss_fn, comps.val_loader, comps.data.train, comps.info.task,
            type(comps.loss_fn).__name__, comps.device, 0)
    by_loader, by_slices = Evaluator(*args), Evaluator(*args, tensors=comps.data.tensors)
    assert comps.data.tensors is not None and by_slices.train_loader is not by_loader.train_loader
    assert by_slices.evaluate() == by_loader.evaluate()
