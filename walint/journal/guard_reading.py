"""How a guard reads the journal mode: in which spelling it compares it (SQLite answers
in lower case; a probe may answer in its own), and whether an unknown mode (None) gets
past it to the downgrade. Asked by WAL005."""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Set, Tuple

import libcst as cst

from walint.flow.conditions import always_exits, refuses_none, tests_presence_of
from walint.constants import is_known
from walint.markers import says_unknown
from walint.semantic.nodes import is_none, iter_subexpressions, none_when_missing, normalised_from
from walint.sql import callee_name

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel
    from walint.semantic.scopes import Scope, Unit


def lowercases(expr: cst.BaseExpression) -> bool:
    return any(
        isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in ("lower", "casefold")
        for node in iter_subexpressions(expr, limit=200)
    )


def uppercases(model: "ModuleModel", operand: cst.BaseExpression, scope: "Scope") -> bool:
    """Is the mode upper-cased on its way here (in the operand or the value a name holds)?"""
    expressions = [operand]
    if isinstance(operand, (cst.Name, cst.Attribute)):
        bindings, _ = model.bindings_of(operand, scope)
        expressions += [b.value for b in bindings if b.kind == "value" and isinstance(b.value, cst.BaseExpression)]
    return any(
        isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "upper"
        for expression in expressions
        for node in iter_subexpressions(expression, limit=200)
    )


def spells_wal(node: cst.BaseExpression) -> bool:
    """A string literal of "wal" in any case."""
    return isinstance(node, cst.SimpleString) and str(node.evaluated_value).lower() == "wal"


def _wal_spellings(operand: cst.BaseExpression) -> List[cst.SimpleString]:
    """The "wal" literals of an operand: itself, or the items of a literal collection."""
    literals = [e.value for e in operand.elements] if isinstance(operand, (cst.Tuple, cst.List, cst.Set)) else [operand]
    return [literal for literal in literals if spells_wal(literal)]  # type: ignore[misc]


def startswith_wal(expr: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """``mode.startswith("wal")``: the text tested (``mode``), or None for anything else.
    A prefix test is a comparison with "wal" in another spelling."""
    if (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Attribute)
        and expr.func.attr.value == "startswith"
        and len(expr.args) == 1
        and isinstance(expr.args[0].value, cst.SimpleString)
        and str(expr.args[0].value.evaluated_value).lower() == "wal"
    ):
        return expr.func.value
    return None


def upper_case_literal(operands: List[cst.BaseExpression]) -> Optional[cst.SimpleString]:
    """A `"WAL"` (any case but lower) the mode is compared with, alone or as the only
    spelling of WAL in a collection (`in ("WAL", None)`)."""
    for operand in operands:
        spellings = _wal_spellings(operand)
        if spellings and all(literal.evaluated_value != "wal" for literal in spellings):
            return spellings[0]
    return None


def lower_case_wal(operands: List[cst.BaseExpression]) -> Optional[cst.SimpleString]:
    """The lower-case "wal" the mode is compared with, if any."""
    for operand in operands:
        for literal in _wal_spellings(operand):
            if literal.evaluated_value == "wal":
                return literal
    return None


def probe_may_answer_none(model: "ModuleModel", call: cst.Call, scope: "Scope") -> bool:
    """Can this probe answer None: walint's helper or a configured guard (None when
    unsure), or a project function with a path that returns None. A pragma read raises."""
    if callee_name(call) in model.guard_names:
        return True
    if model.direct_effect(call, scope) is not None or answers_wal_when_unread(model, call, scope):
        return False
    callee = model.callee(call, scope)
    return callee is not None and callee.probe_may_return_none


def answers_wal_when_unread(model: "ModuleModel", call: cst.Call, scope: "Scope") -> bool:
    """``journal_or_default(conn, default="wal")``: the caller's word for unknown is WAL."""
    return any(model.mentions_wal(arg.value, scope) for arg in call.args)


def probe_makes_up_a_mode(model: "ModuleModel", call: cst.CSTNode, scope: "Scope") -> bool:
    """Does this probe answer a made-up mode (``"unknown"``) when it cannot read one?
    Refusing None then does not make the guard whole."""
    if isinstance(call, cst.Attribute):
        prop = model.property_facts(call, scope)
        return prop is not None and prop.probe_makes_up_a_mode
    if not isinstance(call, cst.Call) or model.direct_effect(call, scope) is not None:
        return False
    if answers_wal_when_unread(model, call, scope):
        return False
    callee = model.callee(call, scope)
    return callee is not None and callee.probe_makes_up_a_mode


def may_hold_none(model: "ModuleModel", operand: cst.BaseExpression, scope: "Scope") -> bool:
    """``mode = None`` before a read that may fail, or ``mode = row[0] if row else None``."""
    if not isinstance(operand, (cst.Name, cst.Attribute)):
        return False
    bindings, _ = model.bindings_of(operand, scope)
    return any(b.kind == "value" and none_when_missing(b.value) for b in bindings)


def refuses_made_up(model: "ModuleModel", comparison: cst.Comparison, scope: "Scope") -> bool:
    """``mode in ("wal", "")`` (or ``in (State.WAL, State.UNKNOWN)``): the word a probe
    answers when it cannot read the mode is refused along with WAL, as ``None`` is in the
    fail-closed form."""
    if len(comparison.comparisons) != 1 or not isinstance(comparison.comparisons[0].operator, (cst.In, cst.NotIn)):
        return False
    collection = comparison.comparisons[0].comparator
    return isinstance(collection, (cst.Tuple, cst.List, cst.Set)) and any(
        isinstance(element.value, (cst.SimpleString, cst.Name, cst.Attribute))
        and any(says_unknown(value) for value in model.folder.values(element.value, scope))
        for element in collection.elements
    )


