"""`walint fix` and `walint helper`: writing safely, stdin, the helper setting, the edge cases."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import walint.fixer as fixer
import walint.writing as writing
from walint.cli import main
from walint.findings import Edit, Finding, Fix, Location

VULNERABLE = '''import sqlite3


def connect(path):
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        conn.execute("PRAGMA journal_mode=DELETE")
    return conn
'''

FIXED = '''import sqlite3

from walint.runtime import apply_wal_with_fallback


def connect(path):
    conn = sqlite3.connect(path)
    apply_wal_with_fallback(conn)
    return conn
'''

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _fix(*args, input=None):
    return CliRunner().invoke(main, ["fix", *args], input=input)


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "store.py"
    path.write_text(VULNERABLE)
    return path


def _temporaries(directory: Path):
    return [p.name for p in directory.iterdir() if p.name.endswith(".walint-tmp")]


# ----- the summary and the exit code ---------------------------------------------------------


def test_fix_writes_and_reports_counts(store):
    result = _fix(str(store))
    assert result.exit_code == 0, result.output
    assert store.read_text() == FIXED
    assert result.output.strip().endswith("Found 1 error (1 fixed, 0 remaining).")
    again = _fix(str(store))
    assert again.exit_code == 0 and again.output == "All checks passed!\n"


def test_findings_without_a_fix_remain_and_exit_1(tmp_path):
    path = tmp_path / "events.py"
    source = (
        "async def open_db(db):\n"
        "    try:\n"
        '        cursor = await db.execute("PRAGMA journal_mode=WAL")\n'
        "    except Exception:\n"
        '        await db.execute("PRAGMA journal_mode=DELETE")\n'
    )
    path.write_text(source)
    result = _fix(str(path))
    assert result.exit_code == 1
    assert path.read_text() == source
    assert "note: no automatic guard for async code" in result.output
    assert "Found 1 error (0 fixed, 1 remaining)." in result.output


def test_mode_is_kept(store):
    store.chmod(0o640)
    assert _fix(str(store)).exit_code == 0
    assert stat.S_IMODE(store.stat().st_mode) == 0o640


def test_files_without_findings_and_broken_files_are_untouched(tmp_path, store):
    clean = tmp_path / "clean.py"
    clean.write_bytes(b"import sqlite3\r\nconn.execute('PRAGMA journal_mode=WAL')  # \xff\r\n")
    broken = tmp_path / "broken.py"
    broken.write_bytes(b"def f(:\n    conn.execute('PRAGMA journal_mode=DELETE')\n")
    before = {p: p.stat().st_mtime_ns for p in (clean, broken)}
    result = _fix(str(tmp_path))
    assert result.exit_code == 1  # WAL000 for broken.py remains
    assert "WAL000" in result.output
    assert store.read_text() == FIXED
    assert {p: p.stat().st_mtime_ns for p in (clean, broken)} == before


def test_diff_prints_and_writes_nothing(store):
    result = _fix("--diff", str(store))
    assert result.exit_code == 1
    assert store.read_text() == VULNERABLE
    assert f"--- {store}" in result.output and "+    apply_wal_with_fallback(conn)" in result.output
    assert "Would fix 1 error." in result.output
    store.write_text(FIXED)
    nothing = _fix("--diff", str(store))
    assert nothing.exit_code == 0 and "No errors would be fixed." in nothing.output


def test_diff_summary_in_ruffs_words():
    from walint.cli.fixing import diff_summary
    class _Fix:
        def __init__(self, safe):
            self.is_safe = safe

    def finding(safe):
        return type("F", (), {"fix": _Fix(safe)})()

    assert diff_summary(2, []) == "Would fix 2 errors."
    assert diff_summary(1, [finding(False)]) == "Would fix 1 error (1 additional fix available with `--unsafe-fixes`)."
    assert diff_summary(1, [finding(False)], unsafe_fixes=True) == "Would fix 1 error."
    assert diff_summary(0, [finding(False), finding(False), finding(True)]) == (
        "No errors would be fixed (2 fixes available with `--unsafe-fixes`)."
    )
    assert diff_summary(0, []) == "No errors would be fixed."


# ----- standard input ------------------------------------------------------------------------


def test_stdin_fixed_source_goes_to_stdout():
    result = CliRunner().invoke(main, ["fix", "-", "--stdin-filename", "store.py"], input=VULNERABLE)
    assert result.exit_code == 0
    assert result.stdout == FIXED
    assert "Found 1 error (1 fixed, 0 remaining)." in result.stderr


def test_stdin_diff():
    result = CliRunner().invoke(main, ["fix", "--diff", "-"], input=VULNERABLE)
    assert result.exit_code == 1
    assert result.stdout.startswith("--- -\n+++ -\n")


def test_stdin_that_cannot_be_fixed_is_echoed_unchanged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.walint]\nexclude = ['legacy']\nper-file-ignores = { 'tests/*' = ['WAL001'] }\n"
    )

    def fix_stdin(*args):
        return CliRunner().invoke(main, ["fix", "-", *args], input=VULNERABLE)

    excluded = fix_stdin("--force-exclude", "--stdin-filename", "legacy/store.py")
    ignored = fix_stdin("--stdin-filename", "tests/store.py")
    assert (excluded.exit_code, excluded.stdout) == (0, VULNERABLE)
    assert (ignored.exit_code, ignored.stdout) == (0, VULNERABLE)

    def refuse(data, fixes):
        raise fixer.FixError("refused for the test")

    monkeypatch.setattr(fixer, "apply_fixes", refuse)
    refused = fix_stdin("--stdin-filename", "store.py")
    assert refused.exit_code == 2
    assert refused.stdout == VULNERABLE
    assert "refused for the test" in refused.stderr
    assert not (tmp_path / ".walint_cache").exists()  # stdin is never cached


# ----- the helper setting and `walint helper` ------------------------------------------------


def test_helper_option_changes_the_import(store):
    assert _fix("--helper", "board.db_safety:enable_wal", str(store)).exit_code == 0
    text = store.read_text()
    assert "from board.db_safety import enable_wal\n" in text and "    enable_wal(conn)\n" in text


def test_helper_setting_from_pyproject(tmp_path, store):
    (tmp_path / "pyproject.toml").write_text('[tool.walint]\nhelper = "board.wal:safe_wal"\n')
    assert _fix(str(store)).exit_code == 0
    assert "from board.wal import safe_wal\n" in store.read_text()


def test_a_bad_helper_is_a_usage_error(store):
    result = _fix("--helper", "os.system('rm -rf /')", str(store))
    assert result.exit_code == 2
    assert "--helper must be 'module.path:function'" in result.output
    assert store.read_text() == VULNERABLE


def test_helper_command_writes_a_standalone_copy(tmp_path):
    target = tmp_path / "vendor" / "wal_safety.py"
    result = CliRunner().invoke(main, ["helper", "--output", str(target)])
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert text.startswith("# Copied from walint ")
    # Standalone: a bare interpreter without walint on its path imports it and finds the API.
    probe = (
        "import sys; sys.path[:] = [p for p in sys.path if 'walint' not in p and 'site-packages' not in p]; "
        f"sys.path.insert(0, {str(target.parent)!r}); import wal_safety; "
        "assert callable(wal_safety.apply_wal_with_fallback) and callable(wal_safety.journal_mode_on_disk); "
        "assert 'libcst' not in sys.modules and 'click' not in sys.modules"
    )
    subprocess.run([sys.executable, "-S", "-c", probe], check=True, cwd=tmp_path)
    again = CliRunner().invoke(main, ["helper", "--output", str(target)])
    assert again.exit_code == 2 and "--force" in again.output
    assert CliRunner().invoke(main, ["helper", "--output", str(target), "--force"]).exit_code == 0


def test_helper_command_to_stdout():
    result = CliRunner().invoke(main, ["helper", "-o", "-"])
    assert result.exit_code == 0
    assert "def apply_wal_with_fallback(" in result.output


# ----- writes that must not happen -----------------------------------------------------------


@pytest.mark.skipif(IS_ROOT, reason="root can write read-only files' directories; covered by the mode check below")
def test_read_only_file_is_reported_not_forced(store):
    store.chmod(0o444)
    result = _fix(str(store))
    assert result.exit_code == 2
    assert "is read-only; not written" in result.output
    assert store.read_text() == VULNERABLE


def test_read_only_mode_is_respected_even_for_root(store):
    store.chmod(0o444)
    try:
        result = _fix(str(store))
        assert result.exit_code == 2
        assert f"{store}: is read-only; not written" in result.output
        assert store.read_text() == VULNERABLE
        assert "Found 1 error (0 fixed, 1 remaining)." in result.output
    finally:
        store.chmod(0o644)


def test_symlink_leaving_the_roots_is_not_written_through(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    real = outside / "store.py"
    real.write_text(VULNERABLE)
    root = tmp_path / "project"
    root.mkdir()
    (root / "store.py").symlink_to(real)
    result = _fix(str(root / "store.py"))
    assert real.read_text() == VULNERABLE
    assert result.exit_code == 2
    assert "is a symlink to a file outside the checked paths; not written" in result.output


def test_symlink_inside_the_roots_writes_the_target_and_stays_a_link(tmp_path):
    real = tmp_path / "store_impl.py"
    real.write_text(VULNERABLE)
    link = tmp_path / "store.py"
    link.symlink_to(real.name)
    assert _fix(str(link)).exit_code == 0
    assert link.is_symlink() and real.read_text() == FIXED


def test_a_file_changed_during_the_run_is_not_overwritten(store, monkeypatch):
    real_write_change = fixer.write_change

    def edit_then_write_change(*args, **kwargs):
        store.write_text(VULNERABLE + "# edited by a person meanwhile\n")
        return real_write_change(*args, **kwargs)

    monkeypatch.setattr(fixer, "write_change", edit_then_write_change)
    result = _fix(str(store))
    assert result.exit_code == 2
    assert "changed on disk while walint was fixing it; not written" in result.output
    assert store.read_text().endswith("# edited by a person meanwhile\n")


@pytest.mark.parametrize("step", ["mkstemp", "write", "fsync", "chmod", "replace"])
def test_a_failure_at_any_write_step_leaves_the_original_and_no_temporary(store, monkeypatch, step):
    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    if step == "mkstemp":
        monkeypatch.setattr(writing.tempfile, "mkstemp", boom)
    elif step == "write":
        real_fdopen = os.fdopen

        class FailingFile:
            def __init__(self, fd, mode):
                self.handle = real_fdopen(fd, mode)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.handle.close()

            def write(self, data):
                self.handle.write(data[: len(data) // 2])
                boom()

        monkeypatch.setattr(fixer.os, "fdopen", FailingFile)
    else:
        monkeypatch.setattr(fixer.os, step, boom)
    result = _fix(str(store))
    assert result.exit_code == 2
    assert "cannot be written: No space left on device; the file is unchanged" in result.output
    assert store.read_text() == VULNERABLE
    assert _temporaries(store.parent) == []


def test_fixes_that_do_not_settle_are_a_reported_error(store, monkeypatch):
    monkeypatch.setattr(fixer, "MAX_ROUNDS", 0)
    result = _fix(str(store))
    assert result.exit_code == 2
    assert "the fixes did not settle" in result.output


def test_output_that_would_not_parse_is_refused():
    finding = Finding(
        "x.py",
        "WAL001",
        "m",
        Location(1, 1),
        Location(1, 1),
        fix=Fix("break it", "safe", (Edit("def (:\n", Location(1, 1), Location(2, 1)),)),
    )
    with pytest.raises(fixer.FixError, match="would not parse"):
        fixer.apply_fixes(b"x = 1\n", [finding])


def test_overlapping_fixes_wait_for_the_next_round():
    def finding(row, content):
        return Finding("x.py", "WAL002", "m", Location(row, 1), Location(row, 2),
                       fix=Fix("t", "safe", (Edit(content, Location(row, 1), Location(row + 1, 1)),)))

    first, second, third = finding(1, "a\n"), finding(1, "b\n"), finding(3, "c\n")
    assert fixer.choose_fixes([first, second, third], unsafe=False) == {"x.py": [first, third]}


def test_hostile_files_never_stop_the_others_from_being_fixed(tmp_path, store):
    hostile = {
        "binary.py": bytes(range(256)) * 4,
        "nul.py": b"import sqlite3\x00\nconn.execute('PRAGMA journal_mode=DELETE')\n",
        "bad_utf8.py": b"# journal_mode\nx = '\xff\xfe'\n",
        "wrong_cookie.py": b"# -*- coding: klingon -*-\nconn.execute('PRAGMA journal_mode=WAL')\n",
        "python2.py": b"print 'journal_mode'\nexec 'x'\n",
        "empty.py": b"",
    }
    for name, data in hostile.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "pkg.py").mkdir()  # a directory named like a module
    (tmp_path / "dangling.py").symlink_to(tmp_path / "nowhere.py")
    result = _fix(str(tmp_path))
    assert "Traceback" not in result.output
    assert store.read_text() == FIXED
    for name, data in hostile.items():
        assert (tmp_path / name).read_bytes() == data, name
    assert _temporaries(tmp_path) == []


def test_a_file_libcst_cannot_reproduce_is_refused_not_rewritten(tmp_path):
    # LibCST drops a line holding only a backslash; fixing through it would lose bytes.
    source = VULNERABLE.replace("def connect(path):\n", "x = 1\n\\\ny = 2\n\n\ndef connect(path):\n")
    path = tmp_path / "store.py"
    path.write_text(source)
    result = _fix(str(path))
    assert path.read_text() == source
    assert "cannot reproduce this file byte for byte; left unchanged" in result.output
    assert result.exit_code == 2
