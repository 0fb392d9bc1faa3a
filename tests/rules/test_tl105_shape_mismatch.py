"""TL105 shape-mismatch on fabricated first-batch shapes."""

import pytest
from data_factory import crash, data_run

from trainlint.rules.data.shape_mismatch import shape_mismatch
from trainlint.rules.engine import evaluate

WARNING = ("Using a target size (torch.Size([32, 1])) that is different to the input size (torch.Size([32])). "
           "This will likely lead to incorrect results due to broadcasting. Please ensure they have the same size.")


def shapes(out, tgt, loss="CrossEntropyLoss", task="multiclass", target_dtype="int64", **fb):
    return data_run(task=task, loss=loss, fb={"output_shape": out, "target_shape": tgt,
                                              "target_dtype": target_dtype} | fb)


def reg(out, tgt, loss="MSELoss", **fb):
    return shapes(out, tgt, loss=loss, task="regression", target_dtype="float32", **fb)


FIRES = [
    ("mse_squeezed_output", reg([32], [32, 1], loss_warnings=[WARNING])),
    ("mse_squeezed_target", reg([32, 1], [32])),
    ("l1_two_outputs_one_target", reg([32, 2], [32, 1], loss="L1Loss")),
    ("ce_target_column", shapes([64, 10], [64, 1])),
    ("ce_batch_mismatch", shapes([128, 10], [64])),
    ("bce_target_squeezed", shapes([32, 1], [32], loss="BCEWithLogitsLoss", task="binary", target_dtype="float32")),
    ("custom_loss_warned", reg([32], [32, 1], loss="MyLoss", loss_warnings=[WARNING])),
    ("crashed_ce_column", data_run(fb={"target_shape": [64, 1]},
                                   crash=crash("0D or 1D target tensor expected, multi-target not supported"))),
]

QUIET = [
    ("ce_indices", data_run()),
    ("ce_soft_labels", shapes([64, 10], [64, 10], target_dtype="float32")),
    ("ce_per_position", shapes([8, 5, 20], [8, 20])),
    ("mse_matching", reg([32, 1], [32, 1])),
    ("mse_multi_target", reg([32, 2], [32, 2])),
    ("custom_loss_no_warning", reg([32], [32, 1], loss="MyLoss")),
    ("unrelated_warning", reg([32], [32, 1], loss="MyLoss", loss_warnings=["enable_nested_tensor is True"])),
    ("forward_never_ran", shapes([], [64])),
]


def findings(run):
    found, skipped = evaluate(run, rules=[shape_mismatch])
    assert not skipped
    return found


@pytest.mark.parametrize("name, run", FIRES, ids=[n for n, _ in FIRES])
def test_fires(name, run):
    (f,) = findings(run)
    assert f.code == "TL105" and f.severity.value == "error" and f.step == 0


@pytest.mark.parametrize("name, run", QUIET, ids=[n for n, _ in QUIET])
def test_quiet(name, run):
    assert findings(run) == []


def test_broadcast_to_all_pairs_is_explained():
    (f,) = findings(FIRES[0][1])
    assert f.evidence["output_shape"] == [32] and f.evidence["target_shape"] == [32, 1]
    assert f.evidence["broadcast_shape"] == [32, 32] and f.evidence["expected_target_shapes"] == [[32]]
    assert "(32, 32)" in f.message and f.evidence["loss_warnings"] == [WARNING]
    assert f.config_key == "model"  # built-in data: the user's model is the side to change
    assert "view(-1)" in f.fixes[0].text and "squeeze" in f.fixes[1].text


def test_cross_entropy_column_target():
    (f,) = findings(FIRES[3][1])
    assert f.evidence["expected_target_shapes"] == [[64], [64, 10]]
    assert f.evidence["broadcast_shape"] == [64, 10] and "broadcast" not in f.message
    assert "a scalar" in f.fixes[0].text


def test_crash_is_recorded_in_evidence():
    (f,) = findings(FIRES[-1][1])
    assert f.evidence["crashed"] is True


def test_user_data_blames_dataset():
    run = reg([32, 1], [32])
    run.data.is_builtin = False
    (f,) = findings(run)
    assert f.config_key == "dataset"
