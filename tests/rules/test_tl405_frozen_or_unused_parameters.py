"""TL405 frozen-or-unused-parameters on fabricated parameter lists."""

import pytest
from gradients_factory import params_run

from trainlint.rules.base import Severity
from trainlint.rules.engine import evaluate
from trainlint.rules.gradients.frozen_or_unused_parameters import frozen_or_unused_parameters

FIRES = [  # (name, run, expected severities)
    ("unused_layer", params_run(["refine.weight", "refine.bias"]), ["warning"]),
    ("frozen_backbone", params_run([], ["backbone.0.weight"], n_trainable=400), ["info"]),
    ("both", params_run(["refine.weight"], ["backbone.0.weight"]), ["warning", "info"]),
    ("at_min_steps", params_run(["refine.weight"], steps=5), ["warning"]),
]

QUIET = [
    ("all_used", params_run([])),
    ("too_few_steps", params_run(["refine.weight"], steps=4)),
]


def findings(run, **thresholds):
    found, skipped = evaluate(run, rules=[frozen_or_unused_parameters],
                              thresholds={"frozen-or-unused-parameters": thresholds})
    assert not skipped
    return found


@pytest.mark.parametrize("name, run, severities", FIRES, ids=[n for n, _, _ in FIRES])
def test_fires(name, run, severities):
    assert [f.severity.value for f in findings(run)] == severities
    assert all(f.code == "TL405" and f.config_key == "model" for f in findings(run))


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_unused_evidence():
    (f,) = findings(params_run(["refine.weight", "refine.bias", "extra"]))
    assert f.severity == Severity.WARNING
    assert f.evidence["params_never_grad"] == ["refine.weight", "refine.bias", "extra"]
    assert f.evidence["layers"] == ["extra", "refine"]
    assert "`refine`" in f.fixes[0].text


def test_frozen_is_info_with_share():
    (f,) = findings(params_run([], ["backbone.0.weight"], n_params=1000, n_trainable=400))
    assert f.severity == Severity.INFO and f.evidence["frozen_share"] == pytest.approx(0.6)
    assert "60%" in f.message


def test_frozen_can_be_silenced():
    assert findings(params_run([], ["backbone.0.weight"]), report_frozen=False) == []


def test_long_lists_are_shortened():
    (f,) = findings(params_run([f"p{i}" for i in range(12)]))
    assert "and 7 more" in f.message
