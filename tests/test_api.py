"""trainlint.watch: the Python API on hand-written loops (examples/plain_loop.py and small loops here)."""

from __future__ import annotations

import contextlib
import json
import math

import pytest
import torch
from torch import nn

import trainlint
from examples import plain_loop
from tests.conftest import CONFIGS, line_of


def _loop(tmp_path, steps=30, *, log_every=1, before_step=False, accumulate=1, fail_at=None, lr=0.05, **watch):
    """A tiny regression-free classifier loop on random data; returns (watch, the losses logged)."""
    torch.manual_seed(0)
    x, y = torch.randn(256, 8), torch.randint(0, 3, (256,))
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    logged = []
    with trainlint.watch(model, opt, out=tmp_path / "run", echo=False, plots=False, **watch) as tl:
        for step in range(steps):
            micro = []
            for k in range(accumulate):
                i = (step * accumulate + k) * 16 % 256
                loss = loss_fn(model(x[i:i + 16]), y[i:i + 16])
                (loss / accumulate).backward()
                micro.append(loss.item())
                if before_step:
                    tl.log(loss=loss, inputs=x[i:i + 16], targets=y[i:i + 16])
            if fail_at == step:
                raise RuntimeError("boom in the user's loop")
            opt.step()
            opt.zero_grad()
            if not before_step and step % log_every == 0:
                tl.log(loss=loss, inputs=x[i:i + 16], targets=y[i:i + 16])
                micro = micro[-1:]
            logged.append(sum(micro) / len(micro))
    return tl, logged


def test_healthy_example_passes_and_writes_the_run_folder(tmp_path):
    report = plain_loop.main(["--out", str(tmp_path / "run")])
    assert report.summary.status == "pass" and report.command == "watch"
    assert report.metrics.final_val_metric > 0.9
    written = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"report.json", "report.md", "metrics.jsonl", "record.json", "loss.png", "gradients.png"} <= written
    # one row per step in metrics.jsonl, with the gradient norm the optimizer hook took
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == report.summary.steps_run == 6 * 45 and all("grad_norm" in r for r in rows)
    assert sum("val_metric" in r for r in rows) == 6


@pytest.mark.parametrize(("fault", "root"), [("lr", "TL301"), ("softmax", "TL206")])
def test_planted_faults_are_diagnosed(tmp_path, fault, root):
    report = plain_loop.main(["--fault", fault, "--out", str(tmp_path / fault)])
    assert report.summary.status == "fail"
    assert report.root_causes[0].code == root
    assert report.config_path.endswith(f"plain_loop.py:{line_of(plain_loop, 'trainlint.watch(')}")  # the watch call


def test_one_recording_path_records_what_the_probe_records(tmp_path):
    """The probe's loop and a hand-written loop over the same components give the same per-step record."""
    from trainlint.components.build import build_components
    from trainlint.probe.loop import run_probe
    from trainlint.spec.loader import load_spec

    loaded = load_spec(CONFIGS / "quickstart.yaml", overrides=["probe.steps=40", "device=cpu"])
    probed = run_probe(loaded, tmp_path / "probe")
    comps = build_components(loaded, torch.device("cpu"))
    model, opt = comps.model, comps.optimizer
    batches = iter(comps.train_loader)
    with trainlint.watch(model, opt, task="multiclass", out=tmp_path / "watch", echo=False, plots=False,
                         scheduler=comps.schedule.inner) as tl:
        for _ in range(40):
            try:
                x, y = next(batches)
            except StopIteration:  # a new epoch, as the probe's loop starts one
                batches = iter(comps.train_loader)
                x, y = next(batches)
            opt.zero_grad(set_to_none=True)
            loss = comps.loss_fn(model(x), y)
            loss.backward()
            opt.step()
            comps.schedule.step(loss.detach())
            tl.log(loss=loss, inputs=x, targets=y)
    watched = tl.record
    assert watched.steps == probed.steps
    assert watched.train_loss == pytest.approx(probed.train_loss, rel=1e-6)
    assert watched.lr_series == pytest.approx(probed.lr_series)
    assert watched.grad_norm == pytest.approx(probed.grad_norm, rel=1e-5)
    # sampled steps: the probe also samples its known last step, a watched loop has none
    assert probed.update_ratio.steps == [*watched.update_ratio.steps, 39] == [0, 20, 39]
    for got, want in zip(watched.update_ratio.values, probed.update_ratio.values, strict=False):
        assert got == pytest.approx(want, rel=1e-4)
    assert watched.dead_fraction.names == probed.dead_fraction.names
    for got, want in zip(watched.dead_fraction.values, probed.dead_fraction.values, strict=False):
        assert got == pytest.approx(want)
    assert watched.model == probed.model
    assert watched.first_batch.initial_loss == pytest.approx(probed.first_batch.initial_loss)


def test_losses_logged_before_the_step_are_averaged_per_optimizer_step(tmp_path):
    tl, logged = _loop(tmp_path, steps=12, before_step=True, accumulate=3)
    assert tl.record.steps == list(range(12))  # optimizer steps, not micro-batches
    assert tl.record.train_loss == pytest.approx(logged, rel=1e-6)


