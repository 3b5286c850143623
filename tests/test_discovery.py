"""Discovery: what is walked, what is skipped, and the byte prefilter."""

from __future__ import annotations

import os

import pytest

from walint.codes import prefilter_tokens_for
from walint.discovery import PathNotFound, discover, is_candidate
from walint.rules import ALL_RULES
from walint.settings import Settings


def _names(root, **kwargs):
    return sorted(os.path.relpath(c.path, root) for c in discover([str(root)], **kwargs))


def _touch(path, text="x = 1\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_walks_python_files_and_prunes_ruffs_default_excludes(tmp_path):
    for name in ["pkg/a.py", "pkg/sub/b.pyi", "pkg/notes.txt", ".git/hooks/x.py", ".venv/lib/y.py",
                 "venv/lib/z.py", "build/lib/d.py", "dist/e.py", "node_modules/g.py",
                 "src/site-packages/k.py", "deep/er/_build/l.py", ".hidden/f.py", "env/i.py"]:
        _touch(tmp_path / name)
    # Only the documented list is pruned (as in ruff): a hidden folder or one named `env` is code.
    assert _names(tmp_path) == [".hidden/f.py", "env/i.py", "pkg/a.py", "pkg/sub/b.pyi"]
    # `exclude = []` replaces the list: nothing is pruned.
    assert len(_names(tmp_path, exclude=())) == 12


def test_default_excludes_follow_the_exclude_and_extend_exclude_settings(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from walint.cli import main
    from walint.discovery import DEFAULT_EXCLUDE

    assert DEFAULT_EXCLUDE[:3] == (".bzr", ".direnv", ".eggs") and "build" in DEFAULT_EXCLUDE
    monkeypatch.chdir(tmp_path)
    for name in ["src/build/a.py", "src/pkg/b.py", "src/gen/c.py"]:
        _touch(tmp_path / name)

    def shown(*args):
        result = CliRunner().invoke(main, ["check", "--show-files", *args])
        assert result.exit_code == 0, result.output
        return result.output.splitlines()

    assert shown("src") == ["src/gen/c.py", "src/pkg/b.py"]
    assert shown("--exclude", "gen", "src") == ["src/build/a.py", "src/pkg/b.py"]
    assert shown("--extend-exclude", "gen", "src") == ["src/pkg/b.py"]
    (tmp_path / "pyproject.toml").write_text("[tool.walint]\nexclude = []\n")
    assert shown("src") == ["src/build/a.py", "src/gen/c.py", "src/pkg/b.py"]
    (tmp_path / "pyproject.toml").write_text('[tool.walint]\nextend-exclude = ["pkg"]\n')
    assert shown("src") == ["src/gen/c.py"]
    # A path named on the command line is checked, unless --force-exclude.
    assert shown("src/build/a.py") == ["src/build/a.py"]
    assert shown("src/build") == ["src/build/a.py"]
    excluded = CliRunner().invoke(main, ["check", "--force-exclude", "src/build/a.py"])
    assert excluded.exit_code == 0
    assert "walint: warning: No Python files found under the given path(s)" in excluded.output


def test_gitignore_is_honoured_and_can_be_turned_off(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("generated/\n*_pb2.py\n")
    _touch(tmp_path / "src" / ".gitignore", "local.py\n")
    for name in ["src/app.py", "src/local.py", "src/api_pb2.py", "generated/x.py", "other/local.py"]:
        _touch(tmp_path / name)
    assert _names(tmp_path) == ["other/local.py", "src/app.py"]
    assert len(_names(tmp_path, respect_gitignore=False)) == 5


def test_gitignore_of_the_repository_applies_to_a_subdirectory_given(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("*_generated.py\n")
    _touch(tmp_path / "src" / "a.py")
    _touch(tmp_path / "src" / "b_generated.py")
    assert _names(tmp_path / "src") == ["a.py"]


def test_exclude_globs(tmp_path, monkeypatch):
    for name in ["src/a.py", "src/migrations/m1.py", "tests/t.py"]:
        _touch(tmp_path / name)
    monkeypatch.chdir(tmp_path)
    assert sorted(c.display for c in discover(["."], exclude=("tests", "*/migrations/*"))) == ["src/a.py"]


def test_explicit_files_are_always_checked_and_listed_once(tmp_path):
    _touch(tmp_path / "script")
    _touch(tmp_path / "a.py")
    found = discover([str(tmp_path / "script"), str(tmp_path / "a.py"), str(tmp_path)])
    assert [c.path.name for c in found] == ["script", "a.py"]


def test_missing_path(tmp_path):
    with pytest.raises(PathNotFound):
        discover([str(tmp_path / "missing")])


def test_directory_symlink_loops_are_not_followed(tmp_path):
    _touch(tmp_path / "a.py")
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert _names(tmp_path) == ["a.py"]


def test_prefilter_tokens_come_from_every_rule():
    tokens = prefilter_tokens_for(Settings(select=("WAL",)))  # every rule, default or not
    for rule in ALL_RULES:
        for token in rule.tokens:
            assert token.lower() in tokens


@pytest.mark.parametrize(
    "data, candidate",
    [
        (b"conn.execute('PRAGMA JOURNAL_MODE=delete')", True),
        (b"MARKERS = ('Disk I/O Error',)", True),
        (b"db.disable_wal()", True),
        (b"import os\nprint('hello')\n", False),
        (b"", False),
        (b"class SqliteCode(IntEnum):\n    BUSY = 5\n    IOERR = 10\n", True),
        (b"except IOError:\n    raise EnvironmentError('ioerror')\n", False),  # not SQLite's IOERR
    ],
)
def test_prefilter(data, candidate):
    assert is_candidate(data, prefilter_tokens_for(Settings())) is candidate


def test_files_without_tokens_are_never_parsed(tmp_path, monkeypatch):
    from walint import runner

    parsed = []
    original = runner.check_source
    monkeypatch.setattr(runner, "check_source", lambda path, data, settings: parsed.append(path) or original(path, data, settings))
    _touch(tmp_path / "plain.py", "def f(:\n")  # would be WAL000 if it were parsed
    _touch(tmp_path / "db.py", "conn.execute('PRAGMA journal_mode=WAL')\n")
    result = runner.check_files(discover([str(tmp_path)]), Settings())
    assert [os.path.basename(p) for p in parsed] == ["db.py"]
    assert result.findings == [] and result.files_checked == 2 and result.files_parsed == 1
