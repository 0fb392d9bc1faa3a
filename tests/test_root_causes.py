"""Root cause first (rules/causes.py): links made from the record, both ways; fixes under a root;
severity after a good run; the report's root_causes; `trainlint explain`; one probe end to end.

Every link test has a twin: the same findings on a record where the cause did not come first (or
its evidence is absent), which must leave the consequence a root of its own.
"""

from __future__ import annotations

import pytest
from conftest import CONFIGS, read_report

from trainlint.probe.record import (
    DataFacts,
    EvalSeries,
    FirstBatch,
    LayerSeries,
    ModelFacts,
    RunRecord,
)
from trainlint.report.model import root_causes_of
from trainlint.rules.base import Finding, Fix, Severity
from trainlint.rules.catalog import all_rules, find
from trainlint.rules.causes import (
    LINKS,
    RANK,
    is_good_run,
    link_causes,
    rank,
    reconcile_fixes,
    settle,
    soften_when_good,
)
from trainlint.rules.docs import render_doc

LR = 0.5
STEPS = 100


def run_record(*, ratios: dict[int, list[float]] | None = None, dead: dict[int, float] | None = None,
               norms: list[float] | None = None, loss: list[float] | None = None, lr_series: list[float] | None = None,
               val: list[float] | None = None, train: list[float] | None = None, chance: float | None = 0.1,
               higher: bool = True, **kwargs) -> RunRecord:
    """A 100-step run at LR 0.5: update ratios (per sampled step, per layer), dead fractions of one
    ReLU module, global grad norms, losses, the applied LR and evaluations as given."""
    ratios = ratios if ratios is not None else {s: [1e-3, 1e-3] for s in range(0, STEPS, 10)}
    run = RunRecord(lr=LR, steps=list(range(STEPS)), steps_planned=STEPS, stats_every=10,
                    train_loss=loss or [2.3 - 0.01 * s for s in range(STEPS)],
                    lr_series=lr_series or [LR] * STEPS, grad_norm=norms or [1.0] * STEPS,
                    update_ratio=LayerSeries(["fc1", "head"], list(ratios), list(ratios.values())),
                    first_batch=FirstBatch(output_sensitivity=0.8), **kwargs)
    if dead is not None:
        run.dead_fraction = LayerSeries(["act"], list(dead), [[v] for v in dead.values()])
    if val is not None:
        run.evals = EvalSeries(chance_metric=chance, higher_is_better=higher, steps=[24 * (i + 1) for i in range(len(val))],
                               val_metric=list(val), train_metric=list(train or val), val_loss=[1.0] * len(val),
                               train_loss=[1.0] * len(val), output_sensitivity=[0.5] * len(val))
    return run


def finding(code: str, step: int | None = None, fixes: list[Fix] | None = None, severity: Severity = Severity.WARNING,
            **evidence) -> Finding:
    rule = find(code)
    return Finding(code=code, rule=rule.name if rule else "", severity=severity, message=f"{code} fired",
                   step=step, evidence=evidence, fixes=fixes or [])


def links(findings: list[Finding]) -> dict[str, str | None]:
    return {f.code: f.caused_by for f in findings}


LARGE_FROM_START = {s: [0.1, 0.08] for s in range(0, STEPS, 10)}
LARGE_FROM_40 = {s: ([1e-3, 1e-3] if s < 40 else [0.1, 0.08]) for s in range(0, STEPS, 10)}


# --- the table ------------------------------------------------------------------------------------


def test_every_link_names_catalog_rules_and_points_up_the_rank():
    codes = {r.code for r in all_rules()}
    for lk in LINKS:
        assert lk.cause in codes and lk.consequence in codes, lk
        assert rank(lk.cause) < rank(lk.consequence), f"{lk.cause} → {lk.consequence} would allow a cycle"
        assert lk.why
    assert len(set(RANK)) == len(RANK)


@pytest.mark.parametrize("cause, consequence", [("TL301", "TL403"), ("TL301", "TL106"), ("TL301", "TL502"),
                                                ("TL301", "TL401"), ("TL301", "TL204"), ("TL301", "TL205"),
                                                ("TL301", "TL202"), ("TL303", "TL203"), ("TL302", "TL203"),
                                                ("TL405", "TL203"), ("TL103", "TL301"), ("TL206", "TL301"),
                                                ("TL401", "TL202"), ("TL401", "TL204")])
def test_the_links_the_issue_names_are_in_the_table(cause, consequence):
    assert any(lk.cause == cause and lk.consequence == consequence for lk in LINKS)


