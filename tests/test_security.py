"""Security of `walint check`: it reads the code it checks and never runs it, reads its
configuration as data and never evaluates it, and writes nothing into the checked tree.

Every trap below writes a sentinel file (outside the tree) if anything executes it, and
most also try to end the process, so that running them could not go unnoticed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Tuple

import pytest
from click.testing import CliRunner

from walint.cli import main
from walint.config import Options, load_config, resolve_settings

HAZARD = (
    "def enable_wal(conn):\n"
    "    try:\n"
    "        conn.execute('PRAGMA journal_mode=WAL')\n"
    "    except Exception:\n"
    "        conn.execute('PRAGMA journal_mode=DELETE')\n"
)


def _trap(sentinel: Path, label: str) -> str:
    """Top-level code that leaves a mark and then tries to stop whoever runs it."""
    return (
        "import os as _os\n"
        f"with open({str(sentinel)!r}, 'a') as _mark:\n"
        f"    _mark.write({label!r} + '\\n')\n"
        "raise SystemExit(97)\n"
    )


def _booby_trapped_project(root: Path, sentinel: Path) -> Path:
    """A package whose every module would run a trap on import, and whose modules import
    each other, so that the project pass has imports to follow."""
    project = root / "project"
    package = project / "store"
    package.mkdir(parents=True)
    (project / "setup.py").write_text(_trap(sentinel, "setup.py"))
    (project / "conftest.py").write_text(_trap(sentinel, "conftest.py"))
    (package / "__init__.py").write_text(_trap(sentinel, "store/__init__.py") + "# journal_mode\n")
    (package / "fallback.py").write_text(
        _trap(sentinel, "store/fallback.py").replace("raise SystemExit(97)\n", "os._exit(97)\n")
        + "def use_rollback(conn):\n    conn.execute('PRAGMA journal_mode=DELETE')\n"
    )
    (package / "db.py").write_text(
        "from store.fallback import use_rollback\n"
        "from . import fallback\n"
        "import store\n"
        + _trap(sentinel, "store/db.py").replace("raise SystemExit(97)\n", "")
        + "if __name__ == '__main__':\n    raise SystemExit(97)\n"
        + "def enable_wal(conn):\n"
        "    try:\n"
        "        conn.execute('PRAGMA journal_mode=WAL')\n"
        "    except Exception:\n"
        "        use_rollback(conn)\n"
    )
    return project


def test_check_never_imports_or_runs_the_code_it_checks(tmp_path):
    sentinel = tmp_path / "executed.txt"
    project = _booby_trapped_project(tmp_path, sentinel)
    # In a process of its own: code run by mistake could not take the test runner down with it.
    process = subprocess.run(
        [sys.executable, "-m", "walint", "check", "--isolated", "--output-format", "json", str(project)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert not sentinel.exists(), sentinel.read_text()
    assert process.returncode == 1, process.stderr
    found = {(os.path.relpath(f["filename"], project), f["code"]) for f in json.loads(process.stdout)}
    # The hazard was analysed across the import, all the same.
    assert (os.path.join("store", "db.py"), "WAL001") in found
    assert not list(project.rglob("__pycache__")), "something imported a checked module"


def test_check_in_process_leaves_sys_modules_alone(tmp_path, monkeypatch):
    sentinel = tmp_path / "executed.txt"
    project = _booby_trapped_project(tmp_path, sentinel)
    monkeypatch.chdir(project)
    before = set(sys.modules)
    result = CliRunner().invoke(main, ["check", "--isolated", "--output-format", "concise", "."])
    assert result.exit_code == 1, result.output
    assert not sentinel.exists()
    assert not {name for name in set(sys.modules) - before if name.split(".")[0] in ("store", "setup", "conftest")}


def test_configuration_is_data_never_code(tmp_path, monkeypatch):
    """Values that name modules or look like code stay strings: nothing is imported or run."""
    sentinel = tmp_path / "executed.txt"
    project = tmp_path / "project"
    project.mkdir()
    # Modules the configuration names, each a trap if imported.
    (project / "evil_helper.py").write_text(_trap(sentinel, "evil_helper.py"))
    (project / "evil_guard.py").write_text(_trap(sentinel, "evil_guard.py"))
    code_like = f"__import__('os').system('touch {sentinel}')"
    (project / "pyproject.toml").write_text(
        "[tool.walint]\n"
        'helper = "evil_helper:apply"\n'
        'guard = ["evil_guard.read_mode", "os.system"]\n'
        f"transient-markers = [{json.dumps(code_like)}]\n"
        f"permanent-markers = [{json.dumps('{0.__class__.__mro__}')}, {json.dumps('%(x)s')}]\n"
        f"exclude = [{json.dumps('$(touch ' + str(sentinel) + ')')}]\n"
    )
    (project / "guarded.py").write_text(
        "import evil_guard\n"
        "def enable_wal(conn):\n"
        "    try:\n"
        "        conn.execute('PRAGMA journal_mode=WAL')\n"
        "    except Exception:\n"
        "        if evil_guard.read_mode(conn) in ('wal', None):\n"
        "            raise\n"
        "        conn.execute('PRAGMA journal_mode=DELETE')\n"
    )
    (project / "store.py").write_text(HAZARD)
    monkeypatch.chdir(project)
    before = set(sys.modules)
    result = CliRunner().invoke(main, ["check", "--output-format", "concise", "."])
    assert not sentinel.exists()
    assert not {"evil_helper", "evil_guard"} & (set(sys.modules) - before)
    # The configuration was read and used: the configured guard counts, by its name alone.
    assert result.exit_code == 1, result.output
    assert [line.split(":")[0] for line in result.stdout.splitlines() if " WAL" in line] == ["store.py"]
    settings = resolve_settings(load_config(project / "pyproject.toml"), Options())
    assert settings.helper == "evil_helper:apply"
    assert settings.guards == ("evil_guard.read_mode", "os.system")
    assert settings.transient_markers == (code_like,)
    assert settings.permanent_markers == ("{0.__class__.__mro__}", "%(x)s")


def test_a_python_file_given_as_configuration_is_read_as_toml_not_run(tmp_path, monkeypatch):
    sentinel = tmp_path / "executed.txt"
    (tmp_path / "walint_config.py").write_text(_trap(sentinel, "walint_config.py"))
    (tmp_path / "store.py").write_text(HAZARD)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "--config", "walint_config.py", "store.py"])
    assert result.exit_code == 2
    assert "walint_config.py" in result.stderr
    assert "Traceback" not in result.output
    assert not sentinel.exists()


Snapshot = Dict[str, Tuple[str, int, str]]


def _snapshot(root: Path) -> Snapshot:
    """Every entry under ``root``: its kind, mode and content hash (or link target)."""
    entries: Snapshot = {}
    for directory, subdirectories, files in os.walk(root):
        for name in subdirectories + files:
            path = os.path.join(directory, name)
            status = os.lstat(path)
            if os.path.islink(path):
                entries[os.path.relpath(path, root)] = ("link", status.st_mode, os.readlink(path))
            elif os.path.isdir(path):
                entries[os.path.relpath(path, root)] = ("dir", status.st_mode, "")
            else:
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
                entries[os.path.relpath(path, root)] = ("file", status.st_mode, f"{digest}@{status.st_mtime_ns}")
    return entries


def _changes_outside_cache(before: Snapshot, after: Snapshot) -> Dict[str, object]:
    """What changed, less a top-level cache directory (the only thing walint may write)."""
    changed = {path for path in set(before) | set(after) if before.get(path) != after.get(path)}
    return {
        path: (before.get(path), after.get(path))
        for path in changed
        if "cache" not in path.split(os.sep)[0].lower()
    }


def test_check_writes_nothing_into_the_checked_tree(tmp_path, monkeypatch):
    sentinel = tmp_path / "executed.txt"
    project = _booby_trapped_project(tmp_path, sentinel)
    (project / "pyproject.toml").write_text('[tool.walint]\nexclude = ["build"]\n')
    (project / "store" / "hazard.py").write_text(HAZARD)
    (project / "store" / "link.py").symlink_to("hazard.py")
    (project / "store" / "broken.py").write_bytes(b"# journal_mode\ndef broken(:\n")
    monkeypatch.chdir(project)
    help_text = CliRunner().invoke(main, ["check", "--help"]).output
    no_cache = ["--no-cache"] if "--no-cache" in help_text else []
    reports = tmp_path / "reports"
    for extra in (
        [],
        ["--output-format", "sarif", "-o", str(reports / "walint.sarif")],
        ["--write-baseline", str(reports / "baseline.json")],
        ["--baseline", str(reports / "baseline.json"), "--statistics"],
        ["--report-unused-noqa", "--output-format", "json"],
    ):
        before = _snapshot(project)
        result = CliRunner().invoke(main, ["check", *no_cache, *extra, "."])
        assert result.exit_code in (0, 1), result.output
        after = _snapshot(project)
        if no_cache:
            assert after == before, f"walint check {' '.join(no_cache + extra)} changed the tree"
        else:
            assert not _changes_outside_cache(before, after), _changes_outside_cache(before, after)
    assert not sentinel.exists()


# ----- configuration and ignore files only from where the user's trust reaches ----------


def _shared_parent_with_a_planted_config(tmp_path: Path) -> Path:
    """A world-writable folder (like /tmp) where someone else left a pyproject.toml that
    would silence walint, and the victim's project below it."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "pyproject.toml").write_text('[tool.walint]\nexclude = ["*.py"]\nhelper = "evilpkg.backdoor:apply_wal"\n')
    shared.chmod(0o1777)
    project = shared / "victim"
    project.mkdir()
    (project / "store.py").write_text(HAZARD)
    return project


