"""WAL001: a rollback journal mode set on an error path without an on-disk guard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Optional, Tuple

import libcst as cst

from walint.codes import SPECS_BY_CODE
from walint.journal.failures import MODE_FROM_VALUE
from walint.semantic.nodes import queue_of
from walint.fixes import FixPlan, HelperSpec, guard_fix, try_fix
from walint.rules.base import Invalid, ModelRule, Report, Valid

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel


NO_FIX_MODE_FROM_VALUE = (
    "the rollback mode comes from a value chosen where the WAL switch failed; a guard here would "
    "also stop the WAL path: guard where the mode is chosen, or call the helper there, by hand"
)


class UnguardedFallback(ModelRule):
    """
    ## What it does
    Checks for a rollback journal mode (`DELETE`, `TRUNCATE`, `PERSIST`, `MEMORY`, `OFF`)
    set on an error path (inside an `except` handler, or later, decided by a flag the
    handler set: `wal_ok = False`, `self._use_wal = False`, `actual = None`) when nothing
    on that path first read the mode on disk and refused to downgrade a database that is
    already in WAL.

    Error paths are followed through values, path by path: a mode the handler chose
    (`journal = "DELETE"`, interpolated into the pragma later), a flag it cleared and a
    branch on it that picks the mode, or a module-global flag an earlier call cleared,
    reaching the downgrade by falling through. A statement counts when it downgrades on
    some path where the WAL switch failed and on no path where it did not.

    ## Why is this bad?
    All connections to one SQLite database must use the same locking protocol. When
    `PRAGMA journal_mode=WAL` fails because of a transient error ("disk I/O error",
    "database is locked") or because another process holds the file, a fallback to
    `DELETE` leaves this connection in a rollback journal while its siblings keep
    writing WAL frames, and the database is corrupted. A fallback is only safe when the
    failure is a permanent property of the filesystem and nobody has the file in WAL.

    The rule follows the fallback into project functions, in this module or imported from
    another: calling a helper whose body sets a rollback mode (or sets the mode it is
    passed, and is passed a rollback mode) counts as setting it.

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
    Where the `try` body is the WAL pragma alone, the fix replaces the whole `try` with
    one call of the safe helper (`walint.runtime.apply_wal_with_fallback`, or the
    configured `helper`), keeping an assignment or `return` of the mode and `await` for
    async code. The helper retries and re-raises transient errors, never downgrades a
    file that is in WAL (or whose mode cannot be read), and logs the fallback itself.
    That fix is safe when the handlers hold nothing but the decision (including local
    names computed for it, such as `msg = str(exc).lower()`), logging, the downgrade,
    `raise`, `return` or `pass`; it is unsafe when a handler does anything else (sets a
    flag, closes a connection), because that would be dropped.

    Elsewhere the fix inserts the on-disk guard before the downgrade: inside a handler
    `if journal_mode_on_disk(conn) in ("wal", None): raise`, outside one an explicit
    `sqlite3.OperationalError`. Adding a guard changes nothing but the hazard, so it is
    safe. A guard alone still lets a transient error downgrade a brand-new file, which
    only the helper prevents. Async code, a downgrade whose connection cannot be named,
    and a pragma whose mode is a value that is WAL on the paths where the switch worked
    (a guard in front of it would stop those too) get no fix; `walint fix` says why.

    ## Known problems
    The guard is recognised by shape: a comparison of a mode read from the database
    (`PRAGMA journal_mode`, the configured guard functions, or a project function
    that returns such a read) with `"wal"`, or a call of a project function that raises
    when the mode is WAL.
    """

    spec = SPECS_BY_CODE["WAL001"]

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
def enable_wal(conn):
    actual = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if actual != "wal":
        log.warning("SQLite refused WAL, journal mode is %s", actual)
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
def open_outbox(conn):
    journal = "WAL"
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        journal = "DELETE"
    conn.execute(f"PRAGMA journal_mode={journal}")  # expect: WAL001
"""
        ),
        Invalid(
            """
def enable_wal(conn):
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        conn.execute("PRAGMA journal_mode=DELETE")  # expect: WAL001
""",
            fixed="""
from walint.runtime import apply_wal_with_fallback

def enable_wal(conn):
    # expect: WAL001
    apply_wal_with_fallback(conn)
""",
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
""",
            fixed="""
from walint.runtime import apply_wal_with_fallback_async

FALLBACK = "PRAGMA main.journal_mode = 'truncate'"

async def enable_wal(db):
    # expect: WAL001
    await apply_wal_with_fallback_async(db)
""",
        ),
        Invalid(
            """
_use_wal = True

def open_board(path):
    global _use_wal
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        _use_wal = False
    if not _use_wal:
        conn.execute("PRAGMA journal_mode=DELETE")  # expect: WAL001
    return conn
""",
            fixed="""
import sqlite3

from walint.runtime import journal_mode_on_disk

_use_wal = True

def open_board(path):
    global _use_wal
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        _use_wal = False
    if not _use_wal:
        if journal_mode_on_disk(conn) in ("wal", None):
            raise sqlite3.OperationalError(
                "refusing to leave WAL: the database is"
                " (or may be) in WAL on disk"
            )
        conn.execute("PRAGMA journal_mode=DELETE")  # expect: WAL001
    return conn
""",
        ),
        Invalid(
            """
def enable_wal(conn):
    try:
        actual = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    except sqlite3.OperationalError:
        actual = None
    if actual != "wal":
        conn.execute("PRAGMA journal_mode=DELETE")  # expect: WAL001
""",
            fixed="""
import sqlite3

from walint.runtime import journal_mode_on_disk

def enable_wal(conn):
    try:
        actual = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    except sqlite3.OperationalError:
        actual = None
    if actual != "wal":
        if journal_mode_on_disk(conn) in ("wal", None):
            raise sqlite3.OperationalError(
                "refusing to leave WAL: the database is"
                " (or may be) in WAL on disk"
            )
        conn.execute("PRAGMA journal_mode=DELETE")  # expect: WAL001
""",
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
""",
            fixed="""
from walint.runtime import apply_wal_with_fallback

def _use_rollback_journal(conn):
    conn.execute("PRAGMA journal_mode=DELETE")

def enable_wal(conn):
    # expect: WAL001
    apply_wal_with_fallback(conn)
""",
        ),
    )

    def check(self, model: "ModuleModel") -> Iterator[Report]:
        for site in model.all_sites():
            if (site.guarded and not model.guard_on_another_database(site)) or model.downgrades_elsewhere(site):
                continue  # guarded, or WAL003's call into another module's downgrade
            effect = model.effect(site)
            if effect is None or not effect.rollback_modes:
                reached = model.downgrade_reached_in_handler(site)
                if reached is not None:
                    yield Report(
                        site.node,
                        f"`{model.called_name(site.node)}()` can set a rollback journal mode ({reached}) in an "
                        "`except` handler without checking that the database is not already in WAL on disk",
                        *guard_fix(model, site, self.helper),
                    )
                continue
            failure_path = None if site.handler is not None or site.flagged else model.on_failure_path(site)
            callback = None
            if site.handler is None and not site.flagged and failure_path is None:
                callback = model.runs_as_error_callback(site.unit)
                if callback is None or model.opens_connection(site.unit):
                    continue
            if site.flagged and model.unreachable(site):
                continue  # the flag can never hold its failure value there
            if model.on_private_database(site):
                continue
            if isinstance(site.node, cst.Call) and model.downgrades_on_its_own_error_path(model.resolve_unit(site.node, site.scope)):
                continue  # `self._apply_journal()`, whose pragma this rule reports in its body
            mode = effect.rollback_modes[0].upper()
            if queue_of(site.node) and model.direct_effect(site.node, site.scope) is None:
                what = f"Journal mode `{mode}` queued in `{queue_of(site.node)}`"
            elif isinstance(site.node, cst.Call) and model.direct_effect(site.node, site.scope) is None:
                what = f"`{model.called_name(site.node)}()` sets journal mode `{mode}`"
            else:
                what = f"Journal mode `{mode}` set"
            if site.handler is not None:
                where = "in an `except` handler"
            elif callback is not None:
                where = f"in a callback an `except` handler runs (as `{callback}`)"
            elif site.flagged:
                where = "on a flag set in an `except` handler"
            else:
                where = "on a path where the WAL switch failed"
            if failure_path == MODE_FROM_VALUE:
                fix, no_fix_reason = None, NO_FIX_MODE_FROM_VALUE
            else:
                fix, no_fix_reason = fallback_fix(model, site, self.helper)
            yield Report(
                site.node,
                f"{what} {where} without checking that the database is not already in WAL on disk",
                fix,
                no_fix_reason,
            )


def fallback_fix(model, site, spec: HelperSpec) -> Tuple[Optional[FixPlan], Optional[str]]:
    """WAL001's fix: the helper call where the whole ``try`` is WAL setup, else a guard."""
    if site.handler is not None:
        try_facts = model.try_of_handler(site.handler, site.unit)
        if try_facts is not None:
            plan, _ = try_fix(model, site.unit, try_facts, spec)
            if plan is not None:
                return plan, None
    return guard_fix(model, site, spec)
