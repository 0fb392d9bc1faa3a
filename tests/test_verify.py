"""`--verify-fixes` and `trainlint fix`: the judge and the plan on fabricated data, then the fault zoo end to end.

End to end, each fault whose cause is a spec value (LR too high or too low, a collapsing schedule,
exploding gradients without clipping, raw inputs of a built-in dataset, a crushing weight decay)
must get a fix that a re-run proves: the finding gone and the validation metric better; the fixed
spec must keep the original's comments and differ only in the edited lines.
"""

from __future__ import annotations

import difflib
import json
import shutil

import pytest
from conftest import CONFIGS, read_report

from trainlint.compare.ranking import VariantResult
from trainlint.rules.base import Finding, Fix, Severity
from trainlint.spec.loader import load_spec
from trainlint.verify.judge import Baseline, judge
from trainlint.verify.plan import conflicts, plan

# --- the judge ---------------------------------------------------------------------------------------

BEFORE = Baseline(findings=[{"code": "TL301", "rule": "lr-too-high", "severity": "error"},
                            {"code": "TL403", "rule": "dead-relu", "severity": "warning"}],
                  val_metric=[0.3, 0.5, 0.5, 0.5], train_loss=[2.3] * 20)


def after(metric, findings=(), status="completed", higher=True):
    return VariantResult("x", status=status, val_metric=list(metric), train_loss=[0.5] * 20, higher_is_better=higher,
                         findings=[{"code": c, "rule": r, "severity": s} for c, r, s in findings])


def test_finding_gone_and_metric_up_is_resolved_and_improved():
    check = judge(["TL301"], BEFORE, after([0.8, 0.9, 0.92]))
    assert check.resolved and check.improved
    assert check.findings_removed == ["TL301", "TL403"] and check.findings_added == []
    assert (check.metric_before, check.metric_after) == (0.5, 0.92)
    assert (check.train_loss_before, check.train_loss_after) == (2.3, 0.5)
    assert check.reason.startswith("TL301 gone; val accuracy 0.500 → 0.920")


def test_finding_still_there_is_not_resolved():
    check = judge(["TL301"], BEFORE, after([0.9] * 3, [("TL301", "lr-too-high", "error")]))
    assert not check.resolved and check.improved and "TL301 still fires" in check.reason
    assert check.findings_remaining == ["TL301"] and check.worst_after == "error"


def test_metric_worse_beyond_noise_is_not_resolved():
    check = judge(["TL301"], BEFORE, after([0.40, 0.40, 0.40]))
    assert not check.resolved and not check.improved and "worse beyond noise" in check.reason
    assert check.metric_tolerance == pytest.approx(0.005)  # flat ends: the 1% floor


def test_metric_within_noise_is_resolved_but_not_improved():
    steady = Baseline(findings=BEFORE.findings, val_metric=[0.5, 0.5, 0.5], train_loss=[2.3])
    check = judge(["TL301"], steady, after([0.5, 0.5, 0.497]))
    assert check.resolved and not check.improved and check.metric_tolerance == pytest.approx(0.005)


def test_new_error_is_not_a_resolution():
    check = judge(["TL301"], BEFORE, after([0.95] * 3, [("TL202", "non-finite-loss", "error")]))
    assert not check.resolved and check.findings_added == ["TL202"] and "TL202 non-finite-loss appeared" in check.reason


def test_new_warning_counts_only_when_the_metric_clearly_improved():
    traded = judge(["TL301"], BEFORE, after([0.5] * 3, [("TL302", "lr-too-low", "warning")]))
    assert not traded.resolved and "metric did not improve" in traded.reason
    uncovered = judge(["TL301"], BEFORE, after([0.95] * 3, [("TL501", "overfitting", "warning")]))
    assert uncovered.resolved and uncovered.findings_added == ["TL501"]


def test_a_run_that_did_not_complete_resolves_nothing():
    check = judge(["TL301"], BEFORE, after([0.9], status="non_finite_loss"))
    assert not check.resolved and "did not complete (non_finite_loss" in check.reason


def test_lower_is_better_for_mae():
    before = Baseline(findings=[{"code": "TL401", "rule": "exploding-gradients", "severity": "warning"}],
                      metric_name="mae", higher_is_better=False, val_metric=[90.0, 94.0, 94.0], train_loss=[1.0])
    assert judge(["TL401"], before, after([30.0, 26.0, 25.0], higher=False)).improved
    worse = judge(["TL401"], before, after([120.0] * 3, higher=False))
    assert not worse.resolved and "worse beyond noise" in worse.reason


