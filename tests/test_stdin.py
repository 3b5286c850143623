"""`walint check -`: source on standard input, named by --stdin-filename for config and reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from walint.cli import main

VULNERABLE = (
    "def enable_wal(conn):\n"
    "    try:\n"
    "        conn.execute('PRAGMA journal_mode=WAL')\n"
    "    except Exception:\n"
    "        conn.execute('PRAGMA journal_mode=DELETE')\n"
)


def _check(*args, source=VULNERABLE):
    return CliRunner().invoke(main, ["check", *args], input=source)


def test_stdin_is_reported_under_its_filename_with_a_code_frame():
    result = _check("-", "--stdin-filename", "src/store.py")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("src/store.py:5:9: WAL001 ")
    assert "5 |         conn.execute('PRAGMA journal_mode=DELETE')" in lines


def test_stdin_without_a_filename_is_dash():
    result = _check("--output-format", "json", "-")
    assert [d["filename"] for d in json.loads(result.output)] == ["-"]


def test_clean_stdin_and_the_prefilter():
    assert _check("-", source="print('hello')\n").exit_code == 0
    # A file holding no token is never parsed, on disk or on stdin.
    assert _check("-", source="def broken(:\n").exit_code == 0
    assert _check("-", source="conn.execute('PRAGMA journal_mode=DELETE'\n").exit_code == 1


def test_stdin_filename_finds_the_config_and_per_file_ignores(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("pyproject.toml").write_text("[tool.walint]\nper-file-ignores = { 'tests/*' = ['WAL001'] }\nexclude = ['legacy']\n")
    assert _check("-", "--stdin-filename", "tests/test_store.py").exit_code == 0
    assert _check("-", "--stdin-filename", "src/store.py").exit_code == 1
    # Excluded only with --force-exclude, as for files named on the command line.
    assert _check("-", "--stdin-filename", "legacy/old.py").exit_code == 1
    excluded = _check("-", "--force-exclude", "--stdin-filename", "legacy/old.py")
    assert excluded.exit_code == 0 and "WAL001" not in excluded.output


def test_dash_cannot_be_mixed_with_paths(tmp_path):
    result = _check("-", str(tmp_path))
    assert result.exit_code == 2 and "cannot be combined" in result.output


def test_a_real_pipe():
    completed = subprocess.run(
        [sys.executable, "-m", "walint", "check", "--output-format", "concise", "-", "--stdin-filename", "db.py"],
        input=VULNERABLE,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 1
    assert completed.stdout.startswith("db.py:5:9: WAL001 ")
