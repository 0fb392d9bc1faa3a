"""`--executor ray` on a local Ray instance of 2 CPUs: the same answers as locally; a killed worker is retried once.

One Ray instance serves the module (starting one takes several seconds); the executor joins it.
"""

from __future__ import annotations

import json
import logging

import pytest
from conftest import CONFIGS, read_report
from test_executor_local import rows, spec_in, user_loss

ray = pytest.importorskip("ray")

QUICKSTART = CONFIGS / "quickstart.yaml"
WHERE = {"wall_seconds", "placement", "execution", "executor", "jobs", "executor_startup_seconds"}


@pytest.fixture(scope="module", autouse=True)
def ray_instance():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield
    ray.shutdown()


def _answer(data: dict) -> dict:
    """comparison.json without timings and placement (and the TL6xx findings, which judge timings)."""
    clean = {k: v for k, v in data.items() if k not in WHERE}
    clean["variants"] = [{k: ([f for f in v if not f["code"].startswith("TL6")] if k == "findings" else v)
                          for k, v in row.items() if k not in WHERE} for row in data["variants"]]
    return clean


def test_compare_optimizers_with_tune_lr_gives_the_same_comparison_on_ray(cli, tmp_path):
    args = ["compare-optimizers", QUICKSTART, "--steps", "30", "--tune-lr", "--optimizer", "adam",
            "--optimizer", "sgd:momentum=0.9", "--no-plots", "-v"]
    local = cli(*args, "--jobs", "1", "--out", tmp_path / "local")
    on_ray = cli(*args, "--executor", "ray", "--out", tmp_path / "ray")
    assert local.exit_code == on_ray.exit_code == 0, on_ray.output
    data_local = json.loads((tmp_path / "local" / "comparison.json").read_text())
    data_ray = json.loads((tmp_path / "ray" / "comparison.json").read_text())
    assert _answer(data_ray) == _answer(data_local)
    assert all(v["tuning"]["suggested_lr"] for v in data_ray["variants"])
    assert data_ray["executor"] == "ray" and "as Ray tasks" in data_ray["execution"]
    for row in data_ray["variants"]:
        assert row["placement"]["executor"] == "ray" and row["placement"]["device"] == "cpu"
        assert row["placement"]["node_id"] and row["wall_seconds"] > 0
    assert "executor ray" in on_ray.output  # -v shows where each variant ran


def test_verified_fixes_are_the_same_on_ray(cli, tmp_path):
    spec = CONFIGS / "faults" / "tl502_weight_decay_huge.yaml"
    args = ["probe", spec, "--verify-fixes", "--no-plots", "--steps", "100", "-q"]
    local = cli(*args, "--out", tmp_path / "local")
    on_ray = cli(*args, "--out", tmp_path / "ray", "--executor", "ray")
    assert local.exit_code == on_ray.exit_code, on_ray.output

    def fixes(folder):
        verification = read_report(folder)["verification"]
        return ([{k: v for k, v in vf.items() if k != "verified"} for vf in verification["verified_fixes"]],
                [{k: v for k, v in vf["verified"].items() if k not in ("run_dir", "wall_seconds")} for vf in verification["verified_fixes"]],
                verification["fixed_spec"]["edits"])

    assert fixes(tmp_path / "ray") == fixes(tmp_path / "local")
    assert fixes(tmp_path / "ray")[0], "nothing was verified"
    assert "Ray tasks" in read_report(tmp_path / "ray")["verification"]["execution"]
    assert (tmp_path / "ray" / "fixed.yaml").read_text() == (tmp_path / "local" / "fixed.yaml").read_text()


def test_a_killed_ray_worker_is_retried_once_then_reported_and_the_others_stand(cli, tmp_path):
    once, once_marker = user_loss(tmp_path, "tl_kill_once_ray", times=1)
    always, always_marker = user_loss(tmp_path, "tl_kill_always_ray", times=99)
    out = tmp_path / "out"
    result = cli("compare-losses", spec_in(tmp_path), "--loss", "cross_entropy", "--loss", once, "--loss", always,
                 "--executor", "ray", "--no-plots", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    by_label = rows(out)
    assert by_label[once]["status"] == "completed" and by_label[once]["rank"] is not None
    assert len(once_marker.read_text().splitlines()) == 2  # killed, then retried by Ray
    dead = by_label[always]
    assert dead["status"] == "failed" and dead["rank"] is None
    assert "worker process died" in dead["error"] and "also when retried once" in dead["error"]
    assert len(always_marker.read_text().splitlines()) == 2  # one retry, no more
    assert by_label["cross_entropy"]["status"] == "completed" and by_label["cross_entropy"]["rank"] is not None


def test_more_gpus_than_the_cluster_has_is_a_usage_error(cli, tmp_path):
    result = cli("compare-losses", QUICKSTART, "--executor", "ray", "--gpus-per-variant", "1", "--out", tmp_path)
    assert result.exit_code == 2 and "the Ray cluster has 0" in result.output


def test_variants_on_ray_share_one_asha_decider():
    from trainlint.compare.pruning import AshaDecider, PruneHook, PruneRule
    from trainlint.compare.ray_executor import _RemoteDecider

    rule = PruneRule(steps=90, higher_is_better=True)
    decider = _RemoteDecider(ray.remote(num_cpus=0)(AshaDecider).remote(rule))
    first, second = (PruneHook(decider, i, rule) for i in range(2))

    @ray.remote(num_cpus=0)
    def evaluate(hook, step, metric):
        return hook(step, metric)

    assert ray.get(evaluate.remote(first, 50, 0.9)) is False
    assert ray.get(evaluate.remote(second, 50, 0.1)) is True
