"""The fault zoo and the healthy configs, end to end through `trainlint probe`.

Each faulty config names the rule it must trigger in its first line (`# expect: TL204`); every
healthy config must produce no warning or error — the false-alarm guard.
"""

from __future__ import annotations

import re
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


@pytest.mark.parametrize("config", FAULTS, ids=lambda p: p.stem)
def test_fault_is_diagnosed(cli, tmp_path, config):
    out = tmp_path / "out"
    result = cli("probe", config, "--out", out, "--no-plots", "-q")
    assert result.exit_code in (0, 1), result.output
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
