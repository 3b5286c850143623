"""Fixes stay plans until someone asks for their edits (issue 12).

`check` shows `[*]` and the fix's title from the plan alone; the formats that carry edits
(json, json-lines, sarif), `fix` and `fix --diff` render each file's fixes once, all in
one transform. Counted, not timed: `render_plans` is wrapped with a counter.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from walint import render
from walint.cache import Cache
from walint.cli import main
from walint.settings import RENDER_ALL, RENDER_SAFE, Settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fix"
# Files with safe fixes, one with a fix that needs --unsafe-fixes, and one with nothing to fix.
CASES = ["cache_db.py", "fail_open.py", "markers_layouts.py", "unsafe_handler_state.py", "clean_store.py"]
WITH_PLANS = {"cache_db.py", "fail_open.py", "markers_layouts.py", "unsafe_handler_state.py"}


@pytest.fixture
def tree(tmp_path):
    for name in CASES:
        shutil.copyfile(FIXTURES / name, tmp_path / name)
    return tmp_path


@pytest.fixture
def renders(monkeypatch):
    """How many times each file's plans were rendered, by the file's first line of code."""
    counts: Counter = Counter()
    real = render.render_plans

    def counting(module, plans):
        counts[module.code] += 1
        return real(module, plans)

    monkeypatch.setattr(render, "render_plans", counting)
    return counts


def _walint(*args):
    return CliRunner().invoke(main, [*args, "--isolated", "--no-cache", "-j", "1"])


@pytest.mark.parametrize("output_format", ["full", "concise", "github", "gitlab"])
def test_check_renders_nothing_yet_shows_what_is_fixable(tree, renders, output_format):
    result = _walint("check", "--output-format", output_format, str(tree))
    assert result.exit_code == 1
    assert sum(renders.values()) == 0
    if output_format in ("full", "concise"):
        assert "[*]" in result.output
        assert "fixable with the `--fix` option" in result.output


def test_statistics_and_baselines_render_nothing(tree, renders):
    assert _walint("check", "--statistics", "--output-format", "json", str(tree)).exit_code == 1
    assert _walint("check", "--write-baseline", str(tree / "baseline.json"), str(tree)).exit_code == 0
    assert sum(renders.values()) == 0


@pytest.mark.parametrize("output_format", ["json", "json-lines", "sarif"])
def test_formats_that_carry_edits_render_each_file_once(tree, renders, output_format):
    result = _walint("check", "--output-format", output_format, str(tree))
    assert result.exit_code == 1
    assert sorted(renders.values()) == [1] * len(WITH_PLANS)


def test_json_edits_are_column_precise_and_apply_to_the_fixed_file(tree):
    result = _walint("check", "--output-format", "json", str(tree / "fail_open.py"))
    data = json.loads(result.output)
    edits = [edit for item in data for edit in item["fix"]["edits"]]
    assert edits and all(e["location"]["row"] == e["end_location"]["row"] for e in edits)
    assert any(e["location"]["column"] > 1 for e in edits)
    source = (tree / "fail_open.py").read_text()
    lines = source.splitlines(keepends=True)
    for edit in sorted(edits, key=lambda e: (e["location"]["row"], e["location"]["column"]), reverse=True):
        row, start, end = edit["location"]["row"] - 1, edit["location"]["column"] - 1, edit["end_location"]["column"] - 1
        lines[row] = lines[row][:start] + edit["content"] + lines[row][end:]
    assert "".join(lines) == (FIXTURES / "fail_open.fixed.py").read_text()


@pytest.mark.parametrize("flags", [[], ["--diff"], ["--unsafe-fixes"]])
def test_fix_renders_each_fixed_file_once(tree, renders, flags):
    _walint("fix", *flags, str(tree))
    assert sorted(renders.values()) == [1] * (len(WITH_PLANS) - (0 if "--unsafe-fixes" in flags else 1))
    if "--diff" not in flags:
        for name in WITH_PLANS - ({"unsafe_handler_state.py"} if not flags else set()):
            assert (tree / name).read_bytes() == (FIXTURES / name.replace(".py", ".fixed.py")).read_bytes()


def test_a_plan_that_does_not_render_is_no_fix_then_with_the_reason(tree, monkeypatch):
    monkeypatch.setattr(render, "_render_layer", lambda *args: None)
    shown = _walint("check", "--output-format", "concise", str(tree / "fail_open.py"))
    assert "[*]" in shown.output  # the plan, before anyone asked for its edits
    data = json.loads(_walint("check", "--output-format", "json", str(tree / "fail_open.py")).output)
    assert data and all(item["fix"] is None for item in data)
    full = _walint("check", "--output-format", "full", str(tree / "fail_open.py"))
    assert render.NO_FIX_INVALID not in full.output  # text formats show the plan
    before = (tree / "fail_open.py").read_bytes()
    fixed = _walint("fix", str(tree / "fail_open.py"))
    assert fixed.exit_code == 1
    assert "0 fixed" in fixed.output
    assert (tree / "fail_open.py").read_bytes() == before


def test_whether_a_run_renders_is_part_of_the_cache_key():
    keys = {Cache.key("a.py", b"x", Settings(render_fixes=mode)) for mode in ("", RENDER_SAFE, RENDER_ALL)}
    assert len(keys) == 3
