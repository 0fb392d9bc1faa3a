"""TL102 class-imbalance on fabricated class counts."""

import pytest
from data_factory import data_run

from trainlint.rules.data.class_imbalance import class_imbalance
from trainlint.rules.engine import evaluate


def counts_run(counts, samples=None, **kw):
    """One label per sample unless `samples` says fewer samples carried them (labels per token)."""
    scanned = samples if samples is not None else sum(counts.values()) if counts else 1000
    return data_run(data={"class_counts": counts, "samples_scanned": scanned}, **kw)


FIRES = [
    ("ratio_24", counts_run({0: 1108, 1: 46, 2: 46})),
    ("ratio_just_above", counts_run({0: 1001, 1: 100, 2: 500})),
    ("ratio_exactly_10", counts_run({0: 1000, 1: 100})),
    ("binary_bce", counts_run({0: 950, 1: 50}, task="binary", loss="BCEWithLogitsLoss", num_outputs=1)),
    ("no_weight_option", counts_run({0: 950, 1: 50}, loss="MultiLabelSoftMarginLoss")),
    ("one_label_per_sample_counted_on_a_sample", counts_run({0: 1000, 1: 100}, samples=1100)),
]

QUIET = [
    ("balanced", data_run()),
    ("breast_cancer_like", counts_run({0: 212, 1: 357})),
    ("ratio_just_below", counts_run({0: 999, 1: 100, 2: 500})),
    ("too_few_samples", counts_run({0: 18, 1: 1})),
    ("single_class", counts_run({0: 500})),
    ("ignore_index_not_a_class", counts_run({-100: 5000, 0: 100, 1: 100})),
    ("regression", data_run(task="regression", loss="MSELoss", data={"class_counts": None})),
    ("no_counts", counts_run(None)),
    ("labels_per_token", counts_run({0: 4000, 1: 900, 2: 60, 3: 40}, samples=417)),  # Zipf-like next tokens
]


def findings(run, **thresholds):
    found, skipped = evaluate(run, rules=[class_imbalance], thresholds={"class-imbalance": thresholds})
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL102" and f.severity.value == "warning"
    assert f.evidence["imbalance_ratio"] >= f.evidence["max_ratio"] == 10.0


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_cross_entropy_gets_inverse_frequency_weights():
    (f,) = findings(FIRES[0][1])
    assert f.evidence["majority_class"] == 0 and f.evidence["minority_class"] == 1
    assert f.evidence["minority_fraction"] == pytest.approx(46 / 1200)
    top = f.fixes[0]
    assert top.config_key == "loss.args.weight" and top.applicable
    assert top.value == pytest.approx([0.361, 8.696, 8.696] + [0.0] * 7, abs=1e-3)  # 10 outputs, 3 classes seen


def test_bce_gets_pos_weight():
    (f,) = findings(FIRES[3][1])
    assert f.fixes[0].config_key == "loss.args.pos_weight" and f.fixes[0].value == [19.0]


def test_threshold_override():
    assert findings(counts_run({0: 500, 1: 100}), max_ratio=4.0)
    assert findings(counts_run({0: 500, 1: 100})) == []
