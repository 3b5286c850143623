"""What an ``except`` handler does with a failed WAL switch: raise or hand it on, act on
it (a mode, a retry), or let it through with no more than a log line."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, List, Optional, Sequence

import libcst as cst

from walint.flow.conditions import always_exits
from walint.semantic.nodes import dotted_name, iter_subexpressions, small_statements

if TYPE_CHECKING:
    from walint.flow.unit_facts import Site
    from walint.journal.model import ModuleModel
    from walint.semantic.scopes import Scope


# Exception names that catch a failed pragma: the DB-API hierarchy and the broad ones.
_CATCHES_DB_ERROR_RE = re.compile(
    r"^(?:Exception|BaseException|Error|DatabaseError|OperationalError|DBAPIError|SQLAlchemyError|"
    r"InterfaceError|PeeweeException|SQLError|ExecutionCompleteError|BusyError|LockedError|IOError|"
    r"\w*Sqlite\w*Error)$",
    re.I,
)


# Errors that say the connection is read-only: swallowing one leaves no writer in a
# rollback journal, and transient errors still propagate.
_CANNOT_WRITE_ERRORS = frozenset({"ReadOnlyError"})


def catches_database_errors(exceptions: Sequence[cst.BaseExpression]) -> bool:
    """Would an ``except`` (or ``suppress``) naming these types catch a failed pragma?"""
    if not exceptions:
        return True  # bare `except:`
    for exception in exceptions:
        if isinstance(exception, (cst.Tuple, cst.List)):
            if catches_database_errors([e.value for e in exception.elements]):
                return True
            continue
        name = dotted_name(exception)
        if not name:
            return True  # a computed set of exceptions: assume it may
        last = name.rsplit(".", 1)[-1]
        if last in _CANNOT_WRITE_ERRORS:
            continue  # the connection cannot write at all, so it keeps no journal beside WAL writers
        if name.startswith("apsw.") or _CATCHES_DB_ERROR_RE.match(last):
            return True
    return False


def sets_some_mode(model: "ModuleModel", site: "Site") -> bool:
    """Any journal-mode set, even one whose mode is unknown (config-driven)."""
    effect = model.effect(site)
    if effect is not None and effect.sets:
        return True
    if isinstance(site.node, cst.Call):
        callee = model.callee(site.node, site.scope)
        if callee is not None and callee.sets_journal_mode:
            return True
    return False


def names_specific_errors(handler: cst.CSTNode) -> bool:
    """``except apsw.BusyError:``, not ``except Exception:`` or a bare ``except:``."""
    names = [dotted_name(item) for item in _caught(handler_types(handler))]
    return bool(names) and all(name and name.rsplit(".", 1)[-1] not in ("Exception", "BaseException") for name in names)


def handler_types(handler: cst.CSTNode) -> Sequence[cst.BaseExpression]:
    kind = getattr(handler, "type", None)
    return [] if kind is None else [kind]


def _caught(types: Sequence[cst.BaseExpression]) -> List[cst.BaseExpression]:
    """Each exception an ``except`` names, its tuple spread out."""
    return [
        item
        for kind in types
        for item in ([e.value for e in kind.elements] if isinstance(kind, (cst.Tuple, cst.List)) else [kind])
    ]


# Calls that never return: they end the process or raise (pytest's outcomes).
NEVER_RETURN = frozenset(
    {"sys.exit", "exit", "quit", "os._exit", "os.abort", "pytest.fail", "pytest.skip", "pytest.exit"}
)


def branch_carries_on(model: "ModuleModel", handler: cst.CSTNode, sites: Sequence["Site"], scope: "Scope", next_item: bool) -> bool:
    """Does the handler choose, with an ``if``/``else``, between acting and carrying on?
    ``if "locking protocol" in msg: <fallback> else: log.error(...)``, with nothing after
    the ``if`` that acts: the else branch leaves the connection in whatever mode it has.
    In a loop over items (``next_item``), a ``continue`` after it only moves on."""
    statements = small_statements(handler.body)  # type: ignore[attr-defined]
    for index, statement in enumerate(statements):
        if not isinstance(statement, cst.If) or statement.orelse is None:
            continue
        later = statements[index + 1 :]
        if next_item and later and _moves_on(later[-1]):
            later = later[:-1]
        if any(_acts(model, s, sites, scope) for s in later):
            return False
        branches = _branches(statement)
        if branches is None:
            continue  # an `elif` chain without `else`: the path past it is judged as before
        if any(all(_only_reports(s) for s in branch) for branch in branches):
            return True
    return False


# What a branch that only tells someone calls: logging, printing, writing to a stream.
_REPORTING_CALLS = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "log", "print", "write", "echo", "secho"}
)


def falls_through_quietly(
    model: "ModuleModel", scope: "Scope", handler: cst.CSTNode, waits: bool, attempt_names: Sequence[str] = ()
) -> bool:
    """Is there a path through the handler past every ``if ...: raise`` that only
    reports (and, in a loop of attempts, waits) before leaving it? Not when an exit
    counts the attempts (``if attempt == attempts - 1: raise``): the last one raises;
    nor when its test calls a function of the project (``or not _fallback(conn)``)."""
    statements = small_statements(handler.body)  # type: ignore[attr-defined]
    passed_an_exit = False
    for statement in statements:
        if isinstance(statement, cst.If) and statement.orelse is None and always_exits(statement.body):
            inside = list(iter_subexpressions(statement.test))
            if any(isinstance(n, cst.Name) and n.value in attempt_names for n in inside):
                return False
            if any(isinstance(n, cst.Call) and model.callee(n, scope) is not None for n in inside):
                return False
            passed_an_exit = True
            continue
        if _only_reports(statement) or (waits and _only_waits(statement)):
            continue
        return False
    return passed_an_exit


def _only_waits(statement: cst.CSTNode) -> bool:
    """``time.sleep(...)``, ``await asyncio.sleep(...)``, ``continue``."""
    return _only_calls(statement, frozenset({"sleep"}), cst.Continue)


def _only_reports(statement: cst.CSTNode) -> bool:
    """``log.error(...)``, ``print(...)``, ``pass``: a statement that only reports."""
    return _only_calls(statement, _REPORTING_CALLS, cst.Pass)


def _only_calls(statement: cst.CSTNode, names: frozenset, plain: type) -> bool:
    """Is the line nothing but (awaited) calls of these names, and ``plain`` statements?"""
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    for small in statement.body:
        if isinstance(small, plain):
            continue
        value = small.value if isinstance(small, cst.Expr) else None
        if isinstance(value, cst.Await):
            value = value.expression
        if not isinstance(value, cst.Call) or dotted_name(value.func).rsplit(".", 1)[-1] not in names:
            return False
    return True


def _branches(statement: cst.If) -> Optional[List[Sequence[cst.CSTNode]]]:
    """The bodies of an ``if``/``elif``/``else`` chain; None when it ends without ``else``."""
    branches: List[Sequence[cst.CSTNode]] = []
    current: Optional[cst.CSTNode] = statement
    while isinstance(current, cst.If):
        branches.append(small_statements(current.body))
        current = current.orelse
    if not isinstance(current, cst.Else):
        return None
    branches.append(small_statements(current.body))
    return branches


def _moves_on(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(isinstance(s, cst.Continue) for s in statement.body)


def _acts(model: "ModuleModel", statement: cst.CSTNode, sites: Sequence["Site"], scope: "Scope") -> bool:
    """Does ``statement`` raise, leave, loop on, or set a journal mode somewhere inside?"""
    inside = list(iter_subexpressions(statement, limit=5000))
    if any(isinstance(node, (cst.Raise, cst.Return, cst.Continue, cst.Break)) for node in inside):
        return True
    if any(isinstance(node, cst.Call) and dotted_name(node.func) in NEVER_RETURN for node in inside):
        return True
    for node in inside:
        if isinstance(node, cst.Call):
            callee = model.callee(node, scope)
            if callee is not None and (callee.never_returns or callee.sets_journal_mode):
                return True
    ids = {id(node) for node in inside}
    return any(id(site.node) in ids and sets_some_mode(model, site) for site in sites)


def tries_wal_for_its_caller(model: "ModuleModel", site: "Site") -> bool:
    """A call of a project function that switches the caller's connection to WAL and
    lets the failure propagate."""
    if not isinstance(site.node, cst.Call):
        return False
    callee = model.callee(site.node, site.scope)
    if callee is None:
        return False
    if callee.wal_failure_propagates:
        return True
    # `run_script(conn, ["PRAGMA journal_mode=WAL", ...])`: it runs the pragma it is passed.
    effect = model.effect(site) if callee.sql_templates else None
    return effect is not None and effect.sets_wal


def names_project_errors(model: "ModuleModel", types: Sequence[cst.BaseExpression], scope: "Scope") -> bool:
    """``except WalUnavailable:`` where the class is defined in this module, or imported
    from a module of the package (``from .store import StoreError``): the error a helper
    wraps a failed switch in."""
    for item in _caught(types):
        if isinstance(item, cst.Name):
            bindings, _ = model.lookup(item.value, scope)
            if any(b.kind == "def" and isinstance(b.value, cst.ClassDef) for b in bindings):
                return True
            if any(b.kind == "import" and (b.origin or "").startswith(".") for b in bindings):
                return True
    return False


def _hands_over(call: cst.Call, caught: str, scope: "Scope") -> bool:
    """A call of a parameter (a strategy, an ``on_error`` callback) given the caught
    exception: what it does is the caller's choice, unknown here."""
    return (
        isinstance(call.func, cst.Name)
        and call.func.value in scope.params
        and any(isinstance(arg.value, cst.Name) and arg.value.value == caught for arg in call.args)
    )


