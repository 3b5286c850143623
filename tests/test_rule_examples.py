"""Every rule's VALID and INVALID examples are test cases (Fixit's pattern)."""

from __future__ import annotations

import pytest

from expectations import actual_marks, describe_mismatch, expected_marks
from memory import fix_bytes
from walint.codes import ALL_SPECS
from walint.engine import check_source
from walint.rules import ALL_RULES
from walint.settings import Settings

CASES = [
    pytest.param(rule, kind, example.code, id=f"{rule.code}-{kind}-{index}")
    for rule in ALL_RULES
    for kind, examples in (("valid", rule.VALID), ("invalid", rule.INVALID))
    for index, example in enumerate(examples)
]


@pytest.mark.parametrize("rule, kind, code", CASES)
def test_example(rule, kind, code):
    # The rule under test runs even when it is off by default (WAL100).
    result = check_source("example.py", code.encode(), Settings(extend_select=(rule.code,)))
    assert not result.errors
    own = [f for f in result.findings if f.code == rule.code]
    expected = expected_marks(code)
    if kind == "valid":
        assert not own, "\n".join(f"{f.location.row}: {f.code} {f.message}" for f in own)
    else:
        assert any(c == rule.code for _, c in expected), "an INVALID example must mark its own rule"
    # Examples mark every finding, of any rule, so they double as precise tests.
    mismatch = describe_mismatch("example", expected, actual_marks(result.findings))
    assert not mismatch, mismatch


def test_every_spec_has_one_rule_and_every_rule_its_own_spec():
    """The rules are listed in the specs' order, one each; a rule that forgot its ``spec``
    would inherit none (and fail here) rather than take its parent's."""
    assert [rule.spec for rule in ALL_RULES] == list(ALL_SPECS)
    assert all("spec" in vars(rule) for rule in ALL_RULES)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_has_examples_and_docs(rule):
    assert rule.VALID and rule.INVALID
    doc = rule.documentation()
    for section in ("## What it does", "## Why is this bad?", "## Example", "Use instead:", "## Fix safety"):
        assert section in doc, f"{rule.code} docs lack {section!r}"


FIXED_CASES = [
    pytest.param(rule, example, id=f"{rule.code}-invalid-{index}")
    for rule in ALL_RULES
    for index, example in enumerate(rule.INVALID)
    if example.fixed is not None
]


@pytest.mark.parametrize("rule, example", FIXED_CASES)
def test_example_fix(rule, example):
    """``fixed`` is the example after ``walint fix --unsafe-fixes`` (Fixit's expected_replacement)."""
    fixed, run = fix_bytes("example.py", example.code.encode(), Settings(select=(rule.code,)), unsafe=True)
    assert not run.errors
    assert fixed.decode() == example.fixed
    again, _ = fix_bytes("example.py", fixed, Settings(select=(rule.code,)), unsafe=True)
    assert again == fixed


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_fix_availability_follows_from_the_examples(rule):
    """An example without `fixed` gets no fix for its own findings, and one with `fixed`
    gets one: so the availability derived from the examples is the truth."""
    for example in rule.INVALID:
        result = check_source("example.py", example.code.encode(), Settings(extend_select=(rule.code,), render_fixes="all"))
        own = [f for f in result.findings if f.code == rule.code]
        if example.fixed is None:
            assert all(f.fix is None or not f.fix.edits for f in own), f"{rule.code}: an example with a fix must show it"
        else:
            assert any(f.fix is not None and f.fix.edits for f in own)
