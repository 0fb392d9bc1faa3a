"""One number, one definition: a report never shows two values under the same name.

Three quantities are each computed in one place and shown in several:

- the final validation metric (`analysis.generalization.final_val_metric`, printed with
  `fmt_metric`): the summary, report.json, and every finding that says "validation … at the end";
- the run's update ratio (`analysis.lr.stable_update_ratio`): every finding that quotes one;
- the noise of a validation metric (`compare.ranking.metric_noise`): the compare tables' "noise"
  column, their verdict, and the `--verify-fixes` tolerance.

Fabricated records check each definition; real probes of bundled fault configs cross-check what
the user reads.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import pytest
from conftest import CONFIGS, read_report

sys.path.insert(0, str(Path(__file__).parent / "rules"))
from generalization_factory import eval_run  # noqa: E402
from loss_factory import decaying, noisy, record  # noqa: E402
from report_factory import fabricated_report  # noqa: E402

from trainlint.analysis.generalization import final_val_metric, fmt_metric  # noqa: E402
from trainlint.analysis.lr import stable_end, stable_update_ratio  # noqa: E402
from trainlint.compare.ranking import (  # noqa: E402
    MIN_RELATIVE_GAP,
    VariantResult,
    metric_noise,
    noise_margin,
    rank_variants,
    recommend,
)
from trainlint.report.model import metrics_of  # noqa: E402
from trainlint.report.summary import summary_rows  # noqa: E402
from trainlint.rules.engine import evaluate  # noqa: E402
from trainlint.rules.generalization.underfitting import underfitting  # noqa: E402
from trainlint.rules.loss.loss_diverging import loss_diverging  # noqa: E402
from trainlint.rules.loss.loss_not_decreasing import loss_not_decreasing  # noqa: E402
from trainlint.rules.lr.lr_too_high import lr_too_high  # noqa: E402
from trainlint.verify.judge import Baseline, judge  # noqa: E402

QUOTED_RATIO = re.compile(r"update ratio (?:only )?(\d\.\de[+-]\d+)")


def quoted_ratios(findings: list[dict]) -> set[str]:
    """Every update ratio a finding's message or fix texts quote, as printed."""
    texts = [f["message"] for f in findings] + [fix["text"] for f in findings for fix in f["fixes"]]
    return {m for text in texts for m in QUOTED_RATIO.findall(text)}


def quoted_final_metric(message: str, metric_name: str) -> str | None:
    found = re.search(rf"validation {metric_name} (\S+) at the end", message)
    return found.group(1) if found else None


def as_dicts(findings) -> list[dict]:
    return [f.model_dump(mode="json") for f in findings]


# --- the final validation metric ---------------------------------------------------------------

def test_final_val_metric_is_the_last_evaluation():
    assert final_val_metric([0.2, 0.5, 0.4]) == 0.4
    assert final_val_metric([0.2, math.nan]) is None and final_val_metric([]) is None
    assert (fmt_metric(0.08078), fmt_metric(45.6789), fmt_metric(None)) == ("0.081", "45.68", "–")


@pytest.mark.parametrize("val, chance, higher", [
    ([0.1, 0.1, 0.15, 0.12], 0.1, True),  # the last evaluation is below the best of the last two
    ([50.0, 48.0, 45.6789], 47.0, False),  # an MAE above 1
])
def test_tl502_quotes_the_summary_value_and_names_what_it_judged(val, chance, higher):
    run = eval_run([1.0] * len(val), [1.0] * len(val), val, chance=chance, higher_is_better=higher)
    (f,) = evaluate(run, rules=[underfitting])[0]
    report = fabricated_report().model_copy(update={"metrics": metrics_of(run)})
    shown = dict(summary_rows(report))[f"val {run.evals.metric_name}"].split()[0]
    assert quoted_final_metric(f.message, run.evals.metric_name) == shown == fmt_metric(val[-1])
    assert f.evidence["val_metric"] == report.metrics.final_val_metric == val[-1]
    assert f"(chance {fmt_metric(chance)})" in dict(summary_rows(report))[f"val {run.evals.metric_name}"]
    assert f"near chance ({fmt_metric(chance)})" in f.message
    if higher:  # judged on the best of the last two, and says so under another name
        assert f.evidence["val_metric_judged"] == 0.15
        assert "(0.150 at best over the last 2 evaluations)" in f.message


