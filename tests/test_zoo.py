"""The fault zoo and the healthy configs, end to end through `trainlint probe`.

Each faulty config names the rule it must trigger in its first line (`# expect: TL204`); every
healthy config must produce no warning or error — the false-alarm guard.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONFIGS, read_report

FAULTS = sorted((CONFIGS / "faults").glob("*.yaml"))
HEALTHY = [CONFIGS / "quickstart.yaml", *sorted((CONFIGS / "healthy").glob("*.yaml"))]


def expected_codes(path: Path) -> list[str]:
    first = path.read_text().splitlines()[0]
    match = re.match(r"#\s*expect:\s*(.+)", first)
    assert match, f"{path.name}: first line must be `# expect: TLnnn`"
    return re.findall(r"TL\d{3}", match.group(1))


# Why some faults run in their own process: TL602 judges the growth of the process's resident
# memory, and a test process that already ran hundreds of probes has freed heap memory that a
# leak first reuses without growing. A user's `trainlint probe` is a fresh process, as here.
OWN_PROCESS = {"TL602"}


@pytest.mark.parametrize("config", FAULTS, ids=lambda p: p.stem)
def test_fault_is_diagnosed(cli, tmp_path, config):
    out = tmp_path / "out"
    args = ("probe", str(config), "--out", str(out), "--no-plots", "-q")
    if OWN_PROCESS & set(expected_codes(config)):
        run = subprocess.run([sys.executable, "-m", "trainlint", *args], capture_output=True, text=True)
        exit_code, output = run.returncode, run.stdout + run.stderr
    else:
        result = cli(*args)
        exit_code, output = result.exit_code, result.output
    assert exit_code in (0, 1), output
    report = read_report(out)
    fired = {f["code"]: f["severity"] for f in report["findings"]}
    for code in expected_codes(config):
        assert fired.get(code) in ("warning", "error"), f"{code} not reported; fired: {fired}"


@pytest.mark.parametrize("config", HEALTHY, ids=lambda p: p.stem)
def test_healthy_config_is_silent(cli, tmp_path, config):
    out = tmp_path / "out"
    result = cli("probe", config, "--out", out, "--no-plots", "-q")
    report = read_report(out)
    loud = [(f["code"], f["rule"], f["message"]) for f in report["findings"]
            if f["severity"] in ("warning", "error")]
    assert loud == [], loud
    assert result.exit_code == 0
    assert report["summary"]["stop_reason"] == "completed"
    metrics = report["metrics"]
    chance = metrics["chance_metric"]
    if metrics["metric_name"] == "accuracy":
        assert metrics["final_val_metric"] > chance + 0.2, "a healthy config must learn"
    else:
        assert metrics["final_val_metric"] < 0.8 * chance, "a healthy config must learn"
