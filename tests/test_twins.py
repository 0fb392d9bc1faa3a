"""Parity for user code: every zoo config probed a second time as its user-code twin (tests/twins.py).

A twin trains on the same samples in the same order from the same initial weights, only given
through `target:` files. Two checks:

- the facts the rules read (data statistics, chance level, first-batch facts, evaluations, the
  loss curve) are the same on a few steps, and every rule says the same thing on both short
  records: the same findings and the same rules not evaluated, for the same reason;
- the whole probe reaches the zoo's verdict on the twin: each `# expect:` code of a fault at
  warning or error, no warning or error on a healthy config.

A *bare* twin (a dataset that declares nothing about itself) checks what trainlint infers from
the samples and the loss alone. The last two tests check the counting of benchmarks/accuracy.py
and benchmarks/damage.py, which run these twins and damage ladders at scale.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import CONFIGS, read_report
from test_zoo import OWN_PROCESS, expected_codes
from twins import is_twinnable, make_twin

from trainlint.analysis.data import CLASS_INDEX_LOSSES
from trainlint.components.datasets.user import _task
from trainlint.probe.loop import run_probe
from trainlint.probe.record import RunRecord
from trainlint.rules.engine import evaluate
from trainlint.spec.loader import load_spec
from trainlint.spec.schema import DatasetSpec

FAULTS = [p for p in sorted((CONFIGS / "faults").glob("*.yaml")) if is_twinnable(p)]
HEALTHY = [CONFIGS / "quickstart.yaml", *sorted((CONFIGS / "healthy").glob("*.yaml"))]
SHORT = ["probe.steps=4", "probe.eval_every=2"]  # enough for every fact and two evaluations

# Record fields that must agree between a config and its twin (is_builtin differs by design).
COMPARED = ("task", "num_classes", "num_outputs", "loss_class", "data", "first_batch", "evals",
            "train_loss", "grad_norm", "stop_reason")


def differences(a: Any, b: Any, where: str) -> list[str]:
    """Where two record values differ (floats to 1e-6 relative; NaN equals NaN)."""
    if dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):
        return [d for f in dataclasses.fields(a)
                for d in differences(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{where}[{i}]")]
    if isinstance(a, float) and isinstance(b, float):
        same = math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b))
        return [] if same else [f"{where}: {a!r} != {b!r}"]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def model_shape(record: RunRecord, wrappers: set[str]) -> dict[str, Any]:
    """What the rules read about the model, without names: a twin's layers sit one module deeper,
    inside the user's Module (`wrappers`: the two top-level classes, not compared)."""
    m = record.model
    return {"params": (m.n_params, m.n_trainable, len(m.frozen_params)), "last_module": m.last_module,
            "layer_types": sorted(m.layer_types.values()), "activations": sorted(m.activations.values()),
            "dropout": sorted(getattr(m, "dropout", {}).values()),
            "module_classes": sorted(set(getattr(m, "module_classes", [])) - wrappers)}


def short_record(config: Path) -> RunRecord:
    return run_probe(load_spec(config, SHORT))


def verdict(record: RunRecord) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(code, severity) of every finding, and (code, reason) of every rule not evaluated."""
    findings, skipped = evaluate(record)
    return {(f.code, f.severity.value) for f in findings}, {(s.code, s.reason) for s in skipped}


@pytest.mark.parametrize("config", [*HEALTHY, *FAULTS], ids=lambda p: p.stem)
def test_twin_records_the_same_facts(tmp_path, config):
    builtin_spec = load_spec(config).spec
    twin = make_twin(config, tmp_path)
    builtin, user = short_record(config), short_record(twin)
    if builtin_spec.dataset.target is None:
        assert builtin.data.is_builtin and not user.data.is_builtin, "the twin's data must be user code"
    if builtin_spec.model.target is None:
        assert builtin.model.is_builtin and not user.model.is_builtin, "the twin's model must be user code"
    user.data.is_builtin = builtin.data.is_builtin
    diffs = [d for name in COMPARED for d in differences(getattr(builtin, name), getattr(user, name), name)]
    assert diffs == [], diffs
    wrappers = {builtin.model.class_name, user.model.class_name}
    assert model_shape(user, wrappers) == model_shape(builtin, wrappers)
    assert (builtin.crash is None) == (user.crash is None)
    if builtin.crash is not None:
        assert (user.crash.phase, user.crash.exc_type) == (builtin.crash.phase, builtin.crash.exc_type)
    assert verdict(user) == verdict(builtin)


def _two_class(record: RunRecord) -> str:
    """The task, with two-class labels under a class-index loss read as the multiclass they are to a
    user's data: integer labels are multiclass (DESIGN §2), and no rule tells binary from multiclass."""
    two_class = record.task == "binary" and record.loss_class in CLASS_INDEX_LOSSES
    return "multiclass" if two_class else record.task


