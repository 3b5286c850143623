"""The command line: output shape, exit codes, formats, rule commands, and bad paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from walint import __version__
from walint.cli import main
from walint.rules import ALL_RULES

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
    result = _run("check", "--output-format", "concise", str(tmp_path))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    path = os.path.normpath(str(tmp_path / "store.py"))
    # Named as markers, but no test on them is in sight: the removal is offered as unsafe.
    assert lines[0].startswith(f"{path}:1:46: WAL002 Transient error `disk i/o error`")
    assert lines[1].startswith(f"{path}:6:9: WAL001 [*] ")
    assert lines[-2:] == [
        "Found 2 errors.",
        "[*] 1 fixable with the `--fix` option (1 hidden fix can be enabled with the `--unsafe-fixes` option).",
    ]


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
    assert first["noqa_row"] == 6
    assert first["fix"]["applicability"] == "safe"
    assert first["fix"]["message"] == "Replace the WAL setup with `apply_wal_with_fallback(...)`"
    assert {"content": "apply_wal_with_fallback(conn)", "location": {"row": 3, "column": 5}, "end_location": {"row": 6, "column": 51}} in first["fix"]["edits"]


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
    """The catalogue commands in brief; tests/test_docs.py covers them in full."""
    listing = _run("rules")
    assert listing.exit_code == 0
    rows = [line for line in listing.output.splitlines()[1:] if not line.startswith(" ")]  # wrapped summaries
    assert [line.split()[0] for line in rows] == [rule.code for rule in ALL_RULES]
    assert all(len(line) <= 80 for line in listing.output.splitlines())  # not a terminal: 80 columns
    as_json = json.loads(_run("rules", "--output-format", "json").output)
    assert as_json[1]["name"] == "unguarded-fallback"
    explained = _run("explain", "wal001")
    assert explained.exit_code == 0
    assert "## Why is this bad?" in explained.output
    assert _run("explain", "WAL999").exit_code == 2


def _unused(tmp_path, source, *flags):
    (tmp_path / "store.py").write_text(source)
    result = _run("check", "--output-format", "json", *flags, str(tmp_path))
    return [(d["location"]["row"], d["code"], d["message"]) for d in json.loads(result.output)]


def test_unused_suppressions_are_reported_only_when_asked(tmp_path):
    source = VULNERABLE.replace("DELETE')\n", "DELETE')  # noqa: WAL001\n").replace(
        "    try:\n", "    try:  # noqa: WAL004\n"
    )
    assert _unused(tmp_path, source) == [(1, "WAL002", _unused(tmp_path, source)[0][2])]
    reported = _unused(tmp_path, source, "--report-unused-noqa")
    assert [(row, code) for row, code, _ in reported] == [(1, "WAL002"), (3, "WAL100")]
    assert reported[1][2] == "Unused `noqa` directive (unused: `WAL004`)"
    assert _unused(tmp_path, source, "--extend-select", "WAL100") == reported
    assert _unused(tmp_path, source, "--report-unused-noqa", "--ignore", "WAL100") == reported[:1]


def test_unused_suppression_only_names_the_unused_codes_and_leaves_other_tools_alone(tmp_path):
    source = VULNERABLE.replace("DELETE')\n", "DELETE')  # walint: ignore[WAL001, WAL002]  # noqa: E501\n")
    rows = _unused(tmp_path, source, "--report-unused-noqa")
    assert [(row, code, message) for row, code, message in rows if code == "WAL100"] == [
        (6, "WAL100", "Unused `walint: ignore` directive (unused: `WAL002`)")
    ]
    plain = "x = 1  # noqa: E501\ny = 2  # noqa\n"
    assert _unused(tmp_path, plain, "--report-unused-noqa") == []


def test_unused_suppression_in_a_file_with_nothing_else_to_report(tmp_path):
    source = "import sqlite3  # walint: ignore[]\nconn.execute('PRAGMA journal_mode=WAL')  # noqa: WAL001\n"
    rows = _unused(tmp_path, source, "--report-unused-noqa")
    assert [(row, code) for row, code, _ in rows] == [(1, "WAL100"), (2, "WAL100")]
    assert rows[0][2] == "Unused blanket `walint: ignore` directive"


def test_unused_suppression_says_why_as_ruffs_rule_does_and_its_fix_removes_the_codes(tmp_path):
    source = (
        "conn.execute('PRAGMA journal_mode=WAL')  # noqa: WAL001, WAL005, WAL999, E501  # keep me\n"
        "conn.execute('PRAGMA journal_mode=WAL')  # walint: ignore[WAL001]\n"
    )
    rows = _unused(tmp_path, source, "--report-unused-noqa", "--ignore", "WAL005")
    assert [message for _, _, message in rows] == [
        "Unused `noqa` directive (unused: `WAL001`; non-enabled: `WAL005`; unknown: `WAL999`)",
        "Unused `walint: ignore` directive (unused: `WAL001`)",
    ]
    listed = _run("rules", "--output-format", "json")
    assert [rule["fixable"] for rule in json.loads(listed.output) if rule["code"] == "WAL100"] == [True]
    fixed = _run("fix", "--extend-select", "WAL100", "--ignore", "WAL005", str(tmp_path))
    assert fixed.exit_code == 0, fixed.output
    assert (tmp_path / "store.py").read_text() == (
        "conn.execute('PRAGMA journal_mode=WAL')  # noqa: E501  # keep me\n"
        "conn.execute('PRAGMA journal_mode=WAL')\n"
    )


def test_naming_wal100_keeps_a_deliberate_suppression(tmp_path):
    source = "conn.execute('PRAGMA journal_mode=WAL')  # noqa: WAL001, WAL100\n"
    assert _unused(tmp_path, source, "--report-unused-noqa") == []


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


# ----- a ruff user's habits --------------------------------------------------------------


def test_check_fix_equals_walint_fix_and_show_fixes_lists_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("store.py").write_text(VULNERABLE.split("\n", 1)[1])  # the fixable fallback alone
    result = _run("check", "--no-cache", "--fix", "--show-fixes", "store.py")
    assert result.exit_code == 0, result.output
    assert "apply_wal_with_fallback(conn)" in Path("store.py").read_text()
    assert "Fixed 1 error:\n- store.py:\n    1 \u00d7 WAL001 (unguarded-fallback)\n" in result.output
    assert result.output.rstrip().endswith("Found 1 error (1 fixed, 0 remaining).")


def test_fix_exit_codes_and_report_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = VULNERABLE.split("\n", 1)[1]
    Path("store.py").write_text(source)
    on_fix = _run("fix", "--no-cache", "--exit-non-zero-on-fix", "store.py")
    assert on_fix.exit_code == 1
    Path("store.py").write_text(VULNERABLE)
    remaining = _run("fix", "--no-cache", "--exit-zero", "--output-format", "json", "-o", "left.json", "store.py")
    assert remaining.exit_code == 0, remaining.output
    assert [entry["code"] for entry in json.loads(Path("left.json").read_text())] == ["WAL002"]
    stats = _run("fix", "--no-cache", "--statistics", "store.py")
    assert stats.output.startswith("1\tWAL002\t")


def test_clean_version_and_colour(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("store.py").write_text(VULNERABLE)
    assert _run("check", "--cache-dir", "cache", "store.py").exit_code == 1 and Path("cache").is_dir()
    cleaned = _run("clean", "--cache-dir", "cache")
    assert cleaned.exit_code == 0 and not Path("cache").exists()
    Path("src").mkdir()
    assert _run("clean", "--cache-dir", "src").exit_code == 2 and Path("src").is_dir()  # not a walint cache
    assert _run("version").output == f"walint {__version__}\n"
    assert "\x1b[" in _run("check", "--no-cache", "--color", "always", "store.py").output
    assert "\x1b[" not in _run("check", "--no-cache", "--color", "never", "store.py").output
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[" in _run("check", "--no-cache", "store.py").output
    assert "\x1b[32m+" in _run("fix", "--no-cache", "--diff", "store.py").output
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in _run("check", "--no-cache", "store.py").output


def test_every_error_reads_walint_error_and_exits_2(tmp_path):
    for args in (["check", "--bogus"], ["check", "--output-format", "xml"], ["nope"], ["explain"]):
        result = subprocess.run([sys.executable, "-m", "walint", *args], capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("walint: error: "), (args, result.stderr)
        assert "Usage:" not in result.stderr and "Error:" not in result.stderr


def test_help_does_not_cut_command_descriptions():
    listing = _run("--help").output.split("Commands:", 1)[1]
    assert "..." not in listing
    for command in ("check", "fix", "rules", "explain", "helper", "clean", "version"):
        assert f"  {command} " in listing


def test_rule_summaries_are_sentences():
    for rule in ALL_RULES:
        assert rule.summary().endswith("."), (rule.code, rule.summary())


def test_ctrl_c_exits_130_quietly(monkeypatch, capsys, tmp_path):
    """As ruff (and a shell) report SIGINT: exit 130, no error message, no traceback."""
    import pytest

    from walint.cli import commands

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "resolve_inputs", interrupted)
    with pytest.raises(SystemExit) as exit_:
        commands.main.main(["check", str(tmp_path)], prog_name="walint")
    assert exit_.value.code == 130
    err = capsys.readouterr().err
    assert "error" not in err and "Traceback" not in err and "Abort" not in err
