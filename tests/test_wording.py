"""Numbers, counts and lists written for people (trainlint.analysis.wording), and where they are enforced."""

from __future__ import annotations

import math

import pytest

from trainlint.analysis.wording import count, no_negative_zero, num, some_of, status_word, stop_text
from trainlint.rules.base import Finding, Fix


@pytest.mark.parametrize("text, expected", [
    ("-0", "0"), ("-0%", "0%"), ("-0.0%", "0.0%"), ("-0.000", "0.000"), ("-0e+00", "0e+00"),
    ("train loss -0 → 0", "train loss 0 → 0"), ("fell -0% overall.", "fell 0% overall."),
    ("(change -0.0%)", "(change 0.0%)"), ("loss -0.", "loss 0."), ("x=-0, y", "x=0, y"),
])
def test_negative_zero_loses_its_sign(text, expected):
    assert no_negative_zero(text) == expected


@pytest.mark.parametrize("text", [
    "-0.05", "-0.5%", "-1e-09", "-inf", "-nan", "cuda-0", "steps 0-0", "1e-0", "lr -0.001", "net-0.weight",
    "TL-0", "-10%", "-01",
])
def test_other_minus_signs_stay(text):
    assert no_negative_zero(text) == text


@pytest.mark.parametrize("value, spec, expected", [
    (-0.0, ".4g", "0"), (-0.004, ".0%", "0%"), (-0.0004, ".1%", "0.0%"), (-0.0, "+.1%", "0.0%"),
    (-0.004, ".1%", "-0.4%"), (-1e-9, ".4g", "-1e-09"), (-2.5, ".3g", "-2.5"), (0.5, ".0%", "50%"),
])
def test_num(value, spec, expected):
    assert num(value, spec) == expected


def test_num_keeps_non_finite():
    assert num(-math.inf) == "-inf" and num(math.nan) == "nan"


def test_count_and_some_of():
    assert count(1, "activation layer") == "1 activation layer"
    assert count(3, "activation layer") == "3 activation layers"
    assert count(0, "class", "classes") == "0 classes"
    assert some_of(["a", "b"]) == "a, b"
    assert some_of(["a", "b", "c"]) == "a, b, c"
    assert some_of([str(i) for i in range(31)]) == "0, 1, 2 and 28 more"


def test_findings_and_fixes_never_show_negative_zero():
    """A rule's own `{x:.0%}` of a tiny negative number is caught where every message passes."""
    progress = -0.004
    finding = Finding(message=f"{progress:.0%} of the way from chance to perfect",
                      fixes=[Fix(f"change {progress:+.0%}")])
    assert finding.message == "0% of the way from chance to perfect"
    assert finding.fixes[0].text == "change 0%"


def test_stop_reasons_in_words():
    assert stop_text("completed") == ""
    assert stop_text("non_finite_loss") == "stopped early: the loss became non-finite"
    assert stop_text("interrupted") == "interrupted"
    assert stop_text("time_budget", 10.0) == "stopped at the 10 s time budget"
    assert stop_text("out_of_memory") == "out of memory"  # a reason added later still reads as words
    assert status_word("non_finite_loss") == "non-finite loss" and status_word("failed") == "failed"
