"""WAL004: a failed ``journal_mode=WAL`` whose error is swallowed."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst

from walint.codes import SPECS_BY_CODE
from walint.flow.conditions import always_exits, guarded_sides, not_wal_when
from walint.semantic.nodes import dotted_name, iter_subexpressions, small_statements, subscript_path, updated_entries
from walint.fixes import NO_FIX_MORE, FixPlan, HelperSpec, helper_call_fix, try_fix, wal_setting_calls
from walint.rules.base import Invalid, ModelRule, Report, Valid
from walint.sql import ROLLBACK_MODES, callee_name

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel
    from walint.semantic.model import Scope
    from walint.flow.walker import Site
    from walint.semantic.model import Unit

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


def _leads_to_a_downgrade(model: "ModuleModel", sites: Sequence["Site"], try_node: cst.CSTNode) -> bool:
    """Does a failed WAL attempt reach a rollback mode after this ``try`` in the function
    (a success flag tested after it, the ``else`` of a retry loop around it)?"""
    return any(
        model.is_rollback_site(site)
        and site.handler is None
        and model.on_failure_path(site) is not None
        and model.failure_of_reaches(try_node, site)
        for site in sites
    )


def _mode_names(model: "ModuleModel", sites: Sequence["Site"]) -> Set[str]:
    """Names the SQL of this function's journal-mode pragmas is built from."""
    names: Set[str] = set()
    for site in sites:
        effect = model.effect(site)
        if effect is not None and effect.sets and isinstance(site.node, cst.Call):
            for arg in site.node.args:
                names.update(n.value for n in iter_subexpressions(arg.value) if isinstance(n, cst.Name))
    return names


def _insists_on_wal_after(model: "ModuleModel", unit: "Unit", try_node: cst.CSTNode) -> bool:
    """Does the function, after this ``try``, read the mode and leave (raise, return) when
    it is not WAL?"""
    facts = model.facts(unit)
    after = model.line_of(try_node)
    for branch in facts.branches:
        if model.line_of(branch.node) <= after or not always_exits(branch.node.body):
            continue
        test = branch.node.test
        checks = [(c, not_wal_when(c, True)) for c in model.wal_check_comparisons(test, branch.scope)]
        checks += model.wal_predicate_checks(test, branch.scope)
        if checks and guarded_sides(test, checks)[0]:
            return True
    return False


def _names_specific_errors(handler: cst.CSTNode) -> bool:
    """``except apsw.BusyError:``, not ``except Exception:`` or a bare ``except:``."""
    names: List[str] = []
    for kind in _handler_types(handler):
        items = [e.value for e in kind.elements] if isinstance(kind, (cst.Tuple, cst.List)) else [kind]
        names.extend(dotted_name(item) for item in items)
    return bool(names) and all(name and name.rsplit(".", 1)[-1] not in ("Exception", "BaseException") for name in names)


def _handler_types(handler: cst.CSTNode) -> Sequence[cst.BaseExpression]:
    kind = getattr(handler, "type", None)
    return [] if kind is None else [kind]


# Calls that never return: they end the process or raise (pytest's outcomes).
_NEVER_RETURN = frozenset(
    {"sys.exit", "exit", "quit", "os._exit", "os.abort", "pytest.fail", "pytest.skip", "pytest.exit"}
)


def _branch_carries_on(model: "ModuleModel", handler: cst.CSTNode, sites: Sequence["Site"], scope: "Scope", next_item: bool) -> bool:
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