def test_no_metric_before_compares_with_chance():
    blown = Baseline(findings=[{"code": "TL202", "rule": "non-finite-loss", "severity": "error"}], metric_name="mae",
                     higher_is_better=False, val_metric=[float("nan")], train_loss=[1.0], chance_metric=68.0)
    at_chance = judge(["TL202"], blown, after([70.0, 68.5, 67.9], higher=False))
    assert not at_chance.resolved and not at_chance.improved and at_chance.still_at_chance
    assert "still at chance" in at_chance.reason and "against the chance level 68" in at_chance.reason
    assert at_chance.metric_before is None and at_chance.metric_after == 67.9
    learned = judge(["TL202"], blown, after([40.0, 30.0, 28.0], [("TL403", "dead-relu", "warning")], higher=False))
    assert learned.resolved and learned.improved


def test_a_fix_that_leaves_the_run_at_chance_is_not_resolved():
    """The issue's case: the LR fix silenced TL301 while accuracy went 0.085 → 0.094, chance 0.1."""
    stuck = Baseline(findings=BEFORE.findings, val_metric=[0.08, 0.085, 0.085], train_loss=[2.3], chance_metric=0.1)
    check = judge(["TL301"], stuck, after([0.09, 0.094, 0.094]))
    assert not check.resolved and check.still_at_chance
    assert check.reason.startswith("TL301 gone, but val accuracy is still at chance (0.100): val accuracy 0.085 → 0.094")
    # Just above chance but under 10 % of the way to perfect (TL502's limit) is still at chance...
    assert judge(["TL301"], stuck, after([0.15, 0.15, 0.15])).still_at_chance
    # ...well above it, the same finding gone is a resolution.
    learned = judge(["TL301"], stuck, after([0.6, 0.7, 0.72]))
    assert learned.resolved and learned.improved and not learned.still_at_chance


def test_at_chance_needs_a_chance_level_and_reads_the_metric_direction():
    from trainlint.verify.judge import at_chance

    assert at_chance(0.094, 0.1, 0.001, True) and not at_chance(0.9, 0.1, 0.001, True)
    assert at_chance(0.105, 0.1, 0.01, True)  # within the run's own noise of chance
    assert at_chance(9.8, 10.0, 0.1, False) and not at_chance(2.0, 10.0, 0.1, False)  # MAE: lower is better
    assert not at_chance(0.094, None, 0.001, True) and not at_chance(None, 0.1, 0.001, True)


# --- the plan ----------------------------------------------------------------------------------------


def finding(code, *fixes, severity=Severity.WARNING):
    return Finding(code=code, rule=code.lower(), severity=severity, message="m", fixes=list(fixes))


def test_plan_tries_findings_whose_best_fix_is_a_spec_edit():
    config = {"optimizer": {"lr": 0.3, "args": {}}, "probe": {"clip_grad_norm": None}, "scheduler": {"name": "step"}}
    findings = [
        finding("TL301", Fix("lower", "optimizer.lr", 7e-5), Fix("lr-find"), Fix("clip", "probe.clip_grad_norm", 1.0)),
        finding("TL206", Fix("remove the Softmax from Net.forward"), Fix("or", "loss.name", "nll_loss")),
        finding("TL102", Fix("weights", "loss.args.weight", [1.0, 2.0]), severity=Severity.INFO),
        finding("TL302", Fix("set", "optimizer.lr", 0.3)),  # already the spec's value: nothing to try
        finding("TL303", Fix("drop the schedule", "scheduler", None, applicable=True)),
    ]
    todo = plan(findings, config)
    assert todo.queues == {0: [0, 2], 4: [0]}
    assert [(n.code, n.reason[:30]) for n in todo.not_tried] == [
        ("TL206", "its best fix is not a spec edi"), ("TL302", "its spec edits are already in ")]


def test_root_causes_come_before_their_consequences():
    from trainlint.verify.plan import root_first

    findings = [finding("TL204", Fix("lower", "optimizer.lr", 0.06)), finding("TL301", Fix("lower", "optimizer.lr", 0.06)),
                finding("TL403", Fix("lower", "optimizer.lr", 0.006)), finding("TL601", Fix("workers", "dataset.num_workers", 2))]
    findings[0].caused_by = findings[2].caused_by = "TL301"
    assert root_first(findings, [0, 1, 2, 3]) == ([1, 3], [0, 2])


