"""The building blocks of fixes: removing a collection element, fail-closed comparisons, line edits."""

from __future__ import annotations

import libcst as cst
import pytest

from walint.findings import Edit, Location
from walint.fixes import apply_edits, fail_closed_fix, line_edits, remove_element, render
from walint.text import split_lines


def _remove(source: str, index: int) -> str:
    module = cst.parse_module(source)
    statement = module.body[0].body[0]  # `X = <collection>`
    collection = statement.value
    if isinstance(collection, cst.Call):  # frozenset({...})
        collection = collection.args[0].value
    elements = collection.elements
    target = elements[index].key if isinstance(collection, cst.Dict) else elements[index].value
    replacement = remove_element(collection, target)
    assert replacement is not None
    return module.deep_replace(collection, replacement).code


@pytest.mark.parametrize(
    "source, index, expected",
    [
        ('X = ("a", "b", "c")\n', 1, 'X = ("a", "c")\n'),
        ('X = ("a", "b", "c")\n', 0, 'X = ("b", "c")\n'),
        ('X = ("a", "b", "c")\n', 2, 'X = ("a", "b")\n'),
        ('X = ("a", "b")\n', 0, 'X = ("b",)\n'),
        ('X = ("a",)\n', 0, "X = ()\n"),
        ('X = "a", "b"\n', 1, 'X = "a",\n'),
        ('X = "a",\n', 0, "X = ()\n"),
        ('X = ["a", "b",]\n', 1, 'X = ["a",]\n'),
        ('X = {"a"}\n', 0, "X = set()\n"),
        ('X = frozenset({"a", "b"})\n', 0, 'X = frozenset({"b"})\n'),
        ('X = {"a": 1, "b": 2}\n', 0, 'X = {"b": 2}\n'),
        (
            'X = [\n    "a",  # first\n    "b",  # second\n    "c",\n]\n',
            1,
            'X = [\n    "a",  # first\n    "c",\n]\n',
        ),
        (
            'X = [\n    "a",\n    # why b is here\n    "b",\n]\n',
            1,
            'X = [\n    "a",\n]\n',
        ),
        (
            'X = (\n    "a",\n    "b"  # last, no comma\n)\n',
            1,
            'X = (\n    "a",\n)\n',
        ),
        (
            'X = (\n    "a",  # keep\n    "b",\n)\n',
            0,
            'X = (\n    "b",\n)\n',
        ),
    ],
)
def test_remove_element_keeps_a_layout_a_person_would_write(source, index, expected):
    fixed = _remove(source, index)
    assert fixed == expected
    cst.parse_module(fixed)


@pytest.mark.parametrize(
    "test, expected",
    [
        ('mode == "wal"', 'mode in ("wal", None)'),
        ('mode != "wal"', 'mode not in ("wal", None)'),
        ('"wal" == mode', 'mode in ("wal", None)'),
        ("mode == 'WAL'", "mode in ('WAL', None)"),
        ('mode in ("wal",)', 'mode in ("wal", None)'),
        ('mode not in ["wal"]', 'mode not in ["wal", None]'),
        ('mode in {"wal", "memory"}', 'mode in {"wal", "memory", None}'),
    ],
)
def test_fail_closed_comparisons(test, expected):
    module = cst.parse_module(f"if {test}:\n    raise\n")
    comparison = module.body[0].test
    plan = fail_closed_fix(comparison)
    assert plan is not None
    assert render(module, plan) == f"if {expected}:\n    raise\n"


@pytest.mark.parametrize("test", ['mode is "wal"', 'a == b == "wal"', 'mode == "delete"', "mode in MODES"])
def test_comparisons_without_a_fail_closed_rewrite(test):
    module = cst.parse_module(f"if {test}:\n    raise\n")
    assert fail_closed_fix(module.body[0].test) is None


def test_render_refuses_output_that_does_not_parse():
    module = cst.parse_module("x = 1\n")
    from walint.fixes import SAFE, FixPlan

    broken = FixPlan("t", SAFE, {module.body[0].body[0].value: cst.Name("def")})
    assert render(module, broken) is None


def test_split_lines_counts_lines_the_way_python_does():
    text = "a\r\nb\x0cc\rd\ne"
    assert split_lines(text) == ["a\r\n", "b\x0cc\r", "d\n", "e"]
    assert "".join(split_lines(text)) == text


def test_line_edits_round_trip():
    old = "a\nb\nc\nd\n"
    new = "a\nB\nc\nx\nd\n"
    edits = line_edits(old, new)
    assert apply_edits(old, edits) == new
    assert edits[0] == Edit("B\n", Location(2, 1), Location(3, 1))
