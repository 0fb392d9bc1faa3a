"""TL104 non-finite-inputs on fabricated NaN counts."""

import pytest
from data_factory import data_run

from trainlint.rules.data.non_finite_inputs import non_finite_inputs
from trainlint.rules.engine import evaluate

FIRES = [
    ("csv_empty_cells", data_run(data={"n_nonfinite_inputs": 42, "n_features": 6, "samples_scanned": 320})),
    ("one_nan_input", data_run(data={"n_nonfinite_inputs": 1})),
    ("nan_targets", data_run(task="regression", loss="MSELoss", data={"n_nonfinite_targets": 3})),
    ("all_nan_after_standardising", data_run(data={"n_nonfinite_inputs": 64000})),
]

QUIET = [
    ("clean", data_run()),
    ("nothing_scanned", data_run(data={"samples_scanned": 0, "n_nonfinite_inputs": 0})),
]


def findings(run, **thresholds):
    found, skipped = evaluate(run, rules=[non_finite_inputs], thresholds={"non-finite-inputs": thresholds})
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL104" and f.severity.value == "error" and f.config_key == "dataset"


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_evidence_counts_and_fraction():
    (f,) = findings(FIRES[0][1])
    assert f.evidence["n_nonfinite_inputs"] == 42
    assert f.evidence["nonfinite_input_fraction"] == pytest.approx(42 / (6 * 320))
    assert f.evidence["max_nonfinite_fraction"] == 0.0
    assert "impute" in f.fixes[0].text


def test_targets_get_their_own_fix():
    (f,) = findings(FIRES[2][1])
    assert f.evidence["n_nonfinite_targets"] == 3 and "target" in f.fixes[0].text


def test_tolerated_fraction_just_below_and_above():
    run = data_run(data={"n_nonfinite_inputs": 64, "n_features": 64, "samples_scanned": 1000})  # 0.1 %
    assert findings(run, max_nonfinite_fraction=0.001) == []
    assert findings(run, max_nonfinite_fraction=0.0009)