def test_explain_shows_often_caused_by_and_often_causes():
    text = render_doc(find("TL403"))
    assert "Often caused by" in text and "- TL301 lr-too-high:" in text
    text = render_doc(find("TL301"))
    assert "Often causes" in text and "- TL502 underfitting:" in text and "- TL103 unnormalized-inputs:" in text
    assert "always reported as a root cause of its own" in render_doc(find("TL602"))


# --- linked and independent, from the record ------------------------------------------------------


def test_dead_units_after_large_updates_are_a_consequence_of_the_lr():
    found = [finding("TL301", 45, min_update_ratio=0.03), finding("TL403", 99, max_dead_fraction=0.5)]
    link_causes(found, run_record(ratios=LARGE_FROM_START, dead={0: 0.1, 20: 0.2, 40: 0.9, 60: 1.0, 80: 1.0}))
    assert links(found) == {"TL301": None, "TL403": "TL301"}


def test_units_dead_at_initialisation_are_independent_of_the_lr():
    found = [finding("TL301", 45), finding("TL403", 99)]
    link_causes(found, run_record(ratios=LARGE_FROM_START, dead={0: 0.9, 20: 0.9, 40: 0.9}))
    assert links(found)["TL403"] is None


def test_units_that_died_before_the_updates_grew_are_independent():
    found = [finding("TL301", 45), finding("TL403", 99)]
    link_causes(found, run_record(ratios=LARGE_FROM_40, dead={0: 0.1, 20: 0.8, 40: 0.9, 60: 0.9}))
    assert links(found)["TL403"] is None


def test_divergence_that_started_before_the_large_updates_is_independent():
    found = [finding("TL301", 50), finding("TL204", 26)]
    link_causes(found, run_record(ratios=LARGE_FROM_40))
    assert links(found)["TL204"] is None
    link_causes(found, run_record(ratios=LARGE_FROM_START))
    assert links(found)["TL204"] == "TL301"


def test_nan_at_the_first_step_is_not_caused_by_any_update():
    nan_at = lambda s: [2.3] * s + [float("nan")] + [2.3] * (STEPS - s - 1)  # noqa: E731
    found = [finding("TL301", 1), finding("TL202", 0)]
    link_causes(found, run_record(ratios=LARGE_FROM_START, loss=nan_at(0)))
    assert links(found)["TL202"] is None
    found = [finding("TL301", 30), finding("TL202", 30)]
    link_causes(found, run_record(ratios=LARGE_FROM_START, loss=nan_at(30)))
    assert links(found)["TL202"] == "TL301"


def test_gradients_that_ran_away_before_the_updates_grew_are_independent():
    early = [1.0] * 10 + [500.0] * (STEPS - 10)
    found = [finding("TL301", 50), finding("TL401", 10)]
    link_causes(found, run_record(ratios=LARGE_FROM_40, norms=early))
    assert links(found)["TL401"] is None
    late = [1.0] * 60 + [500.0] * (STEPS - 60)
    link_causes(found, run_record(ratios=LARGE_FROM_40, norms=late))
    assert links(found)["TL401"] == "TL301"


def test_underfitting_is_the_lrs_only_when_the_train_subset_did_not_fit_either():
    found = [finding("TL301", 45), finding("TL502", 96)]
    link_causes(found, run_record(ratios=LARGE_FROM_START, val=[0.1, 0.1, 0.1, 0.1], train=[0.1, 0.11, 0.1, 0.1]))
    assert links(found)["TL502"] == "TL301"
    # Train subset fitted, validation at chance: labels that do not carry over, not the LR.
    link_causes(found, run_record(ratios=LARGE_FROM_START, val=[0.1, 0.1, 0.1, 0.1], train=[0.5, 0.8, 0.95, 0.99]))
    assert links(found)["TL502"] is None


def test_flat_loss_after_the_schedule_starved_the_lr_is_the_schedules():
    collapsed = [LR * 0.7 ** s for s in range(STEPS)]
    found = [finding("TL303", 13), finding("TL203", 99)]
    link_causes(found, run_record(lr_series=collapsed, val=[0.1] * 4))
    assert links(found)["TL203"] == "TL303"
    # A collapse late in the run does not explain a loss that was flat all along.
    late = [LR] * 80 + [LR * 1e-3] * 20
    link_causes(found, run_record(lr_series=late, val=[0.1] * 4))
    assert links(found)["TL203"] is None


