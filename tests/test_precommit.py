"""pre-commit: the hooks manifest, --force-exclude, and the real `pre-commit try-repo`.

The try-repo test installs this repository into pre-commit's own virtualenv, which
fetches libcst, click and pathspec from the package index (as CI can); it takes about
ten seconds with a warm pip cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pre_commit.clientlib import load_manifest

from walint.cli import main

from checkout import VULNERABLE, copy_of_checkout, git as _git

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / ".pre-commit-hooks.yaml"


def test_manifest_declares_both_hooks_the_way_pre_commit_reads_them():
    hooks = {hook["id"]: hook for hook in load_manifest(str(MANIFEST))}
    assert set(hooks) == {"walint", "walint-fix"}
    assert hooks["walint"]["entry"] == "walint check --force-exclude"
    assert hooks["walint-fix"]["entry"] == "walint fix --force-exclude"
    for hook in hooks.values():
        assert hook["language"] == "python"
        # Stubs too: `types: [python]` alone would skip every `.pyi`.
        assert hook["types_or"] == ["python", "pyi"]
        assert hook["require_serial"] is True


# ----- --force-exclude ----------------------------------------------------------------------


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("legacy").mkdir()
    Path("legacy/old.py").write_text(VULNERABLE)
    Path("store.py").write_text(VULNERABLE)
    Path("pyproject.toml").write_text("[tool.walint]\nexclude = ['legacy']\n")
    return tmp_path


def _check(*args):
    return CliRunner().invoke(main, ["check", "--output-format", "concise", *args])


def test_files_named_on_the_command_line_are_checked_even_if_excluded(project):
    assert "legacy/old.py:8:9: WAL001" in _check("legacy/old.py").output
    assert _check(".").output.startswith("store.py:8:9: WAL001")


def test_force_exclude_keeps_them_out(project):
    result = _check("--force-exclude", "legacy/old.py", "store.py")
    assert result.exit_code == 1 and "legacy" not in result.output and "store.py" in result.output
    assert _check("--force-exclude", "legacy/old.py").exit_code == 0
    assert _check("--force-exclude", "legacy").exit_code == 0


def test_force_exclude_from_the_configuration(project):
    Path("pyproject.toml").write_text("[tool.walint]\nexclude = ['legacy']\nforce-exclude = true\n")
    assert _check("legacy/old.py").exit_code == 0
    assert _check("--no-force-exclude", "legacy/old.py").exit_code == 1


def test_force_exclude_does_not_look_above_the_working_directory(tmp_path, monkeypatch):
    """A bare name must not exclude everything because a parent directory happens to match it."""
    (tmp_path / "legacy" / "app").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "legacy" / "app")
    Path("store.py").write_text(VULNERABLE)
    assert _check("--force-exclude", "--exclude", "legacy", "store.py").exit_code == 1


# ----- the real pre-commit ------------------------------------------------------------------


def test_pre_commit_try_repo_fails_on_a_fallback_then_the_fix_hook_repairs_it(tmp_path):
    hooks = copy_of_checkout(tmp_path / "hooks")
    work = tmp_path / "work"
    (work / "legacy").mkdir(parents=True)
    (work / "store.py").write_text(VULNERABLE)
    (work / "stubs.pyi").write_text(VULNERABLE)
    (work / "legacy" / "old.py").write_text(VULNERABLE)  # excluded: must stay quiet by name too
    (work / "pyproject.toml").write_text("[tool.walint]\nexclude = ['legacy']\n")
    _git("init", "-q", cwd=work)
    _git("add", "-A", cwd=work)
    env = dict(
        os.environ,
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
        GIT_AUTHOR_NAME="walint tests",
        GIT_AUTHOR_EMAIL="tests@walint.invalid",
        GIT_COMMITTER_NAME="walint tests",
        GIT_COMMITTER_EMAIL="tests@walint.invalid",
        NO_COLOR="1",
    )
    env.pop("VIRTUAL_ENV", None)

    def try_repo(hook="walint"):
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "try-repo", str(hooks), hook, "--all-files", "--color", "never"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=300,
        )

    failed = try_repo()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "walint" in failed.stdout and "Failed" in failed.stdout
    assert "store.py:8:9: WAL001" in failed.stdout
    assert "stubs.pyi:8:9: WAL001" in failed.stdout
    assert "legacy" not in failed.stdout.split("hook id: walint", 1)[1]

    fixed = try_repo("walint-fix")
    assert fixed.returncode == 1, fixed.stdout + fixed.stderr
    assert "files were modified by this hook" in fixed.stdout
    assert "apply_wal_with_fallback(conn)" in (work / "store.py").read_text()
    assert (work / "legacy" / "old.py").read_text() == VULNERABLE
    _git("add", "-A", cwd=work)
    passed = try_repo()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout
