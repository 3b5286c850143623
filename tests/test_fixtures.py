"""Fixture projects: walint's findings must equal the `# expect:` marks, both ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from expectations import actual_marks, describe_mismatch, expected_marks
from walint.discovery import discover
from walint.runner import check_files
from walint.settings import Settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CHECK_FILES = sorted(p for p in (FIXTURES / "check").rglob("*.py") if not p.name.endswith(".fixed.py"))


def test_there_are_fixtures():
    assert len(CHECK_FILES) >= 5


@pytest.mark.parametrize("path", CHECK_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_findings_match_marks(path):
    result = check_files(discover([str(path)]), Settings())
    assert not result.errors, result.errors
    source = path.read_text(encoding="utf-8")
    mismatch = describe_mismatch(path.name, expected_marks(source), actual_marks(result.findings))
    assert not mismatch, mismatch


def test_whole_tree_equals_the_sum_of_its_files():
    """A run over the directory and over its files one by one agree."""
    tree = check_files(discover([str(FIXTURES / "check")]), Settings()).findings
    by_file = [f for path in CHECK_FILES for f in check_files(discover([str(path)]), Settings()).findings]
    key = lambda f: (Path(f.path).resolve(), f.location, f.code)  # noqa: E731
    assert sorted(map(key, tree)) == sorted(map(key, by_file))