def test_verify_tries_the_root_first_and_credits_it_with_the_consequences_it_cleared(monkeypatch, tmp_path):
    """A fake re-runner: TL301's fix clears TL301 and TL403 (so TL403 is never re-run on its own),
    not TL601, whose fix then runs in a round of its own after the roots'."""
    from types import SimpleNamespace

    from report_factory import fabricated_record

    from trainlint.report.verification import verification_lines
    from trainlint.verify import run as verify_run
    from trainlint.verify.model import FixCheck

    findings = [finding("TL301", Fix("lower", "optimizer.lr", 0.06), severity=Severity.ERROR),
                finding("TL403", Fix("lower more", "optimizer.lr", 0.006)),
                finding("TL601", Fix("workers", "dataset.num_workers", 2)),
                finding("TL502", Fix("make the training loss fall first"))]  # not a spec edit: nothing to re-run
    findings[1].caused_by = findings[3].caused_by = "TL301"
    ran: list[tuple[str, list[dict]]] = []

    class FakeVerifier:
        def __init__(self, *args):
            self.runs, self.executions = 0, ["fake"]

        def run_all(self, edit_sets, round_no):
            ran.append((str(round_no), [dict(e) for e in edit_sets]))
            self.runs += len(edit_sets)

        def check(self, targets, edits):
            removed = ["TL301", "TL403", "TL502"] if edits == {"optimizer.lr": 0.06} else list(targets)
            return FixCheck(resolved=True, improved=True, reason="gone", status="completed",
                            findings_removed=removed, metric_before=0.1, metric_after=0.9)

    monkeypatch.setattr(verify_run, "_Verifier", FakeVerifier)
    monkeypatch.setattr(verify_run, "_fixed_spec", lambda *args: None)
    report = SimpleNamespace(findings=findings, config={"optimizer": {"lr": 0.5}, "dataset": {"num_workers": 0}})
    outcome = SimpleNamespace(report=report, record=fabricated_record(), out_dir=tmp_path)
    loaded = SimpleNamespace(spec=SimpleNamespace(probe=SimpleNamespace(verify_attempts=2)))
    v = verify_run.verify(loaded, outcome, verify_run.VerifyOptions())
    assert ran == [("1", [{"optimizer.lr": 0.06}, {"dataset.num_workers": 2}])]  # roots only; TL403 never re-run
    assert [(c.code, c.root, c.edits) for c in v.cleared_by_root] == [("TL403", "TL301", {"optimizer.lr": 0.06}),
                                                                      ("TL502", "TL301", {"optimizer.lr": 0.06})]
    assert v.not_tried == []  # TL502 is resolved by its root's fix, not "not tried"
    assert [vf.code for vf in v.verified_fixes] == ["TL301", "TL601"]
    lines = [line.plain for line in verification_lines(v)]
    assert "  ✓ TL403 tl403  resolved by the fix of its root cause: TL301, optimizer.lr 0.5 → 0.06" in lines
    # A consequence its root's fix did not clear gets rounds of its own, after the roots'.
    ran.clear()
    findings[2].caused_by = "TL301"
    v = verify_run.verify(loaded, outcome, verify_run.VerifyOptions())
    assert ran == [("1", [{"optimizer.lr": 0.06}]), ("consequences-round1", [{"dataset.num_workers": 2}])]


def test_conflicting_edits():
    assert conflicts({"optimizer.lr": 0.1}, {"optimizer.lr": 0.01}) == ["optimizer.lr"]
    assert conflicts({"optimizer.lr": 0.1}, {"optimizer.lr": 0.1}) == []
    assert conflicts({"scheduler": None}, {"scheduler.args.step_size": 200}) == ["scheduler"]
    assert conflicts({"optimizer.lr": 0.1}, {"probe.clip_grad_norm": 1.0}) == []


def test_fix_with_several_edits():
    fix = Fix("warm up", edits={"scheduler.name": "none", "scheduler.warmup_steps": 20})
    assert fix.applicable and (fix.config_key, fix.value) == ("scheduler.name", "none")
    assert fix.spec_edits == {"scheduler.name": "none", "scheduler.warmup_steps": 20}
    assert Fix("advice", "model").spec_edits == {} and Fix("null", "scheduler", None, applicable=True).spec_edits == {
        "scheduler": None}


# --- end to end --------------------------------------------------------------------------------------


def fault(name):
    return CONFIGS / "faults" / f"{name}.yaml"


