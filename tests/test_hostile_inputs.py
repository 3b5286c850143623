"""Hostile inputs: whatever a file holds or whatever happens to it, `walint check` reports
it in one clear line (or skips what cannot be Python), exits with the documented code,
never prints a traceback, and still checks every other file.

Each test puts a vulnerable ``good.py`` next to the bad input and asserts that its finding
is still reported.
"""

from __future__ import annotations

import os
import stat
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


def _invoke(root: Path, args) -> Outcome:
    """Run walint in-process in ``root``: no traceback, no internal error."""
    runner = CliRunner()
    previous = os.getcwd()
    os.chdir(root)
    try:
        result = runner.invoke(main, list(args))
    finally:
        os.chdir(previous)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    return Outcome(result.exit_code, result.stdout, result.stderr)


def _check(root: Path, *paths: str, options=()) -> Outcome:
    """Run `walint check` in-process with concise output; the good file's finding must be there."""
    outcome = _invoke(root, ["check", "--isolated", "--output-format", "concise", *options, *(paths or ["."])])
    assert GOOD_FINDING in outcome.finding("good.py"), outcome.stdout + outcome.stderr
    return outcome


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "good.py").write_text(GOOD)
    return tmp_path


def test_binary_file_without_a_rule_token_costs_one_read_and_is_skipped(tree):
    (tree / "image.py").write_bytes(bytes(range(256)) * 64)
    outcome = _check(tree)
    assert outcome.exit_code == 1
    assert outcome.finding("image.py") == outcome.error("image.py") == ""


def test_binary_file_holding_a_rule_token_is_a_parse_error(tree):
    (tree / "image.py").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) + b"journal_mode\xff\xfe")
    outcome = _check(tree)
    assert outcome.exit_code == 1
    assert " WAL000 Cannot parse: " in outcome.finding("image.py")
    assert "null bytes" in outcome.finding("image.py")


def test_nul_byte_in_source(tree):
    (tree / "nul.py").write_bytes(b"conn.execute('PRAGMA journal_mode=WAL')\n\x00x = 1\n")
    outcome = _check(tree)
    assert outcome.exit_code == 1
    assert outcome.finding("nul.py").startswith("nul.py:")
    assert " WAL000 Cannot parse: " in outcome.finding("nul.py")
    assert "null bytes" in outcome.finding("nul.py")


def test_invalid_utf8_without_a_coding_cookie(tree):
    (tree / "latin.py").write_bytes(TOKEN + b"NAME = 'caf\xe9'\n")
    outcome = _check(tree)
    assert outcome.exit_code == 1
    line = outcome.finding("latin.py")
    assert line.startswith("latin.py:2:"), line
    assert " WAL000 Cannot parse: " in line and "utf-8" in line.lower()


def test_unknown_coding_cookie(tree):
    (tree / "klingon.py").write_bytes(b"# -*- coding: klingon -*-\n" + TOKEN + b"x = 1\n")
    outcome = _check(tree)
    assert outcome.exit_code == 1
    assert outcome.finding("klingon.py") == "klingon.py:1:1: WAL000 Cannot parse: unknown encoding: klingon"


@pytest.mark.parametrize("codec", ["hex", "rot13", "uu_codec"])
def test_coding_cookie_naming_a_bytes_to_bytes_codec(tree, codec):
    """Python knows these codecs but refuses them as a source encoding; LibCST raised
    LookupError, which stopped the run with a traceback."""
    (tree / "codec.py").write_bytes(f"# coding: {codec}\n".encode() + GOOD.encode())
    outcome = _check(tree)
    assert outcome.exit_code == 1
    assert outcome.finding("codec.py") == (
        f"codec.py:1:1: WAL000 Cannot parse: '{codec}' is not a text encoding; use codecs.decode() to handle arbitrary codecs"
    )
    # The code frame of the full report decodes the file too.
    full = _invoke(tree, ["check", "--isolated", "codec.py", "good.py"])
    assert full.exit_code == 1 and f"# coding: {codec}" in full.stdout
    fixed = _invoke(tree, ["fix", "--isolated", "--diff", "codec.py", "good.py"])
    assert fixed.exit_code == 1 and "codec.py" not in fixed.stdout and "+++ good.py" in fixed.stdout


def test_source_encoding_never_names_a_codec_that_cannot_decode():
    from walint.text import source_encoding

    assert source_encoding(b"# coding: rot13\n") == "utf-8"
    assert source_encoding(b"# coding: latin-1\n") == "iso-8859-1"
    assert source_encoding(b"# coding: klingon\n") == "utf-8"


@pytest.fixture
def undecodable_name(tree):
    """A file whose name is not UTF-8 (b"\\xff.py"), as POSIX allows."""
    name = os.fsdecode(b"\xff.py")
    try:
        (tree / name).write_text(GOOD)
    except (OSError, UnicodeError) as error:
        pytest.skip(f"this file system refuses a name that is not UTF-8: {error}")
    return name


@pytest.mark.parametrize("output_format", ["full", "concise", "json", "json-lines", "sarif", "gitlab", "github"])
def test_file_name_that_is_not_utf8_in_every_format(tree, undecodable_name, output_format):
    """The project pass (module names as bytes), the SARIF URI and the GitLab/SARIF
    fingerprints once raised UnicodeEncodeError on such a name."""
    outcome = _invoke(tree, ["check", "--isolated", "--output-format", output_format, "."])
    assert outcome.exit_code == 1
    assert outcome.stdout.count("WAL001") >= 2, outcome.stdout
    if output_format == "sarif":
        assert '"uri": "%FF.py"' in outcome.stdout
    if output_format in ("full", "concise", "github"):
        assert "\\udcff.py" in outcome.stdout  # shown escaped, never as a raw surrogate


