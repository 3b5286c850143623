"""How the tests of a module use marker strings: which collections (and single messages)
a membership test on the way to a downgrade makes markers (+1), which keep the
downgrade from happening (-1), and which are tested to no effect seen here (0)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Set, Tuple

import libcst as cst

from walint.markers import TRANSIENT
from walint.summary import IMPORTERS_USES
from walint.semantic.scopes import Binding, Scope, Unit, default_of
from walint.journal.calls import call_arguments
from walint.journal.loops import loop_view
from walint.semantic.nodes import NORMALISING_METHODS, constant_key, copied_collection, dotted_name, iter_subexpressions, projected_column, unwrap_comprehension, is_none, unwrap_collection
from walint.flow.conditions import always_exits
from walint.flow.path_state import UNKNOWN, PathState, constant
from walint.journal.marker_comprehensions import ComprehensionNotes
from walint.journal.marker_lookups import MarkerLookups
from walint.journal.marker_shapes import (
    answer_is,
    answered_table,
    classifier_answers,
    comparison_with,
    entry_lookup,
    first_of_items,
    flag_gates,
    imported_entry,
    parsed_entry,
    returned_value,
    returns_a_value,
    row_needles,
    sets_a_downgrading_flag,
)

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel
    from walint.flow.unit_facts import Branch

_EQUALITY = (cst.Equal, cst.NotEqual, cst.Is, cst.IsNot)
_MATCH_METHODS = frozenset({"startswith", "endswith", "find", "index", "count", "__contains__", "search", "match", "fullmatch"})
_PASS_THROUGH = frozenset({"any", "all", "bool", "next"})
# Deep enough for a predicate method over an alias of a class attribute; `_seen` stops cycles.
_MAX_DEPTH = 24

# A membership test whose outcome leads to no rollback mode seen here.
UNKNOWN_USE = 0


class MarkerUses(MarkerLookups, ComprehensionNotes):
    """Walks every test of a module once; ``polarity`` maps a collection literal (by id)
    to the uses seen, ``singles`` holds transient messages tested on their own on the
    way to a downgrade, and ``table_needles`` those of them that are a row of a verdict
    table rather than a test of their own."""

    def __init__(self, model: "ModuleModel", kind: Callable[[cst.CSTNode], Optional[str]], walk: bool = True) -> None:
        """Walk every test of ``model``; without ``walk``, nothing yet (a scratch walk,
        for one question)."""
        self.model = model
        self.kind = kind
        self._additions = model.marker_additions
        self.polarity: Dict[int, Set[int]] = {}
        self.singles: Dict[int, cst.CSTNode] = {}
        self.table_needles: Set[int] = set()
        # Dict literals a predicate answers from (`if key in REASONS: return REASONS[key]`
        # ... `return None`) where its caller asks only whether it answered: each key
        # leads where the others do, whatever its value says.
        self.answered_by_presence: Set[int] = set()
        # Predicates an importer compares with a constant (`next_step(exc) != "fallback"`):
        # what they answer matters there, not only that they answer.
        used = model.external(IMPORTERS_USES)
        self._compared_by_importers: Set[str] = {
            use[0] for use in used if isinstance(use, tuple) and len(use) > 2 and use[2]
        } if isinstance(used, tuple) else set()
        self._seen: Set[Tuple[int, int]] = set()
        # Predicate functions already followed with a polarity: each is walked once, or
        # predicates calling predicates would be walked once per path through them.
        self._followed: Set[Tuple[int, int]] = set()
        # The predicate being followed, and the parameters each follow found tested
        # (`any(m in text for m in vocabulary)`): a caller's argument is what is tested.
        self._following: List[Tuple["Unit", int]] = []
        self._params_tested: Dict[Tuple[int, int], Set[Tuple[str, int]]] = {}
        # Names a comprehension binds, by the id of each use inside it: the semantic model
        # binds them in the enclosing function, where two comprehensions' `t` would meet.
        self._comprehension_bindings: Dict[int, Binding] = {}
        # Items of a marker literal that a comprehension's filter drops before any test.
        self.filtered_out: Set[int] = set()
        # Names imported from other project modules that tests here use, by the dotted
        # name they are imported under, with the polarities: the defining module's
        # collections (or predicates) are judged by these uses too (ModuleSummary).
        self.imported: Dict[str, Set[int]] = {}
        # Imported classifiers compared with a constant: (name as imported, the encoded
        # constant, polarity).
        self.compared: Set[Tuple[str, str, int]] = set()
        if not walk:
            return
        downgrading = {id(branch): self._downgrading_sides(branch) for branch in model.all_branches()}
        gates = flag_gates(model, downgrading)
        for branch in model.all_branches():
            downgrades_when_true, downgrades_when_false = downgrading[id(branch)]
            # `if "locking protocol" in msg: need_fallback = True`, and the flag decides later.
            if not downgrades_when_true:
                downgrades_when_true = sets_a_downgrading_flag(branch.node.body, gates, downgrading)
            if not downgrades_when_false and isinstance(branch.node.orelse, cst.Else):
                downgrades_when_false = sets_a_downgrading_flag(branch.node.orelse.body, gates, downgrading)
            if downgrades_when_true:
                self._membership(branch.node.test, +1, branch.scope, 0)
            if downgrades_when_false:
                self._membership(branch.node.test, -1, branch.scope, 0)
            if not (downgrades_when_true or downgrades_when_false):
                self._membership(branch.node.test, UNKNOWN_USE, branch.scope, 0)
        for unit in model.hot_units:  # `return any(m in text for m in MARKERS)`: a tested use
            for value in model.facts(unit).returns:
                self._membership(value, UNKNOWN_USE, unit.scope, 0)
        self._match_cases(model)
        self._uses_by_importers(model)

    def _uses_by_importers(self, model: "ModuleModel") -> None:
        """What the modules importing this one do with its names (the project pass hands
        them over): ``if any(m in text for m in errors.NO_WAL): <downgrade>`` there makes
        ``NO_WAL`` markers here; ``if is_incompatible(exc): <downgrade>`` there follows
        the predicate here."""
        used = model.external(IMPORTERS_USES)
        # The nodes made here stay alive until the walk ends: `_seen` is keyed by id, and a
        # freed node's id, reused by the next one made, would pass for a use already walked.
        made: List[cst.CSTNode] = []
        for use in used if isinstance(used, tuple) else ():
            qualname, polarity, compared = (use + ("",))[:3] if isinstance(use, tuple) else ("", None, "")
            if not isinstance(qualname, str) or polarity not in (-1, 0, 1):
                continue
            if compared:
                comparison = comparison_with(qualname, compared)
                if comparison is not None:
                    made.append(comparison)
                    self._compared_with_a_constant(comparison, polarity, model.module_scope, 0)
                continue
            unit = next((u for u in model.units if u.qualname == qualname and u is not model.module_unit), None)
            if unit is not None:
                self._follow(unit, polarity, 0)
                continue
            entry = parsed_entry(qualname)
            if entry is not None:  # `WAL_REFUSALS["bench"]` there: that entry here
                made.append(entry)
                self._operand(entry, polarity, model.module_scope, 0)
                continue
            parts = qualname.split(".")
            if len(parts) <= 2 and all(part.isidentifier() for part in parts):
                node: cst.BaseExpression = cst.Name(parts[0])
                if len(parts) == 2:
                    node = cst.Attribute(node, cst.Name(parts[1]))
                made.append(node)
                self._operand(node, polarity, model.module_scope, 0)

    def added_to(self, name: str) -> List[cst.BaseExpression]:
        """What ``name.append(x)`` (``.add``, ``.extend``) calls add to a collection of the
        module, or of the instance (``self.name``)."""
        return [added for key in (name, "self." + name) for added, _ in self._additions.get(key, ())]

    def _membership(self, expr: cst.BaseExpression, polarity: int, scope: Scope, depth: int) -> None:
        """Walk a test, following which operands make it true (+1) or false (-1)."""
        if depth > _MAX_DEPTH:
            return
        depth += 1
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
            self._membership(expr.expression, -polarity, scope, depth)
        elif isinstance(expr, cst.BooleanOperation):
            self._membership(expr.left, polarity, scope, depth)
            self._membership(expr.right, polarity, scope, depth)
        elif isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1 and is_none(expr.comparisons[0].comparator):
            # `reason is None` where `reason = _reason(exc)` answers None when no marker matched.
            negative = isinstance(expr.comparisons[0].operator, (cst.Is, cst.Equal))
            self._operand(expr.left, -polarity if negative else polarity, scope, depth)
        elif isinstance(expr, cst.Comparison) and self._compared_with_a_constant(expr, polarity, scope, depth):
            pass
        elif isinstance(expr, cst.Comparison):
            left = expr.left
            for target in expr.comparisons:
                sign = -polarity if isinstance(target.operator, (cst.NotIn, cst.NotEqual, cst.IsNot)) else polarity
                self._operand(left, sign, scope, depth)
                self._operand(target.comparator, sign, scope, depth)
                left = target.comparator
        elif isinstance(expr, (cst.GeneratorExp, cst.ListComp, cst.SetComp)):
            self._note_comprehension_names(expr, scope)
            self._note_keys_only(expr, scope)
            self._membership(expr.elt, polarity, scope, depth)
            for_in = expr.for_in
            while for_in is not None:
                for condition in for_in.ifs:
                    self._membership(condition.test, polarity, scope, depth)
                for_in = for_in.inner_for_in
        elif isinstance(expr, cst.Call):
            name = expr.func.value if isinstance(expr.func, cst.Name) else (
                expr.func.attr.value if isinstance(expr.func, cst.Attribute) else ""
            )
            if name in _PASS_THROUGH:
                for arg in expr.args:
                    self._membership(arg.value, polarity, scope, depth)
            elif name in _MATCH_METHODS:
                for arg in expr.args:
                    self._operand(arg.value, polarity, scope, depth)
                if isinstance(expr.func, cst.Attribute):  # `_NO_WAL.search(msg)`: the pattern
                    self._operand(expr.func.value, polarity, scope, depth)
            elif name == "get" and isinstance(expr.func, cst.Attribute) and expr.args:
                # `HANDLERS.get(exc.sqlite_errorname)`: whether the error is a key decides.
                self._operand(expr.func.value, polarity, scope, depth)
            elif name == "compile" and expr.args:  # `re.compile(r"locking protocol|database is locked")`
                self._operand(expr.args[0].value, polarity, scope, depth)
            else:
                self._predicate(expr, polarity, scope, depth)
        elif isinstance(expr, (cst.Name, cst.Attribute)):
            self._operand(expr, polarity, scope, depth)

    def _downgrading_sides(self, branch: "Branch") -> Tuple[bool, bool]:
        """Does a rollback mode run when the branch's test is true, and when it is false?"""
        sites = self.model.facts(branch.unit).sites
        start, end = branch.when_true
        when_true = any(self.model.is_rollback_site(s) for s in sites[start:end])
        when_false = any(self.model.is_rollback_site(s) for rng in branch.when_false for s in sites[rng[0] : rng[1]])
        if not when_true and not when_false and branch.when_false and always_exits(branch.node.body):
            # `if not blocks_wal(exc): raise` in a handler whose failure goes on to a rollback
            # mode after the `try` (`journal = "delete"`, used below): the test lets it through.
            when_false = self._handler_falls_to_a_downgrade(branch)
        return when_true, when_false

    def _handler_falls_to_a_downgrade(self, branch: "Branch") -> bool:
        facts = self.model.facts(branch.unit)
        for try_facts in facts.tries:
            for handler, _ in try_facts.handlers:
                if any(node is branch.node for node in iter_subexpressions(handler, limit=3000)):
                    # In a loop of attempts the test decides whether to try again; what runs
                    # once the attempts run out is not its doing.
                    return not try_facts.in_retry_loop and self.model.failure_leads_to_a_downgrade(try_facts.node, facts.sites)
        return False

    def _compared_with_a_constant(self, expr: cst.Comparison, polarity: int, scope: Scope, depth: int) -> bool:
        """``classify(exc) is Status.UNSUPPORTED`` (or ``status == "unsupported"``, with
        ``status = classify(exc)``): the test is true where the function answers that
        constant, so its branches decide by what they return, not by being truthy.
        False when the answers are not known constants: the test is walked as any other."""
        if len(expr.comparisons) != 1 or not isinstance(expr.comparisons[0].operator, _EQUALITY):
            return False
        target = expr.comparisons[0]
        sign = -polarity if isinstance(target.operator, (cst.NotEqual, cst.IsNot)) else polarity
        for subject, other in ((expr.left, target.comparator), (target.comparator, expr.left)):
            wanted = constant(other, PathState(False))
            if wanted is UNKNOWN:
                continue
            answers = classifier_answers(self.model, subject, scope, needles=self.table_needles)
            if not answers:
                self._note_imported_comparison(subject, wanted, sign, scope)
                continue
            self._operand(other, sign, scope, depth)  # `msg == "database is locked"`: the message itself
            for test, answer, unit_scope in answers:
                matches = answer_is(answer, wanted)
                if matches is not None:
                    self._membership(test, sign if matches else -sign, unit_scope, depth + 1)
            return True
        return False

    def _operand(self, node: cst.BaseExpression, polarity: int, scope: Scope, depth: int) -> None:
        key = (id(node), polarity)
        if key in self._seen or depth > _MAX_DEPTH or id(node) in self.model.foreign_nodes:
            return  # a literal parsed from an imported module's summary: that module judges it
        self._seen.add(key)
        literal = unwrap_collection(node)
        if literal is not None:
            self.polarity.setdefault(id(literal), set()).add(polarity)
            for needle in row_needles(literal):
                # A table of (needle, mode) rows that an importer loops over: each row's needle.
                self.table_needles.add(id(needle))
                self._operand(needle, polarity, scope, depth + 1)
            for element in getattr(literal, "elements", ()):
                if isinstance(element, cst.StarredElement):  # `frozenset([*_PERMANENT, *_IO_ERRORS])`
                    self._operand(element.value, polarity, scope, depth + 1)
            return
        column = projected_column(node)
        if column is not None:  # `{code for code, _ in BLOCKERS}`: that item of each row
            self._operand_column(column[0], column[1], polarity, scope, depth)
            return
        comprehension = unwrap_comprehension(node)
        if comprehension is not None:
            # `{m.lower() for m in RAW_MARKERS}`: the items are RAW_MARKERS' own, less
            # those its filter drops (`if "locked" not in m`).
            self._note_filtered_items(comprehension, scope)
            self._operand(comprehension.for_in.iter, polarity, scope, depth + 1)
            return
        if isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.Or):
            # `markers or ["locking protocol", ...]`: the caller's, or else these.
            self._operand(node.left, polarity, scope, depth + 1)
            self._operand(node.right, polarity, scope, depth + 1)
            return
        kind = self.kind(node)
        if kind == TRANSIENT and polarity > 0:
            self.singles.setdefault(id(node), node)
            return
        if isinstance(node, (cst.Name, cst.Attribute)):
            # `MARKERS.append("disk i/o error")` elsewhere adds to what the test sees.
            for added, added_scope in self._additions.get(dotted_name(node), ()):
                self._operand(added, polarity, added_scope, depth + 1)
            local = self._comprehension_bindings.get(id(node))
            bindings, parameter = ([local], None) if local is not None else self.model.bindings_of(node, scope)
            if parameter is not None and not bindings:
                if self._following and scope is self._following[-1][0].scope:
                    unit, followed_with = self._following[-1]
                    self._params_tested.setdefault((id(unit), followed_with), set()).add((parameter, polarity))
                owner = self.model._scope_of_param(parameter, scope)
                default = default_of(parameter, owner) if owner is not None else None
                if default is not None:  # `fallback_on=("locking protocol", ...)`: what a call may leave it
                    self._operand(default, polarity, owner.parent or self.model.module_scope, depth + 1)  # type: ignore[union-attr]
            fields = self.model.row_fields(node, scope) if not bindings and isinstance(node, cst.Attribute) else None
            if fields and any(id(needle) in self.model.foreign_nodes for needle, _ in fields):
                # A record table another module defines: the use is handed to it.
                loop, _ = self.model.lookup(node.value.value, scope)  # type: ignore[attr-defined]
                self._operand(loop_view(loop[0].value)[0], polarity, loop[0].scope, depth + 1)  # type: ignore[arg-type]
                return
            for needle, needle_scope in fields or ():
                # `for rule in RULES: if rule.pattern.search(text)`: each record's pattern.
                self.table_needles.add(id(needle))
                self._operand(needle, polarity, needle_scope, depth + 1)
            if fields:
                return
            if not bindings and isinstance(node, cst.Attribute) and node.attr.value == "value":
                self._operand(node.value, polarity, scope, depth + 1)  # `b.value` of an enum member `b`
                return
            for binding in bindings:
                if binding.kind == "def" and isinstance(binding.value, cst.ClassDef):
                    self.polarity.setdefault(id(binding.value), set()).add(polarity)  # `for b in WalBlocker`
            self._note_import(node, bindings, polarity, scope)
            for binding in bindings:
                if binding.value is None or binding.scope is None:
                    continue
                if binding.kind == "iter" and first_of_items(binding.target, node, binding.value):
                    # `for needle, reason in REASONS.items(): if needle in text`: the keys.
                    self._operand(binding.value.func.value, polarity, binding.scope, depth + 1)  # type: ignore[union-attr]
                    continue
                if binding.kind == "iter" and isinstance(binding.target, (cst.Tuple, cst.List)) and isinstance(node, cst.Name):
                    # `for needle, mode in FALLBACKS: if needle in text: <mode>`: each row's needle.
                    for row in self.model.loop_rows(binding.target, binding.value, binding.scope) or ():  # type: ignore[arg-type]
                        needle, needle_scope = row.get(node.value, (None, None))
                        if needle is None or needle_scope is None:
                            continue
                        if id(needle) in self.model.foreign_nodes:
                            # A table another module defines: the use is handed to it.
                            self._operand(loop_view(binding.value)[0], polarity, binding.scope, depth + 1)  # type: ignore[arg-type]
                            break
                        self.table_needles.add(id(needle))
                        self._operand(needle, polarity, needle_scope, depth + 1)
                    continue
                # A name unpacked from each item (`for code, text in ERRORS`) is not the collection.
                if binding.kind == "value" or (binding.kind == "iter" and isinstance(binding.target, cst.Name)):
                    value = binding.value
                    assert isinstance(value, cst.BaseExpression)
                    if (isinstance(value, cst.BinaryOperation) and isinstance(value.operator, (cst.Add, cst.BitOr))) or (
                        isinstance(value, cst.BooleanOperation) and isinstance(value.operator, cst.Or)
                    ):
                        # `PERMANENT + FLAKY`, `BASE | EXTRA`, `given or DEFAULTS`: both
                        # parts are (or may be) the markers.
                        self._operand(value.left, polarity, binding.scope, depth + 1)
                        self._operand(value.right, polarity, binding.scope, depth + 1)
                        continue
                    if isinstance(value, cst.IfExp):
                        self._operand(value.body, polarity, binding.scope, depth + 1)
                        self._operand(value.orelse, polarity, binding.scope, depth + 1)
                        continue
                    copied = copied_collection(value)
                    if copied is not None:  # `NO_WAL = frozenset(NoWalCode)`: the enum's members
                        self._operand(copied, polarity, binding.scope, depth + 1)
                        continue
                    computed = (cst.Call, cst.Comparison, cst.UnaryOperation, cst.BooleanOperation)
                    if (
                        binding.kind == "value"
                        and isinstance(value, computed)
                        and unwrap_collection(value) is None
                        and unwrap_comprehension(value) is None
                    ):
                        self._membership(value, polarity, binding.scope, depth + 1)
                    else:
                        self._operand(value, polarity, binding.scope, depth + 1)
        elif entry_lookup(node) is not None:
            self._entry(node, polarity, scope, depth)
        elif constant_key(node) is not None:
            # `CONFIG['db']['wal']['give_up_on']`: an entry of nested dicts, here or imported.
            found = self.model.collection_literal(node, scope)
            if found is not None:
                self._operand(found[0], polarity, found[1], depth + 1)
            if found is not None and id(found[0]) in self.model.foreign_nodes:
                origin = imported_entry(self.model, node, scope)
                if origin:
                    self.imported.setdefault(origin, set()).add(polarity)
        elif isinstance(node, cst.Call):
            if isinstance(node.func, cst.Attribute) and node.func.attr.value in NORMALISING_METHODS:
                self._operand(node.func.value, polarity, scope, depth + 1)  # `m.lower() in msg`
            elif isinstance(node.func, cst.Attribute) and node.func.attr.value == "join" and len(node.args) == 1:
                self._operand(node.args[0].value, polarity, scope, depth + 1)  # `"|".join(MARKERS)` as a pattern
            else:
                self._membership(node, polarity, scope, depth + 1)

    def _note_import(self, node: cst.BaseExpression, bindings: List[Binding], polarity: int, scope: Scope) -> None:
        """Remember a use of a name another project module defines (``NO_WAL`` imported,
        ``errors.NO_WAL``, ``is_incompatible(exc)``)."""
        if bindings and not any(b.kind == "import" for b in bindings):
            return
        origin = self.model.qualified_name(node, scope)
        if not origin and isinstance(node, cst.Attribute):
            # `policy.should_downgrade(exc)`, `policy: JournalPolicy` a class imported.
            owner = self.model.imported_class_of(node.value, scope)
            origin = f"{owner}.{node.attr.value}" if owner else ""
        if origin:
            self.imported.setdefault(origin, set()).add(polarity)

    def _predicate(self, call: cst.Call, polarity: int, scope: Scope, depth: int) -> None:
        """Follow a call of a function of this module that answers "is this a marker?"."""
        unit = self.model.resolve_unit(call, scope)
        if unit is None:
            if isinstance(call.func, (cst.Name, cst.Attribute)):
                self._note_import(call.func, self.model.bindings_of(call.func, scope)[0], polarity, scope)
            callee = self.model.callee(call, scope)
            if callee is not None and callee.tests_items_of:  # `matches(exc, NO_WAL)`, `matches` imported
                arguments = call_arguments(call, callee)
                for param, relative in callee.tests_items_of:
                    if param in arguments:
                        self._operand(arguments[param], polarity * relative, scope, depth + 1)
            return
        self._follow(unit, polarity, depth)
        tested = self._params_tested.get((id(unit), polarity), ())
        if tested:
            arguments = call_arguments(call, self.model.function_facts(unit))
            for param, param_polarity in tested:
                if param in arguments:
                    self._operand(arguments[param], param_polarity, scope, depth + 1)

    def _follow(self, unit: "Unit", polarity: int, depth: int) -> None:
        if (id(unit), polarity) in self._followed:
            return
        self._followed.add((id(unit), polarity))
        self._following.append((unit, polarity))
        try:
            self._follow_answers(unit, polarity, depth)
        finally:
            self._following.pop()

    def tests_items_of(self, unit: "Unit") -> Tuple[Tuple[str, int], ...]:
        """The parameters a predicate tests membership in, each with the polarity of the
        test relative to its answer (+1: a match answers True), for importers' calls.
        Asked of a scratch walk: following the predicate is no use of what it tests."""
        self._follow(unit, 1, 0)
        return tuple(sorted(self._params_tested.get((id(unit), 1), ())))

    def _follow_answers(self, unit: "Unit", polarity: int, depth: int) -> None:
        facts = self.model.facts(unit)
        for value in facts.returns:
            if not (isinstance(value, cst.Name) and value.value in ("True", "False", "None")):
                self._membership(value, polarity, unit.scope, depth + 1)
            if isinstance(value, cst.Call) and dotted_name(value.func) == "next" and len(value.args) == 2 and is_none(value.args[1].value):
                # `next((tag for needle, tag in REASONS.items() if needle in msg), None)`
                table = answered_table(self.model, value, unit.scope)
                if table is not None and unit.qualname not in self._compared_by_importers:
                    self.answered_by_presence.add(id(table))
        answers_none = facts.returns_none
        for branch in facts.branches:
            if branch.returns is not None:
                self._membership(branch.node.test, polarity if branch.returns else -polarity, unit.scope, depth + 1)
            elif answers_none and returns_a_value(branch.node.body):
                # `if needle in text: return reason` ... `return None`: a match answers something.
                self._membership(branch.node.test, polarity, unit.scope, depth + 1)
                table = answered_table(self.model, returned_value(branch.node.body), unit.scope)
                if table is not None and unit.qualname not in self._compared_by_importers:
                    self.answered_by_presence.add(id(table))
