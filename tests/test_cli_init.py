"""`trainlint init`: commented starter specs that pass `check` and match a healthy, probed config."""

from __future__ import annotations

import pytest
from conftest import CONFIGS, read_report

from trainlint.spec.loader import load_spec

TEMPLATES = ["classification", "regression", "images", "sequences"]
# Each template trains exactly the setup of a healthy config that tests/test_zoo.py probes end to end.
TWIN = {"classification": "quickstart.yaml", "regression": "healthy/diabetes-regression.yaml",
        "images": "healthy/images-cnn.yaml", "sequences": "healthy/sequences-lstm.yaml"}


@pytest.mark.parametrize("template", TEMPLATES)
def test_template_is_written_and_passes_check(cli, tmp_path, template):
    path = tmp_path / "spec.yaml"
    result = cli("init", template, "--output", path)
    assert result.exit_code == 0, result.output
    text = path.read_text()
    assert text.startswith(f"# trainlint starter spec: {template}"[:30])
    assert f"trainlint probe {path.as_posix()}" in text  # comments point at the written file
    assert "{path}" not in text
    result = cli("check", path, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert read_report(tmp_path / "out")["summary"]["status"] == "pass"


@pytest.mark.parametrize("template", TEMPLATES)
def test_template_trains_a_healthy_configs_setup(cli, tmp_path, template):
    path = tmp_path / "spec.yaml"
    cli("init", template, "--output", path)
    mine = load_spec(path).spec.model_dump(exclude={"name"})
    twin = load_spec(CONFIGS / TWIN[template]).spec.model_dump(exclude={"name"})
    assert mine == twin, "keep the template in step with its healthy twin (or point TWIN elsewhere)"


def test_default_template_and_path(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("init")
    assert result.exit_code == 0, result.output
    assert "classification" in (tmp_path / "trainlint.yaml").read_text().splitlines()[0]


def test_refuses_to_overwrite_without_force(cli, tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("mine")
    result = cli("init", "images", "--output", path)
    assert result.exit_code == 2
    assert "--force" in result.output and path.read_text() == "mine"
    result = cli("init", "images", "--output", path, "--force")
    assert result.exit_code == 0
    assert "synthetic-images" in path.read_text()


def test_unknown_template_exits_2(cli, tmp_path):
    result = cli("init", "audio", "--output", tmp_path / "x.yaml")
    assert result.exit_code == 2
    assert not (tmp_path / "x.yaml").exists()
