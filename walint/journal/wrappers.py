"""Project functions that wrap what their callers run: a context manager or a decorator
that swallows the errors of the code it wraps, a decorator that runs the on-disk guard
before it, and a wrapper that runs the SQL its caller passes and swallows the failure.
A mixin of :class:`walint.journal.model.ModuleModel`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

import libcst as cst

from walint.journal.handlers import catches_database_errors, escalates, handler_types, sets_some_mode
from walint.semantic.nodes import dotted_name, iter_subexpressions, small_statements
from walint.semantic.scopes import Scope, Unit
from walint.sql import runs_sql
from walint.summary import SWALLOWS_PASSED_SQL, SWALLOWS_WITH_BODY, SWALLOWS_WRAPPED_CALL, FunctionFacts

if TYPE_CHECKING:
    from walint.flow.unit_facts import Site


class WrapperQueries:
    """Wrappers, asked of a :class:`ModuleModel` (mixed in)."""

    def _swallows(self, unit: Unit) -> str:
        """Which of its callers' code this function runs inside a ``try`` whose handler
        catches a failed statement and carries on ("" when none)."""
        node = unit.node
        if not isinstance(node, cst.FunctionDef):
            return ""
        if unit.name in EXIT_METHODS and unit.class_scope is not None:
            return SWALLOWS_WITH_BODY if _exit_swallows(node) else ""
        facts = self.facts(unit)
        for try_facts in facts.tries:
            if not any(self._swallows_in(handler, span, unit) for handler, span in try_facts.handlers):
                continue
            if is_context_manager(node) and any(isinstance(n, cst.Yield) for n in iter_subexpressions(try_facts.node.body)):  # type: ignore[attr-defined]
                return SWALLOWS_WITH_BODY
            start, end = try_facts.body
            if any(_runs_passed_sql(site.node, unit) for site in facts.sites[start:end]):
                return SWALLOWS_PASSED_SQL
        wrapper = self._returned_wrapper(unit)
        if wrapper is not None and self._wrapped_calls(wrapper, unit, lambda site: site.try_node is not None and self._in_swallowing_try(site)):
            return SWALLOWS_WRAPPED_CALL
        if wrapper is not None and self._swallows(wrapper) == SWALLOWS_WRAPPED_CALL:
            return SWALLOWS_WRAPPED_CALL  # a decorator factory: `@ignore_db_errors()`
        return ""

    def exit_facts(self, call: cst.Call, scope: Scope) -> Optional[FunctionFacts]:
        """What is known of the ``__exit__`` of the class a ``with`` item makes (``with
        quiet_storage_errors():``): of this module, or of the module it is imported from."""
        bindings, _ = self.bindings_of(call.func, scope)
        for binding in bindings:
            class_scope = self.class_scopes.get(binding.value) if isinstance(binding.value, cst.ClassDef) else None  # type: ignore[arg-type]
            for unit in self.units if class_scope is not None else ():
                if unit.class_scope is class_scope and unit.name in EXIT_METHODS:
                    return self.function_facts(unit)
        origin = self.qualified_name(call.func, scope)
        for name in EXIT_METHODS if origin else ():
            found = self.external(f"{origin}.{name}")
            if isinstance(found, FunctionFacts):
                return found
        return None

    def _guards_what_it_wraps(self, unit: Unit) -> bool:
        """A decorator whose wrapper refuses WAL on disk before it calls the function it
        wraps (``@requires_rollback_on_disk``)."""
        wrapper = self._returned_wrapper(unit)
        return wrapper is not None and self._wrapped_calls(wrapper, unit, lambda site: site.guarded)

    def decorators_of(self, unit: Unit) -> List[FunctionFacts]:
        """What is known about the project functions decorating ``unit``."""
        node = unit.node
        found = []
        for decorator in node.decorators if isinstance(node, cst.FunctionDef) else ():
            # `@best_effort`, or a factory's decorator: `@ignore_db_errors(default=None)`.
            named = decorator.decorator.func if isinstance(decorator.decorator, cst.Call) else decorator.decorator
            if isinstance(named, (cst.Name, cst.Attribute)):
                facts = self.callee(cst.Call(func=named), unit.scope.parent or self.module_scope)
                if facts is not None:
                    found.append(facts)
        return found

    def _swallows_in(self, handler: cst.CSTNode, span: Tuple[int, int], unit: Unit) -> bool:
        """Does the handler catch a failed statement and carry on: no raise, no failure
        answered, no journal mode set (a decorator that downgrades acts on the failure)?"""
        if any(sets_some_mode(self, site) for site in self.facts(unit).sites[span[0] : span[1]]):  # type: ignore[arg-type]
            return False
        types = handler_types(handler)
        # `except errors:` with `*errors` the types a caller passes (`ignoring(sqlite3.Error)`).
        node = unit.node
        star = node.params.star_arg if isinstance(node, cst.FunctionDef) else None
        given = set(unit.scope.params) | ({star.name.value} if isinstance(star, cst.Param) else set())
        passed = any(isinstance(t, cst.Name) and t.value in given for t in types)
        return (passed or catches_database_errors(types)) and not escalates(self, handler, unit.scope)  # type: ignore[arg-type]

    def _in_swallowing_try(self, site: "Site") -> bool:
        for try_facts in self.facts(site.unit).tries:
            if try_facts.node is site.try_node:
                return any(self._swallows_in(handler, span, site.unit) for handler, span in try_facts.handlers)
        return False

    def _returned_wrapper(self, unit: Unit) -> Optional[Unit]:
        """The nested function a decorator returns (``return wrapper``)."""
        nested = self._nested_functions().get(unit.scope, {})
        for value in self.facts(unit).returns if nested else ():
            if isinstance(value, cst.Name) and value.value in nested:
                return nested[value.value]
        return None

    def _nested_functions(self) -> Dict[Scope, Dict[str, Unit]]:
        """The functions defined directly inside each function, by name: worked out once
        per module, as every function's facts ask it."""
        if self._nested is None:
            self._nested = {}
            for other in self.units:
                parent = other.scope.parent
                if parent is not None and parent.kind == "function":
                    self._nested.setdefault(parent, {})[other.name] = other
        return self._nested

    def _wrapped_calls(self, wrapper: Unit, decorator: Unit, holds) -> bool:  # type: ignore[no-untyped-def]
        """Do the wrapper's calls of the decorator's parameter (``fn(*args)``) all satisfy
        ``holds``, and is there one?"""
        calls = [
            site
            for site in self.facts(wrapper).sites
            if isinstance(site.node, cst.Call)
            and isinstance(site.node.func, cst.Name)
            and site.node.func.value in decorator.scope.params
            and site.node.func.value not in wrapper.scope.params
        ]
        return bool(calls) and all(holds(site) for site in calls)


