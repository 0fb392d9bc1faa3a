"""The executor options and the local executor: usage errors, a killed worker, Ctrl-C, ASHA pruning's rule.

The user losses below end their own process (SIGKILL: what the out-of-memory killer does) or press
Ctrl-C (SIGINT) when they are built; a marker file counts how often each was built, i.e. tried.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys

import numpy as np
import pytest
from conftest import CONFIGS

from trainlint.compare.pruning import AshaDecider, PruneHook, PruneRule

SPEC = (CONFIGS / "quickstart.yaml").read_text().replace("steps: 300", "steps: 30")

LOSS = """\
import os
import signal
from pathlib import Path

import torch.nn as nn

MARKER = Path({marker!r})


class Loss(nn.CrossEntropyLoss):
    def __init__(self):
        super().__init__()
        with MARKER.open("a") as f:
            f.write("built\\n")
        if len(MARKER.read_text().splitlines()) <= {times}:
            os.kill(os.getpid(), signal.{signal})
"""


def user_loss(folder, name: str, times: int, sig: str = "SIGKILL"):
    """`name.py:Loss`, a cross entropy that sends itself `sig` the first `times` times it is built."""
    marker = folder / f"{name}.built"
    (folder / f"{name}.py").write_text(LOSS.format(marker=str(marker), times=times, signal=sig))
    return f"{name}.py:Loss", marker


def spec_in(folder):
    (folder / "spec.yaml").write_text(SPEC)
    return folder / "spec.yaml"


def rows(out) -> dict[str, dict]:
    return {v["label"]: v for v in json.loads((out / "comparison.json").read_text())["variants"]}


# --- options ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, field", [
    (["--executor", "ray", "--jobs", "2"], "--jobs"),
    (["--ray-address", "auto"], "--ray-address"),
    (["--gpus-per-variant", "1"], "--gpus-per-variant"),
    (["--executor", "ray", "--cpus-per-variant", "0"], "--cpus-per-variant"),
])
def test_executor_options_that_cannot_work_exit_2(cli, tmp_path, args, field):
    result = cli("compare-losses", CONFIGS / "quickstart.yaml", "--out", tmp_path, *args)
    assert result.exit_code == 2, result.output
    assert f"field `{field}`" in result.output


def test_ray_without_the_package_says_how_to_install_it(cli, tmp_path, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else find_spec(name, *a))
    for command in ("compare-optimizers", "fix", "probe"):
        result = cli(command, CONFIGS / "quickstart.yaml", "--out", tmp_path, "--executor", "ray")
        assert result.exit_code == 2, result.output
        assert "`ray` is not installed" in result.output and 'pip install -e ".[ray]"' in result.output
    monkeypatch.setitem(sys.modules, "ray", None)  # and when the import itself fails
    from trainlint.compare.ray_executor import import_ray
    from trainlint.spec.errors import SpecError

    with pytest.raises(SpecError, match="not installed"):
        import_ray()


# --- local runs -------------------------------------------------------------------------------------

def test_a_killed_worker_is_retried_once_then_reported_and_the_others_stand(cli, tmp_path):
    once, once_marker = user_loss(tmp_path, "tl_kill_once_local", times=1)
    always, always_marker = user_loss(tmp_path, "tl_kill_always_local", times=99)
    out = tmp_path / "out"
    result = cli("compare-losses", spec_in(tmp_path), "--loss", "cross_entropy", "--loss", once, "--loss", always,
                 "--jobs", "2", "--no-plots", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    by_label = rows(out)
    assert by_label[once]["status"] == "completed" and by_label[once]["rank"] is not None
    assert len(once_marker.read_text().splitlines()) == 2  # killed, then retried
    dead = by_label[always]
    assert dead["status"] == "failed" and dead["rank"] is None
    assert "died, also when retried once" in dead["error"]
    assert len(always_marker.read_text().splitlines()) == 2  # one retry, no more
    assert by_label["cross_entropy"]["status"] == "completed" and by_label["cross_entropy"]["metric"] > 0.5
    assert {v["placement"]["executor"] for v in by_label.values()} == {"local"}
    assert by_label["cross_entropy"]["placement"]["device"] == "cpu"


def test_ctrl_c_stops_the_sweep_and_writes_the_partial_comparison(cli, tmp_path):
    ctrl_c, _ = user_loss(tmp_path, "tl_ctrl_c_local", times=1, sig="SIGINT")
    out = tmp_path / "out"
    result = cli("compare-losses", spec_in(tmp_path), "--loss", "cross_entropy", "--loss", ctrl_c,
                 "--loss", "multi_margin", "--jobs", "1", "--no-plots", "--out", out)
    assert result.exit_code == 130, result.output
    assert "partial comparison written" in result.output
    data = json.loads((out / "comparison.json").read_text())
    assert data["interrupted"] is True
    by_label = rows(out)
    assert by_label["cross_entropy"]["rank"] == 1
    assert by_label[ctrl_c]["status"] == "interrupted"  # stopped after its current step
    assert by_label["multi_margin"]["status"] == "interrupted" and "not run" in by_label["multi_margin"]["error"]


# --- pruning: ASHA's rule -------------------------------------------------------------------------------

@pytest.fixture
def asha():
    pytest.importorskip("ray")


@pytest.mark.usefixtures("asha")
def test_asha_prunes_a_variant_behind_the_earlier_ones_at_a_third_of_the_steps():
    rule = PruneRule(steps=90, higher_is_better=True)
    decider = AshaDecider(rule)
    hooks = [PruneHook(decider, i, rule) for i in range(3)]
    state = np.random.get_state()[1].copy()
    assert not hooks[0](25, 0.2)  # before the rung (30 steps): never stopped
    assert not hooks[0](50, 0.9)  # the first at the rung sets the bar
    assert hooks[1](50, 0.5)  # below the top third of those seen there
    assert not hooks[2](50, 0.95)
    assert hooks[1].stopped_at == {"step": 50, "metric": 0.5} and hooks[2].stopped_at is None
    assert not hooks[0](75, 0.1)  # past the rung: decided once only
    assert (np.random.get_state()[1] == state).all()  # NumPy's global generator untouched


@pytest.mark.usefixtures("asha")
def test_asha_for_an_error_metric_and_a_nan():
    rule = PruneRule(steps=30, higher_is_better=False)
    decider = AshaDecider(rule)
    first, worse, nan, last = (PruneHook(decider, i, rule) for i in range(4))
    assert not first(10, 0.3)
    assert worse(10, 0.6)
    assert nan(10, math.nan) and nan.stopped_at == {"step": 10, "metric": None}
    assert not last(30, 9.0)  # the last evaluation: nothing left to save


@pytest.mark.usefixtures("asha")
def test_prune_stops_a_hopeless_variant_at_a_third_of_the_steps(cli, tmp_path):
    result = cli("compare-optimizers", CONFIGS / "quickstart.yaml", "--optimizer", "adam", "--optimizer",
                 "sgd:lr=1e-6", "--steps", "150", "--prune", "--jobs", "1", "--no-plots", "--out", tmp_path)
    assert result.exit_code in (0, 1), result.output
    found = rows(tmp_path)
    hopeless, kept = found["sgd:lr=1e-6"], found["adam"]
    assert hopeless["status"] == "pruned" and hopeless["pruned"]["step"] == 50
    assert kept["status"] == "completed" and kept["pruned"] is None
    assert "pruned at step 50" in result.output
    report = json.loads(next((tmp_path / "compare_optimizers").glob("*sgd*/report.json")).read_text())
    assert report["summary"]["steps_run"] == 50 and report["summary"]["stop_reason"] == "pruned"


@pytest.mark.usefixtures("asha")
def test_worker_processes_share_one_decider():
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from trainlint.compare.executors import _local_decider

    rule = PruneRule(steps=90, higher_is_better=True)
    decider, manager = _local_decider(rule, shared=True)
    try:
        first, second = (PruneHook(decider, i, rule) for i in range(2))
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            assert pool.submit(first, 50, 0.9).result() is False
            assert pool.submit(second, 50, 0.1).result() is True  # judged against the first, seen elsewhere
    finally:
        manager.shutdown()