def test_flat_loss_of_a_mostly_frozen_model_is_the_frozen_weights():
    found = [finding("TL405", None, severity=Severity.INFO), finding("TL203", 99)]
    link_causes(found, run_record(model=ModelFacts(n_params=1000, n_trainable=50), val=[0.1] * 4))
    assert links(found)["TL203"] == "TL405"
    link_causes(found, run_record(model=ModelFacts(n_params=1000, n_trainable=990), val=[0.1] * 4))
    assert links(found)["TL203"] is None
    # Trainable but left out of the optimizer: the layer never moves.
    head_only = {s: [0.0, 1e-3] for s in range(0, STEPS, 10)}
    grads = LayerSeries(["fc1", "head"], list(head_only), [[0.5, 0.2]] * len(head_only))  # fc1 has gradients
    link_causes(found, run_record(ratios=head_only, layer_grad_norm=grads,
                                  model=ModelFacts(n_params=1000, n_trainable=1000), val=[0.1] * 4))
    assert links(found)["TL203"] == "TL405"


def test_lr_blamed_on_unscaled_inputs_only_when_the_input_layer_moves_most():
    found = [finding("TL103", 0), finding("TL301", 45)]
    first_moves = {s: [0.5, 0.01] for s in range(0, STEPS, 10)}
    link_causes(found, run_record(ratios=first_moves))
    assert links(found)["TL301"] == "TL103"
    last_moves = {s: [0.05, 0.2] for s in range(0, STEPS, 10)}  # every layer moves (Adam): the LR itself
    link_causes(found, run_record(ratios=last_moves))
    assert links(found)["TL301"] is None
    link_causes(found, run_record(ratios=last_moves, task="regression", data=DataFacts(target_rms=[150.0])))
    assert links(found)["TL301"] == "TL103"


def test_gradients_that_vanished_after_the_units_died_are_the_dead_units():
    def vanishing_from(step: int) -> RunRecord:
        sampled = list(range(0, STEPS, 10))
        grads = [[1e-6 if s >= step else 0.5, 1.0] for s in sampled]
        run = run_record(ratios=LARGE_FROM_40, dead={0: 0.1, 20: 0.1, 40: 0.9, 60: 1.0, 80: 1.0},
                         model=ModelFacts(layer_types={"fc1": "Linear", "head": "Linear"}))
        run.layer_grad_norm = LayerSeries(["fc1", "head"], sampled, grads)
        run.layer_param_norm = LayerSeries(["fc1", "head"], sampled, [[1.0, 1.0]] * len(sampled))
        return run

    found = [finding("TL403", 99), finding("TL402", None)]
    link_causes(found, vanishing_from(50))
    assert links(found)["TL402"] == "TL403"
    link_causes(found, vanishing_from(0))  # vanishing from the start: the stack, not the dead units
    assert links(found)["TL402"] is None


def test_a_consequence_that_blames_weight_decay_is_not_linked_to_another_cause():
    """SGD with weight_decay 5: gradients vanish from the start, but TL203 measured the decay as its cause."""
    vanishing = finding("TL402", None, fixes=[Fix("add normalisation layers", "model.args.norm", "layer")])
    flat = finding("TL203", 99, fixes=[Fix("lower weight decay", "optimizer.args.weight_decay", 5e-4)])
    found = [vanishing, flat]
    run = run_record(val=[0.1] * 4)
    run.layer_grad_norm = LayerSeries(["fc1", "head"], [0, 10], [[1e-9, 1.0], [1e-9, 1.0]])
    run.layer_param_norm = LayerSeries(["fc1", "head"], [0, 10], [[1.0, 1.0], [1.0, 1.0]])
    run.model = ModelFacts(layer_types={"fc1": "Linear", "head": "Linear"})
    link_causes(found, run)
    assert links(found)["TL203"] is None
    flat.fixes = [Fix("check that the targets belong to the inputs")]
    link_causes(found, run)
    assert links(found)["TL203"] == "TL402"