def test_sparse_logging_keeps_only_the_logged_steps(tmp_path):
    tl, _ = _loop(tmp_path, steps=30, log_every=3)
    r = tl.record
    assert r.steps == list(range(0, 30, 3))
    assert len(r.grad_norm) == len(r.train_loss) == len(r.lr_series) == len(r.steps)


def test_what_the_loop_did_not_log_is_listed_as_not_evaluated(tmp_path):
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with trainlint.watch(model, opt, out=tmp_path / "run", echo=False, plots=False) as tl:
        for _ in range(30):
            loss = model(torch.randn(8, 4)).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            tl.log(loss)
    skipped = {n.code: n.reason for n in tl.report.not_evaluated}
    assert {"TL101", "TL102", "TL103", "TL104", "TL501", "TL502"} <= set(skipped)
    assert skipped["TL501"].startswith("not recorded")


def test_a_crash_in_the_loop_is_reported_and_re_raised(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        _loop(tmp_path, steps=10, fail_at=4)
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["summary"]["stop_reason"] == "crashed" and report["summary"]["steps_run"] == 4
    (crash,) = [f for f in report["findings"] if f["code"] == "TL001"]
    assert "boom" in crash["message"]


def test_ctrl_c_still_writes_the_report(tmp_path):
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(KeyboardInterrupt), trainlint.watch(model, opt, out=tmp_path / "run", echo=False,
                                                          plots=False) as tl:
        for step in range(100):
            loss = model(torch.randn(8, 4)).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            tl.log(loss)
            if step == 20:
                raise KeyboardInterrupt
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["summary"]["stop_reason"] == "interrupted" and report["summary"]["steps_run"] == 21


def test_a_non_finite_loss_is_reported(tmp_path):
    tl, _ = _loop(tmp_path, steps=40, lr=1e4)
    codes = {f.code for f in tl.report.findings}
    assert tl.record.stop_reason == "non_finite_loss" or "TL204" in codes
    assert codes & {"TL202", "TL204", "TL301"}


def test_long_runs_are_decimated_within_the_bound(tmp_path, monkeypatch):
    from trainlint.probe import session

    monkeypatch.setattr(session, "MAX_STEPS", 64)
    monkeypatch.setattr(session, "MAX_ROWS", 16)
    monkeypatch.setattr(session, "FLUSH_SECONDS", 0.0)  # flush (and decimate) every step
    tl, logged = _loop(tmp_path, steps=300)
    r = tl.record
    assert len(r.steps) <= 2 * 64 and len(r.layer_grad_norm) <= 2 * 16
    assert len(r.grad_norm) == len(r.train_loss) == len(r.steps) and r.steps[0] == 0
    assert r.steps == sorted(r.steps) and r.steps[-1] >= 290
    assert math.isclose(sum(r.train_loss) / len(r.train_loss), sum(logged) / len(logged), rel_tol=0.2)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 300  # the file keeps every step


def test_bad_task_is_a_clear_error():
    with pytest.raises(ValueError, match="task must be one of"):
        trainlint.watch(nn.Linear(2, 2), torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), task="classify")


class _HostReads(torch.overrides.TorchFunctionMode):
    """Counts the calls that copy a tensor's value to the host (on a GPU, each waits for the device)."""

    READS = {"item", "tolist", "numpy", "cpu", "__float__", "__int__", "__bool__", "__array__"}

    def __init__(self):
        super().__init__()
        self.reads: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        to_cpu = name == "to" and any(str(a) == "cpu" for a in [*args[1:], *(kwargs or {}).values()])
        if name in self.READS or to_cpu:
            self.reads.append(name)
        return func(*args, **(kwargs or {}))


def test_no_host_read_per_step_until_a_flush(tmp_path, monkeypatch):
    """Off CPU nothing is copied to the host between flushes: not the loss, not the gradient norms,
    not the sampled update ratios and activations (the device path, emulated on CPU)."""
    from trainlint.probe import session

    monkeypatch.setattr(session, "FLUSH_SECONDS", 1e9)
    monkeypatch.setattr(session, "FLUSH_STEPS", 10**9)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)  # torch's CPU Adam reads its step count
    x, y = torch.randn(1024, 8), torch.randint(0, 3, (1024,))
    tl = trainlint.watch(model, opt, task="multiclass", loss_fn=nn.CrossEntropyLoss(), stats_every=10,
                         out=tmp_path / "run", echo=False, plots=False)
    tl.rec.cpu = False  # take the path a CUDA run takes: the loss too stays on the device
    bare, watched = _HostReads(), _HostReads()
    for step in range(45):
        counting = watched if step >= 3 else contextlib.nullcontext()  # steps 0-1 copy the first batches, once
        with counting:
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tl.log(loss=loss, inputs=x, targets=y)
    tl.close()
    with bare:  # the same step unwatched, and one read: the mode sees it
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        float(loss.detach())
    assert bare.reads == ["__float__"]
    assert watched.reads == [], watched.reads
    assert len(tl.record.train_loss) == 45 and len(tl.record.update_ratio) == 5 and len(tl.record.dead_fraction) == 5