def resolving(report, code):
    """The verified fix that resolved `code` with a better validation metric, or None; for a consequence
    its root cause's fix cleared, that fix (tried first, it resolved both)."""
    v = report["verification"]
    cleared = next((c for c in v["cleared_by_root"] if c["code"] == code), None)
    wanted = (cleared["root"], cleared["edits"]) if cleared else (code, None)
    return next((f for f in v["verified_fixes"] if f["code"] == wanted[0] and wanted[1] in (None, f["edits"])
                 and f["verified"]["resolved"] and f["verified"]["improved"]), None)


def assert_fixed_spec_is_the_original_plus_edits(original_path, fixed_path, edits):
    original, fixed = original_path.read_text(), fixed_path.read_text()
    for line in original.splitlines():  # the user's comments and every untouched line survive
        if line.startswith("#"):
            assert line in fixed.splitlines()
    added = [line[2:] for line in difflib.ndiff(original.splitlines(), fixed.splitlines()) if line.startswith("+ ")]
    assert added and all("# trainlint:" in line or line.startswith("#") for line in added), added
    overrides = [f"{k}={json.dumps(v)}" for k, v in edits.items()]
    assert load_spec(fixed_path).spec == load_spec(original_path, overrides).spec


ZOO = [  # (fault config, the code a verified fix must resolve)
    ("tl301_adam_lr_300x", "TL301"),  # LR too high
    ("tl302_adam_lr_tiny", "TL302"),  # LR too low
    ("tl401_sgd_runaway", "TL401"),  # exploding gradients, no clipping
    ("tl502_weight_decay_huge", "TL304"),  # weight decay too large: TL304 names it, TL502 follows from it
]


@pytest.mark.parametrize("name, code", ZOO, ids=[z[0] for z in ZOO])
def test_verify_fixes_proves_a_fix_for_the_fault(cli, tmp_path, name, code):
    out = tmp_path / "out"
    result = cli("probe", fault(name), "--out", out, "--no-plots", "--verify-fixes")
    assert result.exit_code in (0, 1), result.output
    report = read_report(out)
    fix = resolving(report, code)
    assert fix is not None, json.dumps(report["verification"]["verified_fixes"], indent=1)
    assert code in fix["verified"]["findings_removed"] and fix["verified"]["run_dir"]
    assert "Verified fixes" in result.output and f"✓ {code}" in result.output
    assert "## Verified fixes" in (out / "report.md").read_text()
    fixed = report["verification"]["fixed_spec"]
    assert fixed["path"] == str(out / "fixed.yaml") and fixed["check"]["resolved"]
    assert_fixed_spec_is_the_original_plus_edits(fault(name), out / "fixed.yaml", fixed["edits"])


def test_weight_decay_fault_is_fixed_by_the_weight_decay_from_the_evidence(tmp_path, cli):
    out = tmp_path / "out"
    cli("probe", fault("tl502_weight_decay_huge"), "--out", out, "--no-plots", "--select", "TL502")
    (f,) = read_report(out)["findings"]
    top = f["fixes"][0]
    assert top["config_key"] == "optimizer.args.weight_decay" and 0 < top["value"] < 0.05 and top["applicable"]
    assert f["evidence"]["decay_pull"] > 1


def test_fix_command_writes_the_fixed_spec_next_to_the_original(cli, tmp_path):
    spec = tmp_path / "steplr.yaml"
    shutil.copy(fault("tl303_steplr_collapse"), spec)
    out = tmp_path / "out"
    result = cli("fix", spec, "--out", out)
    fixed = tmp_path / "steplr.fixed.yaml"
    assert result.exit_code == 0, result.output
    assert f"wrote {fixed}" in result.output and "+scheduler:" in result.output  # the diff is shown
    report = read_report(out)
    assert resolving(report, "TL303") is not None
    assert_fixed_spec_is_the_original_plus_edits(spec, fixed, report["verification"]["fixed_spec"]["edits"])
    assert spec.read_text() == fault("tl303_steplr_collapse").read_text()


def test_fix_write_replaces_the_spec_and_keeps_a_backup(cli, tmp_path):
    spec = tmp_path / "wine.yaml"
    shutil.copy(fault("tl103_wine_raw"), spec)
    result = cli("fix", spec, "--write", "--out", tmp_path / "out", "-q")
    assert result.exit_code == 0, result.output
    report = read_report(tmp_path / "out")
    assert resolving(report, "TL103") is not None
    assert (tmp_path / "wine.yaml.bak").read_text() == fault("tl103_wine_raw").read_text()
    assert load_spec(spec).spec.dataset.args == {"standardize": True}
    assert_fixed_spec_is_the_original_plus_edits(tmp_path / "wine.yaml.bak", spec,
                                                 report["verification"]["fixed_spec"]["edits"])