def test_weight_decay_that_dominates_roots_the_symptoms_it_produces():
    """Coupled decay 5 pulls the weights 50x harder than the gradient: the finding that blames it is
    the root of the LR-looking symptoms; with a decay of 1e-4 the same findings keep the LR links."""
    def run(wd: float) -> RunRecord:
        r = run_record(ratios=LARGE_FROM_START, val=[0.1] * 4, weight_decay=wd, optimizer_class="SGD")
        r.layer_param_norm = LayerSeries(["fc1", "head"], [0], [[1.0, 1.0]])
        r.layer_grad_norm = LayerSeries(["fc1", "head"], [0], [[0.1, 0.1]])
        return r

    found = [finding("TL301", 45, fixes=[lower(0.06)]),
             finding("TL403", 99, fixes=[lower(0.006), Fix("use LeakyReLU or GELU")]),
             finding("TL203", 99, fixes=[Fix("lower weight decay", "optimizer.args.weight_decay", 5e-4)]),
             finding("TL502", 96)]
    link_causes(found, run(5.0))
    assert links(found) == {"TL301": "TL203", "TL403": "TL203", "TL203": None, "TL502": "TL203"}
    reconcile_fixes(found, run(5.0))
    assert [f.text for f in found[1].fixes] == ["use LeakyReLU or GELU", "lower optimizer.lr from 0.5 to 0.006"]
    link_causes(found, run(1e-4))
    assert links(found) == {"TL301": None, "TL403": "TL301", "TL203": None, "TL502": "TL301"}


def test_a_flat_loss_and_a_metric_at_chance_group_when_nothing_fitted():
    found = [finding("TL203", 99), finding("TL502", 96)]
    link_causes(found, run_record(val=[0.1] * 4, train=[0.1] * 4))
    assert links(found)["TL502"] == "TL203"
    link_causes(found, run_record(val=[0.1] * 4, train=[0.4, 0.7, 0.9, 1.0]))  # the train subset fitted
    assert links(found)["TL502"] is None


def test_the_most_fundamental_supported_cause_wins_and_roots_follow_chains():
    found = [finding("TL103", 0, severity=Severity.WARNING), finding("TL301", 45, severity=Severity.ERROR),
             finding("TL204", 60, severity=Severity.ERROR), finding("TL502", 96), finding("TL601", 5)]
    link_causes(found, run_record(ratios={s: [0.5, 0.01] for s in range(0, STEPS, 10)}, val=[0.1] * 4))
    assert links(found) == {"TL103": None, "TL301": "TL103", "TL204": "TL103", "TL502": "TL301", "TL601": None}
    roots = root_causes_of(found)
    assert [(r.code, r.consequences) for r in roots] == [("TL103", ["TL301", "TL204", "TL502"]), ("TL601", [])]


def test_root_causes_put_the_most_severe_group_first_and_skip_lone_info_notes():
    found = [finding("TL601", 5, severity=Severity.WARNING), finding("TL301", 45, severity=Severity.ERROR),
             finding("TL403", 99), finding("TL102", None, severity=Severity.INFO)]
    found[2].caused_by = "TL301"
    assert [(r.code, r.consequence_findings) for r in root_causes_of(found)] == [("TL301", [2]), ("TL601", [])]


# --- fixes under a root cause ---------------------------------------------------------------------


def lower(value: float) -> Fix:
    return Fix(f"lower optimizer.lr from {LR:g} to {value:g}", "optimizer.lr", value)


def test_a_consequence_loses_the_advice_its_root_rules_out_and_keeps_the_rest():
    root = finding("TL301", 45, fixes=[lower(0.06), Fix("clip gradients at 4", "probe.clip_grad_norm", 4.0)])
    under = finding("TL502", 96, fixes=[
        Fix("make the training loss fall first: see the loss and LR findings", "optimizer.lr"),
        Fix("give the model more capacity (more or wider hidden layers) or train longer", "model.args"),
        Fix("check that the inputs carry the labels")])
    dead = finding("TL403", 99, fixes=[lower(0.006), Fix("use LeakyReLU or GELU", "model.args.activation", "leaky_relu"),
                                       Fix("clip gradients at 4", "probe.clip_grad_norm", 4.0)])
    found = [root, under, dead]
    for f in found[1:]:
        f.caused_by = "TL301"
    reconcile_fixes(found, run_record())
    assert [f.text for f in under.fixes] == ["make the training loss fall first: see the loss and LR findings",
                                             "check that the inputs carry the labels"]
    # The same key to another value goes; another key, or the same edit, stays.
    assert [f.config_key for f in dead.fixes] == ["model.args.activation", "probe.clip_grad_norm"]
    assert dead.evidence["fixes_dropped_for_root_cause"] == 1
    assert [f.text for f in root.fixes][0].startswith("lower optimizer.lr")  # a root is never touched


def test_under_a_too_low_lr_a_consequence_may_not_lower_it():
    root = finding("TL302", 99, fixes=[Fix("raise optimizer.lr from 0.5 to 50", "optimizer.lr", 50.0)])
    under = finding("TL203", 99, fixes=[Fix("lower the learning rate a little"), Fix("check the targets")])
    under.caused_by = "TL302"
    reconcile_fixes([root, under], run_record())
    assert [f.text for f in under.fixes] == ["check the targets"]


