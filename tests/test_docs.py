"""The README's example output is what `docs/make_figures.sh` produces, in the lines that do not vary.

Wall time, speed and peak memory change from run to run and are left out; so are the seconds the
fix verification took. Everything else (findings, fixes, losses, accuracies, the summary) comes
from a seeded probe on one CPU thread and is compared: the README against the committed
`docs/*-output.txt` exactly, and against a fresh in-process run of the same command with the same
pins as make_figures.sh (`--device cpu --threads 1`) within 3 % per number, so a
last-digit difference between two CPUs' kernels passes and a changed message, fix or value does not.
The fresh runs of the `--verify-fixes` examples (re-runs of the probe, ~10 s more) are left to
`TRAINLINT_DOCS_ALL=1 pytest tests/test_docs.py`; their committed outputs are compared always.
After a change that moves them, run `bash docs/make_figures.sh` and copy its outputs into the README.
"""

from __future__ import annotations

import difflib
import math
import os
import re

import pytest
from conftest import ROOT

from trainlint.spec.loader import load_spec

DOCS = ROOT / "docs"
# The README's commands, in the order make_figures.sh runs them, and the files it writes their output to.
EXAMPLES = {
    "trainlint probe configs/faults/tl204_sgd_momentum_lr_high.yaml": "lr-high-output.txt",
    "trainlint check configs/faults/tl206_softmax_cross_entropy.yaml": "check-output.txt",
    "trainlint probe configs/faults/tl502_weight_decay_huge.yaml --verify-fixes": "verify-output.txt",
}
EXCERPTS = ("verify-verbose-output.txt",)  # README blocks without a command are excerpts of these
ALL = bool(os.environ.get("TRAINLINT_DOCS_ALL"))
slow = pytest.mark.skipif(not ALL, reason="re-runs of the probe: set TRAINLINT_DOCS_ALL=1")
PIN = ("--device", "cpu", "--threads", "1")
VARYING = ("  wall time ", "  speed ", "  peak memory ")
NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def comparable(lines: list[str]) -> list[str]:
    """The lines that a seeded probe reproduces: no timings or memory."""
    kept = [line for line in lines if not line.startswith(VARYING)]
    return [re.sub(r"; \d+(?:\.\d+)? s\)$", "; … s)", line) for line in kept]


def readme_blocks() -> list[tuple[str | None, list[str]]]:
    """(command or None, lines shown) of each ```text block that is trainlint output."""
    text = (ROOT / "README.md").read_text()
    blocks = []
    for body in re.findall(r"```text\n(.*?)```", text, re.S):
        lines = body.rstrip("\n").split("\n")
        if lines[0].startswith("$ trainlint "):
            blocks.append((lines[0][2:], lines[1:]))
        elif not lines[0].startswith("$ "):  # other commands' output (the benchmarks) has timings only
            blocks.append((None, lines))
    return blocks


def output(name: str) -> list[str]:
    return (DOCS / name).read_text().rstrip("\n").split("\n")


def differences(shown: list[str], produced: list[str]) -> str:
    return "\n".join(difflib.unified_diff(shown, produced, "README.md", "produced", lineterm="", n=0))


def close(shown: str, produced: str, rel: float = 0.03) -> bool:
    """The same text, and every number within `rel` of the README's."""
    if NUMBER.sub("#", shown) != NUMBER.sub("#", produced):
        return False
    pairs = zip(NUMBER.findall(shown), NUMBER.findall(produced), strict=True)
    return all(math.isclose(float(a), float(b), rel_tol=rel) for a, b in pairs)


def check(shown: list[str], produced: list[str], same, what: str) -> None:
    """The README's lines are the produced ones; after a `...` line, a run of them (an excerpt)."""
    if shown and shown[0] == "...":
        shown = shown[1:]
        start = next((i for i, line in enumerate(produced) if same(shown[0], line)), len(produced))
        produced = produced[start:start + len(shown)]
    ok = len(shown) == len(produced) and all(same(a, b) for a, b in zip(shown, produced, strict=True))
    assert ok, f"{what}:\n{differences(shown, produced)}"


def test_every_readme_example_is_one_make_figures_writes():
    commands = [c for c, _ in readme_blocks() if c is not None]
    assert commands == list(EXAMPLES), "add the new example to docs/make_figures.sh and EXAMPLES"
    script = (DOCS / "make_figures.sh").read_text()
    for command, name in EXAMPLES.items():
        assert command.split()[2] in script and f"> docs/{name}" in script, (command, name)


def test_readme_examples_match_the_committed_outputs():
    for command, shown in readme_blocks():
        name = EXAMPLES[command] if command is not None else EXCERPTS[0]
        shown = comparable(shown) if command is not None else ["...", *comparable(shown)]
        check(shown, comparable(output(name)), str.__eq__, f"README's example differs from docs/{name}")


def fresh(cli, tmp_path, monkeypatch, command: str) -> list[str]:
    """The output of the README's command run now, in-process, pinned as make_figures.sh pins it."""
    monkeypatch.chdir(ROOT)  # the README's commands name their configs relative to the repository
    words = command.split()[1:]
    result = cli(*words, "--out", tmp_path, *PIN)
    assert result.exit_code in (0, 1), result.output
    produced = result.stdout.replace(str(tmp_path), f"trainlint-out/{load_spec(ROOT / words[1]).name}")
    return comparable(produced.rstrip("\n").split("\n"))


@pytest.mark.parametrize("command", [pytest.param(c, marks=slow if "--verify-fixes" in c else ())
                                     for c in EXAMPLES])
def test_readme_example_matches_a_fresh_run(cli, tmp_path, monkeypatch, command):
    """The README's output is what the code produces now (each run takes a few seconds)."""
    shown = next(lines for c, lines in readme_blocks() if c == command)
    check(comparable(shown), fresh(cli, tmp_path, monkeypatch, command), close,
          f"`{command}` now prints otherwise (numbers may differ by 3 %)")


@slow
def test_readme_verbose_excerpt_matches_a_fresh_run(cli, tmp_path, monkeypatch):
    produced = fresh(cli, tmp_path, monkeypatch, f"{list(EXAMPLES)[-1]} -v")
    for command, shown in readme_blocks():
        if command is None:
            check(["...", *comparable(shown)], produced, close, "the -v excerpt now prints otherwise")
