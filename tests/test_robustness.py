"""User code that fails, runs that stop early, output folders and reproducibility, end to end.

Each crash of the user's model, data or loss is a TL001 finding with the user frame, the tensors
involved and a targeted fix; the report, the metrics so far and the plots are still written and
the exit status is 1. A `target:` factory that returns the wrong type is a spec error (exit 2).
The failing user code lives in tests/fixtures/user_code.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CONFIGS, read_report

USER_CODE = Path(__file__).resolve().parent / "fixtures" / "user_code.py"


def write_spec(tmp_path: Path, *, dataset: str = "Blobs", dataset_args: str = "{}", model: str = "Net",
               model_args: str = "{}", loss: str = "{name: cross_entropy}", steps: int = 20,
               extra: str = "") -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"dataset: {{target: '{USER_CODE}:{dataset}', args: {dataset_args}, batch_size: 16{extra}}}\n"
        f"model: {{target: '{USER_CODE}:{model}', args: {model_args}}}\n"
        f"loss: {loss}\n"
        "optimizer: {name: adam, lr: 0.01}\n"
        f"probe: {{steps: {steps}, eval_every: 10}}\n")
    return spec


def tl001(report: dict) -> dict:
    [finding] = [f for f in report["findings"] if f["code"] == "TL001"]
    return finding


def metric_rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


# id, spec edits, kind, fragment of the message, phase, user frame expected
CRASHES = [
    ("linear-in-features", {"model": "WrongInFeatures"}, "linear-shape",
     "a Linear layer (`Linear(in_features=32, out_features=3, bias=True)`) expects 32 input features but "
     "receives 4 (input (16, 4) float32)", "forward", True),
    ("linear-chain", {"model": "WrongOutFeatures"}, "linear-shape",
     "expects 8 input features but receives 16", "forward", True),
    ("ce-target-shape", {"dataset_args": "{target_shape: column}"}, "target-shape",
     "CrossEntropyLoss expects one class index per sample, shape (16,), but the target is (16, 1) int64",
     "loss", False),
    ("float-targets", {"dataset_args": "{target_dtype: float32}", "extra": ", task: multiclass"},
     "target-dtype", "CrossEntropyLoss needs int64 class indices, but the targets are (16,) float32", "loss", False),
    ("device-mismatch", {"model": "DeviceMismatch"}, "device",
     "tensors on different devices (cuda:0 and cpu) while the probe runs on cpu", "forward", True),
    ("cuda-out-of-memory", {"model": "CudaOutOfMemory"}, "out-of-memory",
     "out of memory at batch size 16, trying to allocate 20.00 GiB", "forward", True),
    ("runtime-out-of-memory", {"model": "RuntimeOutOfMemory"}, "out-of-memory",
     "trying to allocate 512.00 MiB", "forward", True),
    ("loss-not-scalar", {"loss": f"{{target: '{USER_CODE}:per_sample_loss'}}"}, "loss-not-scalar",
     "the loss returns a tensor of shape (16,), not a scalar", "loss", False),
    ("bad-record", {"dataset_args": "{fail_at: 37}"}, "data",
     "the dataset raised ValueError on index 37: corrupt record 37: cannot decode image bytes", "data", True),
]


@pytest.mark.parametrize(("label", "edits", "kind", "fragment", "phase", "framed"), CRASHES,
                         ids=[c[0] for c in CRASHES])
def test_user_code_crash_is_diagnosed_not_dumped(cli, tmp_path, label, edits, kind, fragment, phase, framed):
    out = tmp_path / "out"
    result = cli("probe", write_spec(tmp_path, **edits), "--out", out, "--no-plots")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "TL001 probe-crashed" in result.output and fragment in result.output
    report = read_report(out)
    assert report["summary"]["stop_reason"] == "crashed" and report["summary"]["status"] == "fail"
    finding = tl001(report)
    assert finding["evidence"]["kind"] == kind, finding["message"]
    assert fragment in finding["message"]
    assert finding["evidence"]["phase"] == phase
    assert finding["fixes"] and finding["config_key"]
    frame = finding["evidence"]["user_frame"]
    if framed:
        assert frame["file"] == str(USER_CODE) and frame["line"] > 0 and frame["code"]
    if phase != "data":
        assert {"input", "target"} <= set(finding["evidence"]["tensors"])
    assert (out / "report.md").exists()
    metric_rows(out)  # valid JSONL, possibly empty


def test_the_bad_record_index_is_named(cli, tmp_path):
    out = tmp_path / "out"
    cli("probe", write_spec(tmp_path, dataset_args="{fail_at: 37}"), "--out", out, "--no-plots")
    finding = tl001(read_report(out))
    assert finding["evidence"]["user_frame"]["function"] == "__getitem__"
    assert finding["evidence"]["user_frame"]["index"] == 37
    assert finding["fixes"][0]["text"].startswith("fix or drop the record at index 37")
    assert finding["config_key"] == "dataset"


def test_the_linear_fix_names_the_features(cli, tmp_path):
    out = tmp_path / "out"
    cli("probe", write_spec(tmp_path, model="WrongInFeatures"), "--out", out, "--no-plots")
    assert tl001(read_report(out))["fixes"][0]["text"] == "make the first Linear's in_features 4: the input has 4 features"


def test_oom_fix_halves_the_batch_size(cli, tmp_path):
    out = tmp_path / "out"
    cli("probe", write_spec(tmp_path, model="CudaOutOfMemory"), "--out", out, "--no-plots")
    fix = tl001(read_report(out))["fixes"][0]
    assert (fix["config_key"], fix["value"]) == ("dataset.batch_size", 8)


def test_crash_mid_run_keeps_metrics_and_plots(cli, tmp_path):
    out = tmp_path / "out"
    result = cli("probe", write_spec(tmp_path, model="RaisesInForward", model_args="{after: 30}", steps=60),
                 "--out", out)
    assert result.exit_code == 1, result.output
    report = read_report(out)
    finding = tl001(report)
    assert finding["evidence"]["kind"] == "other"
    assert "the model's forward raised ValueError: the encoder cache is empty; call warm_up() first" in finding["message"]
    steps_run = report["summary"]["steps_run"]
    assert 10 <= steps_run < 60 and finding["step"] == steps_run
    assert [r["step"] for r in metric_rows(out)] == list(range(steps_run))
    assert (out / "loss.png").exists() and "loss.png" in report["artifacts"]


def test_a_record_that_fails_mid_epoch(cli, tmp_path):
    """Beyond the samples the set-up scans read, the failure happens in the training loop itself."""
    out = tmp_path / "out"
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"dataset: {{target: '{USER_CODE}:Blobs', args: {{n: 21000, fail_at: 20800}}, "
                    "batch_size: 512, val_fraction: 0.0, shuffle: false}\n"
                    f"model: {{target: '{USER_CODE}:Net'}}\nloss: {{name: cross_entropy}}\n"
                    "optimizer: {name: adam}\nprobe: {steps: 60, eval_every: 100}\n")
    result = cli("probe", spec, "--out", out, "--no-plots")
    assert result.exit_code == 1, result.output
    report = read_report(out)
    finding = tl001(report)
    assert finding["evidence"]["phase"] == "data" and finding["evidence"]["user_frame"]["index"] == 20800
    assert finding["step"] == 20800 // 512 == report["summary"]["steps_run"]
    assert len(metric_rows(out)) == 20800 // 512


@pytest.mark.parametrize(("field", "edit"), [
    ("dataset.target", {"dataset": "not_a_dataset"}),
    ("model.target", {"model": "not_a_model"}),
    ("model.target", {"model": "NOT_CALLABLE"}),
])
def test_a_factory_of_the_wrong_type_is_a_spec_error(cli, tmp_path, field, edit):
    spec = write_spec(tmp_path, **edit)
    result = cli("probe", spec, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {spec}:") and f"field `{field}`" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "report.json").exists()


def test_non_finite_loss_stops_early_with_a_complete_report(cli, tmp_path):
    out = tmp_path / "out"
    result = cli("probe", CONFIGS / "faults" / "tl202_sgd_nan.yaml", "--out", out)
    assert result.exit_code == 1, result.output
    report = read_report(out)
    summary = report["summary"]
    assert summary["stop_reason"] == "non_finite_loss" and summary["steps_run"] < summary["steps_planned"]
    assert "TL202" in {f["code"] for f in report["findings"]}
    assert len(metric_rows(out)) == summary["steps_run"]
    assert set(report["artifacts"]) >= {"report.json", "report.md", "metrics.jsonl", "loss.png"}
    assert all((out / name).exists() for name in report["artifacts"])


# --- the output folder ------------------------------------------------------------------------

def test_out_is_created_and_foreign_files_are_left_alone(cli, tmp_path):
    out = tmp_path / "a" / "b" / "out"
    args = ("probe", CONFIGS / "quickstart.yaml", "--steps", "30", "-q", "--out", out)
    assert cli(*args).exit_code == 0
    (out / "notes.txt").write_text("mine")
    (out / "mine").mkdir()
    (out / "mine" / "data.csv").write_text("1,2\n")
    (out / "report.json.bak").write_text("mine too")
    assert cli(*args, "--no-plots").exit_code == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "mine" / "data.csv").read_text() == "1,2\n"
    assert (out / "report.json.bak").read_text() == "mine too"
    ours = {"report.json", "report.md", "metrics.jsonl", "record.json", "loss.png", "gradients.png", "updates.png",
            "activations.png"}
    assert {p.name for p in out.iterdir()} == ours | {"notes.txt", "mine", "report.json.bak"}  # no temp files


@pytest.mark.parametrize("below", [False, True])
def test_out_that_is_a_file_is_refused(cli, tmp_path, below):
    file = tmp_path / "results"
    file.write_text("mine")
    out = file / "sub" if below else file
    result = cli("probe", CONFIGS / "quickstart.yaml", "--out", out)
    assert result.exit_code == 2
    assert "field `--out`" in result.stderr and "Traceback" not in result.output
    assert file.read_text() == "mine"


@pytest.mark.parametrize("args, field", [
    ("{n_samples: 10000000, n_features: 100000}", "n_samples"),  # 1e12 values
    ("{n_samples: 10, n_features: 100000}", "n_features"),  # small data, but a 1e5 x 1e5 rotation
])
def test_a_dataset_too_large_to_generate_is_refused_before_it_is_made(cli, tmp_path, args, field):
    spec = tmp_path / "huge.yaml"
    spec.write_text(f"dataset: {{name: synthetic-classification, args: {args}}}\n"
                    "model: {name: mlp}\nloss: {name: cross_entropy}\noptimizer: {name: adam, lr: 0.001}\n")
    result = cli("probe", spec, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert f"field `dataset.args.{field}`" in result.stderr and "GiB" in result.stderr
    assert "Traceback" not in result.output


def test_size_check_refuses_above_half_the_free_memory_only():
    from trainlint.components.base import ComponentError
    from trainlint.components.datasets.args import BYTES_PER_GENERATED_VALUE, check_size
    from trainlint.components.datasets.synthetic_structured import ImageArgs

    args = ImageArgs(n_samples=1000, channels=3, size=32)  # 4 x 1000 x 32 x 32 values
    need = args.generated_values() * BYTES_PER_GENERATED_VALUE
    check_size(args, "synthetic-images", available_bytes=2 * need)  # exactly half: allowed
    with pytest.raises(ComponentError) as caught:
        check_size(args, "synthetic-images", available_bytes=2 * need - 1)
    assert caught.value.field == "dataset.args.n_samples" and "(n_samples, size, channels)" in caught.value.accepted


# --- reproducibility --------------------------------------------------------------------------

TIMING = {"step_time_s", "data_wait_s"}


def _numbers(out: Path) -> tuple[list[dict], list[tuple], dict]:
    rows = [{k: v for k, v in row.items() if k not in TIMING} for row in metric_rows(out)]
    report = read_report(out)
    findings = [(f["code"], f["message"], json.dumps(f["evidence"], sort_keys=True), f["step"],
                 [(x["text"], x["config_key"], x["value"]) for x in f["fixes"]])
                for f in report["findings"] if not f["code"].startswith("TL6")]  # TL6xx judge timings
    metrics = {k: v for k, v in report["metrics"].items()
               if k not in {"steps_per_second", "startup_seconds", "first_step_after_process_start_s",
                            "peak_rss_mb"}}
    return rows, findings, metrics


def test_same_spec_and_seed_give_the_same_report_numbers(cli, tmp_path):
    spec = CONFIGS / "faults" / "tl204_sgd_momentum_lr_high.yaml"  # several findings to compare
    runs = []
    for i in range(2):
        out = tmp_path / f"run{i}"
        assert cli("probe", spec, "--out", out, "--steps", "80", "--no-plots", "-q").exit_code == 1
        runs.append(_numbers(out))
    assert runs[0] == runs[1]
    rows, findings, _ = runs[0]
    assert findings and "layer_grad_norm" in rows[0] and "update_ratio" in rows[0]
    environment = read_report(tmp_path / "run0")["environment"]
    assert environment["seed"] == 0
    assert all(environment[k] for k in ("python", "torch", "numpy"))
