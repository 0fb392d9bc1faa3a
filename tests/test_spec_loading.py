"""Good specs load as written: key positions, typed `--set` values, name spellings, safe YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainlint.components import losses, optimizers
from trainlint.spec import SpecError, load_spec
from trainlint.spec.loader import parse_value
from trainlint.spec.validate import check_names

SPEC = """\
dataset:
  name: digits
model:
  name: mlp
  args:
    hidden:
      - 128
      - 64
loss:
  name: cross_entropy
optimizer:
  name: adam
  lr: 1e-3
  args: {weight_decay: 1e-4}
"""


@pytest.fixture
def spec_path(tmp_path: Path) -> Path:
    path = tmp_path / "digits-mlp.yaml"
    path.write_text(SPEC)
    return path


def test_positions_of_nested_keys_and_list_items(spec_path):
    loaded = load_spec(spec_path)
    assert loaded.positions["dataset"] == (1, 1)
    assert loaded.positions["model.args.hidden"] == (6, 5)
    assert loaded.positions["model.args.hidden.0"] == (7, 9)
    assert loaded.positions["model.args.hidden.1"] == (8, 9)
    assert loaded.positions["optimizer.args.weight_decay"] == (14, 10)
    # An unwritten key falls back to its nearest written ancestor.
    assert loaded.position("model.args.dropout") == (5, 3)
    assert loaded.position("scheduler.name") is None


def test_exponent_floats_without_a_dot_are_floats(spec_path):
    spec = load_spec(spec_path).spec
    assert spec.optimizer.lr == pytest.approx(1e-3)
    # In a free-form mapping nothing coerces: YAML 1.1 would hand the optimizer the string "1e-4".
    assert spec.optimizer.args["weight_decay"] == pytest.approx(1e-4)
    assert isinstance(spec.optimizer.args["weight_decay"], float)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("3", 3), ("1e-3", 1e-3), ("-2.5E+2", -250.0), ("0.5", 0.5), ("true", True), ("false", False),
     ("[64, 32]", [64, 32]), ("null", None), ("", None), ("relu", "relu"), ("{a: 1}", {"a": 1}),
     ("1.2.3", "1.2.3"), ("[unclosed", "[unclosed")],
)
def test_override_values_are_typed(raw, value):
    assert parse_value(raw) == value
    assert type(parse_value(raw)) is type(value)


def test_overrides_apply_with_types(spec_path):
    loaded = load_spec(spec_path, [
        "probe.steps=7", "optimizer.lr=1e-2", "dataset.shuffle=false", "model.args.hidden=[64, 32]",
        "probe.clip_grad_norm=null", "optimizer.args.weight_decay=0", "model.args.hidden.1=16",
    ])
    spec = loaded.spec
    assert spec.probe.steps == 7
    assert spec.optimizer.lr == pytest.approx(1e-2)
    assert spec.dataset.shuffle is False
    assert spec.model.args["hidden"] == [64, 16]
    assert spec.probe.clip_grad_norm is None
    assert spec.optimizer.args["weight_decay"] == 0
    assert loaded.origin("probe.steps") == "--set probe.steps=7"
    assert loaded.origin("model.args.hidden.1") == "--set model.args.hidden.1=16"
    assert loaded.origin("loss.name") is None


def test_later_override_wins(spec_path):
    assert load_spec(spec_path, ["probe.steps=5", "probe.steps=9"]).spec.probe.steps == 9


def test_set_scheduler_creates_the_section(spec_path):
    from trainlint.components.schedulers import lookup

    loaded = load_spec(spec_path, ["scheduler.name=cosine", "scheduler.warmup_steps=10"])
    assert loaded.spec.scheduler.name == "cosine"
    assert loaded.spec.scheduler.warmup_steps == 10
    assert lookup(loaded.spec.scheduler.name) is not None
    check_names(loaded)  # no error
    assert loaded.origin("scheduler") == "--set scheduler.name=cosine"


def test_set_over_a_null_section(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SPEC + "scheduler: null\n")
    assert load_spec(path, ["scheduler.name=step"]).spec.scheduler.name == "step"


def test_name_defaults_to_the_file_stem(spec_path, tmp_path):
    assert load_spec(spec_path).name == "digits-mlp"
    named = tmp_path / "other.yaml"
    named.write_text("name: custom\n" + SPEC)
    assert load_spec(named).name == "custom"


@pytest.mark.parametrize("name", ["CrossEntropyLoss", "cross-entropy", "cross_entropy", "crossentropy"])
def test_loss_name_spellings(spec_path, name):
    loaded = load_spec(spec_path, [f"loss.name={name}"])
    check_names(loaded)
    assert losses.lookup(name).__name__ == "CrossEntropyLoss"


@pytest.mark.parametrize("name", ["AdamW", "adamw", "adam_w", "ADAMW"])
def test_optimizer_name_spellings(spec_path, name):
    loaded = load_spec(spec_path, [f"optimizer.name={name}"])
    check_names(loaded)
    assert optimizers.lookup(name).__name__ == "AdamW"


def test_yaml_is_loaded_safely(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.yaml"
    path.write_text(SPEC + f'name: !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(SpecError, match="is not allowed"):
        load_spec(path)
    assert not marker.exists()


def test_set_value_with_a_python_tag_stays_text(spec_path):
    loaded = load_spec(spec_path, ["name=!!python/object/apply:os.system [echo]"])
    assert loaded.spec.name == "!!python/object/apply:os.system [echo]"


def test_yaml_anchors_and_merge_keys(tmp_path):
    path = tmp_path / "anchors.yaml"
    path.write_text(SPEC + "compare:\n  optimizers:\n    - &fast {name: sgd, lr: 0.1}\n"
                    "    - {<<: *fast, name: adam}\n")
    loaded = load_spec(path)
    assert loaded.spec.compare.optimizers[1] == {"name": "adam", "lr": 0.1}
    check_names(loaded)


def test_spec_error_format():
    err = SpecError("must be a number", path="s.yaml", line=3, col=5, field="optimizer.lr",
                    suggestions=["a", "b"], accepted="x, y", more=2)
    assert str(err) == ("s.yaml:3:5: field `optimizer.lr`: must be a number. Did you mean `a` or `b`? "
                        "Accepted: x, y. (2 more problems after this one.)")
    assert str(SpecError("bad.", origin="--set a=1", field="a")) == "--set a=1: field `a`: bad."
