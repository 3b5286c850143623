"""WAL003: a function that opens a connection and can reach a rollback mode unguarded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import libcst as cst

from walint.codes import SPECS_BY_CODE
from walint.constants import is_known
from walint.fixes import guard_fix
from walint.rules.base import Invalid, ModelRule, Report, Valid
from walint.sql import ROLLBACK_MODES, modes_set_by_sql, normalise_mode
from walint.semantic.nodes import dotted_name, iter_subexpressions
from walint.tree import own_nodes

if TYPE_CHECKING:
    from walint.flow.unit_facts import Site
    from walint.journal.model import ModuleModel
    from walint.semantic.scopes import Scope, Unit


class ConnectSkipsGuard(ModelRule):
    """
    ## What it does
    Checks functions that open a SQLite connection (`sqlite3.connect` and its aliases,
    `aiosqlite.connect`, `apsw.Connection`, a SQLAlchemy `"connect"` listener, or a
    project wrapper around them) for a path to a rollback journal mode that skips the
    on-disk check:

    - a call of a project function, here or in another module, that can set a rollback
      mode without a guard (reported at the call, naming where that happens; a function
      of this module whose own WAL001 covers it is left to that finding), or
    - a rollback mode set under a condition of its own, such as a network-filesystem
      check or a configuration flag (reported at the downgrade).

    ## Why is this bad?
    Every process that opens the database runs this code. If one of them takes the
    rollback branch while another already has the file in WAL, the two use different
    locking protocols on one file and the database is corrupted. A condition such as
    "is this NFS?" or "is WAL disabled in the config?" does not know what the other
    processes did; only the header on disk does.

    ## Example
    ```python
    def connect(path):
        conn = sqlite3.connect(path)
        if is_network_filesystem(path):
            conn.execute("PRAGMA journal_mode=DELETE")
        return conn
    ```

    Use instead:
    ```python
    from walint.runtime import apply_wal_with_fallback

    def connect(path):
        conn = sqlite3.connect(path)
        apply_wal_with_fallback(conn)
        return conn
    ```

    ## Fix safety
    A downgrade on a condition of the connect path gets the on-disk guard inserted
    right before it: `if journal_mode_on_disk(conn) in ("wal", None): raise
    sqlite3.OperationalError(...)`, so opening a database that is in WAL, or whose mode
    cannot be read, fails loudly instead of corrupting it. Adding a guard changes
    nothing but the hazard, so it is safe; better still, replace the condition with a
    call of the safe helper by hand.

    A call of a function that downgrades has no fix at the call: a guard there would
    also refuse when the function would not have downgraded. The finding names where
    the downgrade is, and guarding it there resolves this finding too.

    ## Known problems
    A downgrade reached through a call that is already inside an `except` handler is
    reported once, as WAL001, not again here. So is a call of a function of this module
    whose own failed WAL attempt falls back (`configure(conn)` right after the connect):
    the WAL001 inside it is the one place to fix. A function of another module is
    reported at the call, since its module may be checked on its own.
    """

    spec = SPECS_BY_CODE["WAL003"]

    VALID = (
        Valid(
            """
import sqlite3

def compact(path, bulk):
    conn = sqlite3.connect(path)
    (previous,) = conn.execute("PRAGMA journal_mode").fetchone()
    if bulk:
        conn.execute("PRAGMA journal_mode=TRUNCATE")
    try:
        conn.execute("VACUUM")
    finally:
        conn.execute(f"PRAGMA journal_mode={previous}")
    return conn
"""
        ),
        Valid(
            """
def connect(path):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn
"""
        ),
        Valid(
            """
def connect(path, read_only_media=False):
    conn = sqlite3.connect(path)
    if read_only_media:
        if conn.execute("PRAGMA journal_mode").fetchone()[0] in ("wal", None):
            raise RuntimeError("the database is in WAL; it cannot move to read-only media")
        conn.execute("PRAGMA journal_mode=DELETE")
    return conn
"""
        ),
    )
    INVALID = (
        Invalid(
            """
import os
import sqlite3

