"""Connections and cursors: what opens a SQLite database (``sqlite3.connect`` and its
kin, an engine made here), and which ``execute`` a cursor's fetch reads the rows of.
A mixin of :class:`walint.journal.model.ModuleModel`."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import libcst as cst

from walint.flow.conditions import always_exits
from walint.journal.guards import is_in_memory_name, is_read_only_uri
from walint.semantic.scopes import Scope, Unit
from walint.flow.unit_facts import Site
from walint.semantic.nodes import PATH_WRAPPERS, dotted_name, is_none, iter_subexpressions, tests_existence_of, unwrapped_path
from walint.constants import is_known
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

# SQLAlchemy's engine classes: a parameter annotated with one is an engine made elsewhere.
ENGINE_CLASSES = frozenset(
    {
        "sqlalchemy.Engine",
        "sqlalchemy.engine.Engine",
        "sqlalchemy.engine.base.Engine",
        "sqlalchemy.ext.asyncio.AsyncEngine",
        "sqlalchemy.ext.asyncio.engine.AsyncEngine",
    }
)

def defers_a_database(call: cst.Call) -> bool:
    """peewee's deferred database, opened late: ``db.init(path)``, ``db.connect(reuse_if_open=True)``."""
    func = call.func
    return isinstance(func, cst.Attribute) and (
        (func.attr.value == "init" and bool(call.args) and call.args[0].keyword is None)
        or (func.attr.value == "connect" and any(a.keyword is not None and a.keyword.value == "reuse_if_open" for a in call.args))
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


# Calls that pass a path on as it is, for telling which file a connection opened.
# `tempfile`'s makers of files and directories only this process knows of.
_TEMPORARY_FILES = frozenset({"tempfile.mkstemp", "mkstemp"})
# (`with TemporaryDirectory() as folder` binds the folder's path.)
_TEMPORARY_DIRECTORIES = frozenset({"tempfile.mkdtemp", "mkdtemp", "tempfile.TemporaryDirectory", "TemporaryDirectory"})
_NAMED_TEMPORARY_FILES = frozenset({"tempfile.NamedTemporaryFile", "NamedTemporaryFile", "tempfile.TemporaryDirectory", "TemporaryDirectory"})


def _made_by_tempfile(model: "ConnectionQueries", binding: object, scope: Scope) -> bool:
    """``tmp`` of ``with tempfile.NamedTemporaryFile(...) as tmp`` (or bound to the call)."""
    value = getattr(binding, "value", None)
    return isinstance(value, cst.Call) and (model.qualified_name(value.func, scope) or dotted_name(value.func)) in _NAMED_TEMPORARY_FILES  # type: ignore[attr-defined]


_REMOVERS = frozenset({"os.remove", "os.unlink"})


def _removes(node: cst.CSTNode, path: str) -> bool:
    """Does ``node`` delete the file ``path`` names (``os.remove(path)``, ``path.unlink()``)?"""
    for call in iter_subexpressions(node, limit=200):
        if not isinstance(call, cst.Call):
            continue
        if dotted_name(call.func) in _REMOVERS and call.args and dotted_name(unwrapped_path(call.args[0].value)) == path:
            return True
        if isinstance(call.func, cst.Attribute) and call.func.attr.value == "unlink" and dotted_name(unwrapped_path(call.func.value)) == path:
            return True
    return False


def receivers_of(node: cst.CSTNode) -> List[str]:
    """The names a statement may switch the connection of: the one a method is called on
    (``conn``, ``self.conn`` in ``conn.execute(...)``), and the one a function is handed
    first (``set_journal(conn, "memory")``, ``catalog.force_rollback(conn)``)."""
    if not isinstance(node, cst.Call):
        return []
    found = []
    if isinstance(node.func, cst.Attribute) and dotted_name(node.func.value):
        found.append(dotted_name(node.func.value))
    if node.args and node.args[0].keyword is None and not node.args[0].star and dotted_name(node.args[0].value):
        found.append(dotted_name(node.args[0].value))
    return found


class ConnectionQueries:
    """Connections and cursors, asked of a :class:`ModuleModel` (mixed in)."""

    def is_connect_call(self, node: cst.CSTNode, scope: Scope) -> bool:
        """``sqlite3.connect(...)`` and its kin, or ``engine.connect()`` on an engine made here;
        also on a worker thread (``await asyncio.to_thread(sqlite3.connect, path)``)."""
        if isinstance(node, cst.Call):
            node = self.handed_call(node) or node
        return isinstance(node, cst.Call) and (
            self.qualified_name(node.func, scope) in CONNECT_FUNCTIONS or self._connects_an_engine(node, scope)
        )

    def _connects_an_engine(self, call: cst.Call, scope: Scope) -> bool:
        """``engine.connect()`` (or ``.begin()``) where ``engine = create_engine(...)``, or
        a peewee database opened late (``db.init(path)``)."""
        func = call.func
        if defers_a_database(call):
            return True
        if not isinstance(func, cst.Attribute) or func.attr.value not in ("connect", "begin", "raw_connection"):
            return False
        bindings, parameter = self.bindings_of(func.value, scope)
        if parameter is not None and not bindings:  # `def open_log(engine: Engine)`
            holder = self._scope_of_param(parameter, scope)
            annotated = holder.annotations.get(parameter) if holder is not None else None
            return bool(annotated and annotated.isidentifier()) and self.qualified_name(cst.Name(annotated), self.module_scope) in ENGINE_CLASSES
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

    def opens_private_database(self, call: cst.Call, scope: Scope, _depth: int = 0) -> bool:
        """``sqlite3.connect(":memory:")``, a database of its own, a read-only URI
        (``file:...?mode=ro``, ``?immutable=1``), or a file this function creates: a
        connection that writes no journal beside another process's WAL."""
        if isinstance(call.func, cst.Attribute) and call.func.attr.value in ("connect", "begin") and not call.args and _depth < 3:
            # `engine.connect()` of `engine = create_engine(url)`: the engine's database.
            if isinstance(call.func.value, cst.Call):  # `create_engine(url).connect()`
                return self.opens_private_database(call.func.value, scope, _depth + 1)
            bindings, parameter = self.bindings_of(call.func.value, scope)
            made = bindings[0].value if parameter is None and len(bindings) == 1 and bindings[0].kind == "value" else None
            return isinstance(made, cst.Call) and self.opens_private_database(made, bindings[0].scope or scope, _depth + 1)
        if self.qualified_name(call.func, scope) not in CONNECT_FUNCTIONS or not call.args:
            return False
        if self._creates_the_file(call, scope) or self._temporary_file(call.args[0].value, scope):
            return True
        values = self.folder.values(call.args[0].value, scope)
        # `path.as_uri() + "?mode=ro"` with `uri=True`: a URI whose read-only query is known.
        as_uri = any(a.keyword is not None and a.keyword.value == "uri" and dotted_name(a.value) == "True" for a in call.args)
        return bool(values) and all(
            is_in_memory_name(value) or is_read_only_uri(value) or (as_uri and "?" in value and not is_known(value[: value.rindex("?")]) and is_read_only_uri("file:" + value))
            for value in values
        )

    def _temporary_file(self, path: cst.BaseExpression, scope: Scope, depth: int = 0) -> bool:
        """A path ``tempfile`` made for this process alone: ``tmp.name`` of ``with
        tempfile.NamedTemporaryFile(...) as tmp``, ``tempfile.mkstemp()[1]``, or a file in
        ``tempfile.mkdtemp()`` (through names bound once, and ``os.path.join``)."""
        path = unwrapped_path(path)
        if depth > 4:
            return False
        if isinstance(path, cst.Call):
            name = self.qualified_name(path.func, scope) or dotted_name(path.func)
            if name in _TEMPORARY_DIRECTORIES:
                return True
            if name in ("os.path.join", "pathlib.Path", "Path") and path.args:
                return self._temporary_file(path.args[0].value, scope, depth + 1)
            return False
        if isinstance(path, cst.BinaryOperation) and isinstance(path.operator, cst.Divide):
            return self._temporary_file(path.left, scope, depth + 1)  # `Path(mkdtemp()) / "x.db"`
        if isinstance(path, cst.Subscript) and isinstance(path.value, cst.Call):
            return (self.qualified_name(path.value.func, scope) or dotted_name(path.value.func)) in _TEMPORARY_FILES
        if isinstance(path, cst.Attribute) and path.attr.value == "name":
            path = path.value  # `tmp.name`
            bindings, parameter = self.bindings_of(path, scope)
            return parameter is None and len(bindings) == 1 and _made_by_tempfile(self, bindings[0], scope)
        if isinstance(path, cst.Name):
            bindings, parameter = self.bindings_of(path, scope)
            if parameter is None and len(bindings) == 1 and bindings[0].kind == "value" and bindings[0].value is not None:
                return self._temporary_file(bindings[0].value, bindings[0].scope or scope, depth + 1)  # type: ignore[arg-type]
            unpacked = self.unpacked_from(path, scope) if parameter is None and len(bindings) == 1 and bindings[0].kind == "unknown" else None  # type: ignore[attr-defined]
            if isinstance(unpacked, cst.Call):  # `fd, path = tempfile.mkstemp()`
                return (self.qualified_name(unpacked.func, scope) or dotted_name(unpacked.func)) in _TEMPORARY_FILES
        return False

    def _creates_the_file(self, call: cst.Call, scope: Scope) -> bool:
        """``if os.path.exists(path): return`` (or raise) before ``connect(path)``, at the
        top of the function: the connect creates the file, which no other process has open
        in WAL yet (a mode chosen for a brand-new database is its creator's choice)."""
        unit = scope.unit
        opened = dotted_name(unwrapped_path(call.args[0].value))
        if unit is None or not opened or not isinstance(unit.node, cst.FunctionDef):
            return False
        here = self.line_of(call)
        for statement in unit.node.body.body:
            if self.line_of(statement) >= here:
                return False
            if isinstance(statement, cst.If) and tests_existence_of(statement.test) == opened:
                if always_exits(statement.body) or _removes(statement.body, opened):
                    return True  # `if tmp.exists(): os.unlink(tmp)`: a new file either way
            if isinstance(statement, (cst.SimpleStatementLine, cst.With, cst.Try)) and _removes(statement, opened):
                return True  # `tmp.unlink(missing_ok=True)`
        return False

    def chosen_at_creation(self, site: Site) -> bool:
        """``fresh = not os.path.exists(path)`` before ``connect(path)``, then ``if fresh:
        conn.execute("PRAGMA journal_mode=OFF")``: the mode of a file the function
        creates, which no other process has open in WAL yet (the creator's choice, as an
        early return on an existing file is in :meth:`_creates_the_file`)."""
        unit = site.unit
        opened = {
            dotted_name(unwrapped_path(other.node.args[0].value))
            for other in self.facts(unit).sites
            if isinstance(other.node, cst.Call) and other.node.args and self.is_connect_call(other.node, other.scope)
        }
        conditions = set(site.conditions)
        return any(
            isinstance(node, cst.If) and id(node) in conditions and self._tests_absence_of(node.test, site.scope) in opened - {""}
            for node in own_nodes(unit.node)
        )

    def _tests_absence_of(self, test: cst.BaseExpression, scope: Scope) -> str:
        """The path ``not os.path.exists(path)`` checks is missing, directly or through a
        name bound once to that test (``fresh = not path.exists()``), or ""."""
        if isinstance(test, cst.Name):
            bindings, parameter = self.bindings_of(test, scope)
            if parameter is not None or len(bindings) != 1 or bindings[0].kind != "value" or bindings[0].value is None:
                return ""
            test = bindings[0].value  # type: ignore[assignment]
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            return tests_existence_of(test.expression)
        return ""

    def database_of(
        self, expr: cst.BaseExpression, scope: Scope, connection: bool = False, depth: int = 0
    ) -> Optional[Tuple[object, ...]]:
        """Which database file a path, or a connection (followed to the connect call that
        opened it), stands for, as far as one reading tells: a parameter (of which
        function) or a literal, followed through names and ``self`` attributes. None when
        it cannot be told (a cursor, a value from a call, several bindings), and, with
        ``connection``, for anything not followed to a connect call (a connection passed
        in is of any file)."""
        if depth > 6:
            return None
        if isinstance(expr, cst.Call):
            if self.qualified_name(expr.func, scope) in CONNECT_FUNCTIONS and expr.args and expr.args[0].keyword is None:
                return self.database_of(expr.args[0].value, scope, False, depth + 1)
            if not connection and dotted_name(expr.func) in PATH_WRAPPERS and len(expr.args) == 1:
                return self.database_of(expr.args[0].value, scope, False, depth + 1)  # `str(cfg.db_path)`
            return None
        if isinstance(expr, cst.SimpleString):
            return None if connection else ("text", expr.evaluated_value)
        if isinstance(expr, cst.BooleanOperation) and isinstance(expr.operator, cst.Or) and not connection:
            return self.database_of(expr.left, scope, False, depth + 1)  # `path or DEFAULT_PATH`: the caller's
        if not isinstance(expr, (cst.Name, cst.Attribute)):
            return None
        bindings, parameter = self.bindings_of(expr, scope)
        if parameter is not None and not bindings:
            owner = self._scope_of_param(parameter, scope)
            if connection or owner is None or parameter == "self":
                return None
            return ("parameter", id(owner), parameter)
        if not bindings and not connection and isinstance(expr, cst.Attribute):
            # `cfg.loans_path` of a parameter `cfg`: that field of whatever is passed.
            owner = self.database_of(expr.value, scope, False, depth + 1)
            return ("field", owner, expr.attr.value) if owner is not None else None
        if len(bindings) > 1:  # `self.conn = None` in `__init__`, then the connect: a placeholder
            bindings = [b for b in bindings if not (b.kind == "value" and is_none(b.value))]  # type: ignore[arg-type]
        if len(bindings) != 1 or bindings[0].kind != "value" or bindings[0].value is None or bindings[0].scope is None:
            return None
        return self.database_of(bindings[0].value, bindings[0].scope, connection, depth + 1)  # type: ignore[arg-type]

    def guard_on_another_database(self, site: Site) -> bool:
        """Is the guard before ``site`` a read of another database's mode (``self.archive``'s
        when ``self.live`` is downgraded, the audit file's header)? It says nothing of
        the file the statement switches."""
        guard, node = site.guard, site.node
        if guard is None or not isinstance(node, cst.Call):
            return False
        if isinstance(node.func, cst.Attribute):
            connection = node.func.value
        elif node.args and node.args[0].keyword is None and not node.args[0].star:
            connection = node.args[0].value  # `fallback_mode(db)`: a helper handed the connection
        else:
            return False
        switched = self.database_of(connection, site.scope, connection=True)
        if switched is None:
            return False
        test = guard.test if isinstance(guard, (cst.If, cst.While)) else guard
        probes = [probe for probe, _ in self.probe_calls(test, site.scope)]
        probes += [atom for atom, _ in self.wal_predicate_checks(test, site.scope) if isinstance(atom, cst.Call)]
        if not probes:
            return False
        for probe in probes:
            if not isinstance(probe, cst.Call):
                return False
            where = site.scope
            if isinstance(probe.func, cst.Attribute) and self.direct_effect(probe, site.scope) is not None:
                subject: Optional[cst.BaseExpression] = probe.func.value  # `self.archive.execute("PRAGMA journal_mode")`
            elif probe.args and probe.args[0].keyword is None:
                subject = probe.args[0].value  # `header_is_wal(self.audit_path)`
            elif not probe.args and isinstance(probe.func, cst.Attribute) and dotted_name(probe.func.value) == "self":
                # `self._backup_mode()`, a method that opens its own connection to read.
                found = self._connection_read_in(probe, site.scope)
                if found is None:
                    return False
                subject, where = found
            else:
                return False
            read = self.database_of(subject, where, connection=where is not site.scope)
            if read is None or read == switched:
                return False
        return True

    def _connection_read_in(self, call: cst.Call, scope: Scope) -> Optional[Tuple[cst.BaseExpression, Scope]]:
        """The connection a probe method reads the mode of, when all its reads are on one
        name (``with sqlite3.connect(self.backup_path) as other: <read on other>``)."""
        unit = self.resolve_unit(call, scope)
        if unit is None:
            return None
        receivers = {
            dotted_name(site.node.func.value): site
            for site in self.facts(unit).sites
            if isinstance(site.node, cst.Call) and isinstance(site.node.func, cst.Attribute)
            and (effect := self.direct_effect(site.node, site.scope)) is not None and effect.reads
        }
        if len(receivers) != 1 or "" in receivers:
            return None
        site = next(iter(receivers.values()))
        return site.node.func.value, site.scope  # type: ignore[union-attr]

    def on_another_connection(self, site: Site) -> bool:
        """Is ``site`` on a connection opened to another file than every WAL attempt of its
        function (``dest = sqlite3.connect(out)`` for a backup, after ``conn``'s switch
        failed)? Its mode is that file's business, not a fallback for the failed one."""
        if not isinstance(site.node, cst.Call) or site.handler is not None:
            return False
        receivers = receivers_of(site.node)
        switched = self.database_of(cst.Name(receivers[0]), site.scope, connection=True) if receivers and receivers[0].isidentifier() else None
        if switched is None:
            return False
        attempted = [
            self.database_of(other.node.func.value, other.scope, connection=True)  # type: ignore[union-attr]
            for other in self.facts(site.unit).sites
            if isinstance(other.node, cst.Call) and isinstance(other.node.func, cst.Attribute) and self.switches_to_wal(other)
        ]
        return bool(attempted) and all(database is not None and database != switched for database in attempted)
