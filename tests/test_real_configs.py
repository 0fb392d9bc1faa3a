"""configs/real/: raw Hugging Face models and a minGPT-style model, probed as they are (no wrapper).

Healthy as bundled (no warning); with a planted LR fault, the LR is blamed. The Hugging Face ones
need the `hf` extra (CI installs it); the minGPT one needs nothing but torch.
"""

from __future__ import annotations

import importlib.util

import pytest
from conftest import CONFIGS, read_report

REAL = CONFIGS / "real"
HF = importlib.util.find_spec("transformers") is not None
needs_hf = pytest.mark.skipif(not HF, reason="needs the hf extra: pip install -e '.[hf]'")

HEALTHY = [
    pytest.param("hf-bert-sequence-classification", 0.9, marks=needs_hf),
    pytest.param("hf-gpt2-causal-lm", 0.9, marks=needs_hf),
    pytest.param("hf-vit-image-classification", 0.9, marks=needs_hf),
    pytest.param("mingpt-chars", 0.9),
    pytest.param("word-language-model", 0.9),
]


@pytest.mark.parametrize("name, min_accuracy", HEALTHY)
def test_bundled_real_model_is_healthy(cli, tmp_path, name, min_accuracy):
    result = cli("probe", REAL / f"{name}.yaml", "--no-plots", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    report = read_report(tmp_path)
    assert [f["code"] for f in report["findings"] if f["severity"] != "info"] == []
    assert report["metrics"]["final_val_metric"] >= min_accuracy
    assert report["metrics"]["metric_name"] == "accuracy"


def test_vae_with_its_own_loss_function_on_its_tuple_output(cli, tmp_path):
    result = cli("probe", REAL / "vae.yaml", "--no-plots", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    report = read_report(tmp_path)
    assert [f["code"] for f in report["findings"] if f["severity"] != "info"] == []
    m = report["metrics"]
    assert m["metric_name"] == "mae" and m["final_train_loss"] < m["initial_loss"] / 2


def test_mingpt_with_an_lr_far_too_high_blames_the_lr(cli, tmp_path):
    result = cli("probe", REAL / "mingpt-chars.yaml", "--no-plots", "--out", tmp_path, "--steps", "100",
                 "--set", "optimizer.lr=0.5")
    assert result.exit_code == 1, result.output
    found = {f["code"]: f for f in read_report(tmp_path)["findings"]}
    assert "TL301" in found and found["TL301"]["fixes"][0]["config_key"] == "optimizer.lr"
    assert found["TL301"]["fixes"][0]["value"] < 0.05


@needs_hf
def test_hf_bert_with_an_lr_far_too_low_blames_the_lr(cli, tmp_path):
    result = cli("probe", REAL / "hf-bert-sequence-classification.yaml", "--no-plots", "--out", tmp_path,
                 "--steps", "100", "--set", "optimizer.lr=1e-6")
    found = {f["code"]: f for f in read_report(tmp_path)["findings"]}
    assert {"TL203", "TL302"} <= set(found), result.output
    assert found["TL302"]["fixes"][0]["config_key"] == "optimizer.lr" and found["TL302"]["fixes"][0]["value"] > 1e-5
