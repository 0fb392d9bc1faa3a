"""The README's GitHub Actions job, run as written (all but the PyTorch install) on a copy of this repository.

Why a virtual environment: the job's `pip install ./.trainlint` is a real, non-editable install;
it goes into a venv that sees this interpreter's packages (torch and the other dependencies are
already there, so nothing but the build backend is fetched) and leaves the test environment alone.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import CONFIGS, ROOT


def readme_job() -> list[dict]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## CI"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    return yaml.safe_load(block)["jobs"]["trainlint"]["steps"]


def test_the_job_installs_trainlint_from_its_repository_not_from_pypi():
    runs = [s["run"] for s in readme_job() if "run" in s]
    installs = [r for r in runs if "pip install" in r and "torch" not in r]
    assert installs and all(re.search(r"pip install \./", r) for r in installs), installs
    checkout = [s for s in readme_job() if s.get("uses", "").startswith("actions/checkout")
                and "repository" in s.get("with", {})]
    (trainlint_checkout,) = checkout
    assert installs[0].split()[-1].strip("./") == trainlint_checkout["with"]["path"].strip("./")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to copy the repository's files")
def test_the_job_runs_as_written(tmp_path):
    steps = readme_job()
    path = next(s["with"]["path"] for s in steps if "repository" in s.get("with", {}))
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:  # the second checkout: trainlint's repository, next to the user's code
        if (ROOT / name).is_file():
            (tmp_path / path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tmp_path / path / name)
    (tmp_path / "configs").mkdir()  # the first checkout: the user's code and spec
    shutil.copy(CONFIGS / "quickstart.yaml", tmp_path / "configs" / "train.yaml")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True)
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(venv),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "OMP_NUM_THREADS": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    # --without-pip: the venv borrows this interpreter's pip through the system site packages.
    (venv / "bin" / "pip").write_text(f'#!/bin/sh\nexec "{venv / "bin" / "python"}" -m pip "$@"\n')
    (venv / "bin" / "pip").chmod(0o755)
    for step in steps:
        run = step.get("run")
        if run is None or "torch" in run:  # `uses:` steps are set up above; torch is installed here
            continue
        result = subprocess.run(["bash", "-eo", "pipefail", "-c", run], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{run}\n{result.stdout}\n{result.stderr}"
        if run.startswith("pip install"):
            where = subprocess.run([str(venv / "bin" / "python"), "-c", "import trainlint; print(trainlint.__file__)"],
                                   capture_output=True, text=True, env=env, cwd=tmp_path / "configs")
            assert str(venv) in where.stdout, where.stdout + where.stderr  # the job's install, not ours
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("# trainlint probe") and "| status | pass |" in summary
    assert ".png)" not in summary  # no image links a job summary cannot show
    assert "uploaded artifact" in summary  # but it says where the figures are
    assert (tmp_path / "trainlint-out" / "train" / "loss.png").exists()
