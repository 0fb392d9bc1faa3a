"""The spec text editor behind fixed.yaml: many shapes of YAML, each edit checked by reading it back.

Every case asserts three things: the result reads back as the original data plus the edits (also
checked inside `edit_text`), the user's comments survive, and only the edited lines differ.
"""

from __future__ import annotations

import difflib
import json

import pytest
import yaml
from conftest import CONFIGS

from trainlint.spec.loader import _SpecLoader, load_spec
from trainlint.verify.fixed_spec import fixed_text, relocations
from trainlint.verify.yaml_edit import Edit, YamlEditError, edit_text, expected_data, render_value


def read(text: str):
    return yaml.load(text, Loader=_SpecLoader)


def changed_lines(before: str, after: str) -> list[str]:
    """The lines of `after` that are new (what a reviewer sees as '+' in the diff)."""
    return [line[1:] for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line.startswith("+ ")]


CASES = [
    # (id, text, edits, how many lines may change)
    ("block_scalar_keeps_comment",
     "optimizer:\n  name: adam\n  lr: 0.3   # my lr\n", [Edit("optimizer.lr", 7e-05, "TL301")], 1),
    ("flow_scalar",
     "optimizer: {name: adam, lr: 0.3}\n", [Edit("optimizer.lr", 0.003, "TL301")], 1),
    ("flow_insert_nested_absent",
     "optimizer: {name: adam, lr: 0.3}\n", [Edit("optimizer.args.weight_decay", 0.0005, "TL502")], 1),
    ("flow_insert_into_empty_mapping",
     "dataset: {name: wine, args: {}}  # raw\n", [Edit("dataset.args.standardize", True, "TL103")], 1),
    ("block_empty_value",
     "dataset:\n  name: wine\n  args:\n  batch_size: 32\n", [Edit("dataset.args.standardize", True)], 1),
    ("block_null_value",
     "dataset:\n  name: wine\n  args: null  # none\n", [Edit("dataset.args.standardize", True)], 1),
    ("block_insert_after_last_entry",
     "probe:\n  steps: 200\n  # clip_grad_norm: 1.0\nrules: {}\n", [Edit("probe.clip_grad_norm", 3200.0, "TL401")], 1),
    ("block_insert_missing_section_two_levels",
     "dataset:\n  name: wine\n  batch_size: 32\nmodel: {name: mlp}\n", [Edit("dataset.args.standardize", True)], 1),
    ("root_insert_absent_section_before_trailing_comment",
     "name: x  # the name\nmodel: {name: mlp}\n# end of spec\n", [Edit("probe.clip_grad_norm", 1.0, "TL401")], 1),
    ("block_section_to_null",
     "name: x\nscheduler:   # optional\n  # the schedule\n  name: step\n  args: {step_size: 20}\n\nprobe: {steps: 5}\n",
     [Edit("scheduler", None, "TL303")], 3),
    ("flow_section_to_null",
     "name: x\nscheduler: {name: step, args: {step_size: 20, gamma: 0.001}}  # stepped\n",
     [Edit("scheduler", None, "TL303")], 1),
    ("absent_section_with_two_edits",
     "name: x\noptimizer: {name: sgd, lr: 0.5}\n",
     [Edit("scheduler.name", "none", "TL204"), Edit("scheduler.warmup_steps", 50, "TL204")], 1),
    ("two_edits_one_line_share_the_marker",
     "optimizer: {name: adam, lr: 0.3}\n",
     [Edit("optimizer.lr", 0.001, "TL301"), Edit("optimizer.args.weight_decay", 0.0005, "TL502")], 1),
    ("multi_line_flow_mapping",
     "optimizer: {name: adam, lr: 0.3,\n            args: {betas: [0.9, 0.99]}}\n",
     [Edit("optimizer.lr", 0.001), Edit("optimizer.args.weight_decay", 0.01)], 2),
    ("crlf_line_endings",
     "optimizer:\r\n  name: adam\r\n  lr: 0.3\r\nprobe:\r\n  steps: 10\r\n",
     [Edit("optimizer.lr", 0.01), Edit("probe.clip_grad_norm", 1.0)], 2),
    ("no_trailing_newline",
     "probe:\n  steps: 10", [Edit("probe.clip_grad_norm", 1.0), Edit("probe.steps", 20)], 2),
    ("document_marker_and_header_comments",
     "# my experiment\n---\nname: x\noptimizer:\n    name: adam   # four-space indent\n    lr: 0.3\n",
     [Edit("optimizer.lr", 0.001), Edit("optimizer.args.weight_decay", 0.0)], 2),
    ("quoted_key_and_hash_in_string",
     'name: "a # b"  # c\noptimizer:\n  "lr": 0.3\n  name: adam\n', [Edit("optimizer.lr", 0.02)], 1),
    ("block_list_to_flow_list",
     "model:\n  name: mlp\n  args:\n    hidden:\n      - 128\n      - 64\n    activation: relu\n",
     [Edit("model.args.hidden", [32])], 3),
    ("insert_after_block_literal",
     "name: x\nnotes: |\n  free text\n  more\nprobe:\n  steps: 1\n", [Edit("seed", 3)], 1),
    ("strings_that_need_quotes",
     "model: {name: mlp, args: {}}\n", [Edit("model.args.init", "yes"), Edit("model.args.norm", "1e-3")], 1),
    ("value_string_becomes_float",
     "optimizer: {name: adam, lr: '0.3'}\n", [Edit("optimizer.lr", 0.1)], 1),
    ("nested_block_mapping_replaced_by_flow",
     "loss:\n  name: cross_entropy\n  args:\n    label_smoothing: 0.1\n", [Edit("loss.args", {"weight": [1.0, 2.0]})], 3),
]


