"""Which paths run after a failed WAL attempt, as the rules ask it of a module: the
dataflow of :mod:`walint.flow.error_paths` set up for one function (its entry states,
the calls that report a failure, the names it cannot track). A mixin of
:class:`walint.journal.model.ModuleModel`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

import libcst as cst

from walint.constants import is_known
from walint.semantic.scopes import Scope, Unit
from walint.semantic.nodes import dotted_name, iter_subexpressions, literal_entries, small_statements, subscript_path
from walint.sql import ROLLBACK_MODES, ModeEffect, modes_set_by_sql, normalise_mode
from walint.flow.error_paths import ErrorPaths
from walint.flow.path_state import NOT_NONE, PRIVATE_DATABASE, UNKNOWN, PathState, constant, decode_constant
from walint.journal.calls import call_arguments
from walint.journal.connections import receivers_of

if TYPE_CHECKING:
    from walint.semantic.scopes import Binding
    from walint.flow.unit_facts import Site

# How a rollback site is on a failed WAL path (FailureQueries.on_failure_path).
FAILED_PATH, MODE_FROM_VALUE = "failed-path", "mode-from-value"


class FailureQueries:
    """Failed-WAL paths, asked of a :class:`ModuleModel`."""

    def error_paths(self, unit: Unit) -> ErrorPaths:
        flow = self._error_paths.get(unit)
        if flow is None:
            self._error_paths_in_progress.add(unit)
            try:
                flow = self._error_paths[unit] = self._walk_error_paths(unit)
            finally:
                self._error_paths_in_progress.discard(unit)
        return flow

    def _walk_error_paths(self, unit: Unit) -> ErrorPaths:
        entry = {PathState(False, self._global_flag_values(handler=False, unit=unit))}
        # A module-global flag (or an attribute of the instance) a handler cleared in an
        # earlier call: the failure reaches this call through the flag's value.
        cleared = self._global_flag_values(handler=True, unit=unit)
        if cleared:
            read_here = {
                n.value if isinstance(n, cst.Name) else dotted_name(n)
                for n in iter_subexpressions(unit.node, limit=100_000)
                if isinstance(n, (cst.Name, cst.Attribute))
            }
            for name, value in cleared:
                if name.partition("[")[0] in read_here:  # only a function that reads the flag learns from it
                    entry.add(PathState(True, ((name, value),)))
        node = unit.node
        statements = small_statements(node.body) if isinstance(node, cst.FunctionDef) else node.body
        return ErrorPaths(
            lambda try_node: self._attempts_wal(unit, try_node),
            outcome=lambda call: self._call_outcome(call, unit.scope),
            untracked=_names_shared_with_nested_functions(node),
            guard_statements=frozenset(self.facts(unit).guard_statements),
            suppressing=frozenset(id(s.node) for s in self.facts(unit).suppressions),
            opens_private_database=lambda call: self.opens_private_database(call, unit.scope),
            outer_constant=lambda expr: self._outer_constant(expr, unit),
            cleared_by=lambda call: self._cleared_by_method(call, unit),
        ).run(statements, frozenset(entry))

    def downgrades_on_its_own_error_path(self, unit: Optional[Unit]) -> bool:
        """Is ``unit``, a function of this module, one whose rollback switch WAL001 reports (in
        its handler, or on a path its failed WAL attempt takes)? Its finding is the place to fix."""
        return unit is not None and any(
            self.is_rollback_site(site) and not site.guarded and (site.handler is not None or site.flagged or self.on_failure_path(site))
            for site in self.facts(unit).sites
        )

    def _cleared_by_method(self, call: cst.Call, unit: Unit) -> Tuple[Tuple[str, object], ...]:
        """The attributes (with their values) that the handler of a function of this module
        sets when its WAL attempt fails, as the caller names them: ``self._enable_wal()``,
        which sets ``self.wal_ok = False``; ``_enable_wal(conn, state)``, which sets
        ``state.degraded = True`` on the object it is handed."""
        callee = self.resolve_unit(call, unit.scope)
        if callee is None or callee is unit:
            return ()
        found: List[Tuple[str, object]] = []
        class_scope = unit.class_scope
        if class_scope is not None and callee.class_scope is class_scope and isinstance(call.func, cst.Attribute) and dotted_name(call.func.value) == "self":
            for name, bindings in class_scope.bindings.items():
                if name.startswith("self."):
                    self._note_failure_value(found, name, bindings, callee)
        if any(isinstance(arg.value, cst.Name) for arg in call.args):
            handed = call_arguments(call, self.function_facts(callee))
            for param, value in handed.items():
                if not isinstance(value, cst.Name) or param not in callee.scope.params:
                    continue
                prefix = param + "."
                for name, bindings in self.module_scope.bindings.items():
                    if name.startswith(prefix) and "." not in name[len(prefix):]:
                        self._note_failure_value(found, value.value + name[len(param):], bindings, callee)
        return tuple(found)

    def _note_failure_value(self, found: List[Tuple[str, object]], name: str, bindings: Sequence["Binding"], callee: Unit) -> None:
        """Add ``name`` with the value the first of ``bindings`` that ``callee``'s handler
        sets to record a failure gives it (unless a guard had refused WAL there)."""
        for binding in bindings:
            if binding.scope is callee.scope and self.records_failure(binding) and not self._set_where_guarded(binding):
                held = NOT_NONE if self._holds_the_caught_exception(binding) else constant(binding.value, PathState(False))  # type: ignore[arg-type]
                if held is not UNKNOWN:
                    found.append((name, held))
                    return

    def _outer_constant(self, expr: cst.BaseExpression, unit: Unit) -> object:
        """The one string a name bound outside ``unit`` (a module constant, an imported
        one) holds, or UNKNOWN: the path state knows only what the function assigns."""
        bindings, parameter = self.bindings_of(expr, unit.scope)
        if parameter is not None or any(b.scope is unit.scope for b in bindings):
            return UNKNOWN
        values = self.folder.values(expr, unit.scope)
        return values[0] if len(values) == 1 and is_known(values[0]) else UNKNOWN

    def _call_outcome(self, call: cst.Call, scope: Scope) -> Optional[Tuple[Tuple[object, ...], Tuple[object, ...]]]:
        """What a call of a WAL-trying function answers on success, and on failure."""
        callee = self.callee(call, scope)
        if callee is None or not callee.wal_failure_returns or not callee.wal_success_returns:
            return None
        successes = tuple(decode_constant(text) for text in callee.wal_success_returns)
        failures = tuple(decode_constant(text) for text in callee.wal_failure_returns)
        if UNKNOWN in successes or UNKNOWN in failures:
            return None
        if callee.wal_failure_in_tuple:  # the rest of the tuple is not known
            return tuple((success,) for success in successes), tuple((failure,) for failure in failures)
        return successes, failures

    def _global_flag_values(self, handler: bool, unit: Optional[Unit] = None) -> Tuple[Tuple[str, object], ...]:
        """Module-level names (and, for a method, attributes of ``self``) some ``except``
        handler sets to a constant, with the constant they start with (``handler=False``)
        or the one a handler gives them."""
        found = []
        held = list(self.module_scope.bindings.items())
        if unit is not None and unit.class_scope is not None:
            # Set by another method: this method's own assignments are on its paths.
            held += [
                (name, [b for b in bindings if b.scope is not unit.scope and not self._set_where_guarded(b)])
                for name, bindings in unit.class_scope.bindings.items()
                if name.startswith("self.")
            ]
        for name, bindings in held:
            if ("." in name and not name.startswith("self.")) or not any(self.records_failure(b) for b in bindings):
                continue
            held = [b for b in bindings if b.kind == "value" and b.in_handler is handler]
            if handler and any(self._holds_the_caught_exception(b) for b in held):
                found.append((name, NOT_NONE))  # `self.wal_error = exc`: the failure, never None
                continue
            values = [b.value for b in held]
            if not handler and "[" in name:
                # `STATE = {"wal": True}`: an entry starts with the dict literal's value.
                owner = name.partition("[")[0]
                values += [
                    value
                    for b in self.module_scope.bindings.get(owner, ())
                    if isinstance(b.value, cst.Dict)
                    for path, value in literal_entries(owner, b.value)
                    if path == name
                ]
            for value_node in values:
                value = constant(value_node, PathState(False))  # type: ignore[arg-type]
                if value is not UNKNOWN:
                    found.append((name, value))
                    break
        return tuple(sorted(found, key=lambda item: item[0]))

    def _set_where_guarded(self, binding: "Binding") -> bool:
        """Was this handler's assignment made only after an on-disk guard refused WAL
        (``if journal_mode_on_disk(p) in ("wal", None): raise`` then ``self.journal =
        "truncate"``)? Then the value it leaves carries no unguarded failure."""
        where = binding.scope
        unit = where.unit if where is not None else None
        if not binding.in_handler or unit is None or unit in self._error_paths_in_progress:
            return False
        for node in iter_subexpressions(unit.node, limit=100_000):
            if isinstance(node, cst.Assign) and node.value is binding.value:
                states = self.error_paths(unit).states_before(node)
                return bool(states) and all(state.guarded for state in states)
        return False

    def _attempts_wal(self, unit: Unit, try_node: cst.CSTNode) -> bool:
        facts = self.facts(unit)
        for try_facts in facts.tries:
            if try_facts.node is try_node:
                start, end = try_facts.body
                return any(self._attempts_wal_at(site) for site in facts.sites[start:end])
        return False

    def _attempts_wal_at(self, site: Site) -> bool:
        """Does ``site`` switch to WAL, by its own SQL or through a project function that
        sets a journal mode and never a rollback one?"""
        effect = self.effect(site)
        if effect is not None and effect.sets_wal:
            return True
        if isinstance(site.node, cst.Call):
            callee = self.callee(site.node, site.scope)
            return callee is not None and callee.sets_journal_mode and not callee.downgrades
        return False

    def failure_leads_to_a_downgrade(self, try_node: cst.CSTNode, sites: Sequence[Site]) -> bool:
        """Does a failed WAL attempt in this ``try`` reach a rollback mode after it, among
        ``sites`` (a success flag tested after it, a mode its handler chose, the ``else`` of
        a retry loop around it), guarded or not? Either way the failure is acted on there."""
        return any(
            self.is_rollback_site(site)
            and site.handler is None
            and self.on_failure_path(site, guarded_too=True) is not None
            and self.failure_of_reaches(try_node, site)
            for site in sites
        )

    def failure_of_reaches(self, try_node: cst.CSTNode, site: Site) -> bool:
        """Do paths through this ``try``'s handlers reach ``site``?"""
        states = self.error_paths(site.unit).states_before(site.statement)  # type: ignore[attr-defined]
        return bool(states) and any(id(try_node) in state.failed_at for state in states)

    def unreachable(self, site: Site) -> bool:
        """Does no path reach this site (``if not wal_ok:`` where every path that gets
        there set ``wal_ok = True``)?"""
        paths = self.error_paths(site.unit)
        states = paths.states_before(site.statement)
        if states is None or states:
            return False
        # Dead code (after a `raise` at the top of the unit) is judged as if it ran: only
        # a flag's value, not the code before it, makes a site unreachable here.
        node = site.unit.node
        body = node.body if isinstance(node, cst.Module) else small_statements(node.body)
        for top in body:
            if any(node is site.statement for node in iter_subexpressions(top, limit=100_000)):
                return bool(paths.states_before(top))
        return True

    def switched_back_to_wal(self, site: Site, same_branch: bool = False) -> bool:
        """Does the function set WAL again after this statement, wherever the statement ran
        (``DELETE``, ``VACUUM``, ``WAL``): a deliberate, temporary switch? Not a WAL switch
        in the ``else`` of the ``if`` that downgrades; with ``same_branch``, only one in the
        very branch of the statement (``if compact:`` DELETE, VACUUM, WAL), not one a
        branch that returns early never reaches."""
        sites = self.facts(site.unit).sites
        later = next((index for index, other in enumerate(sites) if other is site), len(sites)) + 1
        return any(
            other.handler is site.handler
            and other.try_node is site.try_node
            and (other.conditions == site.conditions if same_branch else set(other.conditions) <= set(site.conditions))
            and (self.effect(other) or ModeEffect()).sets_wal
            for other in sites[later:]
        )

    def on_private_database(self, site: Site) -> bool:
        """Does ``site`` run, on every path that reaches it, on a connection opened on
        ``":memory:"`` (a database no other connection can share)?"""
        receivers = receivers_of(site.node)
        states = self.error_paths(site.unit).states_before(site.statement) if receivers else ()
        return any(bool(states) and all(state.get(receiver) == PRIVATE_DATABASE for state in states) for receiver in receivers)

    def on_failure_path(self, site: Site, guarded_too: bool = False) -> Optional[str]:
        """Is this rollback site reached on a path where a WAL attempt failed, and on no
        path where none did? The failure may be carried by a value: a mode a handler
        chose, a flag it cleared, a module-global flag an earlier call cleared.

        Returns None when it is not, ``MODE_FROM_VALUE`` when a name in the statement
        holds the rollback mode on the failed paths only (a guard in front of the
        statement would also stop the WAL path), else ``FAILED_PATH``. With ``guarded_too``,
        paths through a guard count as well: the failure is acted on there all the same."""
        states = self.error_paths(site.unit).states_before(site.statement)
        if not states:
            return None
        names = _names_in(site)
        verdicts = {state: self._downgrades_on(site, state, names) for state in states}
        by_value = any(by for _, by in verdicts.values())
        failing = [state for state in states if state.failed and (guarded_too or not state.guarded) and verdicts[state][0]]
        if not failing or self.on_another_connection(site):
            return None
        # A failure of this function's own WAL attempt that falls through to the statement
        # is an error path even where another path (a network-fs check) gets there too; a
        # module-global flag only counts where no path without the failure gets there.
        if any(not state.failed and verdicts[state][0] for state in states):
            if not any(state.failed_at for state in failing) or self.switched_back_to_wal(site):
                return None
        # A guard in front of the statement is right only when no WAL path runs it too.
        return MODE_FROM_VALUE if by_value and any(not state.failed for state in states) else FAILED_PATH

    def downgrade_reached_in_handler(self, site: Site) -> Optional[str]:
        """Where a helper called in an ``except`` handler can downgrade (``_downgrade(conn,
        err)``, which picks the rollback mode by the error), when that downgrade is not on
        an error path of its own (there its own WAL001 names it)."""
        if site.handler is None or not isinstance(site.node, cst.Call) or self.on_private_database(site):
            return None
        callee = self.callee(site.node, site.scope)
        if callee is None:
            # `_ON_WAL_ERROR[kind](conn)` with the kind read from the error: in a handler,
            # any entry that downgrades may run, even beside one that retries WAL.
            for entry in self.table_entries(site.node, site.scope):
                if entry.unguarded_downgrade and not entry.unguarded_on_error_path:
                    return entry.unguarded_downgrade
            return None
        if callee.qualname == site.unit.qualname or callee.opens_connection:
            return None
        if not callee.unguarded_downgrade and not callee.downgrades:
            # `self.on_wal_error(conn, exc)`: a subclass's override runs on its instances.
            for unit in self.overrides(site.node, site.scope):
                override = self.function_facts(unit)
                if override.unguarded_downgrade and not override.unguarded_on_error_path:
                    return override.unguarded_downgrade
            return None
        if not callee.unguarded_downgrade or callee.unguarded_on_error_path:
            return None
        return callee.unguarded_downgrade

    def downgrades_elsewhere(self, site: Site) -> bool:
        """Is the handler's call one that hands the caught error to another module's helper
        which decides from it whether to downgrade (``if not maybe_downgrade(conn, exc):
        raise``), made by the function that opens the connection? That is WAL003's
        "through a function defined elsewhere in the project". A call that only sets a
        rollback mode (``set_mode(conn, ROLLBACK)``), or a helper of this module, is the
        handler's own WAL001."""
        handler, call = site.handler, site.node
        if handler is None or not isinstance(call, cst.Call) or not isinstance(handler.name, cst.AsName):
            return False
        caught = handler.name.name
        if not isinstance(caught, cst.Name) or not any(
            isinstance(arg.value, cst.Name) and arg.value.value == caught.value for arg in call.args
        ):
            return False
        if not self.opens_connection(site.unit) or any(
            self.is_rollback_site(other) and self.restored_after(other) for other in self.facts(site.unit).sites
        ):
            # A read mode switched away from for a job and set back: a deliberate switch.
            return False
        if self.direct_effect(call, site.scope) is not None or self.resolve_unit(call, site.scope) is not None:
            return False
        callee = self.callee(call, site.scope)
        return (
            callee is not None
            and not callee.opens_connection
            and callee.unguarded_downgrade is not None
            and not callee.unguarded_on_error_path
        )

    def downgrades_on_some_path(self, site: Site) -> bool:
        """Can the statement set a rollback mode on some path that reaches it, given what
        the names it is built from hold there (``mode = "wal"`` before the ``try``)?"""
        states = self.error_paths(site.unit).states_before(site.statement)
        names = _names_in(site)
        return states is None or any(not state.guarded and self._downgrades_on(site, state, names)[0] for state in states)

    def _member_values(self, member: str, site: Site) -> List[str]:
        """The strings an enum member (``Journal.ROLLBACK``) stands for in a pragma."""
        owner, _, attr = member.rpartition(".")
        if not owner or not attr:
            return []
        expr: cst.BaseExpression = cst.Name(owner.split(".")[0])
        for part in owner.split(".")[1:] + [attr]:
            expr = cst.Attribute(expr, cst.Name(part))
        return [v for v in self.folder.values(expr, site.scope) if is_known(v)]

    def _picked_by_value(self, site: Site, state: "PathState") -> List[str]:
        """``JOURNAL_FOR[wal_ok]`` where ``JOURNAL_FOR = {True: "wal", False: "delete"}``:
        the entry the key's value on this path picks."""
        picked: List[str] = []
        for node in iter_subexpressions(site.node, limit=400):
            if not (isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name) and len(node.slice) == 1):
                continue
            index = node.slice[0].slice
            key = constant(index.value, state) if isinstance(index, cst.Index) else UNKNOWN
            if key is UNKNOWN:
                continue
            bindings, _ = self.lookup(node.value.value, site.scope)
            if len(bindings) != 1 or not isinstance(bindings[0].value, cst.Dict):
                continue
            for element in bindings[0].value.elements:
                if isinstance(element, cst.DictElement) and constant(element.key, PathState(False)) == key:
                    picked.extend(v for v in self.folder.values(element.value, bindings[0].scope) if is_known(v))  # type: ignore[arg-type]
        return picked

    def _held_from_outside(self, node: cst.BaseExpression, site: Site) -> List[str]:
        """What a name the paths' state knows nothing of holds, when this function binds it
        only to constants (which the state would know, had they run on the path): the
        values bound outside it (``journal: str = "wal"`` on the class)."""
        if not isinstance(node, (cst.Name, cst.Attribute)):
            return []
        bindings, parameter = self.bindings_of(node, site.scope)
        # What a handler elsewhere sets is the failure's value: the failed paths carry it.
        bindings = [b for b in bindings if not b.in_handler]
        if parameter is not None or not bindings or any(b.kind != "value" or b.scope is None for b in bindings):
            return []
        held: List[str] = []
        for binding in bindings:
            values = self.folder.values(binding.value, binding.scope)  # type: ignore[arg-type]
            if not values or not all(is_known(v) for v in values):
                return []
            if binding.scope is not site.unit.scope:
                held.extend(values)
        return held

    def _downgrades_on(self, site: Site, state: "PathState", names: Dict[str, cst.BaseExpression]) -> Tuple[bool, bool]:
        """Does the statement downgrade on the paths ``state`` stands for, and is that
        decided by a value one of ``names`` (those it is built from) holds there?"""
        if any(state.get(receiver) == PRIVATE_DATABASE for receiver in receivers_of(site.node)):
            return False, False  # a database private to this connection
        verdicts = set()
        for text in self._picked_by_value(site, state):
            verdicts.add(normalise_mode(text) in ROLLBACK_MODES)
        for name, node in names.items():
            value = state.get(name)
            held = [value] if isinstance(value, str) else self._held_from_outside(node, site)
            if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
                held = self._member_values(value[1:-1], site)  # `mode = Journal.ROLLBACK`
            for text in held:
                modes = modes_set_by_sql(text) if "journal_mode" in text.lower() else [normalise_mode(text)]
                if modes:
                    verdicts.add(any(mode in ROLLBACK_MODES for mode in modes))
        # A value that is WAL here decides: no downgrade.
        return (True in verdicts or not verdicts), bool(verdicts)


def _names_shared_with_nested_functions(node: cst.CSTNode) -> FrozenSet[str]:
    """Names a nested function rebinds (``nonlocal``/``global``): their value at any
    point of the outer function cannot be told from its own statements."""
    names: Set[str] = set()
    if isinstance(node, cst.FunctionDef):
        for inner in iter_subexpressions(node.body, limit=100_000):
            if isinstance(inner, (cst.Nonlocal, cst.Global)):
                names.update(item.name.value for item in inner.names)
    return frozenset(names)


def _names_in(site: Site) -> Dict[str, cst.BaseExpression]:
    """The names, attributes (``self.journal``) and dict entries a statement is built
    from, each with a node that spells it."""
    found: Dict[str, cst.BaseExpression] = {}
    nodes = list(iter_subexpressions(site.node))
    attributes = {id(node.attr) for node in nodes if isinstance(node, cst.Attribute)}
    for node in nodes:
        if id(node) in attributes:
            continue  # `journal` of `self.journal` names nothing on its own
        name = node.value if isinstance(node, cst.Name) else dotted_name(node) if isinstance(node, cst.Attribute) else subscript_path(node)
        if name:
            found.setdefault(name, node)  # type: ignore[arg-type]
    return found