def test_tl203_quotes_the_final_metric_in_the_summary_format():
    (f,) = evaluate(record(noisy([2.3] * 100), val_metric=[0.1, 0.1, 0.1, 0.10078]), rules=[loss_not_decreasing])[0]
    assert quoted_final_metric(f.message, "accuracy") == "0.101" and "vs chance 0.100" in f.message


# --- the update ratio --------------------------------------------------------------------------

def test_stable_end_is_the_blow_up_or_the_best_level_of_a_diverging_loss():
    assert stable_end(record(decaying(60))) is None
    assert stable_end(record([2.3] * 20 + [9.0] * 20)) == 20
    climbed = record(decaying(30) + [1.0 + 0.05 * i for i in range(30)])
    assert 30 <= stable_end(climbed) <= 35  # just after the best window


def test_stable_update_ratio_is_rescaled_to_the_lr_and_cut_at_the_blow_up():
    warmup = [1e-3 * (i + 1) / 100 for i in range(100)]
    run = record(noisy([2.3] * 100), lr_series=warmup, ratio=[2.0 * warmup[s] for s in range(0, 100, 10)])
    assert stable_update_ratio(run).median == pytest.approx(2e-3)  # 2x the applied LR = 2e-3 at optimizer.lr
    blown = record([2.3] * 30 + [9.0] * 30, ratio=[0.05] * 3 + [1e-5] * 3)
    measured = stable_update_ratio(blown)
    assert measured.before_step == 30 and measured.median == pytest.approx(0.05)


def test_tl203_and_tl502_quote_one_update_ratio_under_a_warmup():
    warmup = [1e-3 * (i + 1) / 100 for i in range(100)]
    run = record(noisy([2.3] * 100), lr_series=warmup, ratio=[2.0 * warmup[s] for s in range(0, 100, 10)],
                 val_metric=[0.1] * 4)
    found = as_dicts(evaluate(run, rules=[loss_not_decreasing, underfitting])[0])
    assert [f["code"] for f in found] == ["TL203", "TL502"]
    assert [f["evidence"]["update_ratio_median"] for f in found] == [pytest.approx(2e-3)] * 2
    assert quoted_ratios(found) == {"2.0e-03"}


def test_lr_and_loss_rules_and_tl502_quote_one_update_ratio_when_the_loss_diverges():
    loss = decaying(30) + [1.0 + 0.05 * i for i in range(30)]  # falls, then climbs back 2.5x
    run = record(loss, lr=0.5, ratio=[0.05] * 4 + [1e-4] * 2, val_metric=[0.1] * 4)
    found = as_dicts(evaluate(run, rules=[loss_diverging, lr_too_high, underfitting])[0])
    assert {f["code"] for f in found} == {"TL204", "TL301", "TL502"}
    assert [f["evidence"]["update_ratio_median"] for f in found] == [pytest.approx(0.05)] * 3
    assert quoted_ratios(found) == {"5.0e-02"}
    tl502 = next(f for f in found if f["code"] == "TL502")
    assert tl502["config_key"] == "optimizer.lr"  # updates 50x the rule of thumb: the LR first, not capacity


# --- the noise of a validation metric ----------------------------------------------------------

def _variant(label, metrics, higher=True):
    return VariantResult(label=label, higher_is_better=higher, eval_steps=[24, 49, 74, 99][: len(metrics)],
                         val_metric=metrics, steps=list(range(100)), train_loss=[1.0] * 100)