@pytest.mark.parametrize("text, edits, max_changed", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_edit_reads_back_and_keeps_the_rest(text, edits, max_changed):
    result = edit_text(text, edits)
    assert read(result) == expected_data(read(text), edits)
    for comment in [line.split("#", 1)[1] for line in text.splitlines() if " #" in line or line.startswith("#")]:
        assert comment in result  # every user comment survives
    changed = changed_lines(text, result)
    assert 0 < len(changed) <= max_changed, changed
    assert all("# trainlint:" in line or line.lstrip().startswith("#") for line in changed), changed


def test_block_scalar_marker_says_what_it_was():
    result = edit_text("optimizer:\n  name: adam\n  lr: 0.5\n", [Edit("optimizer.lr", 0.003, "TL301")])
    assert result == "optimizer:\n  name: adam\n  lr: 0.003  # trainlint: was 0.5 (TL301)\n"


def test_flow_marker_names_the_key_and_merges():
    result = edit_text("optimizer: {name: adam, lr: 0.3}\n",
                       [Edit("optimizer.lr", 0.001, "TL301"), Edit("optimizer.args.weight_decay", 0.0005, "TL502")])
    assert result == ("optimizer: {name: adam, lr: 0.001, args: {weight_decay: 0.0005}}  # trainlint: optimizer.lr "
                      "was 0.3 (TL301); optimizer.args.weight_decay added (TL502)\n")


def test_block_section_set_to_null_keeps_its_lines_commented():
    text = "scheduler:\n  name: step  # per epoch?\n  args: {step_size: 20}\nprobe: {steps: 5}\n"
    result = edit_text(text, [Edit("scheduler", None, "TL303")])
    assert result == ("scheduler: null  # trainlint: was the section commented out below (TL303)\n"
                      "#  name: step  # per epoch?\n#  args: {step_size: 20}\nprobe: {steps: 5}\n")


def test_absent_key_in_block_mapping_goes_after_the_last_entry_at_its_indent():
    text = "probe:\n    steps: 200\n    eval_every: 25\nrules: {}\n"
    result = edit_text(text, [Edit("probe.clip_grad_norm", 1.0, "TL401")])
    assert result == ("probe:\n    steps: 200\n    eval_every: 25\n    clip_grad_norm: 1.0  # trainlint: added "
                      "(TL401)\nrules: {}\n")


def test_without_marks_only_values_change():
    result = edit_text("optimizer: {name: adam, lr: 0.3}  # mine\n", [Edit("optimizer.lr", 0.01)], mark=False)
    assert result == "optimizer: {name: adam, lr: 0.01}  # mine\n"


def test_render_value_round_trips_and_floats_keep_a_dot():
    assert render_value(7e-05) == "7.0e-05" and render_value(0.003) == "0.003" and render_value(None) == "null"
    assert render_value("yes") == "'yes'" and render_value([64, 32]) == "[64, 32]"
    for value in (7e-05, 1e-7, 3, True, None, "kaiming", "yes", "1e-3", [1.0, 2.5], {"a": {"b": [1]}}):
        assert read(f"k: {render_value(value)}\n") == {"k": value}


def test_shared_alias_is_refused_and_written_afresh():
    text = "optimizer: &opt {name: adam, lr: 0.3}\ncompare:\n  optimizers: [*opt]\n"
    with pytest.raises(YamlEditError, match="alias"):
        edit_text(text, [Edit("optimizer.lr", 0.01)])


def test_a_scalar_in_the_way_is_an_error():
    with pytest.raises(YamlEditError, match="not a mapping"):
        edit_text("optimizer: adam\n", [Edit("optimizer.lr", 0.01)])


ALL_SPECS = sorted([*CONFIGS.glob("*.yaml"), *(CONFIGS / "healthy").glob("*.yaml"), *(CONFIGS / "faults").glob("*.yaml")])


def _standard_edits(loaded) -> list[Edit]:
    spec = loaded.spec
    edits = [Edit("optimizer.lr", spec.optimizer.lr / 10, "TL301"), Edit("probe.clip_grad_norm", 2.5, "TL401"),
             Edit("optimizer.args.weight_decay", 0.0005, "TL501"), Edit("scheduler", None, "TL303")]
    if spec.dataset.name:
        edits.append(Edit("dataset.args.standardize", True, "TL103"))
    if spec.model.name:
        edits += [Edit("model.args.init", "kaiming", "TL403"), Edit("model.args.dropout", 0.1, "TL501")]
    return edits


@pytest.mark.parametrize("path", ALL_SPECS, ids=lambda p: p.stem)
def test_every_bundled_spec_takes_the_usual_fixes(tmp_path, path):
    """Each shipped spec, fixed with a typical set of edits, loads as the original plus those edits."""
    loaded = load_spec(path)
    edits = _standard_edits(loaded)
    result = edit_text(loaded.text, edits)
    fixed = tmp_path / path.name
    fixed.write_text(result)
    want = load_spec(path, [f"{e.key}={json.dumps(e.value)}" for e in edits]).spec
    assert load_spec(fixed).spec == want
    assert all(line in result.splitlines() for line in loaded.text.splitlines() if line.startswith("#"))


def test_fixed_spec_elsewhere_points_at_the_same_model_file(tmp_path):
    loaded = load_spec(CONFIGS / "faults" / "tl206_softmax_cross_entropy.yaml")
    edits = relocations(loaded, tmp_path)
    assert [e.key for e in edits] == ["model.target"]
    module, _, attr = edits[0].value.rpartition(":")
    assert (tmp_path / module).resolve() == (CONFIGS / "faults" / "tl206_model.py").resolve() and attr == "SoftmaxMLP"
    text, note = fixed_text(loaded, [Edit("optimizer.lr", 0.01, "TL301")], tmp_path / "fixed.yaml")
    assert note is None and "model.target was ./tl206_model.py:SoftmaxMLP (path relative to this file)" in text
    assert relocations(loaded, loaded.base_dir) == []


def test_uneditable_text_is_written_afresh_with_a_note(tmp_path):
    spec = tmp_path / "aliased.yaml"
    spec.write_text("dataset: &d {name: digits}\nmodel: {name: mlp}\nloss: {name: cross_entropy}\n"
                    "optimizer: {name: adam, lr: 0.3}\ncompare: {losses: [*d]}\n")
    loaded = load_spec(spec)
    text, note = fixed_text(loaded, [Edit("dataset.args.standardize", True, "TL103")], spec)
    assert note and "could not be kept" in note and text.startswith("# Written by trainlint")
    assert read(text)["dataset"] == {"name": "digits", "args": {"standardize": True}}


def test_expected_data_creates_and_replaces_sections():
    data = {"scheduler": None, "probe": {"steps": 5}}
    edits = [Edit("scheduler.warmup_steps", 10), Edit("probe.clip_grad_norm", 1.0), Edit("x.y.z", 1)]
    assert expected_data(data, edits) == {"scheduler": {"warmup_steps": 10},
                                          "probe": {"steps": 5, "clip_grad_norm": 1.0}, "x": {"y": {"z": 1}}}
    assert data == {"scheduler": None, "probe": {"steps": 5}}  # not mutated