def test_file_name_that_is_not_utf8_is_fixed_and_baselined(tree, undecodable_name):
    assert _invoke(tree, ["check", "--isolated", "--write-baseline", "baseline.json", "."]).exit_code == 0
    assert _invoke(tree, ["check", "--isolated", "--baseline", "baseline.json", "."]).exit_code == 0
    outcome = _invoke(tree, ["fix", "--isolated", "."])
    assert outcome.exit_code == 0, outcome.stderr
    assert (tree / undecodable_name).read_text().startswith("from walint.runtime import apply_wal_with_fallback")


def test_coding_cookie_that_does_not_match_the_bytes(tree):
    (tree / "ascii.py").write_bytes(b"# -*- coding: ascii -*-\n" + TOKEN + "NAME = 'café'\n".encode("utf-8"))
    outcome = _check(tree)
    assert outcome.exit_code == 1
    line = outcome.finding("ascii.py")
    assert line.startswith("ascii.py:3:"), line
    assert " WAL000 Cannot parse: " in line and "'ascii' codec can't decode byte 0xc3" in line


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


def _deep(levels: int) -> str:
    # Valid Python that the interpreter compiles, nested ``levels`` deep in both its AST
    # and LibCST's tree; and a string of ``levels`` implicitly concatenated pieces, which
    # LibCST nests as deep. (A 1,000-call chain nests as deep but takes LibCST 10 s to parse.)
    return "ENABLED = " + "not " * levels + "False\n" + "QUERY = (\n" + "    'x'\n" * levels + ")\n"


def test_file_nested_1000_levels_deep_does_not_stop_the_run(tree):
    source = _deep(1000)
    compile(source, "deep.py", "exec")
    (tree / "deep.py").write_text("# journal_mode is set by the caller\n" + source)
    outcome = _check(tree)
    # Either walint analyses it (nothing to report), or it says clearly that it could not.
    if outcome.error("deep.py"):
        assert outcome.error("deep.py") == "walint: error: deep.py: too deeply nested to analyse"
        assert outcome.exit_code == 2
    else:
        assert outcome.exit_code == 1
    assert outcome.finding("deep.py") == ""


def test_hazard_in_a_file_nested_1000_levels_deep_is_found(tree):
    (tree / "deep.py").write_text(GOOD + _deep(1000))
    outcome = _check(tree)
    assert outcome.error("deep.py") == ""
    assert GOOD_FINDING in outcome.finding("deep.py")
    assert outcome.exit_code == 1


def test_line_of_1_mb(tree):
    long_line = "        conn.execute('PRAGMA journal_mode=DELETE'); PAD = '" + "x" * 2**20 + "'\n"
    (tree / "long.py").write_text(GOOD.rsplit("\n", 2)[0] + "\n" + long_line)
    outcome = _check(tree)
    assert outcome.exit_code == 1
    assert outcome.finding("long.py").startswith("long.py:5:9: WAL001 ")
    assert len(outcome.stdout) < 10_000  # the concise report does not echo the line


def test_symlink_loop(tree):
    os.symlink("loop.py", tree / "loop.py")
    walked = _check(tree)
    assert walked.exit_code == 1  # in a walk it is not a file: skipped
    assert walked.error("loop.py") == ""
    named = _check(tree, "loop.py", "good.py")
    assert named.exit_code == 2
    assert named.error("loop.py") == "walint: error: loop.py: Too many levels of symbolic links"


def test_dangling_symlink(tree):
    os.symlink("gone.py", tree / "dangling.py")
    walked = _check(tree)
    assert walked.exit_code == 1
    assert walked.error("dangling.py") == ""
    named = _check(tree, "dangling.py", "good.py")
    assert named.exit_code == 2
    assert named.error("dangling.py") == "walint: error: dangling.py: no such file (it vanished or is a dangling symlink)"


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
    real_scandir, real_open = os.scandir, os.open

    def scandir(path="."):
        if os.path.basename(os.fspath(path)) == "locked":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    def open_(path, *args, **kwargs):
        if os.path.basename(os.fspath(path)) == "secret.py":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "open", open_)
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


def test_path_that_vanishes_between_discovery_and_reading(tree, monkeypatch):
    (tree / "fleeting.py").write_text(GOOD)
    real_discover = walint.discovery.discover

    def discover_then_delete(*args, **kwargs):
        found = real_discover(*args, **kwargs)
        assert any(c.path.name == "fleeting.py" for c in found)
        (tree / "fleeting.py").unlink()
        return found

    monkeypatch.setattr(walint.discovery, "discover", discover_then_delete)
    monkeypatch.setattr("walint.cli.inputs.discover", discover_then_delete, raising=False)
    outcome = _check(tree)
    assert outcome.exit_code == 2
    assert outcome.error("fleeting.py") == (
        "walint: error: fleeting.py: no such file (it vanished or is a dangling symlink)"
    )


def test_python_2_syntax(tree):
    (tree / "legacy.py").write_text(
        "def enable_wal(conn):\n"
        "    try:\n"
        "        conn.execute('PRAGMA journal_mode=WAL')\n"
        "    except sqlite3.OperationalError, exc:\n"
        "        print 'falling back', exc\n"
        "        conn.execute('PRAGMA journal_mode=DELETE')\n"
    )
    outcome = _check(tree)
    assert outcome.exit_code == 1
    line = outcome.finding("legacy.py")
    assert line.startswith("legacy.py:4:"), line
    assert " WAL000 Cannot parse: " in line


def test_empty_file(tree):
    (tree / "empty.py").write_bytes(b"")
    outcome = _check(tree, "empty.py", "good.py")
    assert outcome.exit_code == 1
    assert outcome.finding("empty.py") == outcome.error("empty.py") == ""
    alone = CliRunner().invoke(main, ["check", "--isolated", str(tree / "empty.py")])
    assert (alone.exit_code, alone.output) == (0, "All checks passed!\n")