def test_compare_noise_column_is_what_the_verdict_uses():
    rows = rank_variants([_variant("a", [0.9, 0.95, 0.95, 0.95]), _variant("b", [0.9, 0.945, 0.945, 0.945])])
    assert [r.noise for r in rows] == [pytest.approx(MIN_RELATIVE_GAP * 0.95), pytest.approx(MIN_RELATIVE_GAP * 0.945)]
    rec = recommend(rows, "accuracy", True)
    assert not rec.clear_winner and f"closer than their noise, {fmt_metric(rows[0].noise)}" in rec.reason
    spread = rank_variants([_variant("a", [0.9, 0.99, 0.93, 0.96]), _variant("b", [0.5, 0.6, 0.7, 0.8])])
    assert spread[0].noise == pytest.approx(0.06) and spread[1].noise == pytest.approx(0.2)


def test_verify_tolerance_is_the_compare_margin_of_the_two_runs():
    before = Baseline(findings=[{"code": "TL502", "rule": "underfitting", "severity": "warning"}],
                      val_metric=[0.5, 0.5, 0.5])
    after = _variant("fixed", [0.9, 0.9, 0.9])
    check = judge(["TL502"], before, after)
    rows = rank_variants([after, _variant("before", before.val_metric)])
    assert check.metric_tolerance == pytest.approx(noise_margin(*(r.noise for r in rows))) == pytest.approx(0.009)
    assert f"noise ±{fmt_metric(check.metric_tolerance)}" in check.reason
    assert metric_noise([40.0, 30.0, 28.0], 28.0) == pytest.approx(12.0)  # MAE: the spread wins
    assert metric_noise([float("nan")], None) is None


# --- real probes: what the user reads ----------------------------------------------------------

@pytest.mark.parametrize("fault", ["tl204_sgd_momentum_lr_high", "tl502_weight_decay_huge"])
def test_probe_report_quotes_each_number_once(cli, tmp_path, fault):
    result = cli("probe", CONFIGS / "faults" / f"{fault}.yaml", "--no-plots", "--out", tmp_path)
    assert result.exit_code in (0, 1), result.output
    report = read_report(tmp_path)
    name = report["metrics"]["metric_name"]
    shown = re.search(rf"val {name}\s+(\S+)", result.output).group(1)  # the summary table
    assert shown == fmt_metric(report["metrics"]["final_val_metric"])
    quoting = [f for f in report["findings"] if quoted_final_metric(f["message"], name)]
    assert "TL502" in [f["code"] for f in quoting]
    for f in quoting:
        assert quoted_final_metric(f["message"], name) == shown, f["code"]
    ratios = quoted_ratios(report["findings"])
    assert "TL502" in [f["code"] for f in report["findings"] if "update_ratio_median" in f["evidence"]]
    evidence = {f"{f['evidence']['update_ratio_median']:.1e}" for f in report["findings"]
                if "update_ratio_median" in f["evidence"]}
    # One update ratio in the evidence; every message that quotes one quotes that one (under a root
    # cause that is not the LR, no message needs to quote it at all).
    assert len(evidence) == 1 and ratios <= evidence, (ratios, evidence)


def test_compare_table_noise_is_the_verdicts(cli, tmp_path):
    result = cli("compare-optimizers", CONFIGS / "quickstart.yaml", "--optimizer", "adam", "--optimizer", "rmsprop",
                 "--no-plots", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "comparison.json").read_text())
    table = {cells[1].split(" (")[0]: cells[4] for line in result.output.splitlines()
             if (cells := [c.strip() for c in line.split("│")[1:-1]]) and len(cells) > 4 and cells[1]}
    for v in data["variants"]:
        assert v["noise"] >= MIN_RELATIVE_GAP * v["metric"]
        assert table[v["label"]] == fmt_metric(v["noise"])
    margin = noise_margin(*(v["noise"] for v in data["variants"]))
    assert fmt_metric(margin) in data["recommendation"]["reason"]
