"""Fixture projects: walint's findings must equal the `# expect:` marks, both ways."""

from __future__ import annotations

from collections import Counter
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


PROJECT = FIXTURES / "project"
PROJECT_FILES = sorted(PROJECT.rglob("*.py"))


def _project_findings(paths):
    result = check_files(discover([str(p) for p in paths]), Settings(), roots=[str(p) for p in paths])
    assert not result.errors, result.errors
    return result.findings


def test_project_findings_match_marks_across_modules():
    findings = _project_findings([PROJECT])
    mismatches = []
    for path in PROJECT_FILES:
        own = [f for f in findings if Path(f.path).resolve() == path.resolve()]
        mismatch = describe_mismatch(str(path.relative_to(FIXTURES)), expected_marks(path.read_text()), actual_marks(own))
        if mismatch:
            mismatches.append(mismatch)
    assert not mismatches, "\n".join(mismatches)


def test_project_tree_and_explicit_file_list_agree_in_any_order():
    key = lambda f: (Path(f.path).resolve(), f.location, f.code, f.message)  # noqa: E731
    tree = sorted(map(key, _project_findings([PROJECT])))
    assert sorted(map(key, _project_findings(PROJECT_FILES))) == tree
    assert sorted(map(key, _project_findings(list(reversed(PROJECT_FILES))))) == tree


def test_cross_module_finding_names_where_the_helper_downgrades():
    [finding] = [f for f in _project_findings([PROJECT]) if f.code == "WAL003" and "enable_wal" in f.message]
    assert finding.message.endswith("kanban/dbutil.py:30)")


def test_a_module_without_tokens_is_checked_when_it_calls_an_exported_fallback():
    findings = _project_findings([PROJECT])
    assert any(Path(f.path).name == "archive.py" and f.code == "WAL001" for f in findings)


def test_the_readme_command_lists_every_marked_finding_and_nothing_else(monkeypatch, capsys):
    """`walint check fixtures/` from the repository root, as the README runs it."""
    import json

    from walint.cli import run

    monkeypatch.chdir(FIXTURES.parent)
    assert run(["check", "--output-format", "json", "fixtures/"]) == 1
    reported = json.loads(capsys.readouterr().out)
    actual = {}
    for item in reported:
        actual.setdefault(Path(item["filename"]).resolve(), []).append((item["location"]["row"], item["code"]))
    checked = [p for p in FIXTURES.rglob("*.py") if "fix" not in p.relative_to(FIXTURES).parts[:1]]
    mismatches = []
    for path in checked:
        found = Counter(actual.pop(path.resolve(), []))
        mismatch = describe_mismatch(str(path.relative_to(FIXTURES)), expected_marks(path.read_text()), found)
        if mismatch:
            mismatches.append(mismatch)
    assert not mismatches, "\n".join(mismatches)
    assert not actual, f"findings outside the checked fixtures: {sorted(actual)}"