def test_directory_named_like_a_python_file_is_walked_not_read(tmp_path):
    (tmp_path / "x.py").mkdir()
    (tmp_path / "x.py" / "good.py").write_text(GOOD)
    for paths in ((), ("x.py",)):
        outcome = _check(tmp_path, *paths)
        assert outcome.exit_code == 1
        assert outcome.error("x.py") == ""
        assert outcome.finding("good.py").startswith(os.path.join("x.py", "good.py") + ":5:9: WAL001 ")


def test_every_hostile_input_at_once(tree):
    """All of them in one run: each reported on its own, the good file's finding still there."""
    (tree / "nul.py").write_bytes(TOKEN + b"\x00")
    (tree / "latin.py").write_bytes(TOKEN + b"NAME = 'caf\xe9'\n")
    (tree / "klingon.py").write_bytes(b"# coding: klingon\n" + TOKEN)
    (tree / "legacy.py").write_text("# journal_mode\nprint 'x'\n")
    (tree / "empty.py").write_bytes(b"")
    (tree / "x.py").mkdir()
    os.symlink("loop.py", tree / "loop.py")
    os.symlink("gone.py", tree / "dangling.py")
    names = ["nul.py", "latin.py", "klingon.py", "legacy.py", "empty.py", "x.py", "loop.py", "dangling.py", "good.py"]
    outcome = _check(tree, *names)
    assert outcome.exit_code == 2
    for name in ("nul.py", "latin.py", "klingon.py", "legacy.py"):
        assert " WAL000 " in outcome.finding(name)
    assert outcome.error("loop.py") and outcome.error("dangling.py")
    assert not outcome.error("empty.py") and not outcome.error("x.py")


@pytest.mark.parametrize("separator", ["\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\v"])
def test_suppression_after_a_form_feed_or_other_separator_stays_on_its_line(tree, separator):
    """str.splitlines() breaks lines at these, Python does not: a form feed between
    sections (common in older code) once moved every later `# noqa` off its line."""
    (tree / "sections.py").write_text(
        f"x = 1  # {separator} section\n"
        f"NOTE = '{separator}'\n"
        + ("\x0c\n" if separator == "\x0c" else "")
        + GOOD.replace("DELETE')\n", "DELETE')  # noqa: WAL001\n")
        + "    conn.execute('PRAGMA journal_mode=WAL')\n",
        encoding="utf-8",
    )
    outcome = _check(tree)
    assert outcome.exit_code == 1
    assert outcome.finding("sections.py") == ""


@pytest.mark.parametrize(
    "name, encode",
    [
        ("bom.py", lambda text: b"\xef\xbb\xbf" + text.encode()),
        ("crlf.py", lambda text: text.replace("\n", "\r\n").encode()),
        ("cr_only.py", lambda text: text.replace("\n", "\r").encode()),
        ("utf16_bom.py", lambda text: ("# -*- coding: utf-16 -*-\n" + text).encode("utf-16")),
    ],
)
def test_byte_order_marks_and_line_endings(tree, name, encode):
    (tree / name).write_bytes(encode(GOOD))
    outcome = _check(tree)
    assert outcome.exit_code == 1
    if name == "utf16_bom.py":
        # Python reads source as UTF-8 unless a cookie says otherwise, and a UTF-16 file
        # cannot carry a readable cookie: the file holds no token the prefilter knows.
        assert outcome.finding(name) == outcome.error(name) == ""
    else:
        assert outcome.finding(name).startswith(f"{name}:5:9: WAL001 ")


@pytest.mark.parametrize(
    "literal, message",
    [(b"\x00", "null bytes"), (b"\\N{NO SUCH NAME}", "unknown Unicode character name")],
    ids=["nul-byte", "unknown-name-escape"],
)
def test_string_literal_that_libcst_accepts_and_python_rejects(tree, literal, message):
    """The rules read string values with Python's own rules; a value Python cannot
    decode once made each rule that read it an internal error (exit 2)."""
    (tree / "odd.py").write_bytes(
        b'FALLBACK = "PRAGMA journal_mode=' + literal + b'DELETE"\n' + GOOD.encode().replace(b"'PRAGMA journal_mode=DELETE'", b"FALLBACK")
    )
    outcome = _check(tree)
    assert outcome.exit_code == 1
    line = outcome.finding("odd.py")
    assert line.startswith("odd.py:1:") and " WAL000 Cannot parse: " in line and message in line, line
    assert outcome.error("odd.py") == ""


@pytest.mark.xfail(strict=False, reason="LibCST drops a line holding only a backslash continuation")
def test_line_holding_only_a_backslash_continuation(tree):
    """Python joins it to the next line; LibCST loses it, so positions after it are one
    line early (and a `# noqa` there is looked up on the wrong line). Found by hypothesmith."""
    (tree / "continued.py").write_text("\\\n" + GOOD)
    outcome = _check(tree)
    assert outcome.finding("continued.py").startswith("continued.py:6:9: WAL001 ")


# ----- only regular files, and never more than a bounded read -----------------------------