# The methods a `with` (or `async with`) statement calls when its body ends or fails.
EXIT_METHODS = ("__exit__", "__aexit__")


def _exit_swallows(node: cst.FunctionDef) -> bool:
    """Can this ``__exit__`` answer True for a database error, which swallows it: ``return
    True`` at its top level, under a test of the error's type that a database error passes
    (``if issubclass(exc_type, sqlite3.Error):``), or such a test returned?"""
    for line in small_statements(node.body):
        for statement in line.body if isinstance(line, cst.SimpleStatementLine) else ():
            if isinstance(statement, cst.Return) and _is_true(statement.value):
                return True
    for inner in iter_subexpressions(node.body, limit=2000):
        if isinstance(inner, cst.If) and _tests_a_database_error(inner.test):
            if any(isinstance(n, cst.Return) and _is_true(n.value) for n in iter_subexpressions(inner.body, limit=500)):
                return True
        elif isinstance(inner, cst.Return) and inner.value is not None and _tests_a_database_error(inner.value):
            return True
    return False


def _is_true(value: Optional[cst.BaseExpression]) -> bool:
    return isinstance(value, cst.Name) and value.value == "True"


def _tests_a_database_error(test: cst.BaseExpression) -> bool:
    """``issubclass(exc_type, sqlite3.Error)`` or ``isinstance(exc, (OSError, sqlite3.OperationalError))``
    somewhere in ``test``, with a type a failed pragma's error is."""
    for call in iter_subexpressions(test, limit=200):
        if isinstance(call, cst.Call) and dotted_name(call.func) in ("issubclass", "isinstance") and len(call.args) == 2:
            if catches_database_errors([call.args[1].value]):
                return True
    return False


def is_context_manager(node: cst.FunctionDef) -> bool:
    """Is ``node`` decorated ``@contextmanager`` (or ``@asynccontextmanager``)?"""
    return any(dotted_name(d.decorator).rsplit(".", 1)[-1] in ("contextmanager", "asynccontextmanager") for d in node.decorators)


def _runs_passed_sql(node: cst.CSTNode, unit: Unit) -> bool:
    """``conn.execute(sql, params)`` with ``sql`` a parameter of the function, or
    ``fn(*args)`` with both passed in (``_best_effort(conn.execute, "PRAGMA ...")``)."""
    if not isinstance(node, cst.Call):
        return False
    star = unit.node.params.star_arg if isinstance(unit.node, cst.FunctionDef) else None
    passed = {star.name.value} if isinstance(star, cst.Param) else set()
    if isinstance(node.func, cst.Name) and node.func.value in unit.scope.params:
        return any(arg.star == "*" and isinstance(arg.value, cst.Name) and arg.value.value in passed for arg in node.args)
    return (
        isinstance(node.func, cst.Attribute)
        and runs_sql(node)
        and bool(node.args)
        and isinstance(node.args[0].value, cst.Name)
        and node.args[0].value.value in unit.scope.params
    )
