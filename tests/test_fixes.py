"""The building blocks of fixes: removing a collection element, fail-closed comparisons, rendering plans into edits."""

from __future__ import annotations

import libcst as cst
import pytest

from walint.findings import Edit, Location
from walint.fixes import SAFE, FixPlan, remove_element
from walint.render import NO_FIX_INVALID, Rendered, apply_edits, render_plans
from walint.rules.fail_open_guard import fail_closed_fix
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
    [rendered] = render_plans(module, [plan])
    assert apply_edits(module.code, rendered.edits) == f"if {expected}:\n    raise\n"


@pytest.mark.parametrize("test", ['mode is "wal"', 'a == b == "wal"', 'mode == "delete"', "mode in MODES"])
def test_comparisons_without_a_fail_closed_rewrite(test):
    module = cst.parse_module(f"if {test}:\n    raise\n")
    assert fail_closed_fix(module.body[0].test) is None


def test_render_refuses_output_that_does_not_parse():
    module = cst.parse_module("x = 1\n")
    broken = FixPlan("t", SAFE, {module.body[0].body[0].value: cst.Name("def")})
    assert render_plans(module, [broken]) == [Rendered(reason=NO_FIX_INVALID)]


def test_split_lines_counts_lines_the_way_python_does():
    text = "a\r\nb\x0cc\rd\ne"
    assert split_lines(text) == ["a\r\n", "b\x0cc\r", "d\n", "e"]
    assert "".join(split_lines(text)) == text


def test_plans_render_together_into_column_precise_edits():
    source = "M = 1\n\n\ndef f(mode):\n    if mode == 'wal' or mode == \"wal\":\n        raise\n"
    module = cst.parse_module(source)
    test = module.body[1].body.body[0].test
    first, second = fail_closed_fix(test.left), fail_closed_fix(test.right)
    with_import = FixPlan(second.title, SAFE, second.replacements, (("walint.runtime", "journal_mode_on_disk"),))
    rendered = render_plans(module, [first, with_import])
    assert rendered[0].edits == (Edit("mode in ('wal', None)", Location(5, 8), Location(5, 21)),)
    import_edit = Edit("from walint.runtime import journal_mode_on_disk\n\n", Location(1, 1), Location(1, 1))
    assert rendered[1].edits == (import_edit, Edit('mode in ("wal", None)', Location(5, 25), Location(5, 38)))
    both = apply_edits(source, rendered[0].edits + rendered[1].edits[1:])
    assert "if mode in ('wal', None) or mode in (\"wal\", None):" in both
    assert apply_edits(source, rendered[0].edits + rendered[1].edits).startswith(import_edit.content)


def test_a_plan_inside_another_is_rendered_on_its_own():
    module = cst.parse_module("if mode == 'wal':\n    raise\n")
    comparison = module.body[0].test
    outer = fail_closed_fix(comparison)
    inner = FixPlan("lower", SAFE, {comparison.left: cst.Call(cst.Attribute(comparison.left, cst.Name("lower")))})
    rendered = render_plans(module, [outer, inner])
    assert apply_edits(module.code, rendered[0].edits) == "if mode in ('wal', None):\n    raise\n"
    assert apply_edits(module.code, rendered[1].edits) == "if mode.lower() == 'wal':\n    raise\n"


def test_apply_edits_counts_columns_in_characters_and_lines_the_way_python_does():
    text = "é = 1\r\nb\x0cc = 2\rd = 3\n"
    edits = [Edit("x", Location(1, 1), Location(1, 2)), Edit("", Location(2, 1), Location(3, 1))]
    assert apply_edits(text, edits) == "x = 1\r\nd = 3\n"
    assert "".join(split_lines(text)) == text