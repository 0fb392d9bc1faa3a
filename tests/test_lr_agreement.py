"""Every rule that lowers the LR quotes one number, from the best-founded source, and says which."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from conftest import CONFIGS, read_report

sys.path.insert(0, str(Path(__file__).parent / "rules"))
from loss_factory import decaying, record  # noqa: E402

from trainlint.analysis.lr import lower_lr  # noqa: E402
from trainlint.probe.record import LrRange  # noqa: E402
from trainlint.rules.engine import evaluate  # noqa: E402
from trainlint.rules.loss.loss_diverging import loss_diverging  # noqa: E402
from trainlint.rules.lr.lr_too_high import lr_too_high  # noqa: E402


def test_range_test_wins_and_the_text_names_both_estimates():
    run = record([2.3] * 10, lr=0.5)
    run.lr_range = LrRange(0.06, "valley", "ok", 90)
    lower = lower_lr(run, ratio=0.087)
    assert (lower.value, lower.source) == (0.06, "range_test")
    assert lower.because(run, 0.087) == ("the LR range test on this model and data; the update ratio 8.7e-02 "
                                         "alone would say 0.006")


@pytest.mark.parametrize("range_lr, ratio, expected", [
    (None, 0.087, (0.006, "update_ratio")),  # undecidable range test: the rule of thumb
    (0.8, 0.087, (0.006, "update_ratio")),  # the range test does not find the LR too high
    (None, math.nan, (0.05, "fallback")),  # nothing measured: a tenth
    (None, 0.0012, (0.05, "fallback")),  # the ratio barely above target: no meaningful cut
])
def test_without_a_lower_range_test_lr(range_lr, ratio, expected):
    run = record([2.3] * 10, lr=0.5)
    run.lr_range = LrRange(range_lr, "", "ok" if range_lr else "flat")
    lower = lower_lr(run, ratio=ratio)
    assert (lower.value, lower.source) == expected


def test_tl301_and_tl204_quote_the_range_test_and_drop_the_lr_find_advice():
    loss = decaying(30) + [1.0 + 0.05 * i for i in range(30)]  # falls, then climbs back 2.5x
    run = record(loss, lr=0.5, ratio=0.087)
    run.lr_range = LrRange(0.06, "valley", "ok", 90)
    found, _ = evaluate(run, rules=[lr_too_high, loss_diverging])
    assert {f.code for f in found} == {"TL204", "TL301"}
    for f in found:
        assert f.fixes[0].config_key == "optimizer.lr" and f.fixes[0].value == 0.06
        assert "range test" in f.fixes[0].text
        assert not any("lr-find" in fix.text for fix in f.fixes)


def test_probe_lr_fixes_agree_with_lr_find(cli, tmp_path):
    spec = CONFIGS / "faults" / "tl204_sgd_momentum_lr_high.yaml"
    result = cli("probe", spec, "--no-plots", "--out", tmp_path / "probe")
    assert result.exit_code == 1, result.output
    lowered = {fix["value"] for f in read_report(tmp_path / "probe")["findings"] for fix in f["fixes"]
               if fix["config_key"] == "optimizer.lr" and fix["value"] is not None}
    assert cli("lr-find", spec, "--no-plots", "--out", tmp_path / "find").exit_code == 0
    suggested = json.loads((tmp_path / "find" / "lr_find.json").read_text())["suggested_lr"]
    assert lowered == {suggested}, (lowered, suggested)