def _falls_through_quietly(
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
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    for small in statement.body:
        if isinstance(small, cst.Continue):
            continue
        value = small.value if isinstance(small, cst.Expr) else None
        if isinstance(value, cst.Await):
            value = value.expression
        if not isinstance(value, cst.Call) or dotted_name(value.func).rsplit(".", 1)[-1] != "sleep":
            return False
    return True


def _only_reports(statement: cst.CSTNode) -> bool:
    """``log.error(...)``, ``print(...)``, ``pass``: a statement that only reports."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    for small in statement.body:
        if isinstance(small, cst.Pass):
            continue
        value = small.value if isinstance(small, cst.Expr) else None
        if isinstance(value, cst.Await):
            value = value.expression
        if not isinstance(value, cst.Call) or dotted_name(value.func).rsplit(".", 1)[-1] not in _REPORTING_CALLS:
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
    if any(isinstance(node, cst.Call) and dotted_name(node.func) in _NEVER_RETURN for node in inside):
        return True
    for node in inside:
        if isinstance(node, cst.Call):
            callee = model.callee(node, scope)
            if callee is not None and (callee.never_returns or callee.sets_journal_mode):
                return True
    ids = {id(node) for node in inside}
    return any(id(site.node) in ids and SwallowedWalFailure._sets_mode(model, site) for site in sites)


NO_FIX_VIA_HELPER = "the WAL switch is inside the helper; handle its failure there or re-raise here"


def _tries_wal_for_its_caller(model: "ModuleModel", site: "Site") -> bool:
    """A call of a project function that switches the caller's connection to WAL and
    lets the failure propagate."""
    if not isinstance(site.node, cst.Call):
        return False
    callee = model.callee(site.node, site.scope)
    return callee is not None and callee.wal_failure_propagates


def _names_project_errors(model: "ModuleModel", types: Sequence[cst.BaseExpression], scope: "Scope") -> bool:
    """``except WalUnavailable:`` where the class is defined in this module: the error a
    helper wraps a failed switch in."""
    for kind in types:
        items = [e.value for e in kind.elements] if isinstance(kind, (cst.Tuple, cst.List)) else [kind]
        for item in items:
            if isinstance(item, cst.Name):
                bindings, _ = model.lookup(item.value, scope)
                if any(b.kind == "def" and isinstance(b.value, cst.ClassDef) for b in bindings):
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


def _escalates(model: "ModuleModel", handler: cst.CSTNode, scope: "Scope") -> bool:
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
        if isinstance(node, cst.Call) and dotted_name(node.func) in _NEVER_RETURN:
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


class SwallowedWalFailure(ModelRule):
    """
    ## What it does
    Checks for `PRAGMA journal_mode=WAL` (through the execute family, SQLAlchemy
    `text()`/`exec_driver_sql`, sync or `await`ed) whose failure is swallowed: an
    `except` that passes, logs and carries on, or falls through, and
    `contextlib.suppress(...)` around the pragma.

    ## Why is this bad?
    When the switch fails, the connection carries on in whatever mode it has, usually a
    rollback journal, while sibling processes that succeeded use WAL on the same file.
    Nothing downgraded anything on purpose, yet two locking protocols now share one
    database. A handler that re-raises, returns an error, or retries and then raises does
    not swallow the failure, and a handler that downgrades is reported by WAL001 instead.

    ## Example
    ```python
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        log.warning("could not enable WAL")
    ```

    Use instead:
    ```python
    from walint.runtime import apply_wal_with_fallback

    apply_wal_with_fallback(conn)
    ```

    ## Fix safety
    Where the `try` (or `with contextlib.suppress(...)`) holds the WAL pragma alone, the
    fix replaces it with one call of the safe helper, which re-raises transient errors
    and falls back only when WAL is unsupported and the file is not in WAL. It is safe
    when the handlers only log, `pass`, `raise` or `return` (the helper logs the
    fallback itself), and unsafe when they do more. Other shapes get no fix.
    """

    spec = SPECS_BY_CODE["WAL004"]

    VALID = (
        Valid(
            """
import apsw

def connection_wal(connection):
    try:
        if not connection.readonly("main"):
            connection.pragma("journal_mode", "wal")
    except apsw.ReadOnlyError:
        pass  # a read-only connection writes no journal; busy and I/O errors propagate
"""
        ),
        Valid(
            """
def enable_wal(conn):
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        log.exception("could not enable WAL")
        raise
"""
        ),
        Valid(
            """
def enable_wal(conn):
    for attempt in range(5):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError:
            time.sleep(0.1 * 2 ** attempt)
    else:
        raise RuntimeError("WAL could not be enabled")
"""
        ),
        Valid(
            """
def enable_wal(conn):
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except KeyboardInterrupt:
        pass
"""
        ),
    )
    INVALID = (
        Invalid(
            """
def enable_wal(conn):
    try:
        conn.execute("PRAGMA journal_mode=WAL")  # expect: WAL004
    except sqlite3.OperationalError as exc:
        log.warning("WAL unavailable: %s", exc)
""",
            fixed="""
from walint.runtime import apply_wal_with_fallback

def enable_wal(conn):
    # expect: WAL004
    apply_wal_with_fallback(conn)
""",
        ),
        Invalid(
            """
import contextlib

async def enable_wal(db):
    with contextlib.suppress(aiosqlite.OperationalError):
        await db.execute("PRAGMA journal_mode=WAL")  # expect: WAL004
""",
            fixed="""
import contextlib

from walint.runtime import apply_wal_with_fallback_async

async def enable_wal(db):
    # expect: WAL004
    await apply_wal_with_fallback_async(db)
""",
        ),
        Invalid(
            """
def on_connect(dbapi_connection, record):
    try:
        dbapi_connection.execute(text("PRAGMA journal_mode=wal"))  # expect: WAL004
    except:
        pass
"""
        ),
    )

    def check(self, model: "ModuleModel") -> Iterator[Report]:
        flags = set()
        for unit in model.units:
            flags.update(model.facts(unit).flags)
        for unit in model.units:
            facts = model.facts(unit)
            sites = facts.sites
            for try_facts in facts.tries:
                body = [s for s in sites[try_facts.body[0] : try_facts.body[1]] if s.try_node is try_facts.node]
                wal_sites = [s for s in body if self._sets_wal(model, s)]
                # `_enable_wal(conn)`, whose own failure (or the error it wraps it in) reaches here.
                via_helper = [] if wal_sites else [s for s in body if _tries_wal_for_its_caller(model, s)]
                if not wal_sites and not via_helper:
                    continue
                decided = False
                for handler, (start, end) in try_facts.handlers:
                    types = _handler_types(handler)
                    if not catches_database_errors(types) and not (via_helper and _names_project_errors(model, types, unit.scope)):
                        continue
                    if decided and not _names_specific_errors(handler):
                        break  # `except Exception:` after the handler that decides: other failures
                    decided = True
                    acts = _escalates(model, handler, unit.scope) or any(self._sets_mode(model, s) for s in sites[start:end])
                    # `if "locking protocol" in msg: raise`, then only a log line: the other
                    # failures fall through (or, in a loop of attempts that gives up
                    # quietly, end up there once the attempts run out).
                    falls_through = _falls_through_quietly(model, unit.scope, handler, try_facts.in_retry_loop, try_facts.attempt_names)
                    if acts and falls_through and (not try_facts.in_retry_loop or not try_facts.retried_then_raised):
                        acts = False
                    if acts and not _branch_carries_on(model, handler, sites[start:end], unit.scope, try_facts.in_item_loop):
                        continue  # it raises, retries or falls back; a later `except BusyError:` may still swallow
                    if try_facts.retried_then_raised or self._sets_flag(handler, flags | _mode_names(model, sites)):
                        continue
                    if unit is not model.module_unit and model.function_facts(unit).wal_failure_return is not None:
                        break  # it answers the failure (None, Result.FAILED) as a value of its own
                    if _leads_to_a_downgrade(model, sites, try_facts.node):
                        break  # the failure is acted on later (WAL001 judges that downgrade)
                    if _insists_on_wal_after(model, unit, try_facts.node):
                        break  # `if mode != "wal": raise` below: nothing carries on in another mode
                    if via_helper:
                        for site in via_helper:
                            yield Report(site.node, f"Failure of `journal_mode=WAL` in `{callee_name(site.node)}()` is "  # type: ignore[arg-type]
                                         "swallowed; the connection carries on in whatever journal mode it has",
                                         None, NO_FIX_VIA_HELPER)
                        break
                    fix, no_fix_reason = try_fix(model, unit, try_facts, self.helper)
                    for site in wal_sites:
                        yield Report(site.node, "Failure of `journal_mode=WAL` is swallowed; the connection "
                                     "carries on in whatever journal mode it has", fix, no_fix_reason)
                    break
            for suppression in facts.suppressions:
                if not catches_database_errors(suppression.exceptions):
                    continue
                fix, no_fix_reason = suppress_fix(model, suppression, sites, self.helper)
                for site in sites[suppression.body[0] : suppression.body[1]]:
                    if self._sets_wal(model, site):
                        yield Report(site.node, "Failure of `journal_mode=WAL` is suppressed; the connection "
                                     "carries on in whatever journal mode it has", fix, no_fix_reason)

    @staticmethod
    def _sets_mode(model: "ModuleModel", site: "Site") -> bool:
        """Any journal-mode set, even one whose mode is unknown (config-driven)."""
        effect = model.effect(site)
        if effect is not None and effect.sets:
            return True
        if isinstance(site.node, cst.Call):
            callee = model.callee(site.node, site.scope)
            if callee is not None and callee.sets_journal_mode:
                return True
        return False

    @staticmethod
    def _sets_wal(model: "ModuleModel", site: "Site") -> bool:
        if not isinstance(site.node, cst.Call):
            return False
        effect = model.direct_effect(site.node, site.scope)
        return effect is not None and effect.sets_wal

    @staticmethod
    def _sets_flag(handler: cst.CSTNode, flags: set) -> bool:
        """The handler records the failure in a flag that later decides a downgrade (WAL001's),
        in a name a journal-mode pragma is built from (``journal = "DELETE"``), or hands a
        rollback mode to state that outlives it (``self.config.journal_mode = "delete"``)."""
        for node in iter_subexpressions(handler.body, limit=5000):  # type: ignore[attr-defined]
            if isinstance(node, cst.AssignTarget) and (dotted_name(node.target) or subscript_path(node.target)) in flags:
                return True
            if isinstance(node, cst.Call) and any(subscript_path(target) in flags for target, _ in updated_entries(node)):
                return True  # `state.update(wal=False)`
            if isinstance(node, cst.Assign) and not isinstance(node.targets[0].target, cst.Name):
                value = node.value
                if isinstance(value, cst.SimpleString) and str(value.evaluated_value).lower() in ROLLBACK_MODES:
                    return True
        return False


def suppress_fix(model, suppression, sites, spec: HelperSpec) -> Tuple[Optional[FixPlan], Optional[str]]:
    """The helper-call rewrite of ``with suppress(...): <WAL pragma>``, or why there is none."""
    if len(suppression.node.items) != 1:
        return None, NO_FIX_MORE
    calls = wal_setting_calls(model, sites[suppression.body[0] : suppression.body[1]])
    if len(calls) != 1:
        return None, NO_FIX_MORE
    return helper_call_fix(model, suppression.node, calls[0], (), spec)
