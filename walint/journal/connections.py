"""Connections and cursors: what opens a SQLite database (``sqlite3.connect`` and its
kin, an engine made here), and which ``execute`` a cursor's fetch reads the rows of.
A mixin of :class:`walint.journal.model.ModuleModel`."""

from __future__ import annotations

from typing import Dict, Optional

import libcst as cst

from walint.journal.guards import is_in_memory_name, is_read_only_uri
from walint.semantic.scopes import Scope, Unit
from walint.semantic.nodes import dotted_name
from walint.tree import own_nodes

# What `sqlite3.connect` and friends are called, by their qualified names.
CONNECT_FUNCTIONS = frozenset(
    {
        "sqlite3.connect",
        "sqlite3.dbapi2.connect",
        "sqlite3.Connection",
        "pysqlite2.dbapi2.connect",
        "aiosqlite.connect",
        "apsw.Connection",
        "sqlcipher3.connect",
        "pysqlite3.connect",
        "pysqlite3.dbapi2.connect",
        "sqlean.connect",
        # Libraries whose database (or engine) object opens the file for the caller.
        "sqlite_utils.Database",
        "sqlite_utils.db.Database",
        "peewee.SqliteDatabase",
        "playhouse.sqlite_ext.SqliteExtDatabase",
        "playhouse.sqlite_ext.CSqliteExtDatabase",
        "playhouse.apsw_ext.APSWDatabase",
        "playhouse.sqliteq.SqliteQueueDatabase",
        "playhouse.pool.PooledSqliteDatabase",
        "playhouse.pool.PooledSqliteExtDatabase",
        "sqlalchemy.create_engine",
        "sqlalchemy.engine.create_engine",
        "sqlalchemy.ext.asyncio.create_async_engine",
        "sqlmodel.create_engine",
        "dataset.connect",
    }
)

_FETCH_METHODS = frozenset({"fetchone", "fetchall", "fetchmany"})


def _cursor_reads(unit: Unit) -> Dict[int, cst.Call]:
    """Each fetch on a cursor name in ``unit``, with the last execute on that name before it."""
    found: Dict[int, cst.Call] = {}
    last: Dict[str, cst.Call] = {}
    for node in own_nodes(unit.node):
        if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
            continue
        receiver = dotted_name(node.func.value)
        if not receiver:
            continue
        method = node.func.attr.value
        if method == "execute":
            last[receiver] = node
        elif method in _FETCH_METHODS and receiver in last:
            found[id(node)] = last[receiver]
    return found


class ConnectionQueries:
    """Connections and cursors, asked of a :class:`ModuleModel` (mixed in)."""

    def is_connect_call(self, node: cst.CSTNode, scope: Scope) -> bool:
        """``sqlite3.connect(...)`` and its kin, or ``engine.connect()`` on an engine made here."""
        return isinstance(node, cst.Call) and (
            self.qualified_name(node.func, scope) in CONNECT_FUNCTIONS or self._connects_an_engine(node, scope)
        )

    def _connects_an_engine(self, call: cst.Call, scope: Scope) -> bool:
        """``engine.connect()`` (or ``.begin()``) where ``engine = create_engine(...)``."""
        func = call.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in ("connect", "begin", "raw_connection"):
            return False
        bindings, _ = self.bindings_of(func.value, scope)
        return bool(bindings) and all(
            b.kind == "value"
            and isinstance(b.value, cst.Call)
            and b.scope is not None
            and self.qualified_name(b.value.func, b.scope) in CONNECT_FUNCTIONS
            for b in bindings
        )

    def opens_connection(self, unit: Unit) -> bool:
        if unit is self.module_unit:
            return False
        return self.function_facts(unit).opens_connection

    def fetched_by(self, call: cst.Call, scope: Scope) -> Optional[cst.Call]:
        """For ``cur.fetchone()`` (``fetchall``, ``fetchmany``) on a name, the last
        ``cur.execute(...)`` written before it in the same function: the statement whose
        rows it fetches (``cur.execute("PRAGMA journal_mode"); row = cur.fetchone()``)."""
        if not isinstance(call.func, cst.Attribute) or call.func.attr.value not in _FETCH_METHODS:
            return None
        unit = scope.unit or self.module_unit
        found = self._cursor_reads.get(unit)
        if found is None:
            found = self._cursor_reads[unit] = _cursor_reads(unit)
        return found.get(id(call))

    def opens_private_database(self, call: cst.Call, scope: Scope) -> bool:
        """``sqlite3.connect(":memory:")``, a database of its own, or a read-only URI
        (``file:...?mode=ro``, ``?immutable=1``): a connection that writes no journal
        beside another process's WAL."""
        if self.qualified_name(call.func, scope) not in CONNECT_FUNCTIONS or not call.args:
            return False
        values = self.folder.values(call.args[0].value, scope)
        return bool(values) and all(is_in_memory_name(value) or is_read_only_uri(value) for value in values)
