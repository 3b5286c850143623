"""The command line: output shape, exit codes, formats, rule commands, and bad paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from walint.cli import main

VULNERABLE = (
    "_WAL_INCOMPAT_MARKERS = ('locking protocol', 'disk i/o error')\n"
    "def enable_wal(conn):\n"
    "    try:\n"
    "        conn.execute('PRAGMA journal_mode=WAL')\n"
    "    except Exception:\n"
    "        conn.execute('PRAGMA journal_mode=DELETE')\n"
)


def _run(*args):
    return CliRunner().invoke(main, list(args))


def test_findings_exit_1_with_ruff_style_lines(tmp_path):
    (tmp_path / "store.py").write_text(VULNERABLE)
    result = _run("check", str(tmp_path))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    path = os.path.normpath(str(tmp_path / "store.py"))
    assert lines[0].startswith(f"{path}:1:46: WAL002 Transient error `disk i/o error`")
    assert lines[1].startswith(f"{path}:6:9: WAL001 ")
    assert lines[-1] == "Found 2 errors."


def test_clean_exit_0(tmp_path):
    (tmp_path / "ok.py").write_text("conn.execute('PRAGMA journal_mode=WAL')\n")
    (tmp_path / "other.py").write_text("print('hello')\n")
    result = _run("check", str(tmp_path))
    assert result.exit_code == 0
    assert result.output == "All checks passed!\n"


def test_missing_path_exit_2(tmp_path):
    result = _run("check", str(tmp_path / "nope"))
    assert result.exit_code == 2
    assert "no such file or directory" in result.output


def test_unknown_select_code_exit_2(tmp_path):
    result = _run("check", "--select", "XYZ9", str(tmp_path))
    assert result.exit_code == 2
    assert "unknown rule code" in result.output


def test_json_output_has_ruffs_shape(tmp_path):
    (tmp_path / "store.py").write_text(VULNERABLE)
    result = _run("check", "--output-format", "json", str(tmp_path))
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert [d["code"] for d in data] == ["WAL002", "WAL001"]
    first = data[1]
    assert set(first) == {"code", "message", "filename", "location", "end_location", "fix", "url", "noqa_row"}
    assert first["location"] == {"row": 6, "column": 9}
    assert first["end_location"] == {"row": 6, "column": 51}
    assert first["noqa_row"] == 6 and first["fix"] is None


def test_json_output_when_clean_is_an_empty_list(tmp_path):
    (tmp_path / "ok.py").write_text("x = 1\n")
    result = _run("check", "--output-format", "json", str(tmp_path))
    assert result.exit_code == 0 and json.loads(result.output) == []


def test_unreadable_directory_entry_is_reported_and_the_run_goes_on(tmp_path):
    (tmp_path / "store.py").write_text(VULNERABLE)
    (tmp_path / "dangling.py").symlink_to(tmp_path / "gone.py")
    result = _run("check", str(tmp_path / "store.py"), str(tmp_path / "dangling.py"))
    assert result.exit_code == 2
    assert "dangling.py" in result.output and "WAL001" in result.output


def test_rules_and_explain():
    listing = _run("rules")
    assert listing.exit_code == 0
    assert [line.split()[0] for line in listing.output.splitlines()] == ["WAL000", "WAL001", "WAL002", "WAL003", "WAL004", "WAL005"]
    as_json = json.loads(_run("rules", "--output-format", "json").output)
    assert as_json[1]["name"] == "unguarded-fallback"
    explained = _run("explain", "wal001")
    assert explained.exit_code == 0
    assert "## Why is this bad?" in explained.output
    assert _run("explain", "WAL999").exit_code == 2


def test_python_dash_m_and_console_script(tmp_path):
    (tmp_path / "store.py").write_text(VULNERABLE)
    completed = subprocess.run(
        [sys.executable, "-m", "walint", "check", str(tmp_path)], capture_output=True, text=True
    )
    assert completed.returncode == 1
    assert "WAL001" in completed.stdout
    script = Path(sys.executable).with_name("walint")
    if script.exists():
        assert subprocess.run([str(script), "--version"], capture_output=True, text=True).returncode == 0
