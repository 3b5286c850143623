"""What a WAL005 guard stands in front of: a downgrade after it in its function, the
answer of a predicate it decides, or, for a guard function that raises when the mode is
WAL, its callers; and a guard whose own read of the mode returns quietly on failure."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from walint.flow.conditions import ends_in_return, not_wal_when
from walint.journal.handlers import catches_database_errors, handler_types
from walint.semantic.nodes import SIMPLE_LINES, iter_subexpressions, small_statements

if TYPE_CHECKING:
    from walint.flow.unit_facts import Site
    from walint.journal.model import ModuleModel
    from walint.semantic.scopes import Scope, Unit


def guards_something(model: "ModuleModel", unit: "Unit", comparison: cst.Comparison) -> bool:
    """Does a rollback mode follow the comparison in its function, or does the function
    answer with it (a predicate such as ``def may_downgrade(conn): return ...``)?"""
    facts = model.facts(unit)
    if any(comparison in set(iter_subexpressions(value, limit=400)) for value in facts.returns):
        return True
    if unit is not model.module_unit and model.function_facts(unit).wal_answer is not None:
        # `if row and row[0] == "wal": return False` ... `return True`: the answer it decides.
        if any(b.returns is not None and comparison in set(iter_subexpressions(b.node.test, limit=400)) for b in facts.branches):
            return True
    here = model.line_of(comparison)
    return any(
        model.is_rollback_site(site) and model.line_of(site.node) >= here and _may_rely_on(site, comparison)
        for site in facts.sites
    )


def _may_rely_on(site: "Site", comparison: cst.BaseExpression) -> bool:
    """Is ``comparison`` what keeps ``site`` from running in WAL, as far as the walk knows?
    Not when a later check on its path guards it (``if mode == "wal": return`` at the top,
    then a complete ``in ("wal", None)`` refusal before the downgrade)."""
    if not site.guarded:
        # A downgrade in the handler itself that nothing on its path guards is WAL001's
        # (`if row and row[0] == "wal": return` at the top is a shortcut, not its guard).
        # One reached later through a value the handler set may rely on a guard there.
        return site.handler is None and not site.flagged
    if site.guard is None:
        return True
    where = site.guard.test if isinstance(site.guard, cst.If) else site.guard
    return any(node is comparison for node in iter_subexpressions(where, limit=2000))


RETURNS_WHEN_UNREAD = (
    "Guard returns quietly when it cannot read the mode (its `except` returns), so its callers "
    "downgrade on an unknown mode; let the error propagate"
)
NO_FIX_RETURNS_WHEN_UNREAD = "the guard's own `except` returns: make it raise (or refuse) by hand"


def guards_its_callers(model: "ModuleModel", unit: "Unit", test: cst.BaseExpression) -> bool:
    """Is ``test`` the one that makes a guard function (``def assert_not_wal(conn)``, which
    raises when the database is in WAL) refuse? Its callers downgrade once it returns."""
    if unit is model.module_unit or not model.function_facts(unit).refuses_wal:
        return False
    for statement in small_statements(unit.node.body):  # type: ignore[attr-defined]
        if isinstance(statement, cst.If) and statement.test is test:
            return any(isinstance(s, cst.Raise) for line in small_statements(statement.body) if isinstance(line, SIMPLE_LINES) for s in line.body)
        if isinstance(statement, SIMPLE_LINES) and any(isinstance(s, cst.Assert) and s.test is test for s in statement.body):
            return isinstance(test, cst.Comparison) and not_wal_when(test, True)  # not a test's `assert mode == "wal"`
    return False


def guard_returns_when_unread(model: "ModuleModel", unit: "Unit", comparison: cst.BaseExpression, scope: "Scope") -> bool:
    """A guard function (it raises when the database is in WAL, and callers run on once it
    returns) whose read of the mode sits in a ``try`` with a handler that returns: when
    the read fails it returns as if the mode were not WAL."""
    if unit is model.module_unit or not model.function_facts(unit).refuses_wal:
        return False
    probes = {id(call) for call, _ in model.probe_calls(comparison, scope)}
    for try_facts in model.facts(unit).tries:
        if not any(id(node) in probes for node in iter_subexpressions(try_facts.node.body, limit=2000)):  # type: ignore[attr-defined]
            continue
        for handler, _ in try_facts.handlers:
            if catches_database_errors(handler_types(handler)) and ends_in_return(handler.body):  # type: ignore[attr-defined]
                return True
    return False
