"""Fuzzed specs and command lines through `trainlint check`: never a traceback, never exit 3.

A malformed spec exits 2 with one located paragraph on stderr (`error: FILE:LINE:COL: ...`, or
the `--set`/`--option` it came from); a spec that happens to be valid exits 0 or 1.

CI runs a bounded, derandomised number of examples (a few hundred in all, well under 30 s).
A long, random fuzz: `TRAINLINT_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz_specs.py
--hypothesis-show-statistics` (the statistics give the outcomes by exit status).
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from typer.testing import CliRunner

from trainlint.cli import app

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LONG = int(os.environ.get("TRAINLINT_FUZZ_EXAMPLES", "0") or 0)


def fuzz(ci_examples: int):
    """Hypothesis settings: `ci_examples` derandomised in CI, or TRAINLINT_FUZZ_EXAMPLES random ones."""
    return settings(max_examples=LONG or ci_examples, deadline=None, derandomize=not LONG, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# A valid, fast spec (iris, a tiny MLP): mutations of it reach every field.
BASE = {
    "name": "fuzz",
    "seed": 0,
    "device": "cpu",
    "dataset": {"name": "iris", "args": {"standardize": True}, "batch_size": 16, "val_fraction": 0.2,
                "task": None, "num_workers": 0, "shuffle": True},
    "model": {"name": "mlp", "args": {"hidden": [8], "activation": "relu", "dropout": 0.0}},
    "loss": {"name": "cross_entropy", "args": {}},
    "optimizer": {"name": "adam", "lr": 0.01, "args": {"weight_decay": 0.0}},
    "scheduler": {"name": "cosine", "args": {}, "warmup_steps": 2},
    "probe": {"steps": 3, "eval_every": 2, "clip_grad_norm": None, "stats_every": 1, "tensorboard": False},
    "rules": {"select": [], "ignore": [], "thresholds": {"exploding-gradients": {"max_grad_norm": 1000.0}}},
    "compare": {"losses": ["cross_entropy"], "optimizers": ["sgd"]},
}


def _paths(node, prefix=()):
    for key, value in node.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from _paths(value, (*prefix, key))


FIELDS = list(_paths(BASE)) + [("model", "args", "hidden", 0), ("compare", "losses", 0)]

EDGE_NUMBERS = [0, -1, 1, 2, 3, -(10**12), 10**12, 2**31, 2**32, 2**63, 2**64, -(2**63) - 1, 10**40,
                1.5, -0.5, 0.0, 1e-320, 1e308, -1e308, math.nan, math.inf, -math.inf]
WORDS = ["", " ", "auto", "cpu", "cuda", "cuda:7", "cuda:x", "relu", "adam", "sgd", "cosine", "step",
         "digits", "iris", "csv", "mlp", "cnn", "none", "null", "~", "yes", "multiclass", "regression",
         "TL001", "TL9", "TL4", "dead-relu", "exploding-gradients", "max_grad_norm", "é", "日本語", "🔥",
         "\u202e", "a\nb", "\t", "-", ".", "..", "../x", "/", "x/y", "\x00", "${HOME}", "{}", "[]",
         "!!python/object:os.system", "*alias", "&anchor", "'quoted'", "1e-3", "0x10", "1_000"]
TARGETS = [f"{FIXTURES / 'fuzz_targets.py'}:{attr}" for attr in
           ("Net", "returns_list", "returns_none", "raises", "exits", "NOT_CALLABLE", "missing", "")]
TARGETS += ["./nope.py:Net", "nope.py:Net", ":Net", "Net", "a:b:c", "nonexistent_pkg_xyz:thing",
            "builtins:dict", "builtins:list", "math:pi", "collections:Counter", "torch.nn:Identity",
            "torch.nn:Linear", "torch.optim:SGD", "spec.yaml:x", "/:x", f"{FIXTURES}:x",
            f"{FIXTURES.parent / 'golden' / 'report.json'}:x", "json:loads", "torch:zeros"]

# Text with no ':' so random text never names an importable `module:attr`.
text = st.text(st.characters(blacklist_characters=":", blacklist_categories=("Cs",)), max_size=12)
scalars = st.one_of(st.none(), st.booleans(), st.sampled_from(EDGE_NUMBERS), st.integers(-3, 20),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(WORDS),
                    st.sampled_from(TARGETS), text)
keys = st.one_of(st.sampled_from([p[-1] for p in FIELDS if isinstance(p[-1], str)]), text)
junk = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(keys, inner, max_size=4)),
                    max_leaves=12)
deep = st.integers(1, 400).flatmap(lambda n: st.sampled_from([
    "[" * n + "]" * n, "{a: " * n + "1" + "}" * n, "".join(f"\n{'  ' * i}k{i}:" for i in range(n)) + " 1"]))


def _container(data, path):
    """The dict/list holding ``path`` in ``data``, or None when a mutation removed the way there."""
    node = data
    for part in path[:-1]:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if not (in_dict or in_list):
            return None
        node = node[part]
    return node if isinstance(node, dict | list) else None


mutation = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(FIELDS), junk),
    st.tuples(st.just("delete"), st.sampled_from(FIELDS), st.none()),
    st.tuples(st.just("extra"), st.sampled_from(FIELDS), st.tuples(keys, junk)),
)


def mutate(mutations) -> dict:
    data = copy.deepcopy(BASE)
    for kind, path, value in mutations:
        holder = _container(data, path)
        key = path[-1]
        if holder is None:
            continue
        present = (key in holder) if isinstance(holder, dict) else (isinstance(key, int) and key < len(holder))
        if kind == "set" and (isinstance(holder, dict) or present):
            holder[key] = value
        elif kind == "delete" and present:
            del holder[key]
        elif kind == "extra" and present and isinstance(holder[key], dict):
            holder[key][value[0]] = value[1]
    return data


def dump(data) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


RUNNER = CliRunner()


def run_check(spec: Path, *args: str):
    return RUNNER.invoke(app, ["check", str(spec), "--out", str(spec.parent / "out"), "-q", *args],
                         catch_exceptions=True)


def assert_clean(result, spec: Path) -> None:
    """Exit 0/1 (a valid spec), or 2 with one located `error:` paragraph; never 3 or a traceback."""
    if currently_in_test_context():
        event(f"exit {result.exit_code}")
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output, result.output
    assert result.exit_code in (0, 1, 2), result.output
    if result.exit_code != 2:
        return
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: "), err
    located = str(spec) in err or "--set " in err or "field `--" in err
    assert located, err


def in_tmp(write):
    """Run `write(folder) -> (spec, extra args)` and the check in a fresh temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        spec, args = write(Path(folder))
        assert_clean(run_check(spec, *args), spec)