def _fifo(path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(path)


def test_fifo_named_like_a_python_file(tree):
    """Opening a FIFO for reading blocks until someone writes: the run hung forever."""
    _fifo(tree / "x.py")
    walked = _check(tree)
    assert walked.exit_code == 1  # in a walk it is not a file: skipped
    assert walked.error("x.py") == ""
    named = _check(tree, "x.py", "good.py")
    assert named.exit_code == 2
    assert named.error("x.py") == "walint: error: x.py: is a FIFO, not a regular file; not read"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_symlink_to_dev_zero_named_on_the_command_line(tree):
    """It never ends: reading it whole ate all the memory there was."""
    os.symlink("/dev/zero", tree / "zero.py")
    assert _check(tree).error("zero.py") == ""
    named = _check(tree, "zero.py", "good.py")
    assert named.exit_code == 2
    assert named.error("zero.py") == "walint: error: zero.py: is a character device, not a regular file; not read"


def test_file_over_the_read_limit_is_reported_not_read(tree, monkeypatch):
    monkeypatch.setattr(walint.discovery, "MAX_READ_BYTES", 2**20)
    (tree / "huge.py").write_bytes(b"x = 1\n" * (2**20 // 3))
    outcome = _check(tree)
    assert outcome.exit_code == 2
    assert outcome.error("huge.py") == (
        "walint: error: huge.py: too large to read: 2.0 MB, over the 1 MB limit (exclude it to skip it)"
    )


def test_reader_stops_at_its_limit_when_the_file_grows_while_read(tmp_path, monkeypatch):
    path = tmp_path / "growing.py"
    path.write_bytes(b"x = 1\n")
    real_fstat = os.fstat

    def fstat(fd):  # the size it had when stat'ed; it is larger by the time it is read
        status = real_fstat(fd)
        if stat.S_ISREG(status.st_mode):
            path.write_bytes(b"x" * 5000)
        return status

    monkeypatch.setattr(os, "fstat", fstat)
    with pytest.raises(walint.discovery.Unreadable, match="too large to read"):
        walint.discovery.read_regular(path, limit=1000)


def test_fifo_named_gitignore_does_not_hang_the_walk(tree):
    _fifo(tree / ".gitignore")
    assert _check(tree).exit_code == 1


def _config_error(tree: Path, *args: str) -> Outcome:
    outcome = _invoke(tree, ["check", "--output-format", "concise", *args, "."])
    assert outcome.exit_code == 2, outcome.stdout + outcome.stderr
    return outcome


def test_pyproject_that_is_not_utf8_is_a_configuration_error(tree):
    (tree / "pyproject.toml").write_bytes(b'[tool.walint]\nselect = ["WAL001"]\n# caf\xe9\n')
    for args in ((), ("--config", "pyproject.toml")):
        outcome = _config_error(tree, *args)
        assert outcome.stderr.startswith("walint: error: "), outcome.stderr
        assert "pyproject.toml: invalid TOML: not UTF-8 (" in outcome.stderr
        assert "Traceback" not in outcome.stderr


def test_pyproject_nested_too_deeply_is_a_configuration_error(tree):
    (tree / "pyproject.toml").write_text("[tool.walint]\nselect = " + "[" * 100_000 + "]" * 100_000 + "\n")
    outcome = _config_error(tree, "--config", "pyproject.toml")
    assert outcome.stderr == "walint: error: pyproject.toml: invalid TOML: nested too deeply\n"


@pytest.mark.parametrize("option", ["--config", "--baseline"])
def test_config_or_baseline_that_is_a_fifo(tree, option):
    _fifo(tree / "named-pipe")
    extra = ("--isolated",) if option == "--baseline" else ()
    outcome = _config_error(tree, *extra, option, "named-pipe")
    assert outcome.stderr.startswith("walint: error: named-pipe: ")
    assert "is a FIFO, not a regular file; not read" in outcome.stderr


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_baseline_dev_zero(tree):
    outcome = _config_error(tree, "--isolated", "--baseline", "/dev/zero")
    assert outcome.stderr == (
        "walint: error: /dev/zero: cannot read the baseline: is a character device, not a regular file; not read\n"
    )


@pytest.mark.parametrize(
    "document, reason",
    [
        ('{"version": 1, "findings": [{"path": "good.py", "code": "WAL001", "fingerprint": "x", "count": 1e309}]}',
         "bad entry: count inf is not a positive whole number"),
        ('{"version": 1, "findings": [{"path": "good.py", "code": "WAL001", "fingerprint": "x", "count": true}]}',
         "bad entry: count True is not a positive whole number"),
        ('{"version": 1, "findings": [{"path": ["a"], "code": "WAL001", "fingerprint": "x", "count": 1}]}',
         "bad entry: path, code and fingerprint must be strings"),
        ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply"),
        ("[]", "bad entry: list indices must be integers or slices, not str"),
    ],
    ids=["count-1e309", "count-true", "path-list", "nested-100k", "list"],
)
def test_baseline_that_walint_did_not_write(tree, document, reason):
    (tree / "baseline.json").write_text(document)
    outcome = _config_error(tree, "--isolated", "--baseline", "baseline.json")
    assert outcome.stderr == f"walint: error: baseline.json: not a walint baseline ({reason})\n"


def test_baseline_that_is_not_utf8(tree):
    (tree / "baseline.json").write_bytes(b'{"version": 1, "findings": [], "x": "\xff"}')
    outcome = _config_error(tree, "--isolated", "--baseline", "baseline.json")
    assert outcome.stderr.startswith("walint: error: baseline.json: not a walint baseline (not UTF-8: ")


# ----- suppressions are comments, read from tokens ------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "        conn.execute('PRAGMA journal_mode=DELETE'); log('  # noqa')\n",
        "        conn.execute('PRAGMA journal_mode=DELETE', ('#noqa: WAL001',))\n",
        "        conn.execute('PRAGMA journal_mode=DELETE'); log(\"\"\"# walint: ignore[WAL001]\"\"\")\n",
    ],
    ids=["noqa-in-string", "noqa-code-in-string", "walint-ignore-in-string"],
)
def test_suppression_text_inside_a_string_literal_does_not_suppress(tree, line):
    (tree / "sneaky.py").write_text(GOOD.rsplit("\n", 2)[0] + "\n" + line)
    outcome = _check(tree)
    assert outcome.exit_code == 1
    assert outcome.finding("sneaky.py").startswith("sneaky.py:5:9: WAL001 ")


def test_string_that_looks_like_a_suppression_then_a_real_one(tree):
    (tree / "both.py").write_text(GOOD.replace("DELETE')\n", "DELETE'); log('#noqa: WAL002')  # noqa: WAL001\n"))
    outcome = _check(tree)
    assert outcome.finding("both.py") == ""


def test_suppression_in_a_file_with_cr_line_endings(tree):
    (tree / "cr.py").write_bytes(GOOD.replace("DELETE')\n", "DELETE')  # noqa: WAL001\n").replace("\n", "\r").encode())
    assert _check(tree).finding("cr.py") == ""


def test_bare_walint_ignore_suppresses_every_code_on_its_line(tree):
    (tree / "bare.py").write_text(GOOD.replace("DELETE')\n", "DELETE')  # walint: ignore\n"))
    (tree / "ignored.py").write_text(GOOD.replace("DELETE')\n", "DELETE')  # walint: ignored\n"))
    outcome = _check(tree)
    assert outcome.finding("bare.py") == ""
    assert outcome.finding("ignored.py").startswith("ignored.py:5:9: WAL001 ")  # not the same word


def test_unused_bare_walint_ignore_is_reported_as_written(tree):
    (tree / "stale.py").write_text("conn.execute('PRAGMA journal_mode=WAL')  # walint: ignore\n")
    outcome = _check(tree, options=("--report-unused-noqa",))
    assert outcome.finding("stale.py") == "stale.py:1:42: WAL100 [*] Unused blanket `walint: ignore` directive"


@pytest.mark.parametrize(
    "setting, message",
    [
        ('select = [""]', "select: unknown rule selector ''"),
        ('select = [","]', "select: unknown rule selector ','"),
        ('select = [" , "]', "select: unknown rule selector ' , '"),
        ('ignore = [""]', "ignore: unknown rule selector ''"),
        ("per-file-ignores = { 'x.py' = [''] }", "per-file-ignores.'x.py': unknown rule selector ''"),
    ],
)
def test_empty_rule_selector_in_config_is_an_error(tree, setting, message):
    """`select = [""]` once selected no rule at all: every check passed, silently."""
    (tree / "pyproject.toml").write_text(f"[tool.walint]\n{setting}\n")
    outcome = _invoke(tree, ["check", "--output-format", "concise", "."])
    assert outcome.exit_code == 2
    assert outcome.stderr == f"walint: error: {tree / 'pyproject.toml'}: [tool.walint] {message} (no rule code in it)\n"
    assert outcome.stdout == ""


@pytest.mark.parametrize("flag", ["--select", "--ignore", "--extend-select"])
@pytest.mark.parametrize("value", ["", ",", " "])
def test_empty_rule_selector_on_the_command_line_is_an_error(tree, flag, value):
    outcome = _invoke(tree, ["check", "--isolated", flag, value, "."])
    assert outcome.exit_code == 2
    assert outcome.stderr == f"walint: error: {flag}: unknown rule selector {value!r} (no rule code in it)\n"


# ----- one display path, one file ----------------------------------------------------------


@pytest.fixture
def dotdot_through_a_symlink(tmp_path):
    """``x.py`` and ``d/../x.py``: with ``d`` a symlink to ``elsewhere/sub`` they are two
    files, ``x.py`` and ``elsewhere/x.py``, which normpath made one name."""
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (elsewhere / "sub").mkdir(parents=True)
    project.mkdir()
    (project / "good.py").write_text(GOOD)
    (project / "x.py").write_text(GOOD)
    (elsewhere / "x.py").write_text(GOOD.replace("DELETE", "TRUNCATE"))
    os.symlink(elsewhere / "sub", project / "d")
    return project, elsewhere


def test_two_files_never_share_a_display_path(dotdot_through_a_symlink):
    project, _ = dotdot_through_a_symlink
    dotdot = os.path.join("d", "..", "x.py")
    outcome = _invoke(project, ["check", "--isolated", "--output-format", "concise", "x.py", dotdot, "good.py"])
    assert outcome.exit_code == 1
    lines = outcome.stdout.splitlines()
    assert "x.py:5:9: WAL001 [*] Journal mode `DELETE` set in an `except` handler" in "\n".join(lines)
    assert any(line.startswith(f"{dotdot}:5:9: WAL001 [*] Journal mode `TRUNCATE`") for line in lines), lines
    # The code frame of each comes from its own file.
    full = _invoke(project, ["check", "--isolated", "x.py", dotdot])
    assert "5 |         conn.execute('PRAGMA journal_mode=TRUNCATE')" in full.stdout
    assert "5 |         conn.execute('PRAGMA journal_mode=DELETE')" in full.stdout


def test_both_files_sharing_a_name_once_are_fixed(dotdot_through_a_symlink):
    project, elsewhere = dotdot_through_a_symlink
    outcome = _invoke(project, ["fix", "--isolated", "x.py", os.path.join("d", "..", "x.py")])
    assert outcome.exit_code == 0, outcome.stderr
    for path in (project / "x.py", elsewhere / "x.py"):
        assert "apply_wal_with_fallback(conn)" in path.read_text()


def test_display_is_normalised_when_that_names_the_same_file(tree, monkeypatch):
    (tree / "d").mkdir()
    candidates = [c.display for c in walint.discovery.discover([str(tree / "d" / ".." / "good.py")])]
    assert candidates == [str(tree / "good.py")]
    monkeypatch.chdir(tree)
    assert [c.display for c in walint.discovery.discover(["./d/../good.py"])] == ["good.py"]


# ----- writes that lose nothing ------------------------------------------------------------

import signal  # noqa: E402
import time  # noqa: E402

import walint.writing as writing  # noqa: E402

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
FIXED_MARK = "apply_wal_with_fallback(conn)"


def _fix_file(path: Path) -> Outcome:
    return _invoke(path.parent, ["fix", "--isolated", "--no-cache", path.name])


def _temporaries(directory: Path):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".walint-tmp"))


