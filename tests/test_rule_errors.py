"""A rule that raises must not take the report down: it is listed, everything else is written, exit 3."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from conftest import CONFIGS, read_report

sys.path.insert(0, str(Path(__file__).parent / "rules"))
from loss_factory import record  # noqa: E402

from trainlint.rules import engine  # noqa: E402
from trainlint.rules.base import Severity, Stage, rule  # noqa: E402
from trainlint.rules.catalog import all_rules  # noqa: E402
from trainlint.rules.loss.loss_not_decreasing import loss_not_decreasing  # noqa: E402
from trainlint.rules.loss.non_finite_loss import non_finite_loss  # noqa: E402


@rule(code="TL999", name="always-raises", severity=Severity.ERROR, stage=Stage.RUN, requires=("train_loss",))
def always_raises(run, t):
    """Raises, as a buggy rule would."""
    yield from ()
    raise TypeError("'<' not supported between instances of 'int' and 'NoneType'")


def test_a_raising_rule_is_listed_with_its_traceback_and_the_others_still_run():
    run = record([2.3] * 60)  # flat: TL203 fires
    found, skipped = engine.evaluate(run, rules=[always_raises, loss_not_decreasing])
    assert [f.code for f in found] == ["TL203"]
    (failed,) = skipped
    assert failed.code == "TL999" and "TypeError" in failed.reason and "bug in trainlint" in failed.reason
    assert "Traceback" in failed.internal_error and "always_raises" in failed.internal_error


def test_non_finite_loss_after_a_smooth_fall_to_minus_infinity():
    """NLL on raw scores: the loss starts below zero and falls to -inf (no blow-up cut to take)."""
    loss = [-0.1 * (i + 1) for i in range(30)] + [-10.0 * 4 ** i for i in range(20)] + [-math.inf]
    run = record(loss, grad_norm=[1.0] * 30 + [4.0 ** i for i in range(20)] + [math.nan])
    found, skipped = engine.evaluate(run, rules=[non_finite_loss])
    assert not skipped
    (f,) = found
    assert f.code == "TL202" and f.evidence["step"] == 50 and f.evidence["loss"] == -math.inf


def test_probe_writes_every_output_and_exits_3_when_a_rule_raises(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "all_rules", lambda: [*all_rules(), always_raises])
    result = cli("probe", CONFIGS / "quickstart.yaml", "--steps", "20", "--out", tmp_path)
    assert result.exit_code == 3, result.output
    assert "trainlint internal error in rule TL999 always-raises" in result.output
    report = read_report(tmp_path)
    (failed,) = [n for n in report["not_evaluated"] if n["internal_error"]]
    assert failed["code"] == "TL999"
    assert {"report.md", "metrics.jsonl", "loss.png"} <= {p.name for p in tmp_path.iterdir()}
    assert "TL999" in (tmp_path / "report.md").read_text()


def test_never_fail_on_still_exits_3_for_an_internal_error(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "all_rules", lambda: [*all_rules(), always_raises])
    result = cli("probe", CONFIGS / "quickstart.yaml", "--steps", "10", "--no-plots", "--out", tmp_path,
                 "--fail-on", "never", "--format", "json")
    assert result.exit_code == 3