def test_a_consequence_left_without_fixes_points_at_its_root():
    root = finding("TL301", 45, fixes=[lower(0.06)])
    under = finding("TL502", 96, fixes=[Fix("train longer")])
    under.caused_by = "TL301"
    reconcile_fixes([root, under], run_record())
    assert [f.text for f in under.fixes] == ["fix the root cause first: TL301 lr-too-high"]


def test_under_unscaled_data_a_lower_lr_moves_after_the_other_fixes():
    root = finding("TL103", 0, fixes=[Fix("standardise the targets")])
    under = finding("TL106", 70, fixes=[lower(0.001), Fix("check forward for reductions over dim 0")])
    under.caused_by = "TL103"
    reconcile_fixes([root, under], run_record())
    assert [f.config_key for f in under.fixes] == [None, "optimizer.lr"]  # kept, but last


def test_independent_findings_keep_every_fix():
    root = finding("TL301", 45, fixes=[lower(0.06)])
    alone = finding("TL502", 96, fixes=[Fix("give the model more capacity")])
    reconcile_fixes([root, alone], run_record())
    assert [f.text for f in alone.fixes] == ["give the model more capacity"]


# --- severity follows consequence ------------------------------------------------------------------


@pytest.mark.parametrize("val, chance, higher, good", [
    ([0.5, 0.94], 0.1, True, True),     # 93 % of the way from chance to perfect
    ([0.5, 0.7], 0.1, True, False),     # 67 %
    ([0.1, 0.775], 0.1, True, True),    # exactly 75 %
    ([9.0, 2.0], 10.0, False, True),    # MAE at 20 % of chance's
    ([9.0, 3.0], 10.0, False, False),   # 30 %
    ([0.5, 0.94], None, True, False),   # no chance level: nothing to judge against
])
def test_good_run(val, chance, higher, good):
    assert is_good_run(run_record(val=val, chance=chance, higher=higher)) is good


def test_a_good_run_gets_no_error_from_a_run_stage_rule():
    found = [finding("TL301", 45, severity=Severity.ERROR), finding("TL202", 50, severity=Severity.ERROR),
             finding("TL106", 0, severity=Severity.ERROR)]
    run_stage = {"TL301", "TL202"}
    soften_when_good(found, run_record(val=[0.5, 0.94]), run_stage)
    assert [f.severity for f in found] == [Severity.WARNING, Severity.ERROR, Severity.ERROR]
    assert "0.940" in found[0].evidence["severity_lowered"]
    at_chance = [finding("TL301", 45, severity=Severity.ERROR)]
    soften_when_good(at_chance, run_record(val=[0.1, 0.09]), run_stage)
    assert at_chance[0].severity == Severity.ERROR


def test_settle_runs_from_the_engine():
    """The engine links after every rule ran: a fabricated run with a blow-up gets TL301 as root."""
    from trainlint.rules.engine import evaluate

    loss = [2.3 - 0.02 * s for s in range(30)] + [2.3 + 0.2 * s for s in range(70)]
    run = run_record(ratios=LARGE_FROM_START, loss=loss, dead={s: (0.1 if s < 30 else 1.0) for s in range(0, STEPS, 10)})
    findings, _ = evaluate(run, select=["TL301", "TL204", "TL403"])
    assert {f.code: f.caused_by for f in findings} == {"TL301": None, "TL204": "TL301", "TL403": "TL301"}
    settle(findings, run, set())  # idempotent
    assert {f.code: f.caused_by for f in findings}["TL403"] == "TL301"


# --- end to end -------------------------------------------------------------------------------------


def test_lr_fault_reports_one_root_cause_with_its_consequences(cli, tmp_path):
    out = tmp_path / "out"
    result = cli("probe", CONFIGS / "faults" / "tl301_adam_lr_300x.yaml", "--out", out, "--no-plots",
                 "--set", "probe.steps=100")
    report = read_report(out)
    roots = {r["code"]: r["consequences"] for r in report["root_causes"]}
    assert "TL301" in roots and {"TL403", "TL502"} <= set(roots["TL301"])
    by_code = {f["code"]: f for f in report["findings"]}
    assert by_code["TL403"]["caused_by"] == "TL301" and by_code["TL301"]["caused_by"] is None
    assert not any("capacity" in fix["text"] for fix in by_code["TL502"]["fixes"])
    assert "1 root cause (TL301)" in result.output
    assert "  ↳ " in result.output