@pytest.mark.parametrize("config", [p for p in HEALTHY if load_spec(p).spec.dataset.target is None],
                         ids=lambda p: p.stem)
def test_bare_twin_infers_what_the_builtin_knows(tmp_path, config):
    """A dataset that says nothing about itself: task, classes and targets come from the samples and the
    loss (float 0/1 targets under BCE are binary labels), so the facts are still the built-in's."""
    builtin, user = short_record(config), short_record(make_twin(config, tmp_path, declared=False))
    assert _two_class(user) == _two_class(builtin), f"task {user.task!r}, built-in {builtin.task!r}"
    user.task, user.data.is_builtin = builtin.task, builtin.data.is_builtin
    diffs = [d for name in COMPARED for d in differences(getattr(builtin, name), getattr(user, name), name)]
    assert diffs == [], diffs
    assert verdict(user) == verdict(builtin)


@pytest.mark.parametrize(("targets", "loss", "task"), [
    ([[0.0], [1.0], [1.0]], "BCEWithLogitsLoss", "binary"),
    ([0.0, 1.0, 1.0], "BCELoss", "binary"),
    ([[0.0], [1.0], [1.0]], "MSELoss", "regression"),  # a 0/1 quantity regressed: the loss says so
    ([[0.0], [0.5], [1.0]], "BCEWithLogitsLoss", "regression"),  # soft targets are not labels
    ([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], "BCEWithLogitsLoss", "regression"),  # multi-label: not one label
])
def test_float_targets_are_binary_labels_only_under_bce(targets, loss, task):
    scan = [(np.zeros(2), np.asarray(y, dtype=np.float32)) for y in targets]
    spec = DatasetSpec(target="x.py:make")
    assert _task(spec, object(), scan[0][1], scan, loss) == task


def probe(config: Path, out: Path, cli, own_process: bool) -> dict:
    """report.json of `trainlint probe config` (in a fresh process when the verdict needs one)."""
    args = ("probe", str(config), "--out", str(out), "--no-plots", "-q")
    if own_process:
        run = subprocess.run([sys.executable, "-m", "trainlint", *args], capture_output=True, text=True)
        code, output = run.returncode, run.stdout + run.stderr
    else:
        result = cli(*args)
        code, output = result.exit_code, result.output
    assert code in (0, 1), output
    return read_report(out)


def loud(report: dict) -> dict[str, str]:
    return {f["code"]: f["severity"] for f in report["findings"] if f["severity"] in ("warning", "error")}


def verdict_problem(config: Path, report: dict) -> str | None:
    """What is wrong with a report for the zoo's verdict on `config` (None: right)."""
    fired = loud(report)
    if config.parent.name == "faults":
        missing = [c for c in expected_codes(config) if c not in fired]
        return f"{missing} not reported at warning/error; loud: {fired}" if missing else None
    return f"a healthy config raised {fired}" if fired else None