@fuzz(60)
@given(st.text(st.sampled_from(list("abc:{}[],-#&*!|>'\" \n\t.0123456789é\x7f\u2028")), max_size=120))
def test_random_text_is_a_located_yaml_error(content):
    def write(folder):
        spec = folder / "spec.yaml"
        spec.write_text(content, encoding="utf-8")
        return spec, ()

    in_tmp(write)


@fuzz(60)
@given(st.one_of(junk, st.dictionaries(keys, junk, max_size=6)))
def test_random_documents(document):
    def write(folder):
        spec = folder / "spec.yaml"
        spec.write_text(dump(document), encoding="utf-8")
        return spec, ()

    in_tmp(write)


@fuzz(120)
@given(st.lists(mutation, min_size=1, max_size=3))
def test_mutated_spec(mutations):
    def write(folder):
        spec = folder / "spec.yaml"
        spec.write_text(dump(mutate(mutations)), encoding="utf-8")
        return spec, ()

    in_tmp(write)


@fuzz(100)
@given(st.sampled_from(FIELDS), st.one_of(st.sampled_from(EDGE_NUMBERS), st.sampled_from(WORDS),
                                          st.sampled_from(TARGETS), st.sampled_from([None, True, [], {}, [0]])))
@example(("seed",), 2**64)  # overflowed torch's seed (was exit 3)
@example(("model", "args", "hidden", 0), 10**12)  # a layer too large to allocate (was exit 3)
@example(("model", "args", "hidden", 0), 2**63)  # a size that overflows int64 (was exit 3)
@example(("dataset", "batch_size"), 2**63)  # past sys.maxsize (was a confusing TL001)
def test_one_field_gets_an_edge_value(path, value):
    def write(folder):
        spec = folder / "spec.yaml"
        spec.write_text(dump(mutate([("set", path, value)])), encoding="utf-8")
        return spec, ()

    in_tmp(write)