def escalates(model: "ModuleModel", handler: cst.CSTNode, scope: "Scope") -> bool:
    """Does the handler re-raise (itself or through a function that never returns), or
    return a failure the caller must look at (``False``, the exception, a call's
    answer)? Returning the connection, a mode string or None hands the caller a
    connection in an unknown mode: that is swallowing."""
    caught = handler.name.name.value if getattr(handler, "name", None) is not None else None  # type: ignore[attr-defined]
    for node in iter_subexpressions(handler.body, limit=5000):  # type: ignore[attr-defined]
        if isinstance(node, cst.Raise):
            return True
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "close":
            return True  # the connection is given up, not used in whatever mode it has
        if isinstance(node, cst.Call) and dotted_name(node.func) in NEVER_RETURN:
            return True
        if isinstance(node, cst.Call):
            callee = model.callee(node, scope)
            if callee is not None and callee.never_returns:
                return True  # `die(exc)`: prints a hint, then raises SystemExit
            if caught is not None and _hands_over(node, caught, scope):
                return True  # `strategy(conn, exc)`: a callback the caller chose decides
        if isinstance(node, cst.Return) and node.value is not None:
            value = node.value
            if isinstance(value, cst.Name) and value.value in ("True", "False", caught):
                return True
            if isinstance(value, (cst.Call, cst.Await, cst.Tuple, cst.Comparison, cst.UnaryOperation, cst.BooleanOperation)):
                return True
    return False