def test_healthy_config_reruns_nothing(cli, tmp_path):
    out = tmp_path / "out"
    result = cli("probe", CONFIGS / "quickstart.yaml", "--out", out, "--no-plots", "--verify-fixes")
    assert result.exit_code == 0, result.output
    v = read_report(out)["verification"]
    assert v["runs"] == 0 and v["verified_fixes"] == [] and v["fixed_spec"] is None
    assert not (out / "fixed.yaml").exists() and not (out / "verify").exists()
    assert "nothing was re-run" in result.output


WORSE = """\
# A healthy setup with TL302's thresholds forced, so that it fires and suggests a ~1000x LR.
name: worse
dataset: {name: digits, args: {standardize: true}, batch_size: 64}
model: {name: mlp, args: {hidden: [64]}}
loss: {name: cross_entropy}
optimizer: {name: adam, lr: 0.001}
probe: {steps: 150, eval_every: 25}
rules:
  thresholds:
    lr-too-low: {max_update_ratio: 1.0, max_relative_drop: 0.999, max_metric_gain: 1.0, target_update_ratio: 5.0}
"""


def test_a_fix_that_makes_things_worse_is_not_verified(cli, tmp_path):
    spec = tmp_path / "worse.yaml"
    spec.write_text(WORSE)
    out = tmp_path / "out"
    result = cli("probe", spec, "--out", out, "--no-plots", "--set", "probe.verify_fixes=true")
    v = read_report(out)["verification"]
    (tried,) = v["verified_fixes"]
    assert tried["code"] == "TL302" and tried["edits"]["optimizer.lr"] > 0.1
    assert not tried["verified"]["resolved"] and tried["verified"]["findings_added"]
    assert v["fixed_spec"] is None and not (out / "fixed.yaml").exists()
    assert "✗ TL302" in result.output and "no fix resolved its finding" in result.output


def test_rendering_of_the_section():
    from trainlint.report.verification import verification_lines, verification_markdown
    from trainlint.verify.model import FixedSpec, NotTried, Verification, VerifiedFix

    good = judge(["TL301"], BEFORE, after([0.8, 0.9, 0.92]))
    bad = judge(["TL403"], BEFORE, after([0.5] * 3, [("TL403", "dead-relu", "warning")]))
    v = Verification(attempts=2, runs=2, wall_seconds=1.25, verified_fixes=[
        VerifiedFix(code="TL301", rule="lr-too-high", finding=0, fix=0, attempt=1, text="lower",
                    edits={"optimizer.lr": 0.003}, before={"optimizer.lr": 0.5}, verified=good),
        VerifiedFix(code="TL403", rule="dead-relu", finding=1, fix=1, attempt=2, text="init",
                    edits={"model.args.init": "kaiming"}, before={"model.args.init": None}, verified=bad)],
        not_tried=[NotTried(code="TL206", rule="loss-output-mismatch", finding=2, reason="its best fix is a code change")],
        fixed_spec=FixedSpec(path="out/fixed.yaml", edits={"optimizer.lr": 0.003}, sources={"optimizer.lr": ["TL301"]},
                             check=good, diff="--- a\n+++ b\n-lr: 0.5\n+lr: 0.003\n"))
    text = [line.plain for line in verification_lines(v, verbose=True)]
    assert text[0] == ("Verified fixes (2 re-runs with the same seed, initial weights and data order, at most 2 per "
                       "finding; 1.2 s)")
    assert text[1] == "  ✓ TL301 lr-too-high  optimizer.lr 0.5 → 0.003: resolved"
    assert text[2].startswith("      TL301 gone; val accuracy 0.500 → 0.920") and "also gone: TL403" in text[2]
    assert text[3] == "  ✗ TL403 dead-relu  model.args.init null → kaiming: not resolved (attempt 2)"
    assert "TL403 is gone with optimizer.lr 0.5 → 0.003 instead (the fix of TL301)" in text[4]
    assert text[5] == "  – TL206 loss-output-mismatch  not tried: its best fix is a code change"
    assert text[6] == "  fixed spec  out/fixed.yaml  (optimizer.lr: 0.003; val accuracy 0.500 → 0.920)"
    assert text[-1] == "    +lr: 0.003"
    assert len(verification_lines(v)) == 7  # the diff only with -v
    md = "\n".join(verification_markdown(v))
    assert "| ✅ resolved | `TL301` lr-too-high | `optimizer.lr 0.5 → 0.003` |" in md
    assert "```diff\n--- a\n+++ b\n-lr: 0.5\n+lr: 0.003\n```" in md
