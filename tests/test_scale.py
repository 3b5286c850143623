"""Real code at scale: `walint check` over the running interpreter's standard library and
site-packages finishes without a crash or an internal error, and every file it calls
unparseable (WAL000) is one that the interpreter cannot compile either.

Marked ``slow``; CI runs it. ``WALINT_SCALE_ROOTS`` (paths joined by ``os.pathsep``)
checks those directories instead, to try the test on a subset.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import warnings
from typing import List

import pytest

from walint.discovery import discover

pytestmark = pytest.mark.slow


def _roots() -> List[str]:
    chosen = os.environ.get("WALINT_SCALE_ROOTS")
    if chosen:
        return [root for root in chosen.split(os.pathsep) if root]
    paths = sysconfig.get_paths()
    roots: List[str] = []
    for key in ("stdlib", "purelib", "platlib"):
        root = os.path.realpath(paths[key])
        # The walk prunes directories named site-packages, so each is named as a root.
        if os.path.isdir(root) and root not in roots:
            roots.append(root)
    return roots


def _compiles(path: str) -> bool:
    """Does the interpreter itself compile the file? Bytes, so its coding cookie is honoured."""
    with open(path, "rb") as handle:
        data = handle.read()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(data, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, UnicodeError, MemoryError, RecursionError):
            return False
    return True


def test_check_the_standard_library_and_site_packages():
    roots = _roots()
    assert roots, "no directory to check"
    # Not the .gitignore: an interpreter may live inside a repository that ignores it (pyenv
    # ignores its versions/), and the run would then check nothing at all.
    command = ["check", "--isolated", "--no-respect-gitignore", "--exit-zero", "--output-format", "json"]
    assert len(discover(roots, respect_gitignore=False)) > 0, f"no Python files under {roots}"
    process = subprocess.run(
        [sys.executable, "-m", "walint", *command, *roots],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in process.stderr, process.stderr[-4000:]
    assert "internal error" not in process.stderr, process.stderr[-4000:]
    # Exit 2 would mean a file walint could not read or analyse: print which.
    assert process.returncode == 0, process.stderr[-4000:]
    findings = json.loads(process.stdout)
    unparseable = sorted({f["filename"] for f in findings if f["code"] == "WAL000"})
    compiling = [path for path in unparseable if _compiles(path)]
    assert not compiling, f"WAL000 on files the interpreter compiles: {compiling}"


def test_predicates_calling_predicates_are_followed_once_each(monkeypatch):
    """A chain of predicate functions, each asking the previous one twice, is walked
    once per function, not once per path through the chain (2**depth)."""
    from walint.engine import check_source
    from walint.journal.marker_uses import MarkerUses
    from walint.settings import Settings

    lines = ["import sqlite3", "", "def is_0(text):", '    return text in ("locking protocol",)', ""]
    for index in range(1, 16):
        lines += [f"def is_{index}(text):", f"    return is_{index - 1}(text) or is_{index - 1}(text.lower())", ""]
    lines += [
        "def open_db(conn):",
        "    try:",
        '        conn.execute("PRAGMA journal_mode=WAL")',
        "    except sqlite3.OperationalError as exc:",
        "        if is_15(str(exc)):",
        '            conn.execute("PRAGMA journal_mode=DELETE")',
        "        raise",
    ]
    calls = []
    follow = MarkerUses._predicate

    def counting(self, *args, **kwargs):
        calls.append(args[0])
        return follow(self, *args, **kwargs)

    monkeypatch.setattr(MarkerUses, "_predicate", counting)
    check_source("chain.py", "\n".join(lines).encode(), Settings())
    assert 0 < len(calls) < 100, len(calls)
