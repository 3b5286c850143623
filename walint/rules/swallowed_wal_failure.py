"""WAL004: a failed ``journal_mode=WAL`` whose error is swallowed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Iterator, Optional, Sequence, Set, Tuple

import libcst as cst

from walint.codes import SPECS_BY_CODE
from walint.flow.conditions import always_exits
from walint.semantic.nodes import dotted_name, grown_collection, iter_subexpressions, signalled_event, subscript_path, updated_entries
from walint.summary import SWALLOWS_PASSED_SQL, SWALLOWS_WRAPPED_CALL
from walint.fixes import NO_FIX_MORE, FixPlan, HelperSpec, helper_call_fix, try_fix
from walint.journal.handlers import (
    catches_database_errors,
    branch_carries_on,
    escalates,
    falls_through_quietly,
    handler_types,
    names_project_errors,
    names_specific_errors,
    sets_some_mode,
    tries_wal_for_its_caller,
)
from walint.journal.acted_on import (
    attribute_mode_names,
    deciding_flags,
    flags_acted_on_for,
    insists_on_wal_after,
    mode_names,
    returned_names,
    success_flag_acted_on,
)
from walint.rules.base import Invalid, ModelRule, Report, Valid
from walint.sql import ROLLBACK_MODES, modes_set_by_sql

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel
    from walint.flow.unit_facts import Site
    from walint.semantic.scopes import Scope, Unit

def _swallowed_by_wrappers(model: "ModuleModel", unit: "Unit", sites: Sequence["Site"]) -> Iterator[Report]:
    """A WAL switch in a function decorated with one that logs its errors (``@best_effort``),
    or WAL passed to a project function that runs it and logs its failure
    (``safe_execute(conn, "PRAGMA journal_mode=WAL")``) with the answer thrown away."""
    decorated = [] if unit is model.module_unit else [d for d in model.decorators_of(unit) if d.swallows == SWALLOWS_WRAPPED_CALL]
    for site in sites:
        if decorated and site.try_node is None and model.switches_to_wal(site):
            yield Report(site.node, f"Failure of `journal_mode=WAL` is swallowed by `@{decorated[0].qualname}`; the "
                         "connection carries on in whatever journal mode it has", None, NO_FIX_WRAPPER)
        elif (
            isinstance(site.node, cst.Call)
            and site.try_node is None
            and isinstance(site.statement, cst.Expr)
            and site.statement.value is site.node
        ):
            callee = model.callee(site.node, site.scope)
            if callee is None or callee.swallows != SWALLOWS_PASSED_SQL:
                continue
            effect = model.effect(site)
            # `_best_effort(conn.execute, "PRAGMA journal_mode=WAL")`: the statement it is handed.
            passed = [
                value for arg in site.node.args for value in model.folder.values(arg.value, site.scope) if "wal" in modes_set_by_sql(value)
            ]
            if (effect is not None and effect.sets_wal) or passed:
                yield Report(site.node, f"Failure of `journal_mode=WAL` is swallowed by `{callee.qualname}()`; the "  # type: ignore[union-attr]
                             "connection carries on in whatever journal mode it has", None, NO_FIX_WRAPPER)


def _closed_in_finally(model: "ModuleModel", try_node: cst.CSTNode, sites: Sequence["Site"]) -> bool:
    """Does the ``try``'s ``finally`` close the connection its WAL switch ran on (the
    receiver of the pragma, or the connection handed to the helper that runs it)? A
    cursor closed there leaves its connection open."""
    finalbody = getattr(try_node, "finalbody", None)
    if finalbody is None or not sites:
        return False
    connections = set()
    for site in sites:
        call = site.node
        if isinstance(call, cst.Call):
            if isinstance(call.func, cst.Attribute):
                connections.add(dotted_name(call.func.value))
            connections.update(dotted_name(arg.value) for arg in call.args)
    connections.discard("")
    scope = sites[0].scope
    closed = False
    for node in iter_subexpressions(finalbody.body, limit=2000):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and dotted_name(node.func.value) in connections:
            if node.func.attr.value in _STATEMENT_METHODS:
                return False  # `finally: conn.execute(<insert>); conn.close()`: it carries on first
            if node.func.attr.value == "close" and not _is_a_cursor(model, node.func.value, scope):
                closed = True
    return closed


# A connection's methods that run SQL on it.
_STATEMENT_METHODS = frozenset({"execute", "executemany", "executescript", "cursor", "exec_driver_sql"})


def _kept_to_itself(model: "ModuleModel", unit: "Unit", sites: Sequence["Site"], handler: cst.CSTNode) -> bool:
    """Are the WAL switches of ``sites`` run on a connection this function opens and, up
    to the handler, hands nowhere (no attribute, no argument, no return; only its own
    methods are called)? A handler that leaves the function then drops it: nothing
    carries on in an unknown mode. (What follows the ``try`` runs only where it worked.)"""
    if not sites or unit is model.module_unit:
        return False
    names = set()
    for site in sites:
        call = site.node
        if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Attribute) or not isinstance(call.func.value, cst.Name):
            return False
        names.add(call.func.value.value)
    for name in names:
        bindings, parameter = model.bindings_of(cst.Name(name), unit.scope)
        if parameter is not None or not bindings or any(
            b.kind != "value" or b.scope is not unit.scope or not model.is_connect_call(b.value, unit.scope) for b in bindings
        ):
            return False
    nodes = list(iter_subexpressions(unit.node, limit=20_000))
    # Where the name may stand: before a method of its own (`conn.execute`), or bound.
    allowed = {id(node.value) for node in nodes if isinstance(node, cst.Attribute)}
    allowed |= {id(node.target) for node in nodes if isinstance(node, cst.AssignTarget)}
    allowed |= {id(node.name) for node in nodes if isinstance(node, cst.AsName)}  # `with connect(p) as conn`
    handler_line = model.line_of(handler)
    in_handler = {id(node) for node in iter_subexpressions(handler, limit=5000)}
    return not any(
        isinstance(node, cst.Name)
        and node.value in names
        and id(node) not in allowed
        and (model.line_of(node) < handler_line or id(node) in in_handler)
        for node in nodes
    )


def _is_a_cursor(model: "ModuleModel", expr: cst.BaseExpression, scope: "Scope") -> bool:
    """``cur`` where ``cur = conn.cursor()``."""
    bindings, _ = model.bindings_of(expr, scope)
    return any(
        isinstance(b.value, cst.Call) and isinstance(b.value.func, cst.Attribute) and b.value.func.attr.value == "cursor"
        for b in bindings
    )


NO_FIX_WRAPPER = "the project function that runs it swallows the failure: let its `except` raise, or call the safe helper"
NO_FIX_VIA_HELPER = "the WAL switch is inside the helper; handle its failure there or re-raise here"


class SwallowedWalFailure(ModelRule):
    """
    ## What it does
    Checks for `PRAGMA journal_mode=WAL` (through the execute family, SQLAlchemy
    `text()`/`exec_driver_sql`, sync or `await`ed) whose failure is swallowed: an
    `except` that passes, logs and carries on, or falls through, and
    `contextlib.suppress(...)` around the pragma. A project function can swallow it
    too: a context manager that logs the errors of its `with` body, a decorator (or a
    decorator factory) whose wrapper logs the errors of the function it wraps, or a
    runner that executes the SQL it is passed and logs its failure, when the caller
    throws the answer away.

    ## Why is this bad?
    When the switch fails, the connection carries on in whatever mode it has, usually a
    rollback journal, while sibling processes that succeeded use WAL on the same file.
    Nothing downgraded anything on purpose, yet two locking protocols now share one
    database. A handler that re-raises, returns an error, or retries and then raises does
    not swallow the failure, nor does a `finally` that closes the connection (a cursor
    closed there leaves it open); a handler that downgrades is reported by WAL001 instead.

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
    fallback itself), and unsafe when they do more. Other shapes get no fix, and so does
    a statement that runs more than the WAL switch (a script with other pragmas, a loop
    over several pragmas): the helper call would drop the rest.
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
    failure = None
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        failure = exc  # the caught error decides below
    if failure is not None:
        raise StoreError("this store needs WAL") from failure
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
        deciding: Optional[Dict[str, Set["Unit"]]] = None  # worked out once a handler asks
        attribute_modes: Set[str] = set()
        for unit in model.hot_units:
            facts = model.facts(unit)
            sites = facts.sites
            # `try: <WAL> finally: ...` inside another `try`: the outer handlers catch its failure.
            handlerless = {id(t.node) for t in facts.tries if not t.handlers}
            for try_facts in facts.tries:
                body = [
                    s
                    for s in sites[try_facts.body[0] : try_facts.body[1]]
                    if s.try_node is try_facts.node or (s.try_node is not None and id(s.try_node) in handlerless)
                ]
                wal_sites = [s for s in body if model.switches_to_wal(s)]
                # `_enable_wal(conn)`, whose own failure (or the error it wraps it in) reaches here.
                via_helper = [] if wal_sites else [s for s in body if tries_wal_for_its_caller(model, s)]
                if not wal_sites and not via_helper:
                    continue
                if _closed_in_finally(model, try_facts.node, wal_sites or via_helper):
                    continue  # `finally: conn.close()`: nothing carries on with the connection
                decided = False
                for handler, (start, end) in try_facts.handlers:
                    types = handler_types(handler)
                    # `except StoreError:` around `self._db.execute_void(<WAL>)`, a project
                    # wrapper that raises its own error for a failed statement.
                    wrapped = via_helper or [s for s in wal_sites if isinstance(s.node, cst.Call) and model.callee(s.node, s.scope) is not None]
                    if not catches_database_errors(types) and not (wrapped and names_project_errors(model, types, unit.scope)):
                        continue
                    if decided and not names_specific_errors(handler):
                        break  # `except Exception:` after the handler that decides: other failures
                    decided = True
                    acts = escalates(model, handler, unit.scope) or any(sets_some_mode(model, s) for s in sites[start:end])
                    # `if "locking protocol" in msg: raise`, then only a log line: the other
                    # failures fall through (or, in a loop of attempts that gives up
                    # quietly, end up there once the attempts run out).
                    falls_through = falls_through_quietly(model, unit.scope, handler, try_facts.in_retry_loop, try_facts.attempt_names)
                    if acts and falls_through and (not try_facts.in_retry_loop or not try_facts.retried_then_raised):
                        acts = False
                    if acts and not branch_carries_on(model, handler, sites[start:end], unit.scope, try_facts.in_item_loop):
                        continue  # it raises, retries or falls back; a later `except BusyError:` may still swallow
                    if deciding is None:
                        deciding = deciding_flags(model)
                        attribute_modes = attribute_mode_names(model)
                    flags = flags_acted_on_for(model, unit, deciding)
                    recorded = flags | mode_names(model, sites, attribute_modes) | returned_names(model, unit)
                    if try_facts.retried_then_raised or try_facts.retried_then_answered or self._sets_flag(handler, recorded, _switched(wal_sites)):
                        continue
                    if always_exits(handler.body) and _kept_to_itself(model, unit, wal_sites, handler):  # type: ignore[attr-defined]
                        continue  # `except Error: log(...); return`: the connection opened here is dropped
                    if try_facts.retried_forever and not _leaves_the_loop(handler):
                        continue
                    if unit is not model.module_unit and model.function_facts(unit).wal_failure_returns:
                        break  # it answers the failure (None, Result.FAILED) as a value of its own
                    if model.failure_leads_to_a_downgrade(try_facts.node, sites):
                        break  # the failure is acted on later (WAL001 judges that downgrade)
                    if success_flag_acted_on(model, unit, try_facts.node):
                        break  # `wal_enabled = True` after the switch, `if not wal_enabled: raise` below
                    if insists_on_wal_after(model, unit, try_facts.node):
                        break  # `if mode != "wal": raise` below: nothing carries on in another mode
                    if via_helper:
                        for site in via_helper:
                            yield Report(site.node, f"Failure of `journal_mode=WAL` in `{model.called_name(site.node)}()` is "  # type: ignore[arg-type]
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
                if insists_on_wal_after(model, unit, suppression.node):
                    continue  # `(mode,) = <read>; if mode != "wal": raise` below: not carried on
                fix, no_fix_reason = suppress_fix(model, suppression, sites, self.helper)
                for site in sites[suppression.body[0] : suppression.body[1]]:
                    if model.switches_to_wal(site):
                        yield Report(site.node, "Failure of `journal_mode=WAL` is suppressed; the connection "
                                     "carries on in whatever journal mode it has", fix, no_fix_reason)
            yield from _swallowed_by_wrappers(model, unit, sites)

    @staticmethod
    def _sets_flag(handler: cst.CSTNode, flags: set, connections: Set[str] = frozenset()) -> bool:
        """The handler records the failure in a flag that later decides a downgrade (WAL001's),
        in a name a journal-mode pragma is built from (``journal = "DELETE"``), or hands a
        rollback mode to state that outlives it (``self.config.journal_mode = "delete"``).
        Keeping the connection itself (``opened.append(conn)``) records nothing."""
        for node in iter_subexpressions(handler.body, limit=5000):  # type: ignore[attr-defined]
            if isinstance(node, cst.AssignTarget) and (dotted_name(node.target) or subscript_path(node.target)) in flags:
                return True
            if isinstance(node, cst.Call) and any(subscript_path(target) in flags for target, _ in updated_entries(node)):
                return True  # `state.update(wal=False)`
            grown = grown_collection(node)
            if grown is not None and dotted_name(grown) in flags and not _adds_one_of(node, connections):
                return True  # `self._without_wal.add(path)`
            event = signalled_event(node)
            if event is not None and dotted_name(event) in flags:
                return True  # `self.wal_refused.set()`
            if isinstance(node, cst.Assign) and not isinstance(node.targets[0].target, cst.Name):
                value = node.value
                if isinstance(value, cst.SimpleString) and str(value.evaluated_value).lower() in ROLLBACK_MODES:
                    return True
        return False


def _leaves_the_loop(handler: cst.CSTNode) -> bool:
    """Does the handler ``break`` out of (or ``return`` from) the loop it retries in?"""
    return any(isinstance(node, (cst.Break, cst.Return)) for node in iter_subexpressions(handler, limit=2000))


def _switched(sites: Sequence["Site"]) -> Set[str]:
    """The connections the WAL switches of ``sites`` are run on (``conn`` of ``conn.execute``)."""
    return {
        dotted_name(site.node.func.value)
        for site in sites
        if isinstance(site.node, cst.Call) and isinstance(site.node.func, cst.Attribute)
    } - {""}


def _adds_one_of(call: cst.CSTNode, names: Set[str]) -> bool:
    """Does ``call`` (``opened.append(conn)``) add one of ``names`` to a collection?"""
    return isinstance(call, cst.Call) and any(dotted_name(arg.value) in names for arg in call.args)


def suppress_fix(model, suppression, sites, spec: HelperSpec) -> Tuple[Optional[FixPlan], Optional[str]]:
    """The helper-call rewrite of ``with suppress(...): <WAL pragma>``, or why there is none."""
    if len(suppression.node.items) != 1:
        return None, NO_FIX_MORE
    wal_sites = [site for site in sites[suppression.body[0] : suppression.body[1]] if model.switches_to_wal(site)]
    if len(wal_sites) != 1:
        return None, NO_FIX_MORE
    return helper_call_fix(model, suppression.node, wal_sites[0], (), spec)