def connect(path):
    conn = sqlite3.connect(path)
    if os.environ.get("BOARD_NO_WAL"):
        conn.execute("PRAGMA journal_mode=DELETE")  # expect: WAL003
    return conn
""",
            fixed="""
import os
import sqlite3

from walint.runtime import journal_mode_on_disk

def connect(path):
    conn = sqlite3.connect(path)
    if os.environ.get("BOARD_NO_WAL"):
        if journal_mode_on_disk(conn) in ("wal", None):
            raise sqlite3.OperationalError(
                "refusing to leave WAL: the database is"
                " (or may be) in WAL on disk"
            )
        conn.execute("PRAGMA journal_mode=DELETE")  # expect: WAL003
    return conn
""",
        ),
        Invalid(
            """
from sqlite3 import connect as open_db

def use_rollback_journal(conn):
    conn.execute("PRAGMA journal_mode=DELETE")

def open_board(path, on_share):
    conn = open_db(path)
    if on_share:
        use_rollback_journal(conn)  # expect: WAL003
    return conn
"""
        ),
    )

    def check(self, model: "ModuleModel") -> Iterator[Report]:
        for unit in model.hot_units:
            if not model.opens_connection(unit):
                continue
            own = model.function_facts(unit).qualname
            for site in model.facts(unit).sites:
                if site.guarded or model.restored_after(site):
                    continue  # guarded, or a switch for a job that sets the mode it read back
                effect = model.effect(site)
                rollback = effect is not None and bool(effect.rollback_modes)
                elsewhere = model.downgrades_elsewhere(site)
                if rollback and not elsewhere and (site.handler is not None or site.flagged or model.on_failure_path(site)):
                    continue  # WAL001 reports this statement
                if rollback and (model.unreachable(site) or model.on_private_database(site) or model.chosen_at_creation(site)):
                    continue  # never runs, runs on a `:memory:` database no one shares, or on a new file
                node = site.node
                callee = model.callee(node, site.scope) if isinstance(node, cst.Call) else None
                # A helper that sets the mode its caller passes (`set_journal(conn, "delete")`)
                # under a condition chooses it as an inline pragma would.
                by_argument = rollback and callee is not None and not callee.unguarded_downgrade
                if rollback and (model.direct_effect(node, site.scope) is not None or by_argument):
                    # `"wal" if cfg.wal else "delete"`: a value chooses, as an `if` would.
                    chosen = effect.sets_wal and model.downgrades_on_some_path(site)  # type: ignore[union-attr]
                    # `set_journal(conn, "truncate")` reaches the mode through a function of the
                    # project, as a call of `_use_rollback(conn)` does, condition or not.
                    # Left to the helper's default (`apply_journal(conn)` with `mode="truncate"`), the
                    # mode reaches it all the same, unless the connection is a copy made here.
                    passes_rollback = (
                        by_argument
                        and callee.qualname != own  # type: ignore[union-attr]
                        and not callee.opens_connection  # type: ignore[union-attr]
                        and (_passes_a_rollback_mode(model, node, site.scope) or (not _passes_sql_setting_a_mode(model, node, site.scope) and not _makes_a_copy(unit)))
                    )
                    mode = effect.rollback_modes[0].upper()  # type: ignore[union-attr]
                    if _on_a_condition_of_its_own(model, site) and model.switched_back_to_wal(site, same_branch=True) and not chosen:
                        continue  # `if compact: DELETE; VACUUM; WAL`: a temporary switch, undone
                    if _on_a_condition_of_its_own(model, site) or chosen:
                        message = (
                            f"Journal mode `{mode}` set on a condition of this connect path without "
                            "checking that the database is not already in WAL on disk"
                        )
                    elif passes_rollback:
                        message = (
                            f"`{model.called_name(node)}()` switches this new connection to journal mode `{mode}` "  # type: ignore[arg-type]
                            "without checking the on-disk mode"
                        )
                    else:
                        continue
                    yield Report(node, message, *guard_fix(model, site, self.helper))
                    continue
                if not isinstance(node, cst.Call):
                    continue
                if callee is None or callee.qualname == own or not callee.unguarded_downgrade:
                    continue
                if callee.opens_connection:
                    continue  # a connect wrapper: its own findings point inside it
                if model.downgrade_reached_in_handler(site) is not None and not elsewhere:
                    continue  # a downgrade on this function's error path: WAL001 reports it
                if model.downgrades_on_its_own_error_path(model.resolve_unit(node, site.scope)):
                    continue  # a helper of this module whose own WAL attempt falls back: its WAL001 says so
                if model.unreachable(site) or model.on_private_database(site):
                    continue  # never runs, or on a read-only or `:memory:` database no one shares
                if _written_by_a_backup(unit, node):
                    continue  # `source.backup(target)`, then `make_portable(target)`: a new copy
                yield Report(
                    node,
                    f"`{model.called_name(node)}()` can switch this new connection to a rollback journal "
                    f"without checking the on-disk mode ({callee.unguarded_downgrade})",
                    *guard_fix(model, site, self.helper),
                )


def _on_a_condition_of_its_own(model: "ModuleModel", site: "Site") -> bool:
    """Does ``site`` run on a condition the opening of its connection does not run on
    (``if on_network_fs(path):`` after the connect), rather than alongside it (``if conn
    is None: conn = connect(...)`` and the pragma right after, in the same branch)?"""
    if not site.conditional:
        return False
    sites = model.facts(site.unit).sites
    opened = None
    for other in sites:
        if other is site:
            break
        if model.is_connect_call(other.node, other.scope):
            opened = other
    if opened is None or not set(site.conditions) <= set(opened.conditions):
        return True
    # Both under `if settings.network_storage:` (`with engine.connect() as conn:` inside):
    # the condition picks the mode. Under `if self._conn is None:`, it only opens late.
    receiver = dotted_name(site.node.func.value) if isinstance(site.node, cst.Call) and isinstance(site.node.func, cst.Attribute) else ""
    shared = set(site.conditions)
    return bool(receiver) and any(
        isinstance(node, cst.If) and id(node) in shared and not _about_the_connection(node.test, receiver)
        for node in own_nodes(site.unit.node)
    )


def _about_the_connection(test: cst.BaseExpression, receiver: str) -> bool:
    """Does ``test`` look at the connection (``conn is None``, ``not self._db``)?"""
    return any(
        isinstance(node, (cst.Name, cst.Attribute)) and dotted_name(node) == receiver
        for node in iter_subexpressions(test, limit=200)
    )


def _passes_sql_setting_a_mode(model: "ModuleModel", call: cst.CSTNode, scope: "Scope") -> bool:
    """``db.execute_void("pragma journal_mode=off")``: the call hands over the whole
    statement, as an inline pragma would be written (the helper's default decides nothing)."""
    return isinstance(call, cst.Call) and any(
        modes_set_by_sql(value)
        for arg in call.args
        for value in model.folder.values(arg.value, scope)
        if is_known(value) and "journal_mode" in value.lower()
    )


def _makes_a_copy(unit: "Unit") -> bool:
    """Does the function write a copy of a database (``VACUUM INTO``, ``.backup(...)``),
    whose new file the connections it opens may be for?"""
    for node in own_nodes(unit.node):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "backup":
            return True
        if isinstance(node, cst.SimpleString) and "vacuum into" in " ".join(str(node.evaluated_value).lower().split()):
            return True
    return False


def _written_by_a_backup(unit: "Unit", call: cst.Call) -> bool:
    """Is the connection ``call`` is handed first the target of a ``.backup(...)`` in the
    function, a copy this function has just written?"""
    handed = dotted_name(call.args[0].value) if call.args else ""
    return bool(handed) and any(
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "backup"
        and node.args
        and dotted_name(node.args[0].value) == handed
        for node in own_nodes(unit.node)
    )


def _passes_a_rollback_mode(model: "ModuleModel", call: cst.CSTNode, scope: "Scope") -> bool:
    """Does the call pass a rollback mode itself (``set_journal(conn, "truncate")``), rather
    than leave it to the helper's default?"""
    if not isinstance(call, cst.Call):
        return False
    return any(
        normalise_mode(value) in ROLLBACK_MODES
        for arg in call.args
        for value in model.folder.values(arg.value, scope)
        if is_known(value)
    )
