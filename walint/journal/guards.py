"""How code checks the journal mode before a downgrade: the probes that read it, the
comparisons with "wal" (or a rollback mode) that make a guard, and the flags a handler
sets. A mixin of :class:`walint.journal.model.ModuleModel`."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Set, Tuple

import libcst as cst

from walint.flow.conditions import refuses_none
from walint.semantic.model import Scope, dotted_name, is_none, iter_subexpressions
from walint.sql import ROLLBACK_MODES, ModeEffect

_FLAG_CONSTANTS = frozenset({"False", "None", "True"})


class GuardQueries:
    """Probes, guards and failure flags, asked of a :class:`ModuleModel`."""

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
                if any(b.in_handler and is_flag_value(b.value) for b in bindings):
                    flags.add(dotted_name(node))
        return flags

    def handler_flag_values(self, expr: cst.BaseExpression, scope: Scope) -> Dict[str, object]:
        """The flags in ``expr`` (:meth:`handler_flags`) with the constant a handler gives them."""
        from walint.flow.error_paths import UNKNOWN, PathState, constant

        values: Dict[str, object] = {}
        for node in iter_subexpressions(expr, limit=400):
            if isinstance(node, (cst.Name, cst.Attribute)):
                bindings, _ = self.bindings_of(node, scope)
                for binding in bindings:
                    if binding.in_handler and is_flag_value(binding.value):
                        value = constant(binding.value, PathState(True))  # type: ignore[arg-type]
                        if value is not UNKNOWN:
                            values.setdefault(dotted_name(node), value)
        return values

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


def is_flag_value(value: Optional[cst.CSTNode]) -> bool:
    if isinstance(value, cst.Name):
        return value.value in _FLAG_CONSTANTS
    return isinstance(value, (cst.Integer, cst.SimpleString))
