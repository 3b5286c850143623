"""WAL004: a failed ``journal_mode=WAL`` whose error is swallowed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Iterator, Optional, Sequence, Set, Tuple

import libcst as cst

from walint.codes import SPECS_BY_CODE
from walint.flow.conditions import always_exits, guarded_sides, not_wal_when
from walint.semantic.nodes import SIMPLE_LINES, dotted_name, grown_collection, iter_subexpressions, small_statements, subscript_path, updated_entries
from walint.tree import own_nodes
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
from walint.rules.base import Invalid, ModelRule, Report, Valid
from walint.sql import ROLLBACK_MODES, callee_name, modes_set_by_sql, normalise_mode

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel
    from walint.flow.walker import Site
    from walint.semantic.scopes import Scope, Unit

def _deciding_flags(model: "ModuleModel") -> Dict[str, Set["Unit"]]:
    """Failure flags a later ``if`` acts on (one side sets a journal mode or raises), with
    the functions it acts in. A flag that only picks a log line or fills a status report
    decides nothing for the connection, which carries on in whatever mode it has."""
    found: Dict[str, Set["Unit"]] = {}
    for branch in model.all_branches():
        flags = model.handler_flags(branch.node.test, branch.scope)
        if not flags:
            continue
        sites = model.facts(branch.unit).sites
        ranges = [branch.when_true, *branch.when_false]
        acts = any(sets_some_mode(model, site) for start, end in ranges for site in sites[start:end])
        orelse = branch.node.orelse
        sides = [branch.node.body, *([orelse.body] if isinstance(orelse, cst.Else) else [])]
        # `if self.wal: <checkpoint>`: the program goes on differently without WAL, which
        # is acting on the failure, as a raise or a mode set would be; a log line is not.
        if acts or any(_raises(side) or not _only_reports(side) for side in sides):
            for flag in flags:
                found.setdefault(flag, set()).add(branch.unit)
    for unit in model.units:
        tests_flags = bool(model.facts(unit).flags)
        for node in own_nodes(unit.node):
            if isinstance(node, cst.Match) and _acts_in_a_case(model, unit, node):
                # `outcome = classify(exc)` in the handler, then `match outcome:` whose cases
                # raise or set a mode: the failure is decided there, case by case.
                for flag in _set_in_a_handler(model, node.subject, unit.scope):
                    found.setdefault(flag, set()).add(unit)
            if not tests_flags:
                continue
            # `batch = 1 if not self.wal_enabled else 100`: a setting chosen by the failure, as
            # a mode chosen by it is; not words for a person (`"on" if wal else "off"`).
            chosen = node.value if isinstance(node, (cst.Assign, cst.AnnAssign)) and isinstance(node.value, cst.IfExp) else None
            if isinstance(chosen, cst.IfExp) and not (_is_text(chosen.body) and _is_text(chosen.orelse)):
                for flag in model.handler_flags(chosen.test, unit.scope):
                    found.setdefault(flag, set()).add(unit)
            # `journal = "wal" if STATE["wal"] else "delete"`
            if isinstance(node, cst.IfExp) and any(
                normalise_mode(value) in ROLLBACK_MODES
                for side in (node.body, node.orelse)
                for value in model.folder.values(side, unit.scope)
            ):
                for flag in model.handler_flags(node.test, unit.scope):
                    found.setdefault(flag, set()).add(unit)
    return found


def _set_in_a_handler(model: "ModuleModel", expr: cst.BaseExpression, scope: "Scope") -> Set[str]:
    """Names in ``expr`` that an ``except`` handler assigns, whatever the value."""
    return {
        dotted_name(node)
        for node in iter_subexpressions(expr, limit=100)
        if isinstance(node, (cst.Name, cst.Attribute)) and any(b.in_handler for b in model.bindings_of(node, scope)[0])
    }


def _acts_in_a_case(model: "ModuleModel", unit: "Unit", match: cst.CSTNode) -> bool:
    """Does a case of ``match`` raise or set a journal mode?"""
    inside = {id(node) for node in iter_subexpressions(match, limit=5000)}
    return _raises(match) or any(id(site.node) in inside and sets_some_mode(model, site) for site in model.facts(unit).sites)  # type: ignore[arg-type]


def _flags_acted_on_for(model: "ModuleModel", unit: "Unit", deciding: Dict[str, Set["Unit"]]) -> Set[str]:
    """The deciding flags that act on the connection ``unit`` switched: not those only
    acted on in another function that opens a connection of its own (``reopen()``) and
    never calls ``unit``, where the downgrade is another connection's."""
    local = (
        set()
        if unit is model.module_unit
        else {name for name in unit.scope.bindings if name.isidentifier() and name not in unit.scope.globals}
    )
    return {
        flag
        for flag, units in deciding.items()
        # A local flag is this function's own: another function's `wal_ok` is another name.
        if any(
            other is unit or (flag not in local and (not model.opens_connection(other) or _calls(model, other, unit)))
            for other in units
        )
    }