@fuzz(20)
@given(st.sampled_from(FIELDS), deep)
def test_deeply_nested_junk(path, nested):
    def write(folder):
        spec = folder / "spec.yaml"
        data = copy.deepcopy(BASE)
        _container(data, path)[path[-1]] = "NESTED"
        spec.write_text(dump(data).replace("NESTED", nested.replace("\n", "\n  "), 1), encoding="utf-8")
        return spec, ()

    in_tmp(write)


set_value = st.one_of(junk.map(lambda v: yaml.safe_dump(v, default_flow_style=True, width=10**6).strip()
                               .removesuffix("...").strip()), text, st.sampled_from(WORDS))
set_key = st.one_of(st.sampled_from([".".join(map(str, p)) for p in FIELDS]), text,
                    st.sampled_from(["", ".", "a..b", "model.args.hidden.9", "probe.steps.x", "rules.0",
                                     "compare.losses.5", "dataset.args.standardize.deep"]))
set_expr = st.one_of(st.tuples(set_key, set_value).map("=".join), text, set_key)


@fuzz(60)
@given(st.lists(set_expr, min_size=1, max_size=3))
def test_set_expressions(exprs):
    def write(folder):
        spec = folder / "spec.yaml"
        spec.write_text(dump(BASE), encoding="utf-8")
        return spec, [arg for expr in exprs for arg in ("--set", expr)]

    in_tmp(write)


def _directory(folder: Path) -> Path:
    return folder


def _binary(folder: Path) -> Path:
    path = folder / "weights.pt"
    path.write_bytes(bytes(range(256)) * 4)
    return path


def _latin1(folder: Path) -> Path:
    path = folder / "spec.yaml"
    path.write_bytes(dump(BASE).replace("fuzz", "f\xfczz").encode("latin-1"))
    return path


def _missing(folder: Path) -> Path:
    return folder / "no" / "such.yaml"


def _empty(folder: Path) -> Path:
    path = folder / "spec.yaml"
    path.write_text("")
    return path


def _comments_only(folder: Path) -> Path:
    path = folder / "spec.yaml"
    path.write_text("# nothing here\n")
    return path


def _device_file(folder: Path) -> Path:
    return Path("/dev/zero")


def _huge(folder: Path) -> Path:
    path = folder / "spec.yaml"
    path.write_text(dump(BASE) + "# " + "x" * (12 * 2**20) + "\n")
    return path


@pytest.mark.parametrize("make", [_directory, _binary, _latin1, _missing, _empty, _comments_only,
                                  _device_file, _huge], ids=lambda f: f.__name__.strip("_"))
def test_bad_spec_paths(tmp_path, make):
    spec = make(tmp_path)
    result = RUNNER.invoke(app, ["check", str(spec), "--out", str(tmp_path / "out")], catch_exceptions=True)
    assert_clean(result, spec)
    assert result.exit_code == 2


@pytest.mark.parametrize("args", [
    ("--out", "{file}"), ("--out", "{file}/below"), ("--device", "tpu"), ("--seed", "-1"),
    ("--seed", "x"), ("--fail-on", "fatal"), ("--format", "yaml"), ("--select", "TL999"),
    ("--ignore", "no-such-rule"), ("--set", "=1"), ("--set", "seed"), ("--set", "seed=1e400"),
], ids=lambda a: " ".join(a))
def test_bad_command_lines(tmp_path, args):
    spec = tmp_path / "spec.yaml"
    spec.write_text(dump(BASE))
    file = tmp_path / "a-file"
    file.write_text("mine")
    args = [a.format(file=file) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    result = RUNNER.invoke(app, ["check", str(spec), *args], catch_exceptions=True)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert file.read_text() == "mine"