def test_a_configuration_in_a_world_writable_parent_is_not_read(tmp_path, monkeypatch):
    project = _shared_parent_with_a_planted_config(tmp_path)
    monkeypatch.chdir(project)
    result = CliRunner().invoke(main, ["check", "--no-cache", "--output-format", "concise", "."])
    assert result.exit_code == 1, result.output
    assert "store.py:5:9: WAL001" in result.output
    assert "not reading" in result.output and "is writable by every user" in result.output
    fixed = CliRunner().invoke(main, ["fix", "--no-cache", "."])
    assert "evilpkg" not in (project / "store.py").read_text(), fixed.output


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to create another user's folder")
def test_a_configuration_in_another_users_parent_is_not_read(tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text('[tool.walint]\nexclude = ["*.py"]\n')
    project = other / "victim"
    project.mkdir()
    (project / "store.py").write_text(HAZARD)
    os.chown(other, 4242, 4242)
    monkeypatch.chdir(project)
    result = CliRunner().invoke(main, ["check", "--no-cache", "--output-format", "concise", "."])
    assert result.exit_code == 1 and "WAL001" in result.output
    assert "is owned by another user" in result.output


def test_the_configuration_search_stops_at_the_repository_root(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.walint]\nexclude = ["*.py"]\n')
    project = tmp_path / "repo"
    (project / ".git").mkdir(parents=True)
    (project / "store.py").write_text(HAZARD)
    monkeypatch.chdir(project)
    result = CliRunner().invoke(main, ["check", "--no-cache", "--output-format", "concise", "."])
    assert result.exit_code == 1 and "WAL001" in result.output


@pytest.mark.parametrize("how", ["relative", "absolute"])
def test_an_outer_dotfiles_repositorys_gitignore_does_not_hide_a_project(tmp_path, monkeypatch, how):
    home = tmp_path / "home"
    (home / ".git").mkdir(parents=True)
    (home / ".gitignore").write_text("*\n")
    project = home / "proj"
    (project / ".git").mkdir(parents=True)
    (project / "store.py").write_text(HAZARD)
    monkeypatch.chdir(project)
    target = "." if how == "relative" else str(project)
    result = CliRunner().invoke(main, ["check", "--no-cache", "--output-format", "concise", target])
    assert result.exit_code == 1 and "WAL001" in result.output, result.output


def test_an_ignore_file_between_the_walked_folder_and_its_repository_root_applies(tmp_path, monkeypatch):
    """git's semantics both ways: the repository's own .gitignore still hides what it names."""
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("generated/\n")
    package = tmp_path / "src" / "generated"
    package.mkdir(parents=True)
    (package / "store.py").write_text(HAZARD)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "--no-cache", str(tmp_path / "src")])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os').system('touch /tmp/walint-literal-ran')",
        "(lambda: 1)()",
        "{'journal_mode': open('/etc/passwd').read()}",
        "(" * 5000 + ")" * 5000,
        "'x' * 10**9",
    ],
)
def test_a_literal_handed_on_by_a_summary_is_constants_or_nothing(source):
    """A module's literal reaches its importers as source text in its summary, which a
    cache entry may have written: it is parsed, never run, and kept only when it is a
    literal of constants."""
    import libcst as cst

    from walint.journal.model import ModuleModel
    from walint.summary import IMPORTED_LITERAL

    module = cst.parse_module("from .policy import MODES\nfor mode in MODES:\n    pass\n")
    model = ModuleModel(module, external={IMPORTED_LITERAL + ".policy.MODES": source}.get, path="user.py")
    assert model.imported_literal(".policy.MODES") is None