def _calls(model: "ModuleModel", caller: "Unit", callee: "Unit") -> bool:
    return any(
        isinstance(site.node, cst.Call) and model.resolve_unit(site.node, site.scope) is callee
        for site in model.facts(caller).sites
    )


def _is_text(node: cst.BaseExpression) -> bool:
    return isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString))


_REPORTING_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "log", "print", "echo", "secho"})


def _only_reports(block: cst.BaseSuite) -> bool:
    """Does ``block`` only log, print or pass (or set a status entry worded for a person)?"""
    for line in small_statements(block):
        if not isinstance(line, SIMPLE_LINES):
            return False
        for small in line.body:
            if isinstance(small, cst.Pass):
                continue
            if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                name = dotted_name(small.value.func).rsplit(".", 1)[-1]
                if name in _REPORTING_METHODS:
                    continue
            if isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Subscript):
                continue  # `status["wal"] = "off"`: a report
            return False
    return True


def _raises(block: cst.BaseSuite) -> bool:
    return any(isinstance(node, cst.Raise) for node in iter_subexpressions(block, limit=2000))


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
    for node in iter_subexpressions(finalbody.body, limit=2000):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "close":
            closed = node.func.value
            if dotted_name(closed) in connections and not _is_a_cursor(model, closed, scope):
                return True
    return False


def _is_a_cursor(model: "ModuleModel", expr: cst.BaseExpression, scope: "Scope") -> bool:
    """``cur`` where ``cur = conn.cursor()``."""
    bindings, _ = model.bindings_of(expr, scope)
    return any(
        isinstance(b.value, cst.Call) and isinstance(b.value.func, cst.Attribute) and b.value.func.attr.value == "cursor"
        for b in bindings
    )


def _mode_names(model: "ModuleModel", sites: Sequence["Site"], attributes: Set[str]) -> Set[str]:
    """Names the SQL of this function's journal-mode pragmas is built from, and the
    instance attributes (``self.journal``) any method's pragmas are built from."""
    names = set(attributes)
    for site in sites:
        names.update(node.value for node in _pragma_parts(model, site) if isinstance(node, cst.Name))
    return names


def _returned_names(model: "ModuleModel", unit: "Unit") -> Set[str]:
    """Names the function hands back (``return conn, wal_enabled``): a failure recorded in
    one is reported to the caller, who decides."""
    if unit is model.module_unit:
        return set()
    names: Set[str] = set()
    for value in model.facts(unit).returns:
        parts = [element.value for element in value.elements] if isinstance(value, cst.Tuple) else [value]
        names.update(dotted_name(part) for part in parts if isinstance(part, (cst.Name, cst.Attribute)))
    return names - {""}


def _attribute_mode_names(model: "ModuleModel") -> Set[str]:
    """``self.journal`` and such: the instance attributes any method's journal-mode
    pragma is built from."""
    return {
        dotted_name(node)
        for site in model.all_sites()
        for node in _pragma_parts(model, site)
        if isinstance(node, cst.Attribute) and dotted_name(node).startswith("self.")
    }


