"""Behaviour that keeps walint fast: shapes that used to cost exponential time, what a run
parses and imports, and results that must not depend on how the work is split.

Nothing here is timed; a regression shows up as a test that never finishes.
"""

from __future__ import annotations

from walint.engine import check_source
from walint.settings import Settings


def test_a_name_rebuilt_from_itself_many_times_is_folded_once():
    # Each `sql = sql + ...` is a binding of `sql` built from `sql`: without a memo the
    # folder visits bindings ** depth expressions.
    lines = ["import sqlite3", "conn = sqlite3.connect('x.db')", "sql = 'PRAGMA '"]
    lines += [f"sql = sql + sql + 'journal_mode{i} '" for i in range(40)]
    lines += ["try:", "    conn.execute('PRAGMA journal_mode=WAL')", "except Exception:", "    conn.execute(sql)"]
    result = check_source("many.py", "\n".join(lines).encode() + b"\n", Settings())
    assert not result.errors


def test_nested_format_chains_are_folded_once():
    lines = ["import sqlite3", "conn = sqlite3.connect('x.db')", "a0 = 'wal'"]
    lines += [f"a{i} = '%s%s' % (a{i - 1}, a{i - 1}) if cond else a{i - 1}.format(a{i - 1})" for i in range(1, 30)]
    lines += ["if conn.execute('PRAGMA journal_mode').fetchone()[0] != a29:", "    conn.execute('PRAGMA journal_mode=delete')"]
    result = check_source("chain.py", "\n".join(lines).encode() + b"\n", Settings())
    assert not result.errors