def test_a_literal_of_constants_is_handed_on():
    import libcst as cst

    from walint.journal.model import ModuleModel
    from walint.summary import IMPORTED_LITERAL

    module = cst.parse_module("from .policy import MODES\n")
    model = ModuleModel(module, external={IMPORTED_LITERAL + ".policy.MODES": '{"fallback": "delete"}'}.get, path="user.py")
    literal = model.imported_literal(".policy.MODES")
    assert isinstance(literal, cst.Dict) and id(literal) in model.foreign_nodes


def test_a_summary_hands_on_only_small_literals_of_constants():
    """What a module exports as literal source is bounded: a table past the size limit,
    or a literal holding a name or a call, is not handed on at all."""
    import libcst as cst

    from walint.journal.model import ModuleModel
    from walint.summary import MAX_LITERAL

    huge = "(" + ", ".join(["1"] * (MAX_LITERAL // 2 + 1)) + ")"
    nested = "((" + ", ".join(["'a'"] * (MAX_LITERAL // 3)) + "), ('b',))"
    source = f"SMALL = ('locking protocol', 'not authorized')\nHUGE = {huge}\nNESTED = {nested}\nNAMED = (SMALL, 1)\n"
    model = ModuleModel(cst.parse_module(source), path="policy.py")
    exported = dict(model.summary().literals)
    assert exported == {"SMALL": "('locking protocol', 'not authorized')"}
