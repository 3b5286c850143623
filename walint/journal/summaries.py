"""What other modules learn of this one: each function's :class:`FunctionFacts`, gathered
from its walk, and the module's plain-data :class:`ModuleSummary`, which the project pass
hands to importers and the cache stores. A mixin of
:class:`walint.journal.model.ModuleModel`."""

from __future__ import annotations

import json

from dataclasses import replace
from typing import Dict, List, Optional, Tuple

import libcst as cst

from walint.constants import is_known, param_hole, param_of
from walint.journal.calls import MAX_TEMPLATES, fills_only
from walint.journal.connections import CONNECT_FUNCTIONS
from walint.journal.marker_uses import UNKNOWN_USE, MarkerUses
from walint.flow.unit_facts import Site, UnitFacts
from walint.semantic.scopes import Unit
from walint.semantic.nodes import dotted_name, has_more_elements, is_constant_literal, is_none, iter_subexpressions, literal_entries
from walint.sql import ROLLBACK_MODES, normalise_mode, sql_texts
from walint.summary import MAX_LITERAL, SWALLOWS_WRAPPED_CALL, FunctionFacts, ModuleSummary
from walint.journal.guard_reading import uppercases


class SummaryQueries:
    """Function facts and the module summary, asked of a :class:`ModuleModel` (mixed in)."""

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
        templates: List[str] = []
        unguarded: Optional[str] = None
        unguarded_on_error_path = False
        probe = False
        sets_mode = False
        opens = facts.connect_listener
        # A function of no concern to the journal mode (walint.journal.relevance) has no
        # site that sets, reads or opens anything, and calls nothing that does.
        for site in facts.sites if self.relevance.is_hot(unit) else ():
            node = site.node
            if self.is_connect_call(node, site.scope):
                opens = True
            if isinstance(node, cst.Call):
                for arg in node.args:  # `connect` passed as a value: `creator=sqlite3.connect`
                    if self.qualified_name(arg.value, site.scope) in CONNECT_FUNCTIONS:
                        opens = True
            if isinstance(node, cst.Call) and not site.conditional and not site.guarded and not self._undone_later(site):
                # `execute(f"PRAGMA {name} = {value}")`: the caller's arguments decide.
                templates.extend(
                    text
                    for texts in sql_texts(node, self.folder, site.scope)
                    for text in texts
                    # `execute(statement)`: a wrapper runs what its caller passes.
                    if ("pragma" in text.lower() or param_of(text.strip()) is not None) and fills_only(text, unit.scope.params)
                )
            effect = self.effect(site)
            if isinstance(node, cst.Call) and (effect is None or not effect.rollback_modes):
                callee = self.callee(node, site.scope)
                if callee is not None and callee.qualname != unit.qualname:
                    opens = opens or callee.opens_connection
                    sets_mode = sets_mode or callee.sets_journal_mode
                    if callee.unguarded_downgrade and not site.guarded and unguarded is None and not self.restored_after(site):
                        unguarded = callee.unguarded_downgrade
                        unguarded_on_error_path = callee.unguarded_on_error_path or site.handler is not None
            if effect is None:
                continue
            if effect.reads or effect.sets_wal:
                probe = True
            sets_mode = sets_mode or bool(effect.sets)
            if site.guarded:
                continue
            if effect.rollback_modes and site.handler is None and not site.flagged and (self.switched_back_to_wal(site) or self.restored_after(site)):
                continue  # DELETE for a VACUUM, then WAL (or the mode read before) again: a temporary switch
            always = [m for m in effect.rollback_modes if m not in effect.from_defaults]
            if always and unguarded is None:
                unguarded = self.location(node)
                unguarded_on_error_path = site.handler is not None or site.flagged
            if not site.conditional:
                modes.extend(always)
                templates.extend(f"PRAGMA journal_mode={param_hole(p)}" for p in effect.parameter_modes if p in unit.scope.params)
        header_versions = any(self.holds_header_versions(v, unit.scope) for v in facts.returns)
        # A probe reads the pragma and returns, or answers "wal" itself (a header reader),
        # or hands on the header's version bytes.
        reads_and_returns = probe and bool(facts.returns) or header_versions or any(self._answers_wal(v, unit.scope) for v in facts.returns)
        returns_mode_before_switch = bool(modes) and probe and any(self.probe_calls(v, unit.scope) for v in facts.returns)
        probe = reads_and_returns and not modes
        success_returns, failure_returns, failure_in_tuple = self._wal_outcome(unit)
        said = self._predicate_answer(unit, facts, failure_returns)
        returned = self._returned_values(unit)
        result = FunctionFacts(
            qualname=unit.qualname,
            params=tuple(unit.scope.params),
            is_method=unit.is_method,
            defaults=self._constant_defaults(unit) if templates else (),
            downgrades=tuple(dict.fromkeys(modes)),
            sql_templates=tuple(dict.fromkeys(templates))[:MAX_TEMPLATES],
            unguarded_downgrade=unguarded,
            unguarded_on_error_path=unguarded is not None and unguarded_on_error_path,
            probe=probe or unit.name in self.guard_names,
            # `@best_effort def disk_mode(conn)`: the decorator's wrapper answers None for
            # the read that failed.
            probe_may_return_none=said.may_return_none
            or (probe and any(d.swallows == SWALLOWS_WRAPPED_CALL for d in self.decorators_of(unit))),
            probe_normalises=all(self._normalised(value, unit.scope) for value in facts.returns),
            probe_uppercases=bool(facts.returns) and all(uppercases(self, value, unit.scope) for value in facts.returns),
            refuses_wal=facts.refuses_wal,
            wal_answer=said.wal_answer,
            wal_answer_param=said.about_param,
            guesses_not_wal=said.guesses_not_wal,
            wal_success_returns=success_returns,
            wal_failure_returns=failure_returns,
            wal_failure_in_tuple=failure_in_tuple,
            sets_journal_mode=sets_mode,
            opens_connection=opens,
            returned_values=returned,
            never_returns=self._never_returns(unit, facts),
            tests_items_of=self._tests_items_of(unit, facts),
            returns_rollback_mode=any(normalise_mode(value) in ROLLBACK_MODES for value in returned),
            returns_mode_before_switch=returns_mode_before_switch,
            returns_header_versions=header_versions,
            wal_failure_propagates=not opens and self._wal_failure_propagates(facts),
            probe_makes_up_a_mode=said.makes_up_a_mode,
            swallows=self._swallows(unit),
            guards_what_it_wraps=self._guards_what_it_wraps(unit),
        )
        self._function_facts[unit] = result
        return result

    def _tests_items_of(self, unit: Unit, facts: UnitFacts) -> Tuple[Tuple[str, int], ...]:
        """The parameters a predicate tests membership in (see FunctionFacts)."""
        params = set(unit.scope.params)
        if not params:
            return ()
        answers = [*facts.returns, *(branch.node.test for branch in facts.branches if branch.returns is not None)]
        # Only a parameter tested against (`in vocabulary`, `for m in vocabulary`) can be.
        tests_a_parameter = any(
            (isinstance(node, cst.ComparisonTarget) and isinstance(node.operator, (cst.In, cst.NotIn)) and isinstance(node.comparator, cst.Name) and node.comparator.value in params)
            or (isinstance(node, cst.CompFor) and isinstance(node.iter, cst.Name) and node.iter.value in params)
            for answer in answers
            for node in iter_subexpressions(answer, limit=200)
        )
        if not tests_a_parameter:
            return ()
        return MarkerUses(self, self.marker_kind, walk=False).tests_items_of(unit)

    def _never_returns(self, unit: Unit, facts: UnitFacts) -> bool:
        node = unit.node
        if not isinstance(node, cst.FunctionDef):
            return False
        annotation = node.returns.annotation if node.returns is not None else None
        if annotation is not None and dotted_name(annotation).rsplit(".", 1)[-1] in ("NoReturn", "Never"):
            return True
        # No `return` (the walk records each) and no end to fall off; a generator's
        # `yield` hands control back all the same.
        return not facts.falls_off_end and not facts.return_sites and not any(
            isinstance(n, cst.Yield) for n in iter_subexpressions(node.body, limit=5000)
        )

    def _undone_later(self, site: Site) -> bool:
        """``PRAGMA journal_mode={mode}`` that the function later sets back to WAL, or to
        the mode it read before (``temporary_journal(conn, mode="TRUNCATE")``): a switch
        for a job, which the caller's mode does not make a downgrade."""
        effect = self.effect(site)
        return (
            effect is not None
            and bool(effect.sets)
            and site.handler is None
            and not site.flagged
            and (self.switched_back_to_wal(site) or self.restored_after(site))
        )

    def _returned_values(self, unit: Unit) -> Tuple[str, ...]:
        facts = self.facts(unit)
        if facts.falls_off_end or not facts.returns or len(facts.returns) != len(facts.return_sites):
            return ()  # it may answer None too
        values: List[str] = []
        answers_none = False
        for value in facts.returns:
            if is_none(value):
                answers_none = True
                continue
            if not isinstance(value, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString, cst.Name, cst.Attribute, cst.IfExp)):
                return ()
            folded = self.folder.values(value, unit.scope)
            if not folded or not all(is_known(v) and len(v) < 200 for v in folded):
                return ()
            values.extend(folded)
        if answers_none and any(normalise_mode(v) == "wal" for v in values):
            return ()  # "wal", "delete" or None: a probe's answers, with None for "unknown"
        # `return None` where no mode applies: the caller's `is None` test decides.
        return tuple(dict.fromkeys(values))[:MAX_TEMPLATES]

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

    def _exported_facts(self, unit: Unit) -> FunctionFacts:
        """A function's facts as importers see them: with whether it is a hook its class
        calls on a failed WAL switch, which only a subclass in another module asks (worked
        out here, once every walk is done, so no walk sees a half-built answer)."""
        facts = self.function_facts(unit)
        if unit.class_scope is not None and unit.name in self.wal_failure_hooks(unit.class_scope):
            return replace(facts, called_on_wal_failure=True)
        return facts

    def _may_tell(self, unit: Unit) -> bool:
        """Can a function's facts tell an importer something? A cold one's only when it may
        raise, test a parameter's items or catch errors, or is a hook of a WAL failure."""
        return (
            self.relevance.is_hot(unit)
            or self.relevance.may_be_interesting(unit)
            or (unit.class_scope is not None and unit.name in self.wal_failure_hooks(unit.class_scope))
        )

    def _bound_callables(self) -> Tuple[FunctionFacts, ...]:
        """``downgrade = functools.partial(_set_journal, mode="DELETE")`` (or a lambda) at
        module level: to an importer, a function that sets what the bound call sets. An
        instance of a class of the module with a ``__call__`` is that method."""
        found = []
        for name, bindings in self.module_scope.bindings.items():
            value = bindings[0].value if len(bindings) == 1 and bindings[0].kind == "value" else None
            if not name.isidentifier() or not isinstance(value, (cst.Lambda, cst.Call)):
                continue
            runs = self.resolve_unit(cst.Call(cst.Name(name)), self.module_scope) if isinstance(value, cst.Call) else None
            if runs is not None and runs.name == "__call__":  # `probe = ModeProbe()`: calling it runs `__call__`
                found.append(replace(self._exported_facts(runs), qualname=name))
                continue
            if isinstance(value, cst.Call) and dotted_name(value.func).rsplit(".", 1)[-1] != "partial":
                continue
            call = cst.Call(cst.Name(name), [cst.Arg(cst.Name("conn"))])
            effect = self._bound_callable_effect(call, self.module_scope, 0)
            if effect is None or not effect.rollback_modes or effect.sets_wal:
                continue
            found.append(
                FunctionFacts(
                    name,
                    ("conn",),
                    downgrades=effect.rollback_modes,
                    unguarded_downgrade=self.location(value),
                    sets_journal_mode=True,
                )
            )
        return tuple(found)

    def summary(self) -> ModuleSummary:
        """What other modules may import from this one, as plain data."""
        exported = (self._exported_facts(unit) for unit in self.units if unit is not self.module_unit and self._may_tell(unit))
        functions = tuple(facts for facts in exported if facts.tells_importers_something())
        functions += self._bound_callables()
        constants = []
        for name, bindings in self.module_scope.bindings.items():
            if not name.isidentifier() or not all(b.kind == "value" for b in bindings):
                continue
            values = self.folder.values(cst.Name(name), self.module_scope)
            if values and all(is_known(v) and len(v) < 200 for v in values):
                constants.append((name, values))
            if len(bindings) == 1 and isinstance(bindings[0].value, cst.Dict):
                # `JOURNAL_POLICY = {"fallback": "delete", ...}`: an importer's
                # `JOURNAL_POLICY["fallback"]` is that entry.
                for path, entry in literal_entries(name, bindings[0].value):
                    values = self.folder.values(entry, self.module_scope)
                    if values and all(is_known(v) and len(v) < 200 for v in values):
                        constants.append((path, values))
        for class_scope in self.class_scopes.values():
            if class_scope.parent is not self.module_scope:
                continue
            for name, bindings in class_scope.bindings.items():  # `class Journal(Enum): DELETE = "delete"`
                if not all(b.kind == "value" for b in bindings):
                    continue
                if name.isidentifier():
                    values = self.folder.values(cst.Attribute(cst.Name(class_scope.name), cst.Name(name)), self.module_scope)
                elif name.startswith("self.") and name[5:].isidentifier() and name[5:] not in class_scope.bindings:
                    # `self.fallback_mode = "DELETE"` in a method: what an instance's field holds.
                    name = name[5:]
                    values = _union_of(self.folder.values(b.value, b.scope) for b in bindings if b.value is not None and b.scope is not None)
                else:
                    continue
                if values and all(is_known(v) and len(v) < 200 for v in values):
                    constants.append((f"{class_scope.name}.{name}", values))
        constants += self._instance_fields(constants)
        imports = {
            binding.origin
            for scope in self._scopes()
            for bindings in scope.bindings.values()
            for binding in bindings
            if binding.kind == "import" and binding.origin
        }
        # Uses on the way to a downgrade, or keeping one from happening: a test whose
        # outcome decides nothing seen here would only make the defining module walk again.
        uses = self.marker_uses().imported if imports else {}
        marker_uses = tuple(sorted((name, p) for name, polarities in uses.items() for p in polarities if p != UNKNOWN_USE))
        compared = tuple(sorted(use for use in self.marker_uses().compared if use[2] != UNKNOWN_USE)) if imports else ()
        return ModuleSummary(
            self.path, functions, tuple(constants), tuple(sorted(imports)), marker_uses, compared, self._exported_literals()
        )

    def _instance_fields(self, constants: List[Tuple[str, Tuple[str, ...]]]) -> List[Tuple[str, Tuple[str, ...]]]:
        """``POLICY = JournalPolicy()``: the instance's fields hold the class's defaults,
        but for those the call passes (``JournalPolicy(fallback_mode="TRUNCATE")``)."""
        by_class: Dict[str, List[Tuple[str, Tuple[str, ...]]]] = {}
        for path, values in constants:
            owner, _, field_name = path.partition(".")
            if field_name and "." not in field_name:
                by_class.setdefault(owner, []).append((field_name, values))
        found = []
        for name, bindings in self.module_scope.bindings.items():
            if len(bindings) != 1 or not isinstance(bindings[0].value, cst.Call) or not name.isidentifier():
                continue
            call = self._made_instance(bindings[0].value)
            if call is None or not isinstance(call.func, cst.Name) or call.func.value not in by_class:
                continue
            if not any(s.name == call.func.value and s.parent is self.module_scope for s in self.class_scopes.values()):
                continue
            if any(arg.keyword is None for arg in call.args):
                continue  # positional or `**options`: which field each sets is not worked out
            passed = {arg.keyword.value for arg in call.args if arg.keyword is not None}
            found += [(f"{name}.{field_name}", values) for field_name, values in by_class[call.func.value] if field_name not in passed]
        return found

    def _made_instance(self, call: cst.Call) -> Optional[cst.Call]:
        """The call that makes the instance ``call`` answers: itself, or the one a
        factory of this module returns (``SETTINGS = load_settings()`` where
        ``load_settings`` returns ``DatabaseSettings(path=...)``)."""
        unit = self.resolve_unit(call, self.module_scope) if not call.args else None
        if unit is None:
            return call
        returns = self.facts(unit).returns
        made = returns[0] if len(returns) == 1 else None
        return made if isinstance(made, cst.Call) else None

    def _exported_literals(self) -> Tuple[Tuple[str, str], ...]:
        """(name, source) of each module-level collection literal of constants, and of each
        such literal a module-level dict holds under a constant key (``STORAGE['fallback']``
        of a dict whose other entries are computed)."""
        found = []
        for name, bindings in self.module_scope.bindings.items():
            value = bindings[0].value if len(bindings) == 1 and bindings[0].kind == "value" else None
            if not name.isidentifier() or not isinstance(value, (cst.Tuple, cst.List, cst.Set, cst.Dict)):
                continue
            source = self._constant_source(value) or self._record_table_source(value)
            if source is not None:
                found.append((name, source))
            elif isinstance(value, cst.Dict):
                for path, entry in literal_entries(name, value):
                    entry_source = self._constant_source(entry) if "." not in path else None
                    if entry_source is not None:
                        found.append((path, entry_source))
        return tuple(found)

    def _record_table_source(self, value: cst.BaseExpression) -> Optional[str]:
        """``[Fallback("locking protocol", "DELETE"), ...]`` of a NamedTuple or dataclass
        the module defines, as an importer can read it without the class: a list of dicts
        by field (``[{"marker": "locking protocol", "mode": "DELETE"}, ...]``), when every
        field of every row is a constant."""
        if not isinstance(value, (cst.Tuple, cst.List)) or not value.elements or has_more_elements(value, MAX_LITERAL):
            return None
        rows = []
        for element in value.elements:
            call = element.value
            if not isinstance(element, cst.Element) or not isinstance(call, cst.Call) or not isinstance(call.func, cst.Name):
                return None
            fields = self._record_class_fields(call.func, self.module_scope)
            entries = []
            for field in fields or ():
                held = self._record_field(call, self.module_scope, field)
                if held is None or not is_constant_literal(held):
                    return None
                entries.append(f"{json.dumps(field)}: {self.module.code_for_node(held)}")
            if not entries:
                return None
            rows.append("{" + ", ".join(entries) + "}")
        source = "[" + ", ".join(rows) + "]"
        return source if len(source) <= MAX_LITERAL else None

    def _constant_source(self, value: cst.BaseExpression) -> Optional[str]:
        """The source of a collection literal of constants, when it is small enough."""
        if not isinstance(value, (cst.Tuple, cst.List, cst.Set, cst.Dict)) or has_more_elements(value, MAX_LITERAL):
            return None
        if not is_constant_literal(value):
            return None
        source = self.module.code_for_node(value)
        return source if len(source) <= MAX_LITERAL else None


def _union_of(groups) -> Tuple[str, ...]:
    """The values of several bindings, in order, once each; empty if any is unknown."""
    found: List[str] = []
    for group in groups:
        if not group:
            return ()
        found.extend(v for v in group if v not in found)
    return tuple(found)