def _pragma_parts(model: "ModuleModel", site: "Site") -> Iterator[cst.CSTNode]:
    """The nodes of the arguments of a call that sets a journal mode."""
    effect = model.effect(site)
    if effect is None or not effect.sets or not isinstance(site.node, cst.Call):
        return
    for arg in site.node.args:
        yield from iter_subexpressions(arg.value)


def _success_flag_acted_on(model: "ModuleModel", unit: "Unit", try_node: cst.CSTNode) -> bool:
    """Does the ``try`` body set a name to a constant once the switch worked, which an
    ``if`` after the ``try`` acts on (raises, sets a mode, or does more than log)?"""
    flags = {
        dotted_name(target.target)
        for line in small_statements(try_node.body)  # type: ignore[attr-defined]
        if isinstance(line, SIMPLE_LINES)
        for small in line.body
        if isinstance(small, cst.Assign) and isinstance(small.value, cst.Name) and small.value.value in ("True", "False")
        for target in small.targets
    } - {""}
    if not flags:
        return False
    after = model.line_of(try_node)
    sites = model.facts(unit).sites
    for branch in model.facts(unit).branches:
        tested = {dotted_name(n) for n in iter_subexpressions(branch.node.test, limit=100) if isinstance(n, (cst.Name, cst.Attribute))}
        if not tested & flags or model.line_of(branch.node) <= after:
            continue
        orelse = branch.node.orelse
        sides = [branch.node.body, *([orelse.body] if isinstance(orelse, cst.Else) else [])]
        ranges = [branch.when_true, *branch.when_false]
        if any(sets_some_mode(model, site) for start, end in ranges for site in sites[start:end]) or any(
            _raises(side) or not _only_reports(side) for side in sides
        ):
            return True
    return False


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
        for unit in model.units:
            facts = model.facts(unit)
            sites = facts.sites
            for try_facts in facts.tries:
                body = [s for s in sites[try_facts.body[0] : try_facts.body[1]] if s.try_node is try_facts.node]
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
                        deciding = _deciding_flags(model)
                        attribute_modes = _attribute_mode_names(model)
                    flags = _flags_acted_on_for(model, unit, deciding)
                    if try_facts.retried_then_raised or self._sets_flag(handler, flags | _mode_names(model, sites, attribute_modes) | _returned_names(model, unit)):
                        continue
                    if unit is not model.module_unit and model.function_facts(unit).wal_failure_returns:
                        break  # it answers the failure (None, Result.FAILED) as a value of its own
                    if model.failure_leads_to_a_downgrade(try_facts.node, sites):
                        break  # the failure is acted on later (WAL001 judges that downgrade)
                    if _success_flag_acted_on(model, unit, try_facts.node):
                        break  # `wal_enabled = True` after the switch, `if not wal_enabled: raise` below
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
                    if model.switches_to_wal(site):
                        yield Report(site.node, "Failure of `journal_mode=WAL` is suppressed; the connection "
                                     "carries on in whatever journal mode it has", fix, no_fix_reason)
            yield from _swallowed_by_wrappers(model, unit, sites)

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
            grown = grown_collection(node)
            if grown is not None and dotted_name(grown) in flags:
                return True  # `self._without_wal.add(path)`
            if isinstance(node, cst.Assign) and not isinstance(node.targets[0].target, cst.Name):
                value = node.value
                if isinstance(value, cst.SimpleString) and str(value.evaluated_value).lower() in ROLLBACK_MODES:
                    return True
        return False


def suppress_fix(model, suppression, sites, spec: HelperSpec) -> Tuple[Optional[FixPlan], Optional[str]]:
    """The helper-call rewrite of ``with suppress(...): <WAL pragma>``, or why there is none."""
    if len(suppression.node.items) != 1:
        return None, NO_FIX_MORE
    wal_sites = [site for site in sites[suppression.body[0] : suppression.body[1]] if model.switches_to_wal(site)]
    if len(wal_sites) != 1:
        return None, NO_FIX_MORE
    return helper_call_fix(model, suppression.node, wal_sites[0], (), spec)
