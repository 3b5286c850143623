"""Baselines: record today's findings, then report only new ones, matched without line numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from walint.baseline import Baseline, BaselineError
from walint.cli import main
from walint.findings import Finding, Location

FALLBACK = (
    "def enable_wal(conn):\n"
    "    try:\n"
    "        conn.execute('PRAGMA journal_mode=WAL')\n"
    "    except Exception:\n"
    "        conn.execute('PRAGMA journal_mode=DELETE')\n"
)
SECOND_FALLBACK = FALLBACK.replace("enable_wal", "enable_wal_again")


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("src").mkdir()
    Path("src/store.py").write_text(FALLBACK)
    return tmp_path


def _check(*args):
    return CliRunner().invoke(main, ["check", "--output-format", "concise", *args])


def test_write_then_check_reports_nothing(project):
    written = _check("--write-baseline", "walint-baseline.json", "src")
    assert written.exit_code == 0
    assert "walint: wrote 1 finding to walint-baseline.json" in written.output
    document = json.loads(Path("walint-baseline.json").read_text())
    assert document == {
        "version": 1,
        "findings": [
            {"path": "src/store.py", "code": "WAL001", "fingerprint": "conn.execute('PRAGMA journal_mode=DELETE')", "count": 1}
        ],
    }
    result = _check("--baseline", "walint-baseline.json", "src")
    assert result.exit_code == 0 and result.output == "All checks passed!\n"


def test_moved_code_stays_known(project):
    _check("--write-baseline", "baseline.json", "src")
    # Moved down and re-indented into a class: other line, other indentation, same statement.
    indented = "".join("    " + line for line in FALLBACK.splitlines(keepends=True))
    Path("src/store.py").write_text("import sqlite3\n\n\nclass Store:\n" + indented)
    assert "src/store.py:9:13: WAL001" in _check("src").output
    assert _check("--baseline", "baseline.json", "src").exit_code == 0


def test_a_second_copy_of_a_known_problem_is_new(project):
    _check("--write-baseline", "baseline.json", "src")
    Path("src/store.py").write_text(FALLBACK + SECOND_FALLBACK)
    result = _check("--baseline", "baseline.json", "src")
    assert result.exit_code == 1
    assert [line.split(":")[1] for line in result.output.splitlines() if "WAL001" in line] == ["10"]


def test_a_different_statement_is_new(project):
    _check("--write-baseline", "baseline.json", "src")
    Path("src/store.py").write_text(FALLBACK.replace("=DELETE", "=TRUNCATE"))
    assert _check("--baseline", "baseline.json", "src").exit_code == 1


def test_paths_are_relative_to_the_baseline_not_the_working_directory(project, monkeypatch):
    _check("--write-baseline", "baseline.json", "src")
    monkeypatch.chdir(project / "src")
    assert _check("--baseline", "../baseline.json", ".").exit_code == 0
    assert _check("--baseline", str(project / "baseline.json"), str(project / "src" / "store.py")).exit_code == 0


def test_unit_counts_consume_in_order():
    def finding(row):
        return Finding("a.py", "WAL001", "m", Location(row, 1), Location(row, 2), fingerprint="x")

    baseline = Baseline.of([finding(1)], Path("b.json"))
    assert baseline.new_findings([finding(7), finding(9)]) == [finding(9)]


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "cannot read the baseline"),
        ("{not json", "invalid JSON"),
        ('{"version": 2, "findings": []}', "baseline version 2 is not 1"),
        ('{"version": 1, "findings": [{"path": "a.py"}]}', "bad entry"),
    ],
)
def test_an_unusable_baseline_exits_2(project, content, message):
    if content is not None:
        Path("baseline.json").write_text(content)
    result = _check("--baseline", "baseline.json", "src")
    assert result.exit_code == 2 and message in result.output


def test_baseline_and_write_baseline_are_exclusive(project):
    result = _check("--baseline", "a.json", "--write-baseline", "b.json", "src")
    assert result.exit_code == 2 and "cannot be combined" in result.output


def test_load_error_type():
    with pytest.raises(BaselineError):
        Baseline.load(Path("/nonexistent/baseline.json"))
