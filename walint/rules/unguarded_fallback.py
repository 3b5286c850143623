"""WAL001: a rollback journal mode set on an error path without an on-disk guard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import libcst as cst

from walint.rules.base import Invalid, Report, Rule, Valid
from walint.sql import callee_name

if TYPE_CHECKING:
    from walint.analysis import ModuleModel


class UnguardedFallback(Rule):
    """
    ## What it does
    Checks for a rollback journal mode (`DELETE`, `TRUNCATE`, `PERSIST`, `MEMORY`, `OFF`)
    set inside an `except` handler when nothing on that path first read the mode on disk
    and refused to downgrade a database that is already in WAL.

    ## Why is this bad?
    All connections to one SQLite database must use the same locking protocol. When
    `PRAGMA journal_mode=WAL` fails because of a transient error ("disk I/O error",
    "database is locked") or because another process holds the file, a fallback to
    `DELETE` leaves this connection in a rollback journal while its siblings keep
    writing WAL frames, and the database is corrupted. A fallback is only safe when the
    failure is a permanent property of the filesystem and nobody has the file in WAL.

    The rule follows the fallback into functions of the same module: calling a helper
    whose body sets a rollback mode counts as setting it.

    ## Example
    ```python
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        conn.execute("PRAGMA journal_mode=DELETE")
    ```

    Use instead:
    ```python
    from walint.runtime import apply_wal_with_fallback

    apply_wal_with_fallback(conn)
    ```

    or, where the fallback must stay inline, refuse it when the file is in WAL or its
    mode cannot be read:
    ```python
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        if journal_mode_on_disk(conn) in ("wal", None):
            raise
        conn.execute("PRAGMA journal_mode=DELETE")
    ```

    ## Fix safety
    The fix is planned for `walint fix`: a `try` whose handlers only decide, log and
    downgrade becomes one call of `walint.runtime.apply_wal_with_fallback`, which
    re-raises transient errors and never downgrades a WAL file. Until then, findings
    carry no fix.

    ## Known problems
    The guard is recognised by shape: a comparison of a mode read from the database
    (`PRAGMA journal_mode`, the configured guard functions, or a function of this
    module that returns such a read) with `"wal"`. A guard in another module is not
    seen until the project-wide pass follows imports.
    """

    code = "WAL001"
    name = "unguarded-fallback"
    tokens = (b"journal_mode", b"disable_wal")

    VALID = (
        Valid(
            """
import sqlite3

def connect(path):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn
"""
        ),
        Valid(
            """
def enable_wal(conn):
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode in ("wal", None):
            raise
        conn.execute("PRAGMA journal_mode=DELETE")
"""
        ),
        Valid(
            """
def compact(conn):
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("VACUUM")
"""
        ),
        Valid(
            """
def enable_wal(conn):
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        conn.execute("PRAGMA journal_mode=DELETE")  # noqa: WAL001
"""
        ),
    )
    INVALID = (
        Invalid(
            """
def enable_wal(conn):
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        conn.execute("PRAGMA journal_mode=DELETE")  # expect: WAL001
"""
        ),
        Invalid(
            """
FALLBACK = "PRAGMA main.journal_mode = 'truncate'"

async def enable_wal(db):
    try:
        await db.execute("PRAGMA journal_mode=WAL")
    except Exception as exc:
        if "locking protocol" in str(exc):
            await db.execute(FALLBACK)  # expect: WAL001
"""
        ),
        Invalid(
            """
def _use_rollback_journal(conn):
    conn.execute("PRAGMA journal_mode=DELETE")

def enable_wal(conn):
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        _use_rollback_journal(conn)  # expect: WAL001
"""
        ),
    )

    def check(self, model: "ModuleModel") -> Iterator[Report]:
        for site in model.all_sites():
            if site.handler is None or site.guarded:
                continue
            effect = model.effect(site)
            if effect is None or not effect.rollback_modes:
                continue
            mode = effect.rollback_modes[0].upper()
            if isinstance(site.node, cst.Call) and model.direct_effect(site.node, site.scope) is None:
                what = f"`{callee_name(site.node)}()` sets journal mode `{mode}`"
            else:
                what = f"Journal mode `{mode}` set"
            yield Report(
                site.node,
                f"{what} in an `except` handler without checking that the database is not "
                "already in WAL on disk",
            )