def _during_the_write(monkeypatch, action) -> None:
    """Run ``action`` once walint has compared the file and is writing its replacement
    (the temporary file's fsync): the window a lost update used to slip through."""
    real_fsync = os.fsync
    done = []

    def fsync(fd):
        real_fsync(fd)
        if not done:
            done.append(True)
            action()

    monkeypatch.setattr(os, "fsync", fsync)


def test_an_edit_saved_while_walint_writes_is_not_overwritten(tree, monkeypatch):
    store = tree / "good.py"
    _during_the_write(monkeypatch, lambda: store.write_text(GOOD + "# saved by a person meanwhile\n"))
    outcome = _fix_file(store)
    assert outcome.exit_code == 2
    assert outcome.error("good.py") == "walint: error: good.py: changed on disk while walint was fixing it; not written"
    assert store.read_text().endswith("# saved by a person meanwhile\n")
    assert _temporaries(tree) == []


def test_an_editor_saving_by_rename_while_walint_writes_is_not_overwritten(tree, monkeypatch):
    store = tree / "good.py"

    def editor_save():  # same bytes, new file: the path no longer names what walint read
        (tree / "good.py~").write_text(GOOD)
        os.replace(tree / "good.py~", store)

    _during_the_write(monkeypatch, editor_save)
    outcome = _fix_file(store)
    assert outcome.exit_code == 2
    assert "changed on disk while walint was fixing it; not written" in outcome.error("good.py")
    assert store.read_text() == GOOD


