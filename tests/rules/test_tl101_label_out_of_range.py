"""TL101 label-out-of-range on fabricated label counts and output widths."""

import pytest
from data_factory import crash, data_run

from trainlint.rules.data.label_out_of_range import label_out_of_range
from trainlint.rules.engine import evaluate

BALANCED = {c: 100 for c in range(10)}
ONE_BASED = {c: 100 for c in range(1, 11)}

FIRES = [
    ("one_based_labels_crash", data_run(data={"class_counts": ONE_BASED, "target_min": 1.0, "target_max": 10.0,
                                              "is_builtin": False}, crash=crash())),
    ("one_label_just_above", data_run(data={"class_counts": BALANCED | {10: 1}, "target_max": 10.0})),
    ("negative_label", data_run(data={"class_counts": {-1: 5} | BALANCED, "target_min": -1.0})),
    ("model_too_narrow", data_run(fb={"output_shape": [64, 5]})),
    ("single_logit_binary_ce", data_run(task="binary", num_outputs=2, fb={"output_shape": [64, 1]},
                                        data={"class_counts": {0: 300, 1: 200}, "target_max": 1.0})),
    ("forward_crashed_use_num_outputs", data_run(no_first_batch=True, data={"class_counts": BALANCED | {12: 3}})),
    ("bce_minus_one_targets", data_run(task="binary", loss="BCEWithLogitsLoss", num_outputs=1,
                                       data={"class_counts": {-1: 300, 1: 200}, "target_min": -1.0,
                                             "target_max": 1.0})),
]

QUIET = [
    ("healthy", data_run()),
    ("top_label_just_inside", data_run(data={"class_counts": {0: 5, 9: 5}})),
    ("ignore_index_padding", data_run(data={"class_counts": {-100: 50} | BALANCED, "target_min": -100.0})),
    ("regression", data_run(task="regression", loss="MSELoss", num_outputs=1,
                            data={"class_counts": None, "target_min": 25.0, "target_max": 346.0})),
    ("soft_labels", data_run(data={"class_counts": None, "target_min": 0.0, "target_max": 1.0},
                             fb={"target_shape": [64, 10], "target_dtype": "float32"})),
    ("bce_targets_in_unit_interval", data_run(task="binary", loss="BCEWithLogitsLoss", num_outputs=1,
                                              data={"class_counts": {0: 300, 1: 200}, "target_max": 1.0})),
    ("other_loss", data_run(loss="MSELoss", fb={"output_shape": [64, 1]})),
    ("nothing_scanned", data_run(data={"class_counts": None, "target_min": None, "target_max": None})),
]


def findings(run, **thresholds):
    found, skipped = evaluate(run, rules=[label_out_of_range], thresholds={"label-out-of-range": thresholds})
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL101" and f.severity.value == "error"
    assert f.fixes


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_one_based_evidence_and_fix():
    (f,) = findings(FIRES[0][1])
    assert f.evidence["label_min"] == 1 and f.evidence["label_max"] == 10
    assert f.evidence["num_outputs"] == 10 and f.evidence["labels_out_of_range"] == [10]
    assert f.evidence["n_out_of_range"] == 100 and f.evidence["fraction"] == pytest.approx(0.1)
    assert "subtract 1" in f.fixes[0].text and f.config_key == "dataset"


def test_narrow_user_model_blames_model_and_width():
    (f,) = findings(FIRES[3][1])
    assert f.evidence["num_outputs"] == 5 and f.evidence["labels_out_of_range"] == [5, 6, 7, 8, 9]
    assert f.config_key == "model" and "10 class outputs" in f.fixes[0].text


def test_bce_targets_suggest_soft_margin():
    (f,) = findings(FIRES[-1][1])
    assert f.evidence["target_min"] == -1.0
    assert f.fixes[1].config_key == "loss.name" and f.fixes[1].value == "soft_margin"


def test_one_based_that_fits_is_info_only():
    run = data_run(num_outputs=10, data={"class_counts": {c: 100 for c in range(1, 10)}, "target_min": 1.0})
    (f,) = findings(run)
    assert f.severity.value == "info" and f.evidence["unused_output"] == 0
    assert findings(run, report_one_based=False) == []
