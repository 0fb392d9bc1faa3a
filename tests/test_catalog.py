"""Catalog meta-tests: every DESIGN rule exists, is documented, has typed thresholds and tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trainlint.rules.base import Stage
from trainlint.rules.catalog import all_rules, find
from trainlint.rules.docs import REQUIRED_SECTIONS, render_doc
from trainlint.rules.selection import is_selected

DESIGN_CATALOG = {
    "TL001": "probe-crashed", "TL101": "label-out-of-range", "TL102": "class-imbalance",
    "TL103": "unnormalized-inputs", "TL104": "non-finite-inputs", "TL105": "shape-mismatch",
    "TL106": "input-independent-output", "TL201": "initial-loss-off", "TL202": "non-finite-loss",
    "TL203": "loss-not-decreasing", "TL204": "loss-diverging", "TL205": "loss-oscillating",
    "TL206": "loss-output-mismatch", "TL301": "lr-too-high", "TL302": "lr-too-low",
    "TL303": "scheduler-collapse", "TL401": "exploding-gradients", "TL402": "vanishing-gradients",
    "TL403": "dead-relu", "TL404": "saturated-activations", "TL405": "frozen-or-unused-parameters",
    "TL501": "overfitting", "TL502": "underfitting", "TL601": "data-loader-bottleneck",
    "TL602": "memory-growth", "TL603": "device-underused",
}
# Codes added beyond DESIGN §4's minimum catalog (issue 12: weight decay is blamed by its own code).
ADDED_CATALOG = {"TL304": "weight-decay-too-high", "TL604": "straggler-rank"}
RULE_TESTS = Path(__file__).parent / "rules"
FAULTS = Path(__file__).parents[1] / "configs" / "faults"


def test_every_design_rule_is_in_the_catalog_with_its_name():
    catalog = {r.code: r.name for r in all_rules()}
    assert catalog == DESIGN_CATALOG | ADDED_CATALOG


def test_codes_and_names_are_unique():
    rules = all_rules()
    assert len({r.code for r in rules}) == len(rules)
    assert len({r.name for r in rules}) == len(rules)


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_rule_is_documented(rule):
    doc = rule.doc
    for section in REQUIRED_SECTIONS:
        assert section in doc, f"{rule.code} lacks {section}"
    assert rule.summary and rule.summary.endswith(".")
    text = render_doc(rule)
    assert rule.code in text and "## Thresholds" in text


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_thresholds_have_defaults_and_descriptions(rule):
    rule.thresholds()  # every field defaulted
    for name, field in rule.thresholds.model_fields.items():
        assert field.description and len(field.description) > 15, f"{rule.code}.{name} undocumented"


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_rule_has_its_test_module(rule):
    pattern = f"test_{rule.code.lower()}_*.py"
    assert list(RULE_TESTS.glob(pattern)), f"no tests/rules/{pattern}"


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_rule_has_a_fault_config(rule):
    if rule.code == "TL603":
        pytest.skip("needs a CUDA machine; covered by fabricated records")
    if rule.code == "TL604":
        pytest.skip("needs several processes (torchrun); covered by tests/test_ddp.py with gloo")
    expecting = [p for p in FAULTS.glob("*.yaml")
                 if rule.code in re.findall(r"TL\d{3}", p.read_text().splitlines()[0])]
    assert expecting, f"no configs/faults/*.yaml expects {rule.code}"


def test_check_runs_exactly_the_rules_judgeable_from_one_batch():
    early = {r.code for r in all_rules() if r.stage != Stage.RUN}
    assert "TL001" in early and "TL206" in early  # crashes and loss/output form show on batch one
    assert not early & {"TL203", "TL204", "TL501", "TL602"}  # these need a run's history


@pytest.mark.parametrize(
    ("select", "ignore", "code", "selected"),
    [
        ([], [], "TL301", True),
        (["TL3"], [], "TL301", True),
        (["TL3"], [], "TL401", False),
        (["TL3"], ["TL301"], "TL301", False),
        (["TL301"], ["TL3"], "TL301", True),  # more specific wins
        (["TL3"], ["TL3"], "TL301", False),  # ignore wins ties
        (["lr-too-high"], [], "TL301", True),
        ([], ["lr-too-high"], "TL301", False),
        (["ALL"], ["TL4"], "TL401", False),
    ],
)
def test_selection(select, ignore, code, selected):
    assert is_selected(find(code), select, ignore) is selected


def test_rules_and_explain_commands(cli):
    listing = cli("rules")
    assert listing.exit_code == 0
    for code, name in (DESIGN_CATALOG | ADDED_CATALOG).items():
        assert re.search(rf"^{code}\s+{name}\s", listing.output, re.M)
    explained = cli("explain", "lr-too-high")
    assert explained.exit_code == 0 and "## How to fix" in explained.output and "## Thresholds" in explained.output
    assert cli("explain", "TL301").output == explained.output
    missing = cli("explain", "TL999")
    assert missing.exit_code == 2


def test_threshold_typo_in_spec_is_a_spec_error(cli, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("dataset: {name: iris}\nmodel: {name: mlp}\nloss: {name: cross_entropy}\n"
                    "optimizer: {name: adam}\nrules:\n  thresholds:\n    exploding-gradients: {max_grad_nrom: 5}\n")
    result = cli("probe", spec, "--out", tmp_path / "o", "--steps", "2")
    assert result.exit_code == 2
    assert "spec.yaml:7" in result.stderr and "max_grad_norm" in result.stderr
    spec.write_text(spec.read_text().replace("exploding-gradients", "exploding-gradient"))
    result = cli("probe", spec, "--out", tmp_path / "o", "--steps", "2")
    assert result.exit_code == 2 and "exploding-gradients" in result.stderr


def test_unknown_select_pattern_is_a_usage_error(cli, tmp_path):
    result = cli("probe", Path(__file__).parents[1] / "configs" / "quickstart.yaml", "--out", tmp_path / "o",
                 "--steps", "2", "--select", "TL9")
    assert result.exit_code == 2 and "TL9" in result.stderr
