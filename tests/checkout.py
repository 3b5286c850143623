"""This checkout copied into a fresh git repository, for tests that install walint the way
a user does (pre-commit from a `rev:`, `pip install .` from a clone)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The fallback the hooks and the README's commands are tried on.
VULNERABLE = (
    "import sqlite3\n"
    "\n"
    "\n"
    "def enable_wal(conn):\n"
    "    try:\n"
    "        conn.execute('PRAGMA journal_mode=WAL')\n"
    "    except sqlite3.OperationalError:\n"
    "        conn.execute('PRAGMA journal_mode=DELETE')\n"
)

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "walint tests",
    "GIT_AUTHOR_EMAIL": "tests@walint.invalid",
    "GIT_COMMITTER_NAME": "walint tests",
    "GIT_COMMITTER_EMAIL": "tests@walint.invalid",
}


def git(*args, cwd) -> str:
    completed = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "user.name=walint tests", "-c", "user.email=tests@walint.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return completed.stdout


def copy_of_checkout(destination: Path) -> Path:
    """This checkout's files (tracked, and new ones not ignored) committed to a fresh repository.

    Copying, rather than cloning, keeps a test independent of what is committed in the
    checkout under test.
    """
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout: nothing to install from")
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    git("init", "-q", cwd=destination)
    git("add", "-A", cwd=destination)
    git("commit", "-q", "-m", "walint under test", cwd=destination)
    return destination