def test_a_file_locked_by_another_walint_is_left_alone(tree):
    fcntl = pytest.importorskip("fcntl")
    store = tree / "good.py"
    with open(store, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        outcome = _fix_file(store)
    assert outcome.exit_code == 2
    assert outcome.error("good.py") == "walint: error: good.py: is being written by another walint process; not written"
    assert store.read_text() == GOOD


def test_a_hard_linked_file_is_refused_and_both_names_keep_their_content(tree):
    store = tree / "good.py"
    os.link(store, tree / "twin.txt")
    outcome = _fix_file(store)
    assert outcome.exit_code == 2
    assert outcome.error("good.py") == (
        "walint: error: good.py: has 2 hard links, which replacing it would separate; "
        "not written (fix it by hand, or break the links first)"
    )
    assert store.read_text() == GOOD and (tree / "twin.txt").read_text() == GOOD
    assert os.stat(store).st_ino == os.stat(tree / "twin.txt").st_ino


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("number", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_during_the_write_removes_the_temporary_file(tree, monkeypatch, number):
    store = tree / "good.py"
    signum = getattr(signal, number, None)
    if signum is None:
        pytest.skip(f"no {number} here")
    _during_the_write(monkeypatch, lambda: os.kill(os.getpid(), signum))
    expected = KeyboardInterrupt if number == "SIGINT" else SystemExit
    # A shell starts background jobs with SIGINT ignored, and nohup ignores SIGHUP; the
    # handlers a plain process starts with are the case under test, whatever launched pytest.
    starting = signal.default_int_handler if number == "SIGINT" else signal.SIG_DFL
    previous = signal.signal(signum, starting)
    try:
        with pytest.raises(expected):
            writing.replace_file(str(store), GOOD.encode(), b"x = 1\n")
    finally:
        signal.signal(signum, previous)
    assert _temporaries(tree) == []
    assert store.read_text() == GOOD
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handler is put back


def _leftover(directory: Path, name: str, age_seconds: float) -> Path:
    path = directory / name
    path.write_text("half a file\n")
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return path


def test_the_next_fix_removes_temporary_files_a_killed_walint_left(tree):
    hour = 3600
    stale = _leftover(tree, ".good.py.k3j_9zq1.walint-tmp", hour)
    young = _leftover(tree, ".good.py.a1b2c3d4.walint-tmp", 10)  # a write in progress, perhaps
    others = [
        _leftover(tree, ".good.py.a1b2c3d4.walint-tmp.bak", hour),  # not walint's name
        _leftover(tree, ".good.py.toolong99.walint-tmp", hour),
        _leftover(tree, ".other.py.a1b2c3d4.walint-tmp", hour),  # beside a file not written
        _leftover(tree, "good.py.a1b2c3d4.walint-tmp", hour),
    ]
    os.symlink(stale.name, tree / ".good.py.zzzzzzzz.walint-tmp")  # a symlink is never removed
    outcome = _fix_file(tree / "good.py")
    assert outcome.exit_code == 0, outcome.stderr
    assert FIXED_MARK in (tree / "good.py").read_text()
    assert not stale.exists()
    assert young.exists() and all(path.exists() for path in others)
    assert os.path.lexists(tree / ".good.py.zzzzzzzz.walint-tmp")


@pytest.mark.skipif(not IS_ROOT, reason="needs root to give a file to a second user")
def test_a_stale_temporary_file_of_another_user_is_left(tree):
    other = _leftover(tree, ".good.py.a1b2c3d4.walint-tmp", 3600)
    os.chown(other, 4242, 4242)
    assert _fix_file(tree / "good.py").exit_code == 0
    assert other.exists()


@pytest.mark.skipif(not IS_ROOT, reason="only root can make a set-user-ID file of another user")
def test_root_fixing_a_setuid_file_keeps_its_owner_and_mode(tree):
    store = tree / "good.py"
    os.chown(store, 4242, 4343)
    store.chmod(0o4755)
    outcome = _fix_file(store)
    assert outcome.exit_code == 0, outcome.stderr
    status = os.stat(store)
    assert FIXED_MARK in store.read_text()
    assert (status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode)) == (4242, 4343, 0o4755)


@pytest.mark.skipif(not IS_ROOT, reason="needs root to give the file to a second user")
def test_a_group_member_cannot_take_a_file_from_its_owner(tree, monkeypatch):
    """A group member may write a group-writable file but not chown the rewritten copy
    back to its owner (the kernel refuses, as simulated here): the file is left alone
    rather than silently becoming the fixer's."""
    store = tree / "good.py"
    os.chown(store, 4242, 4343)
    store.chmod(0o664)

    def chown(path, uid, gid, *args, **kwargs):
        raise PermissionError(1, "Operation not permitted", path)

    monkeypatch.setattr(os, "chown", chown)
    outcome = _fix_file(store)
    assert outcome.exit_code == 2
    error = outcome.error("good.py")
    assert error.startswith(
        "walint: error: good.py: is owned by 4242:4343 (user:group), which walint cannot give the "
        f"rewritten file (it would belong to {os.geteuid()}:"
    ) and error.endswith("); not written"), error
    status = os.stat(store)
    assert (status.st_uid, status.st_gid, store.read_text()) == (4242, 4343, GOOD)
    assert _temporaries(tree) == []


# ----- LibCST's limits: a crash or a runaway costs one file, with a clear message ---------


from walint import engine, screen, supervisor  # noqa: E402

_REAL_ANALYSE = engine._analyse


def _aborts_when_isolated(*args):
    """engine._analyse, except that in the supervisor's child it dies as LibCST's native
    parser does on input it cannot handle (pickled by name into the child)."""
    if supervisor.isolated():
        os.abort()
    return _REAL_ANALYSE(*args)


# Nested past screen.ISOLATE_DEPTH but well within MAX_DEPTH: analysed in a child process.
RISKY = "# journal_mode\nFLAG = " + "not " * (screen.ISOLATE_DEPTH + 50) + "False\n"
CRASHED = "walint: error: risky.py: the parser crashed on this file (killed by SIGABRT)"


@pytest.mark.parametrize("options", [["-j", "1"], []], ids=["jobs-1", "default-jobs"])
def test_a_parser_crash_costs_one_file(tree, monkeypatch, options):
    """Before, LibCST's SIGSEGV killed the run: exit 139, no output, every finding lost."""
    (tree / "risky.py").write_text(RISKY)
    monkeypatch.setattr(engine, "_analyse", _aborts_when_isolated)
    outcome = _check(tree, options=options)
    assert outcome.exit_code == 2
    assert outcome.error("risky.py") == CRASHED
    assert outcome.finding("risky.py") == ""


def test_a_parser_crash_on_stdin_and_in_fix(tree, monkeypatch):
    monkeypatch.setattr(engine, "_analyse", _aborts_when_isolated)
    runner = CliRunner()
    result = runner.invoke(main, ["check", "--isolated", "--stdin-filename", "risky.py", "-"], input=RISKY)
    assert result.exit_code == 2, result.output
    assert "walint: error: risky.py: the parser crashed on this file (killed by SIGABRT)" in result.stderr
    (tree / "risky.py").write_text(RISKY)
    fixed = _invoke(tree, ["fix", "--isolated", "."])
    assert fixed.exit_code == 2
    assert fixed.error("risky.py") == CRASHED
    assert (tree / "good.py").read_text().startswith("from walint.runtime import apply_wal_with_fallback")
    assert (tree / "risky.py").read_text() == RISKY


def test_a_risky_file_is_analysed_in_a_child_process(tree):
    (tree / "risky.py").write_text(GOOD + RISKY)
    outcome = _check(tree)
    assert outcome.exit_code == 1
    assert GOOD_FINDING in outcome.finding("risky.py")


def test_a_boolean_chain_that_crashed_libcst_is_not_analysed(tree):
    # 8,000 operands, 48 KB: LibCST's parser overflowed an 8 MB stack (SIGSEGV).
    (tree / "chain.py").write_text("# journal_mode\na = " + " and ".join(["a"] * 8000) + "\n")
    outcome = _check(tree)
    assert outcome.exit_code == 2
    assert outcome.error("chain.py") == (
        f"walint: error: chain.py: not analysed: code nested 8001 levels deep (line 2), over the limit of "
        f"{screen.MAX_DEPTH}: LibCST's time and memory grow with the square of the nesting"
    )


@pytest.mark.parametrize(
    "source",
    ["(" * 1300 + "1" + ")" * 1300, "[" * 2000 + "]" * 2000, "f(" * 2000 + ")" * 2000, "{1:" * 2000 + "1" + "}" * 2000],
    ids=["parentheses", "lists", "calls", "dicts"],
)
def test_brackets_nested_past_pythons_limit_are_a_syntax_error(tree, source):
    """LibCST crashed (SIGSEGV) on these; Python refuses more than 200 nested brackets."""
    (tree / "brackets.py").write_text("# journal_mode\na = " + source + "\n")
    outcome = _check(tree)
    assert outcome.exit_code == 1
    line = outcome.finding("brackets.py")
    assert line.startswith("brackets.py:2:") and line.endswith(" WAL000 Cannot parse: too many nested parentheses"), line


@pytest.mark.parametrize(
    "expression",
    [
        "a if a else " * (screen.MAX_DEPTH + 1) + "a",  # was 60 KB -> 4.3 GB and minutes
        " + ".join(["a"] * (screen.MAX_DEPTH + 2)),  # was 16 KB -> 5.5 s, 80 KB -> over 300 s
        "f" + "()" * (screen.MAX_DEPTH + 1),
        "lambda: " * (screen.MAX_DEPTH + 1) + "a",
    ],
    ids=["conditional", "sum", "calls", "lambdas"],
)
@pytest.mark.parametrize("output_format", ["concise", "json", "sarif"])
def test_code_nested_past_the_budget_is_not_analysed(tree, expression, output_format):
    (tree / "deep.py").write_text(f"# journal_mode\nx = 1\nvalue = {expression}\n")
    outcome = _invoke(tree, ["check", "--isolated", "--output-format", output_format, "."])
    assert outcome.exit_code == 2
    assert outcome.error("deep.py").startswith(
        f"walint: error: deep.py: not analysed: code nested {screen.MAX_DEPTH + 2} levels deep (line 3), over the limit"
    )
    assert "WAL001" in outcome.stdout and "good.py" in outcome.stdout  # the other file's finding
    for wal000 in (" WAL000 ", '"code": "WAL000"', '"ruleId": "WAL000"'):  # never a parse error
        assert wal000 not in outcome.stdout


@pytest.mark.parametrize("definition", ["def f(): pass", "async def f(): pass", "class C: pass"])
def test_a_deep_decorator_of_a_short_definition_is_measured(definition):
    """A definition's span starts at `def`, after its decorators: a short one is not
    proof that nothing deep is above it."""
    deep = " + ".join(["a"] * (screen.MAX_DEPTH + 2))
    verdict = screen.screen(f"@{deep}\n{definition}\n".encode())
    assert verdict.refusal is not None and verdict.refusal.startswith(f"code nested {screen.MAX_DEPTH + 2} levels deep")


def test_short_statements_are_not_measured_inside_but_a_long_one_is():
    short = "if x:\n    y = (1 + 2)\n" * 50
    deep = "z = " + " + ".join(["a"] * (screen.ISOLATE_DEPTH + 1)) + "\n"
    assert screen.screen(short.encode()).depth == 0
    verdict = screen.screen((short + "if x:\n    " + deep).encode())
    assert verdict.isolate and verdict.depth == screen.ISOLATE_DEPTH + 1


def test_many_deep_statements_are_not_analysed(tree):
    depth = screen.MAX_DEPTH * 2 // 3
    statements = int(screen.MAX_DEEP_WORK / depth**2) + 1
    (tree / "deep.py").write_text("# journal_mode\n" + f"x = {'-' * depth}1\n" * statements)
    outcome = _check(tree)
    assert outcome.exit_code == 2
    assert outcome.error("deep.py").startswith("walint: error: deep.py: not analysed: too much deeply nested code")


def test_code_too_deep_for_pythons_own_parser_is_not_analysed(tree):
    (tree / "deep.py").write_text("# journal_mode\nx = " + " + ".join(["a"] * 20_000) + "\n")
    outcome = _check(tree)
    if outcome.finding("deep.py"):  # a Python that calls it a syntax error ("too complex")
        assert " WAL000 Cannot parse: " in outcome.finding("deep.py")
    else:
        assert outcome.exit_code == 2
        assert "deep.py: not analysed: " in outcome.error("deep.py")


LIBCST_REJECTS = [
    "QUERY = (\n" + "    'x'\n" * 5000 + ")\n",  # 5,000 implicitly concatenated strings
    "(pars): bool = True\n",  # a parenthesized annotated name, as in typinganndata/ann_module.py
    "def f():\n    (no_such_global): int\n",  # as in test_grammar.py
]


@pytest.mark.parametrize("source", LIBCST_REJECTS, ids=["strings", "annotation", "annotation-in-function"])
def test_valid_python_libcst_cannot_parse_is_not_analysed_not_a_syntax_error(tree, source):
    """Before: WAL000 "Cannot parse", telling the user their valid file had a syntax error."""
    compile(source, "valid.py", "exec")
    (tree / "valid.py").write_text("# journal_mode\n" + source)
    outcome = _check(tree)
    assert outcome.exit_code == 2
    assert outcome.finding("valid.py") == ""
    assert outcome.error("valid.py").startswith(
        "walint: error: valid.py: not analysed: LibCST cannot parse this file, which Python accepts (Syntax Error @ "
    )


@pytest.mark.parametrize("name", ["test/test_grammar.py", "test/typinganndata/ann_module.py"])
def test_cpythons_own_test_files_are_not_analysed_not_a_syntax_error(tree, name):
    import sysconfig

    source = Path(sysconfig.get_paths()["stdlib"], name)
    if not source.exists():
        pytest.skip(f"{name} is not installed")
    (tree / "stdlib.py").write_bytes(TOKEN + source.read_bytes())
    outcome = _check(tree)
    assert outcome.exit_code == 2
    assert outcome.finding("stdlib.py") == ""
    assert "stdlib.py: not analysed: LibCST cannot parse this file" in outcome.error("stdlib.py")


def test_stdin_is_read_through_a_bound(monkeypatch):
    monkeypatch.setattr(walint.discovery, "MAX_READ_BYTES", 2**20)
    result = CliRunner().invoke(main, ["check", "--isolated", "-"], input=b"x = 1\n" * 2**18)
    assert result.exit_code == 2
    assert result.stderr == "walint: error: standard input: too large to read: over the 1 MB limit\n"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_stdin_from_dev_zero_is_an_error_not_all_the_memory():
    with open("/dev/zero", "rb") as zero:
        result = subprocess.run(
            [sys.executable, "-m", "walint", "check", "--isolated", "-"], stdin=zero, capture_output=True, timeout=120
        )
    assert result.returncode == 2
    assert result.stderr.decode().startswith("walint: error: standard input: too large to read: over the ")


INVALID_ESCAPES = r'''import re
import sqlite3

WORDS = re.compile("\d+ (locking protocol|disk i/o error)")
MARKERS = ("locking protocol", "disk i/o error", "\w+ busy")


def open_db(path):
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        if not any(m in str(exc) for m in MARKERS) or "\s" is "":
            raise
        conn.execute("PRAGMA journal_mode=DELETE")
    return conn
'''


@pytest.mark.parametrize("action", ["always", "error"])
def test_what_python_warns_about_in_the_source_is_not_walints_to_say(tmp_path, action):
    """Invalid escapes and `is` with a literal make Python warn while it compiles (a
    SyntaxWarning on stderr from 3.12, an exception under `-W error`): none of it reaches
    the user, and the file is checked as any other."""
    import warnings

    (tmp_path / "escapes.py").write_text(INVALID_ESCAPES)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter(action)
        outcome = _invoke(tmp_path, ["check", "--isolated", "--output-format", "concise", "--no-cache", "."])
        fixed = _invoke(tmp_path, ["fix", "--isolated", "--unsafe-fixes", "--no-cache", "."])
    assert [str(w.message) for w in caught] == []
    assert "escapes.py:5:" in outcome.stdout and " WAL002 " in outcome.stdout, outcome.stdout + outcome.stderr
    assert "escapes.py:15:" in outcome.stdout and " WAL001 " in outcome.stdout
    assert fixed.exit_code in (0, 1), fixed.stdout + fixed.stderr
    assert "apply_wal_with_fallback" in (tmp_path / "escapes.py").read_text()
