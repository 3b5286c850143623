"""What code does to a journal mode, per module: the effect of each call (SQL recognised
by :mod:`walint.sql`, project functions followed through their facts), the probes that
read the mode, the guards that refuse a downgrade, and the plain-data summary other
modules import. Built on the semantic layer (:mod:`walint.semantic`) and the per-function
walks (:mod:`walint.flow`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, FrozenSet, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst

from walint.constants import Resolution, StringFolder, is_known
from walint.flow.walker import Branch, Site, TryFacts, UnitFacts, UnitWalker, refuses_none
from walint.semantic.model import (
    SemanticModel,
    Scope,
    Unit,
    collection_items,
    dotted_name,
    is_none,
    iter_subexpressions,
    small_statements,
    unwrap_collection,
)
from walint.sql import ROLLBACK_MODES, ModeEffect, classify_call, modes_set_by_sql, normalise_mode
from walint.summary import FunctionFacts, ModuleSummary
from walint.tree import NodePositions, positions_of

if TYPE_CHECKING:
    from walint.flow.error_paths import ErrorPaths, PathState

# How a rollback site is on a failed WAL path (ModuleModel.on_failure_path).
FAILED_PATH, MODE_FROM_VALUE = "failed-path", "mode-from-value"

# Names of functions that read the mode on disk wherever they come from: walint's own helper.
DEFAULT_GUARDS = frozenset({"journal_mode_on_disk"})

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
    }
)
_FLAG_CONSTANTS = frozenset({"False", "None", "True"})

# Answers "what is this imported dotted name": FunctionFacts, a tuple of string values for
# a constant, or None. Supplied by the project pass; the default knows nothing.
ExternalLookup = Callable[[str], object]


def _no_external(origin: str) -> object:
    return None


class ModuleModel(SemanticModel):
    """Everything the rules ask about one parsed module."""

    def __init__(
        self,
        module: cst.Module,
        guards: Sequence[str] = (),
        external: ExternalLookup = _no_external,
        path: str = "",
    ) -> None:
        self.path = path
        self.external = external
        self.guard_names = DEFAULT_GUARDS | frozenset(g.rsplit(".", 1)[-1].rsplit(":", 1)[-1] for g in guards)
        self.folder = StringFolder(self.resolve)
        super().__init__(module)
        self._facts: Dict[Unit, UnitFacts] = {}
        self._in_progress: Set[Unit] = set()
        self._effects: Dict[int, Optional[ModeEffect]] = {}
        self._function_facts: Dict[Unit, FunctionFacts] = {}
        self._positions: Optional[NodePositions] = None
        # (expression, scope) -> does it evaluate to "wal"; asked again by every rule.
        self._mentions_wal: Dict[Tuple[cst.CSTNode, Scope], bool] = {}
        self._error_paths: Dict[Unit, "ErrorPaths"] = {}

    def resolve(self, expr: cst.BaseExpression, scope: object) -> Optional[Resolution]:
        assert isinstance(scope, Scope)
        bindings, parameter = self.bindings_of(expr, scope)
        values: Tuple[str, ...] = ()
        if any(b.kind == "import" for b in bindings) or (not bindings and isinstance(expr, cst.Attribute)):
            found = self.external(self.qualified_name(expr, scope)) if self.qualified_name(expr, scope) else None
            if isinstance(found, tuple):
                values = found
        if not bindings and parameter is None and not values:
            return None
        expressions: List[Tuple[Optional[cst.BaseExpression], Optional[Scope]]] = []
        for b in bindings:
            if values and b.kind == "import":
                continue
            if b.kind == "value":
                expressions.append((b.value, b.scope))  # type: ignore[arg-type]
            elif b.kind == "iter" and b.scope is not None:
                # `for pragma in FALLBACK_PRAGMAS:`: each element of a literal it iterates.
                expressions.extend(self.literal_elements(b.value, b.scope) or [(None, None)])  # type: ignore[arg-type]
            else:
                expressions.append((None, None))
        return Resolution(expressions, parameter, values)  # type: ignore[arg-type]

    def literal_elements(
        self, iterable: Optional[cst.BaseExpression], scope: Scope
    ) -> Optional[List[Tuple[cst.BaseExpression, Scope]]]:
        """The elements of a tuple, list or set literal (or a name bound only to one), or
        None when the iterable is anything else."""
        literal = unwrap_collection(iterable) if iterable is not None else None
        if literal is None and isinstance(iterable, (cst.Name, cst.Attribute)):
            bindings, parameter = self.bindings_of(iterable, scope)
            if parameter is None and len(bindings) == 1 and bindings[0].kind == "value" and bindings[0].scope is not None:
                return self.literal_elements(bindings[0].value, bindings[0].scope)  # type: ignore[arg-type]
            return None
        if literal is None or isinstance(literal, cst.Dict):
            return None
        return [(item, scope) for item in collection_items(literal)]

    def callee(self, call: cst.Call, scope: Scope) -> Optional[FunctionFacts]:
        """What is known about the project function ``call`` calls, here or in another module."""
        unit = self.resolve_unit(call, scope)
        if unit is not None:
            return self.function_facts(unit)
        origin = self.qualified_name(call.func, scope)
        if origin:
            found = self.external(origin)
            if isinstance(found, FunctionFacts):
                return found
        return None

    # ----- per-unit facts ----------------------------------------------------------

    def facts(self, unit: Unit) -> UnitFacts:
        facts = self._facts.get(unit)
        if facts is None:
            if unit in self._in_progress:
                return UnitFacts()  # a recursive call: assume nothing about it
            self._in_progress.add(unit)
            try:
                facts = UnitWalker(self, unit).run()
            finally:
                self._in_progress.discard(unit)
            self._facts[unit] = facts
        return facts

    def all_sites(self) -> Iterator[Site]:
        for unit in self.units:
            yield from self.facts(unit).sites

    def all_branches(self) -> Iterator[Branch]:
        for unit in self.units:
            yield from self.facts(unit).branches

    def location(self, node: cst.CSTNode) -> str:
        """``path:line`` of a node."""
        return f"{self.path}:{self.line_of(node)}"

    def line_of(self, node: cst.CSTNode) -> int:
        """A node's first line; positions are computed once, and only when asked for."""
        if self._positions is None:
            self._positions = positions_of(self.module)
        span = self._positions.get(node)
        return span.start.line if span is not None else 0  # type: ignore[attr-defined]

    # ----- what calls do -----------------------------------------------------------

    def direct_effect(self, node: cst.CSTNode, scope: Scope) -> Optional[ModeEffect]:
        """The effect of a call by what it says, without looking into project functions."""
        if isinstance(node, cst.Call):
            return classify_call(node, self.folder, scope)
        if isinstance(node, cst.Attribute):
            return ModeEffect(reads=True)  # `db.journal_mode` (peewee, sqlite-utils)
        return None

    def effect(self, site: Site) -> Optional[ModeEffect]:
        """What ``site`` does to the journal mode, following project functions."""
        key = id(site.node)
        if key in self._effects:
            return self._effects[key]
        self._effects[key] = None  # cycle guard
        result = self._site_effect(site)
        self._effects[key] = result
        return result

    def _site_effect(self, site: Site) -> Optional[ModeEffect]:
        node = site.node
        if isinstance(node, cst.Assign):  # `db.journal_mode = "delete"` (peewee)
            return ModeEffect(
                tuple(dict.fromkeys(normalise_mode(v) for v in self.folder.values(node.value, site.scope) if is_known(v)))
            )
        direct = self.direct_effect(node, site.scope)
        if direct is not None or not isinstance(node, cst.Call):
            return direct
        return self._call_effect(node, site.scope)

    def _call_effect(self, call: cst.Call, scope: Scope, depth: int = 0) -> Optional[ModeEffect]:
        """The effect of calling a project function, a lambda or a ``functools.partial``."""
        callee = self.callee(call, scope)
        if callee is None:
            return self._bound_callable_effect(call, scope, depth) if depth < 3 else None
        modes = callee.downgrades + self._argument_modes(call, callee, scope)
        if modes:
            return ModeEffect(tuple(dict.fromkeys(modes)))
        if callee.probe:
            return ModeEffect(reads=True)
        return None

    def _bound_callable_effect(self, call: cst.Call, scope: Scope, depth: int) -> Optional[ModeEffect]:
        """``fallback = lambda c: c.execute(...)`` or ``functools.partial(conn.execute,
        "PRAGMA journal_mode=DELETE")`` bound to a name, then called: what that call runs."""
        if not isinstance(call.func, cst.Name):
            return None
        bindings, _ = self.lookup(call.func.value, scope)
        effects: List[ModeEffect] = []
        for binding in bindings:
            value, where = binding.value, binding.scope
            if binding.kind != "value" or where is None:
                continue
            if isinstance(value, cst.Lambda):
                for inner in iter_subexpressions(value.body, limit=400):
                    if isinstance(inner, cst.Call):
                        effect = self.direct_effect(inner, where) or self._call_effect(inner, where, depth + 1)
                        if effect is not None:
                            effects.append(effect)
            elif isinstance(value, cst.Call) and dotted_name(value.func).rsplit(".", 1)[-1] == "partial" and value.args:
                # The call the partial stands for: its bound arguments, then this call's.
                arguments = [*value.args[1:], *call.args]
                positional = [a for a in arguments if a.keyword is None and not a.star]
                try:
                    bound = cst.Call(value.args[0].value, positional + [a for a in arguments if a not in positional])
                except cst.CSTValidationError:  # `*args` after keywords: nothing to tell
                    continue
                effect = self.direct_effect(bound, where) or self._call_effect(bound, where, depth + 1)
                if effect is not None:
                    effects.append(effect)
        if not effects:
            return None
        return ModeEffect(tuple(dict.fromkeys(m for e in effects for m in e.sets)), any(e.reads for e in effects))

    def _argument_modes(self, call: cst.Call, callee: FunctionFacts, scope: Scope) -> Tuple[str, ...]:
        """Rollback modes a caller passes to a helper that sets the mode from a parameter."""
        if not callee.downgrade_params:
            return ()
        params = list(callee.params)
        if callee.is_method and params and isinstance(call.func, cst.Attribute):
            params = params[1:]  # bound `self`/`cls`
        passed: Dict[str, cst.BaseExpression] = {}
        index = 0
        for arg in call.args:
            if arg.star:
                continue
            if arg.keyword is not None:
                passed[arg.keyword.value] = arg.value
            elif index < len(params):
                passed[params[index]] = arg.value
                index += 1
        defaults = dict(callee.defaults)
        modes: List[str] = []
        for parameter in callee.downgrade_params:
            if parameter in passed:
                modes.extend(normalise_mode(v) for v in self.folder.values(passed[parameter], scope) if is_known(v))
            elif not any(arg.star for arg in call.args):  # `fallback(conn)`: the default decides
                modes.extend(normalise_mode(v) for v in defaults.get(parameter, ()))
        return tuple(m for m in modes if m in ROLLBACK_MODES)

    def function_facts(self, unit: Unit) -> FunctionFacts:
        """What callers need to know about one function of this module."""
        cached = self._function_facts.get(unit)
        if cached is not None:
            return cached
        placeholder = FunctionFacts(unit.qualname, tuple(unit.scope.params), unit.is_method)
        if unit in self._in_progress:
            return placeholder
        self._function_facts[unit] = placeholder  # recursion sees "nothing known"
        facts = self.facts(unit)
        modes: List[str] = []
        parameters: List[str] = []
        unguarded: Optional[str] = None
        probe = False
        sets_mode = False
        opens = facts.connect_listener
        for site in facts.sites:
            node = site.node
            if isinstance(node, cst.Call) and self.qualified_name(node.func, site.scope) in CONNECT_FUNCTIONS:
                opens = True
            if isinstance(node, cst.Call):
                for arg in node.args:  # `connect` passed as a value: `creator=sqlite3.connect`
                    if self.qualified_name(arg.value, site.scope) in CONNECT_FUNCTIONS:
                        opens = True
            effect = self.effect(site)
            if isinstance(node, cst.Call) and (effect is None or not effect.rollback_modes):
                callee = self.callee(node, site.scope)
                if callee is not None and callee.qualname != unit.qualname:
                    opens = opens or callee.opens_connection
                    sets_mode = sets_mode or callee.sets_journal_mode
                    if callee.unguarded_downgrade and not site.guarded and unguarded is None:
                        unguarded = callee.unguarded_downgrade
            if effect is None:
                continue
            if effect.reads or effect.sets_wal:
                probe = True
            sets_mode = sets_mode or bool(effect.sets)
            if site.guarded:
                continue
            if effect.rollback_modes and unguarded is None:
                unguarded = self.location(node)
            if not site.conditional:
                modes.extend(effect.rollback_modes)
                parameters.extend(p for p in effect.parameter_modes if p in unit.scope.params)
        # A probe reads the pragma and returns, or answers "wal" itself (a header reader).
        probe = (probe and bool(facts.returns) or any(self._answers_wal(v, unit.scope) for v in facts.returns)) and not modes
        result = FunctionFacts(
            qualname=unit.qualname,
            params=tuple(unit.scope.params),
            is_method=unit.is_method,
            defaults=self._constant_defaults(unit) if parameters else (),
            downgrades=tuple(dict.fromkeys(modes)),
            downgrade_params=tuple(dict.fromkeys(parameters)),
            unguarded_downgrade=unguarded,
            probe=probe or unit.name in self.guard_names,
            probe_may_return_none=facts.returns_none,
            probe_normalises=all(self._normalised(value, unit.scope) for value in facts.returns),
            refuses_wal=facts.refuses_wal,
            wal_failure_return=self._wal_failure_return(unit),
            sets_journal_mode=sets_mode,
            opens_connection=opens,
        )
        self._function_facts[unit] = result
        return result

    def _wal_failure_return(self, unit: Unit) -> Optional[bool]:
        """For ``def try_wal(conn): try: <WAL>; return True / except: return False``: the
        constant it returns when the WAL switch failed, when that tells failure from
        success (one constant from the handlers of a WAL ``try``, the other elsewhere)."""
        facts = self.facts(unit)
        if facts.falls_off_end or not facts.return_sites:
            return None
        failed, succeeded = set(), set()
        for value, handler in facts.return_sites:
            if not (isinstance(value, cst.Name) and value.value in ("True", "False")):
                return None
            try_facts = self.try_of_handler(handler, unit) if handler is not None else None
            in_failure = try_facts is not None and self._attempts_wal(unit, try_facts.node)
            (failed if in_failure else succeeded).add(value.value == "True")
        if len(failed) == 1 and len(succeeded) == 1 and failed != succeeded:
            return failed.pop()
        return None

    def _constant_defaults(self, unit: Unit) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
        """``mode="DELETE"``: the values each parameter's default folds to."""
        node = unit.node
        if not isinstance(node, cst.FunctionDef):
            return ()
        outer = unit.scope.parent or self.module_scope
        found = []
        for param in (*node.params.posonly_params, *node.params.params, *node.params.kwonly_params):
            if param.default is not None:
                values = self.folder.values(param.default, outer)
                if values and all(is_known(v) and len(v) < 200 for v in values):
                    found.append((param.name.value, tuple(values)))
        return tuple(found)

    def _answers_wal(self, value: cst.BaseExpression, scope: Scope) -> bool:
        if isinstance(value, cst.IfExp):
            return self._answers_wal(value.body, scope) or self._answers_wal(value.orelse, scope)
        return self.mentions_wal(value, scope)

    def _normalised(self, value: cst.BaseExpression, scope: Scope) -> bool:
        """Is a returned mode certainly lower-case: ``.lower()``, a pragma read, or a literal?"""
        if is_none(value):
            return True
        if isinstance(value, (cst.SimpleString, cst.ConcatenatedString)):
            text = value.evaluated_value
            return isinstance(text, str) and text == text.lower()
        if isinstance(value, cst.IfExp):
            return self._normalised(value.body, scope) and self._normalised(value.orelse, scope)
        methods = {
            node.func.attr.value
            for node in iter_subexpressions(value, limit=200)
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
        }
        if methods & {"upper", "capitalize", "title"}:
            return False
        if methods & {"lower", "casefold"}:
            return True
        return any(
            isinstance(node, cst.Call) and (self.direct_effect(node, scope) or ModeEffect()).reads
            for node in iter_subexpressions(value, limit=200)
        )  # SQLite answers the journal mode in lower case

    def is_probe_node(self, node: cst.CSTNode, scope: Scope) -> bool:
        """A call whose result is the journal mode: a read, the WAL pragma's own answer,
        the configured guard, or a probe function of the project."""
        if isinstance(node, cst.Attribute):
            return node.attr.value == "journal_mode"
        if not isinstance(node, cst.Call):
            return False
        if dotted_name(node.func).rsplit(".", 1)[-1] in self.guard_names:
            return True
        effect = self.direct_effect(node, scope)
        if effect is not None:
            return effect.reads or effect.sets_wal
        callee = self.callee(node, scope)
        return callee is not None and callee.probe

    def probe_calls(self, expr: cst.BaseExpression, scope: Scope, _depth: int = 0) -> List[Tuple[cst.CSTNode, Scope]]:
        """The probe calls whose answer ``expr`` carries, directly or through names."""
        found: List[Tuple[cst.CSTNode, Scope]] = []
        if _depth > 4:
            return found
        for node in iter_subexpressions(expr):
            if isinstance(node, (cst.Call, cst.Attribute)) and self.is_probe_node(node, scope):
                found.append((node, scope))
            elif isinstance(node, (cst.Name, cst.Attribute)):
                bindings, _ = self.bindings_of(node, scope)
                for binding in bindings:
                    if binding.kind == "value" and binding.value is not None and binding.scope is not None:
                        found.extend(self.probe_calls(binding.value, binding.scope, _depth + 1))  # type: ignore[arg-type]
        return found

    # ----- paths after a failed WAL attempt (walint.flow) ---------------------------

    def error_paths(self, unit: Unit) -> "ErrorPaths":
        flow = self._error_paths.get(unit)
        if flow is None:
            from walint.flow.error_paths import ErrorPaths, PathState

            entry = {PathState(False, self._global_flag_values(handler=False))}
            # A module-global flag a handler cleared in an earlier call: the failure
            # reaches this call through the flag's value.
            for name, value in self._global_flag_values(handler=True):
                entry.add(PathState(True, ((name, value),)))
            node = unit.node
            statements = small_statements(node.body) if isinstance(node, cst.FunctionDef) else node.body
            flow = ErrorPaths(
                lambda try_node: self._attempts_wal(unit, try_node),
                outcome=lambda call: self._call_outcome(call, unit.scope),
                untracked=_names_shared_with_nested_functions(node),
            ).run(statements, frozenset(entry))
            self._error_paths[unit] = flow
        return flow

    def _call_outcome(self, call: cst.Call, scope: Scope) -> Optional[Tuple[object, object]]:
        """What a call of a WAL-trying function answers on success, and on failure."""
        callee = self.callee(call, scope)
        if callee is None or callee.wal_failure_return is None:
            return None
        return (not callee.wal_failure_return, callee.wal_failure_return)

    def _global_flag_values(self, handler: bool) -> Tuple[Tuple[str, object], ...]:
        """Module-level names some ``except`` handler sets to a constant, with the constant
        they start with (``handler=False``) or the one a handler gives them."""
        from walint.flow.error_paths import UNKNOWN, PathState, constant

        found = []
        for name, bindings in self.module_scope.bindings.items():
            if "." in name or not any(b.in_handler and _is_flag_value(b.value) for b in bindings):
                continue
            for binding in bindings:
                if binding.kind == "value" and binding.in_handler is handler:
                    value = constant(binding.value, PathState(False))  # type: ignore[arg-type]
                    if value is not UNKNOWN:
                        found.append((name, value))
                        break
        return tuple(sorted(found, key=lambda item: item[0]))

    def _attempts_wal(self, unit: Unit, try_node: cst.CSTNode) -> bool:
        facts = self.facts(unit)
        for try_facts in facts.tries:
            if try_facts.node is try_node:
                start, end = try_facts.body
                return any(self._sets_wal(site) for site in facts.sites[start:end])
        return False

    def _sets_wal(self, site: Site) -> bool:
        effect = self.effect(site)
        if effect is not None and effect.sets_wal:
            return True
        if isinstance(site.node, cst.Call):
            callee = self.callee(site.node, site.scope)
            return callee is not None and callee.sets_journal_mode and not callee.downgrades
        return False

    def unreachable(self, site: Site) -> bool:
        """Does no path reach this site (``if not wal_ok:`` where every path that gets
        there set ``wal_ok = True``)?"""
        states = self.error_paths(site.unit).states_before(site.statement)
        return states is not None and not states

    def on_failure_path(self, site: Site) -> Optional[str]:
        """Is this rollback site reached on a path where a WAL attempt failed, and on no
        path where none did? The failure may be carried by a value: a mode a handler
        chose, a flag it cleared, a module-global flag an earlier call cleared.

        Returns None when it is not, ``MODE_FROM_VALUE`` when a name in the statement
        holds the rollback mode on the failed paths only (a guard in front of the
        statement would also stop the WAL path), else ``FAILED_PATH``."""
        states = self.error_paths(site.unit).states_before(site.statement)
        if not states:
            return None
        names = {node.value for node in iter_subexpressions(site.node) if isinstance(node, cst.Name)}
        by_value = False

        def downgrades_on(state: "PathState") -> bool:
            nonlocal by_value
            verdicts = set()
            for name in names:
                value = state.get(name)
                if isinstance(value, str):
                    modes = modes_set_by_sql(value) if "journal_mode" in value.lower() else [normalise_mode(value)]
                    if modes:
                        by_value = True
                        verdicts.add(any(mode in ROLLBACK_MODES for mode in modes))
            return True in verdicts or not verdicts  # a value that is WAL here decides: no downgrade

        failing = any(state.failed and downgrades_on(state) for state in states)
        if not failing or any(not state.failed and downgrades_on(state) for state in states):
            return None
        # A guard in front of the statement is right only when no WAL path runs it too.
        return MODE_FROM_VALUE if by_value and any(not state.failed for state in states) else FAILED_PATH

    def is_rollback_site(self, site: Site) -> bool:
        effect = self.effect(site)
        return effect is not None and bool(effect.rollback_modes)

    # ----- guards and flags --------------------------------------------------------

    def mentions_wal(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        key = (expr, scope)
        known = self._mentions_wal.get(key)
        if known is None:
            known = self._mentions_wal[key] = self._mentions_wal_uncached(expr, scope)
        return known

    def _mentions_wal_uncached(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        if isinstance(expr, (cst.Tuple, cst.List, cst.Set)):
            return any(self.mentions_wal(e.value, scope) for e in expr.elements)
        if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString, cst.Name, cst.Attribute)):
            return any(v.lower() == "wal" for v in self.folder.values(expr, scope))
        return False

    def handler_flags(self, expr: cst.BaseExpression, scope: Scope) -> Set[str]:
        """Names in ``expr`` that an ``except`` handler sets to a constant (a failure flag)."""
        flags: Set[str] = set()
        for node in iter_subexpressions(expr, limit=400):
            if isinstance(node, (cst.Name, cst.Attribute)):
                bindings, _ = self.bindings_of(node, scope)
                if any(b.in_handler and _is_flag_value(b.value) for b in bindings):
                    flags.add(dotted_name(node))
        return flags

    def wal_check_comparisons(self, test: cst.BaseExpression, scope: Scope) -> List[cst.Comparison]:
        """Comparisons in ``test`` of the mode read from the database with "wal".

        A name that a handler sets to a sentinel (``actual = None``) when the *WAL switch
        itself* failed marks the error path, which such a comparison does not guard
        unless it refuses None too. When a *read* of the mode failed, the comparison is
        still a guard, and WAL005 judges whether None can get past it.
        """
        found = []
        for node in iter_subexpressions(test, limit=400):
            if not isinstance(node, cst.Comparison):
                continue
            operands = [node.left] + [c.comparator for c in node.comparisons]
            if not any(self.mentions_wal(o, scope) for o in operands):
                continue
            probed = [o for o in operands if not self.mentions_wal(o, scope) and self.probe_calls(o, scope)]
            if not probed:
                continue
            if (
                not refuses_none(node, test)
                and any(self.handler_flags(o, scope) for o in probed)
                and self._holds_wal_attempt(probed, scope)
            ):
                continue
            found.append(node)
        return found

    def rollback_mode_checks(self, test: cst.BaseExpression, scope: Scope) -> List[cst.Comparison]:
        """Comparisons in ``test`` of the mode read from the database with a rollback mode
        (``journal_mode_on_disk(conn) != "delete"``): fail-closed by construction, since
        None and "wal" both differ from "delete"."""
        found = []
        for node in iter_subexpressions(test, limit=400):
            if not isinstance(node, cst.Comparison) or len(node.comparisons) != 1:
                continue
            operands = [node.left, node.comparisons[0].comparator]
            literals = [o for o in operands if isinstance(o, cst.SimpleString)]
            if len(literals) != 1:
                continue
            value = literals[0].evaluated_value
            if not isinstance(value, str) or value.lower() not in ROLLBACK_MODES:
                continue
            other = operands[1] if literals[0] is operands[0] else operands[0]
            if self.probe_calls(other, scope):
                found.append(node)
        return found

    def _holds_wal_attempt(self, operands: Sequence[cst.BaseExpression], scope: Scope) -> bool:
        """Do these operands carry the answer of ``PRAGMA journal_mode=WAL`` itself?"""
        for operand in operands:
            for call, call_scope in self.probe_calls(operand, scope):
                effect = self.direct_effect(call, call_scope)
                if effect is not None and effect.sets_wal:
                    return True
        return False


    def is_guard_call(self, statement: cst.CSTNode, scope: Scope) -> bool:
        """A bare call of a function that raises when the database is in WAL."""
        if isinstance(statement, cst.Expr):
            value = statement.value
            if isinstance(value, cst.Await):
                value = value.expression
            if isinstance(value, cst.Call):
                unit = self.resolve_unit(value, scope)
                if unit is not None:
                    return unit not in self._in_progress and self.facts(unit).refuses_wal
                callee = self.callee(value, scope)
                return callee is not None and callee.refuses_wal
        return False

    def summary(self) -> ModuleSummary:
        """What other modules may import from this one, as plain data."""
        functions = tuple(self.function_facts(unit) for unit in self.units if unit is not self.module_unit)
        constants = []
        for name, bindings in self.module_scope.bindings.items():
            if "." in name or not all(b.kind == "value" for b in bindings):
                continue
            values = self.folder.values(cst.Name(name), self.module_scope)
            if values and all(is_known(v) and len(v) < 200 for v in values):
                constants.append((name, values))
        imports = {
            binding.origin
            for scope in self._scopes()
            for bindings in scope.bindings.values()
            for binding in bindings
            if binding.kind == "import" and binding.origin
        }
        return ModuleSummary(self.path, functions, tuple(constants), tuple(sorted(imports)))

    def try_of_handler(self, handler: cst.CSTNode, unit: Unit) -> Optional[TryFacts]:
        for try_facts in self.facts(unit).tries:
            if any(h is handler for h, _ in try_facts.handlers):
                return try_facts
        return None

    def opens_connection(self, unit: Unit) -> bool:
        if unit is self.module_unit:
            return False
        return self.function_facts(unit).opens_connection


def _is_flag_value(value: Optional[cst.CSTNode]) -> bool:
    if isinstance(value, cst.Name):
        return value.value in _FLAG_CONSTANTS
    return isinstance(value, (cst.Integer, cst.SimpleString))


def _names_shared_with_nested_functions(node: cst.CSTNode) -> FrozenSet[str]:
    """Names a nested function rebinds (``nonlocal``/``global``): their value at any
    point of the outer function cannot be told from its own statements."""
    names: Set[str] = set()
    if isinstance(node, cst.FunctionDef):
        for inner in iter_subexpressions(node.body, limit=100_000):
            if isinstance(inner, (cst.Nonlocal, cst.Global)):
                names.update(item.name.value for item in inner.names)
    return frozenset(names)