@pytest.mark.parametrize("config", [*HEALTHY, *FAULTS], ids=lambda p: p.stem)
def test_twin_gets_the_zoo_verdict(cli, tmp_path, config):
    own_process = config.parent.name == "faults" and bool(OWN_PROCESS & set(expected_codes(config)))
    twin = make_twin(config, tmp_path)
    problem = verdict_problem(config, probe(twin, tmp_path / "twin-out", cli, own_process))
    if problem is None:
        return
    builtin = verdict_problem(config, probe(config, tmp_path / "builtin-out", cli, own_process))
    if builtin is not None:
        pytest.skip(f"{config.name}: the built-in config is wrong too (test_zoo reports it, not a parity gap): "
                    f"{builtin}")
    pytest.fail(f"the user-code twin disagrees with the built-in config: {problem}")


def _benchmark(name: str):
    """Import benchmarks/<name>.py (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", CONFIGS.parent / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_accuracy_table_counts_detections_and_false_alarms_per_rule_and_twin():
    bench = _benchmark("accuracy")
    fault, healthy = "configs/faults/tl302_adam_lr_tiny.yaml", "configs/quickstart.yaml"
    assert bench.expected_codes(CONFIGS.parent / fault) == ["TL302"]
    runs = [bench.Outcome(bench.Job(fault, 0, False, True), {"TL302": "warning"}, 3.0),
            bench.Outcome(bench.Job(fault, 1, False, True), {"TL203": "warning"}, 5.0),
            bench.Outcome(bench.Job(fault, 0, True, True), {"TL302": "error", "TL203": "warning"}, 4.0),
            bench.Outcome(bench.Job(healthy, 0, False, False), {}, 2.0),
            bench.Outcome(bench.Job(healthy, 0, True, False), {"TL203": "warning"}, 1.0),
            bench.Outcome(bench.Job(healthy, 1, True, False), error="exit 3: boom")]
    rows = bench.rule_rows(runs, ["TL203", "TL302"])
    assert rows[0] == "| TL203 | n/a | n/a | 1/1 | 0/2 |"  # no fault expects TL203; a twin raised it, one crashed
    assert rows[1] == "| TL302 | 1/2 | 1/1 | 1/1 | 1/2 |"
    assert rows[2] == "| **all** | 1/2 | 1/1 | 1/1 | 0/2 |"
    misses, alarms, errors = bench.problems(runs)
    assert misses == ["- `tl302_adam_lr_tiny` seed 1: missed TL302 (fired: TL203 warning)"]
    assert alarms == ["- `quickstart` seed 0 (twin): TL203 warning"]
    assert errors == ["- `quickstart` seed 1 (twin): exit 3: boom"]
    assert "built-in 3.0 s, twin 2.5 s" in bench.render(runs, ["TL302"], "seeds 0,1")


def test_damage_counts_a_drop_beyond_noise_or_a_lost_metric_as_damage():
    bench = _benchmark("damage")
    rung = bench.Rung("iris-mlp-sgd", "lr", "×10", "optimizer.lr=0.5")
    sane = bench.Result(rung, 0, metric=0.95, noise=0.03)
    assert bench.damaged(bench.Result(rung, 0, metric=0.93), sane) is False  # within the noise (0.03 > 0.02)
    assert bench.damaged(bench.Result(rung, 0, metric=0.91), sane) is True
    assert bench.damaged(bench.Result(rung, 0, metric=None), sane) is True  # NaN loss: no metric at all
    mae = bench.Result(rung, 0, metric=40.0, metric_name="mae", noise=0.4)
    assert bench.damaged(bench.Result(rung, 0, metric=41.9, metric_name="mae"), mae) is False  # < 5 % worse
    assert bench.damaged(bench.Result(rung, 0, metric=42.1, metric_name="mae"), mae) is True
    assert bench.verdict(bench.Result(rung, 0, metric=0.5), sane) == "miss"
    assert bench.verdict(bench.Result(rung, 0, metric=0.95, loud={"TL301": "error"}), sane) == "false alarm"
    assert [r.edit for r in bench.ladder("iris-mlp-sgd", "lr")][:2] == ["optimizer.lr=0.15", "optimizer.lr=0.5"]