def may_hold_made_up(model: "ModuleModel", operand: cst.BaseExpression, scope: "Scope") -> bool:
    """``except sqlite3.Error: current = "unknown"`` around the read: the name can hold a
    word for "could not read", which no refusal of None catches."""
    if not isinstance(operand, (cst.Name, cst.Attribute)):
        return False
    bindings, _ = model.bindings_of(operand, scope)
    return any(
        b.kind == "value" and b.in_handler and isinstance(b.value, cst.SimpleString) and says_unknown(b.value.evaluated_value)
        for b in bindings
    )


def spells_as_it_answers(model: "ModuleModel", call: cst.Call, scope: "Scope", operands: List[cst.BaseExpression]) -> bool:
    """Does the guard compare with the very literals the probe returns (a probe of this
    module answering ``"WAL"``, compared with ``"WAL"``)?"""
    unit = model.resolve_unit(call, scope)
    if unit is None:
        # A probe of another module that answers `mode.upper()`, compared with "WAL".
        callee = model.callee(call, scope)
        spelt = [node for operand in operands for node in iter_subexpressions(operand, limit=50) if spells_wal(node)]
        return callee is not None and callee.probe_uppercases and bool(spelt) and all(
            str(node.evaluated_value).isupper() for node in spelt  # type: ignore[attr-defined]
        )
    returns = model.facts(unit).returns
    answers = {v for value in returns for v in model.folder.values(value, unit.scope)}
    compared = {
        str(node.evaluated_value)
        for operand in operands
        for node in iter_subexpressions(operand, limit=50)
        if isinstance(node, cst.SimpleString) and str(node.evaluated_value).lower() == "wal"
    }
    members = [node for operand in operands for node in iter_subexpressions(operand, limit=50) if isinstance(node, cst.Attribute)]
    # `State.WAL`: a member of the very enum the probe answers with.
    compared |= {v for node in members for v in model.folder.values(node, scope) if is_known(v) and v.lower() == "wal"}
    if compared and all(c.isupper() for c in compared) and any(uppercases(model, value, unit.scope) for value in returns):
        return True  # `return mode.upper()`, compared with "WAL"
    return bool(compared) and compared <= answers


def is_none_comparison(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Comparison) and any(
        isinstance(c.operator, (cst.Is, cst.Equal)) and is_none(c.comparator) for c in node.comparisons
    )


def is_none_test(test: cst.BaseExpression, names: Set[str]) -> bool:
    """``x is None``, ``x == None``, ``not x``, or either side of an ``or`` being one."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.Or):
        return is_none_test(test.left, names) or is_none_test(test.right, names)
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return isinstance(test.expression, cst.Name) and test.expression.value in names
    if isinstance(test, cst.Comparison) and isinstance(test.left, cst.Name) and test.left.value in names:
        return any(
            isinstance(c.operator, (cst.Is, cst.Equal)) and isinstance(c.comparator, cst.Name) and c.comparator.value == "None"
            for c in test.comparisons
        )
    return False


def none_refused_before(
    model: "ModuleModel", unit: "Unit", comparison: cst.Comparison, probed: List[Tuple[cst.BaseExpression, cst.CSTNode, "Scope"]]
) -> bool:
    """Does an ``if mode is None: raise`` (or ``return``, or a fail-closed ``in ("wal",
    None)`` check) take the unknown mode off the path before every downgrade this
    comparison stands in front of? It may come before the comparison or after it."""
    names = {name.value for name in (_normalised_name(operand) for operand, _, _ in probed) if name is not None}
    if not names:
        return False
    facts = model.facts(unit)
    here = model.line_of(comparison)
    refusals = [
        model.line_of(branch.node)
        for branch in facts.branches
        if always_exits(branch.node.body)
        and (is_none_test(branch.node.test, names) or refuses_none_of(branch.node.test, names))
    ]
    downgrades = [model.line_of(site.node) for site in facts.sites if model.is_rollback_site(site)]
    downgrades = [line for line in downgrades if line >= here] or [here]
    return bool(refusals) and all(any(line < downgrade for line in refusals) for downgrade in downgrades)


def _normalised_name(operand: cst.BaseExpression) -> Optional[cst.Name]:
    """``mode`` for ``mode``, ``mode.lower()`` or ``mode.strip().lower()``."""
    operand = normalised_from(operand)
    return operand if isinstance(operand, cst.Name) else None


def refuses_none_of(test: cst.BaseExpression, names: Set[str]) -> bool:
    """``mode in ("wal", None)`` on one of ``names``: None and WAL refused together."""
    return any(
        isinstance(node, cst.Comparison)
        and isinstance(node.left, cst.Name)
        and node.left.value in names
        and refuses_none(node, test)
        for node in iter_subexpressions(test, limit=200)
    )


def lets_none_past(comparison: cst.Comparison, test: cst.BaseExpression) -> bool:
    """``mode is not None and mode == "wal"`` (or ``row and row[0] == "wal"``): None never
    reaches the comparison, so rewriting the comparison alone would still let it through."""
    for node in iter_subexpressions(test, limit=400):
        if isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.And):
            for side, other in ((node.left, node.right), (node.right, node.left)):
                if tests_presence_of(side, comparison) and any(inner is comparison for inner in iter_subexpressions(other, limit=100)):
                    return True
    return False
