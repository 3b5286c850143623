"""Hostile inputs: whatever a file holds or whatever happens to it, `walint check` reports
it in one clear line (or skips what cannot be Python), exits with the documented code,
never prints a traceback, and still checks every other file.

Each test puts a vulnerable ``good.py`` next to the bad input and asserts that its finding
is still reported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import walint.discovery
from walint.cli import main
from walint.engine import MAX_SOURCE_BYTES

GOOD = (
    "def enable_wal(conn):\n"
    "    try:\n"
    "        conn.execute('PRAGMA journal_mode=WAL')\n"
    "    except Exception:\n"
    "        conn.execute('PRAGMA journal_mode=DELETE')\n"
)
GOOD_FINDING = ":5:9: WAL001 "

# Something a rule looks for, so that the prefilter does not skip the file unread.
TOKEN = b"# journal_mode\n"


class Outcome:
    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr

    def finding(self, name: str) -> str:
        """The concise report line for the file ``name``, or ""."""
        lines = [line for line in self.stdout.splitlines() if os.path.basename(line.split(":", 1)[0]) == name]
        assert len(lines) <= 1, lines
        return lines[0] if lines else ""

    def error(self, name: str) -> str:
        """The ``walint: error:`` line about ``name``, or ""."""
        lines = [
            line
            for line in self.stderr.splitlines()
            if line.startswith("walint: error: ") and os.path.basename(line[15:].split(": ", 1)[0]) == name
        ]
        assert len(lines) <= 1, lines
        return lines[0] if lines else ""


def _check(root: Path, *paths: str) -> Outcome:
    """Run `walint check` in-process with concise output; the good file's finding must be there."""
    runner = CliRunner()
    previous = os.getcwd()
    os.chdir(root)
    try:
        result = runner.invoke(main, ["check", "--isolated", "--output-format", "concise", *(paths or ["."])])
    finally:
        os.chdir(previous)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    outcome = Outcome(result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    assert GOOD_FINDING in outcome.finding("good.py"), result.output
    return outcome


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "good.py").write_text(GOOD)
    return tmp_path


def _big(path: Path, megabytes: int, token: bool) -> None:
    row = b'    ("000000", "some generated text value", 12345, 3.14159, None),\n'
    with open(path, "wb") as handle:
        handle.write((TOKEN if token else b"") + b"DATA = [\n")
        handle.write(row * (megabytes * 2**20 // len(row) + 1))
        handle.write(b"]\n")


def test_20_mb_candidate_file_is_reported_not_parsed(tree):
    # Parsing it would take LibCST about five minutes and 11 GB of memory.
    _big(tree / "generated.py", 20, token=True)
    outcome = _check(tree)
    assert outcome.exit_code == 2
    limit = MAX_SOURCE_BYTES // 2**20
    assert outcome.error("generated.py") == (
        f"walint: error: generated.py: too large to check: 20.0 MB, over the {limit} MB limit (exclude it to skip it)"
    )
    assert outcome.finding("generated.py") == ""


def test_20_mb_file_without_a_rule_token_is_skipped_by_the_prefilter(tree):
    _big(tree / "generated.py", 20, token=False)
    outcome = _check(tree)
    assert outcome.exit_code == 1
    assert outcome.error("generated.py") == outcome.finding("generated.py") == ""


def _unreadable_tree(root: Path) -> None:
    (root / "good.py").write_text(GOOD)
    (root / "secret.py").write_text(GOOD)
    (root / "locked").mkdir()
    (root / "locked" / "inner.py").write_text(GOOD)
    (root / "secret.py").chmod(0)
    (root / "locked").chmod(0)


def _assert_unreadable_reported(outcome: Outcome) -> None:
    assert outcome.exit_code == 2
    assert outcome.error("secret.py") == "walint: error: secret.py: permission denied"
    assert outcome.error("locked") == "walint: error: locked: cannot list directory: permission denied"
    assert outcome.finding("inner.py") == outcome.finding("secret.py") == ""


def test_unreadable_file_and_directory_simulated(tree, monkeypatch):
    """Runs everywhere, root included: the OS refuses through the calls walint makes."""
    (tree / "secret.py").write_text(GOOD)
    (tree / "locked").mkdir()
    (tree / "locked" / "inner.py").write_text(GOOD)
    real_scandir, real_read_bytes = os.scandir, Path.read_bytes

    def scandir(path="."):
        if os.path.basename(os.fspath(path)) == "locked":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    def read_bytes(self):
        if self.name == "secret.py":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    _assert_unreadable_reported(_check(tree))


def _drop_root_file_capabilities() -> None:
    """In the child, before exec: give up CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH.

    Root then meets permission bits like any owner, and still runs the interpreter and
    reads the files it owns that allow it (unlike switching to ``nobody``, who may not
    reach an interpreter installed under /root).
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2
    for capability in (cap_dac_override, cap_dac_read_search):
        if libc.prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="real permission bits are tried on Linux")
def test_unreadable_file_and_directory_for_real(tmp_path):
    """With real permission bits. Root reads everything, so as root walint runs without
    the capabilities that let it."""
    _unreadable_tree(tmp_path)
    try:
        if os.geteuid() != 0:
            _assert_unreadable_reported(_check(tmp_path))
            return
        command = [sys.executable, "-m", "walint", "check", "--isolated", "--output-format", "concise", "."]
        try:
            process = subprocess.run(
                command,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                preexec_fn=_drop_root_file_capabilities,
            )
        except (OSError, subprocess.SubprocessError) as error:
            pytest.skip(f"running as root and cannot drop CAP_DAC_OVERRIDE here ({error}), so chmod has no effect")
        assert "Traceback" not in process.stderr, process.stderr
        outcome = Outcome(process.returncode, process.stdout, process.stderr)
        assert GOOD_FINDING in outcome.finding("good.py"), process.stdout
        _assert_unreadable_reported(outcome)
    finally:
        (tmp_path / "locked").chmod(0o700)
        (tmp_path / "secret.py").chmod(0o600)
