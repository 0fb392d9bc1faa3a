"""Bad specs and bad command lines: one located paragraph on stderr, exit 2, never a traceback.

Every case goes through the real CLI. Each names where the problem is (file:line:col, or the
`--set` it came from), the field, what is wrong and, where one is close, the name meant.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from trainlint.cli import app

# Line numbers below refer to this text (line 1 is `name: t`).
BASE = """\
name: t
dataset:
  name: digits
  batch_size: 32
model:
  name: mlp
  args: {hidden: [16]}
loss:
  name: cross_entropy
optimizer:
  name: adam
  lr: 0.001
probe:
  steps: 3
"""

MODELS_PY = """\
import torch


class Net(torch.nn.Module):
    def __init__(self, hidden=8):
        super().__init__()
        self.layer = torch.nn.Linear(64, 10)

    def forward(self, x):
        return self.layer(x)


def broken(**kwargs):
    raise ValueError("hidden must be positive")
"""


def invoke(tmp_path: Path, text: str | bytes | None = BASE, *args: str, spec: Path | None = None):
    """Write ``text`` as the spec (unless ``spec`` is given) and run `trainlint probe` on it."""
    if spec is None:
        spec = tmp_path / "spec.yaml"
        if isinstance(text, bytes):
            spec.write_bytes(text)
        else:
            spec.write_text(text)
    result = CliRunner().invoke(app, ["probe", str(spec), "--out", str(tmp_path / "out"), *args])
    return spec, result


def edit(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def assert_error(result, where: str, field: str | None, *fragments: str, suggest: str | None = None) -> str:
    """Exit 2 and one `error: <where>: field `x`: ...` paragraph holding every fragment."""
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"error: {where}: "), err
    if field is not None:
        assert f"field `{field}`: " in err, err
    for fragment in fragments:
        assert fragment in err, err
    if suggest is not None:
        assert f"Did you mean `{suggest}`" in err, err
    return err


# --- the file itself -------------------------------------------------------------------------


def test_file_does_not_exist(tmp_path):
    spec, result = invoke(tmp_path, spec=tmp_path / "nope.yaml")
    assert_error(result, str(spec), None, "does not exist")


def test_directory(tmp_path):
    spec, result = invoke(tmp_path, spec=tmp_path)
    assert_error(result, str(spec), None, "is a directory")


def test_binary_file(tmp_path):
    spec, result = invoke(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert_error(result, str(spec), None, "binary file")


def test_not_utf8(tmp_path):
    spec, result = invoke(tmp_path, "name: caf\xe9\n".encode("latin-1"))
    assert_error(result, f"{spec}:1", None, "not UTF-8")


def test_empty_file(tmp_path):
    spec, result = invoke(tmp_path, "# only a comment\n")
    assert_error(result, str(spec), None, "the spec is empty", "dataset, model, loss, optimizer")


def test_spec_is_a_list(tmp_path):
    spec, result = invoke(tmp_path, "- dataset\n- model\n")
    assert_error(result, f"{spec}:1:1", None, "must be a mapping of sections", "not a list")


def test_yaml_syntax_error_points_at_the_problem(tmp_path):
    spec, result = invoke(tmp_path, edit("  batch_size: 32\n", "  batch_size: [32\n"))
    # The unclosed `[` on line 4 is noticed at `model:` (line 5, column 6).
    assert_error(result, f"{spec}:5:6", None, "YAML syntax error", "starts at line 4")


def test_yaml_bad_indentation(tmp_path):
    spec, result = invoke(tmp_path, edit("  batch_size: 32", "   batch_size: 32"))
    assert_error(result, f"{spec}:4:14", None, "YAML syntax error", "mapping values are not allowed")


def test_yaml_tab_indentation(tmp_path):
    spec, result = invoke(tmp_path, edit("  batch_size: 32", "\tbatch_size: 32"))
    assert_error(result, f"{spec}:4:1", None, "YAML syntax error", "spaces, not tabs")


def test_duplicate_key(tmp_path):
    spec, result = invoke(tmp_path, BASE + "optimizer:\n  name: sgd\n")
    assert_error(result, f"{spec}:15:1", "optimizer", "given twice", "first at line 10")


def test_python_tag_is_refused_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    text = BASE + f'x: !!python/object/apply:os.system ["touch {marker}"]\n'
    spec, result = invoke(tmp_path, text)
    assert_error(result, f"{spec}:15:4", None, "`!!python/object/apply:os.system` is not allowed")
    assert not marker.exists()


def test_recursive_alias(tmp_path):
    spec, result = invoke(tmp_path, BASE + "compare:\n  losses: &loop [*loop]\n")
    assert_error(result, f"{spec}:16:11", "compare.losses.0", "refers to a mapping or list that contains it")


def test_more_than_one_document(tmp_path):
    spec, result = invoke(tmp_path, BASE + "---\nname: second\n")
    assert_error(result, f"{spec}:15:1", None, "YAML syntax error", "single document")


# --- schema: keys, types, values ---------------------------------------------------------------


def test_unknown_top_level_key_suggests_section(tmp_path):
    spec, result = invoke(tmp_path, edit("optimizer:", "optimzer:"))
    err = assert_error(result, f"{spec}:10:1", "optimzer", "unknown key `optimzer`", suggest="optimizer")
    # The missing `optimizer` is the same typo, not a second problem.
    assert "more problem" not in err


def test_unknown_key_in_dataset_suggests_batch_size(tmp_path):
    spec, result = invoke(tmp_path, edit("batch_size: 32", "batchsize: 32"))
    assert_error(result, f"{spec}:4:3", "dataset.batchsize", "unknown key `batchsize`",
                 "Accepted: name, target, args, batch_size", suggest="batch_size")


def test_wrong_type(tmp_path):
    spec, result = invoke(tmp_path, edit("batch_size: 32", 'batch_size: "sixty"'))
    assert_error(result, f"{spec}:4:3", "dataset.batch_size", 'must be a whole number, got "sixty"')


@pytest.mark.parametrize("lr", ["-0.1", "0"])
def test_non_positive_lr(tmp_path, lr):
    spec, result = invoke(tmp_path, edit("lr: 0.001", f"lr: {lr}"))
    assert_error(result, f"{spec}:12:3", "optimizer.lr", f"must be greater than 0, got {lr}")


def test_section_that_is_not_a_mapping(tmp_path):
    spec, result = invoke(tmp_path, edit("probe:\n  steps: 3\n", "probe: 3\n"), "--steps", "3")
    assert_error(result, f"{spec}:13:1", "probe", "must be a mapping", "got 3")


def test_pattern_field_lists_accepted_values(tmp_path):
    spec, result = invoke(tmp_path, "device: gpu\n" + BASE)
    assert_error(result, f"{spec}:1:1", "device", 'got "gpu"', "Accepted: auto|cpu|cuda|cuda:N")


def test_union_location_is_a_clean_path(tmp_path):
    spec, result = invoke(tmp_path, BASE + "compare:\n  losses: [mse, 3]\n")
    err = assert_error(result, f"{spec}:16:17", "compare.losses.1", "must be text or a mapping", "got 3")
    assert "dict[" not in err and "`str`" not in err


def test_missing_required_section(tmp_path):
    spec, result = invoke(tmp_path, edit("loss:\n  name: cross_entropy\n", ""))
    assert_error(result, str(spec), "loss", "required section `loss` is missing")


def test_name_and_target_both_given(tmp_path):
    spec, result = invoke(tmp_path, edit("  name: mlp\n", "  name: mlp\n  target: models.py:Net\n"))
    assert_error(result, f"{spec}:5:1", "model", "either `name` or `target`, not both")


def test_neither_name_nor_target(tmp_path):
    spec, result = invoke(tmp_path, edit("  name: mlp\n", ""))
    assert_error(result, f"{spec}:5:1", "model", "needs `name:`", "or `target:`")


def test_scheduler_without_name(tmp_path):
    spec, result = invoke(tmp_path, BASE + "scheduler:\n  warmup_steps: 5\n")
    assert_error(result, f"{spec}:15:1", "scheduler", "needs `name:`")


# --- names checked against the registries ------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "where", "field", "what", "suggest"),
    [
        ("name: cross_entropy", "name: cross_entropyy", "9:3", "loss.name", "unknown loss", "cross_entropy"),
        ("name: adam", "name: adamm", "11:3", "optimizer.name", "unknown optimizer", "adam"),
        ("name: mlp", "name: mpl", "6:3", "model.name", "unknown model", "mlp"),
        ("name: digits", "name: digit", "3:3", "dataset.name", "unknown dataset", "digits"),
    ],
)
def test_unknown_name(tmp_path, old, new, where, field, what, suggest):
    spec, result = invoke(tmp_path, edit(old, new))
    assert_error(result, f"{spec}:{where}", field, f"{what} `{new.split()[-1]}`", "Accepted: ",
                 suggest=suggest)


def test_unknown_scheduler(tmp_path):
    spec, result = invoke(tmp_path, BASE + "scheduler:\n  name: cosin\n")
    assert_error(result, f"{spec}:16:3", "scheduler.name", "unknown scheduler `cosin`", suggest="cosine")


def test_unsupported_optimizer_gives_its_reason(tmp_path):
    spec, result = invoke(tmp_path, edit("name: adam", "name: lbfgs"))
    err = assert_error(result, f"{spec}:11:3", "optimizer.name", "not supported by the probe",
                       "needs a closure", "Accepted: ")
    assert "Did you mean" not in err


def test_unknown_compare_variant(tmp_path):
    spec, result = invoke(tmp_path, BASE + "compare:\n  optimizers: [sgd, adamm]\n")
    assert_error(result, f"{spec}:16:21", "compare.optimizers.1", "unknown optimizer `adamm`",
                 suggest="adam")


def test_unknown_model_argument(tmp_path):
    spec, result = invoke(tmp_path, edit("{hidden: [16]}", "{hiden: [16]}"))
    err = assert_error(result, f"{spec}:7:10", "model.args.hiden", "no argument `hiden`", suggest="hidden")
    assert "did you mean" not in err  # moved to the one "Did you mean" slot, not repeated


# --- `target:` -------------------------------------------------------------------------------


def test_target_file_does_not_exist(tmp_path):
    spec, result = invoke(tmp_path, edit("name: mlp", "target: nofile.py:Net"))
    assert_error(result, f"{spec}:6:3", "model.target", "file `nofile.py` does not exist",
                 str(tmp_path))


def test_target_attribute_does_not_exist(tmp_path):
    (tmp_path / "models.py").write_text(MODELS_PY)
    spec, result = invoke(tmp_path, edit("name: mlp", "target: models.py:Nett"))
    assert_error(result, f"{spec}:6:3", "model.target", "has no attribute `Nett`",
                 "defined there: Net, broken", suggest="Net")


def test_target_raising_on_construction(tmp_path):
    (tmp_path / "models.py").write_text(MODELS_PY)
    spec, result = invoke(tmp_path, edit("name: mlp", "target: models.py:broken"))
    assert_error(result, f"{spec}:6:3", "model.target", "ValueError: hidden must be positive")


def test_target_module_next_to_spec_gets_a_hint(tmp_path):
    (tmp_path / "my_models_xyz.py").write_text(MODELS_PY)
    spec, result = invoke(tmp_path, edit("name: mlp", "target: my_models_xyz:Net"))
    assert_error(result, f"{spec}:6:3", "model.target", "cannot import module `my_models_xyz`",
                 "write `my_models_xyz.py:Net`")


def test_target_file_raising_system_exit_on_import(tmp_path):
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(5)\n")
    spec, result = invoke(tmp_path, edit("name: mlp", "target: exits.py:Net"))
    assert_error(result, f"{spec}:6:3", "model.target", "raised SystemExit")


def test_target_without_attribute(tmp_path):
    spec, result = invoke(tmp_path, edit("name: mlp", "target: models.py"))
    assert_error(result, f"{spec}:6:3", "model.target", "is not a target", "path/to/file.py:attr")


# --- --set and other command-line options -----------------------------------------------------


def test_set_unknown_path_suggests(tmp_path):
    _, result = invoke(tmp_path, BASE, "--set", "optimizer.lrr=0.1")
    assert_error(result, "--set optimizer.lrr=0.1", "optimizer.lrr", "unknown key `lrr`", suggest="lr")


def test_set_unknown_section(tmp_path):
    _, result = invoke(tmp_path, BASE, "--set", "optimiser.lr=0.1")
    assert_error(result, "--set optimiser.lr=0.1", "optimiser", "unknown key", suggest="optimizer")


def test_set_wrong_type(tmp_path):
    _, result = invoke(tmp_path, BASE, "--set", "probe.steps=abc")
    assert_error(result, "--set probe.steps=abc", "probe.steps", 'must be a whole number, got "abc"')


def test_set_wrong_type_is_reported_even_if_a_flag_overrides_it(tmp_path):
    _, result = invoke(tmp_path, BASE, "--set", "probe.steps=abc", "--steps", "3")
    assert_error(result, "--set probe.steps=abc", "probe.steps", "must be a whole number")


def test_set_bad_value_points_at_the_set_not_the_file(tmp_path):
    _, result = invoke(tmp_path, BASE, "--set", "optimizer.lr=-1")
    err = assert_error(result, "--set optimizer.lr=-1", "optimizer.lr", "must be greater than 0")
    assert "spec.yaml" not in err


def test_set_unknown_name_points_at_the_set(tmp_path):
    _, result = invoke(tmp_path, BASE, "--set", "optimizer.name=adamm")
    assert_error(result, "--set optimizer.name=adamm", "optimizer.name", "unknown optimizer",
                 suggest="adam")


def test_set_without_equals(tmp_path):
    _, result = invoke(tmp_path, BASE, "--set", "optimizer.lr")
    assert_error(result, "--set optimizer.lr", None, "key.path=value")


def test_set_below_a_single_value(tmp_path):
    _, result = invoke(tmp_path, BASE, "--set", "optimizer.name.x=1")
    assert_error(result, "--set optimizer.name.x=1", "optimizer.name", "single value, not a section")


def test_set_list_index_out_of_range(tmp_path):
    _, result = invoke(tmp_path, BASE, "--set", "model.args.hidden.4=8")
    assert_error(result, "--set model.args.hidden.4=8", "model.args.hidden.4", "not an index")


def test_set_creates_a_section_that_then_lacks_a_name(tmp_path):
    _, result = invoke(tmp_path, BASE, "--set", "scheduler.warmup_steps=3")
    assert_error(result, "--set scheduler.warmup_steps=3", "scheduler", "needs `name:`")


def test_set_empty_key_part(tmp_path):
    _, result = invoke(tmp_path, BASE, "--set", "optimizer..lr=1")
    assert_error(result, "--set optimizer..lr=1", None, "has an empty part")


def test_set_index_into_an_absent_list(tmp_path):
    _, result = invoke(tmp_path, BASE, "--set", "rules.select.0=TL1")
    assert_error(result, "--set rules.select.0=TL1", "rules.select.0", "not an index", "(0 items)")


def test_output_folder_name_must_be_plain(tmp_path):
    spec, result = invoke(tmp_path, edit("name: t", "name: ../escape"))
    assert_error(result, f"{spec}:1:1", "name", "cannot name the output folder")


def test_device_flag_is_checked(tmp_path):
    _, result = invoke(tmp_path, BASE, "--device", "gpu")
    assert_error(result, "--device gpu", "device", 'got "gpu"', "auto|cpu|cuda|cuda:N")


@pytest.mark.parametrize("flag, value, field", [("--seed", "99999999999999999999", "seed"),
                                                ("--steps", "99999999999", "probe.steps")])
def test_shortcut_flags_are_named_as_typed(tmp_path, flag, value, field):
    _, result = invoke(tmp_path, BASE, flag, value)
    err = assert_error(result, f"{flag} {value}", field, "must be less than or equal to")
    assert "--set" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_flag_without_cuda_names_the_flag(tmp_path):
    _, result = invoke(tmp_path, BASE, "--device", "cuda")
    err = assert_error(result, "--device cuda", "device", "CUDA was requested but is not available here",
                       "Accepted: auto, cpu")
    assert "--set" not in err and "spec.yaml" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_in_the_spec_without_cuda_names_the_spec_line(tmp_path):
    spec, result = invoke(tmp_path, edit("name: t\n", "name: t\ndevice: cuda\n"))
    err = assert_error(result, f"{spec}:2:1", "device", "CUDA was requested but is not available here")
    assert "--device" not in err and "--set" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_flag_fails_a_comparison_once(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE)
    result = CliRunner().invoke(app, ["compare-losses", str(spec), "--out", str(tmp_path / "out"),
                                      "--device", "cuda"])
    assert_error(result, "--device cuda", "device", "CUDA was requested")


# --- `args:` checked against the callable's signature ------------------------------------------


def test_optimizer_argument_typo_suggests_from_the_signature(tmp_path):
    spec, result = invoke(tmp_path, BASE.replace("  name: adam\n  lr: 0.001\n",
                                                 "  name: sgd\n  lr: 0.001\n  args: {momentun: 0.9}\n"))
    err = assert_error(result, f"{spec}:13:10", "optimizer.args.momentun", "SGD has no argument `momentun`",
                       "Accepted: momentum, dampening, weight_decay, nesterov", suggest="momentum")
    accepted = err.split("Accepted: ")[1]
    assert "params" not in accepted and "lr" not in accepted.replace("decoupled", "")


def test_optimizer_argument_typo_from_set(tmp_path):
    _, result = invoke(tmp_path, BASE, "--set", "optimizer.args.weight_decy=0.1")
    assert_error(result, "--set optimizer.args.weight_decy=0.1", "optimizer.args.weight_decy",
                 "Adam has no argument", suggest="weight_decay")


def test_lr_in_optimizer_args_points_at_optimizer_lr(tmp_path):
    spec, result = invoke(tmp_path, edit("  lr: 0.001\n", "  lr: 0.001\n  args: {lr: 0.1}\n"))
    assert_error(result, f"{spec}:13:10", "optimizer.args.lr", "set `optimizer.lr` instead")


def test_loss_argument_typo(tmp_path):
    spec, result = invoke(tmp_path, edit("  name: cross_entropy\n",
                                         "  name: cross_entropy\n  args: {label_smothing: 0.1}\n"))
    assert_error(result, f"{spec}:10:10", "loss.args.label_smothing", "CrossEntropyLoss has no argument",
                 "Accepted: weight, ", suggest="label_smoothing")


def test_scheduler_argument_typo(tmp_path):
    spec, result = invoke(tmp_path, BASE + "scheduler:\n  name: cosine\n  args: {eta_mn: 0.0}\n")
    err = assert_error(result, f"{spec}:17:10", "scheduler.args.eta_mn", "CosineAnnealingLR has no argument",
                       suggest="eta_min")
    assert "optimizer" not in err.split("Accepted: ")[1]


def test_target_model_argument_typo(tmp_path):
    (tmp_path / "models.py").write_text(MODELS_PY)
    spec, result = invoke(tmp_path, edit("name: mlp\n  args: {hidden: [16]}", "target: models.py:Net\n  args: {hiden: 4}"))
    assert_error(result, f"{spec}:7:10", "model.args.hiden", "Net has no argument `hiden`", "Accepted: hidden",
                 suggest="hidden")


def test_out_is_an_existing_file(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE)
    out = tmp_path / "taken"
    out.write_text("")
    result = CliRunner().invoke(app, ["probe", str(spec), "--out", str(out)])
    assert "Traceback" not in result.output
    assert result.exit_code == 2, result.output
    assert "--out" in result.stderr and "is a file" in result.stderr


@pytest.mark.parametrize("command", ["probe", "check", "fix", "compare-losses", "compare-optimizers"])
def test_bad_entry_in_a_comma_list_is_named(tmp_path, command):
    """Each command splits `--ignore A,B`, and the error names the one bad entry, not the whole list."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE)
    result = CliRunner().invoke(app, [command, str(spec), "--out", str(tmp_path / "out"),
                                      "--select", "TL1", "--ignore", "TL101,TL2O6"])
    assert_error(result, "--ignore", None, "`TL2O6` matches no rule", suggest="TL206")
