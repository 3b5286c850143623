"""The shapes marker tests take, as :mod:`walint.journal.marker_uses` reads them: flags
a test sets for a later downgrade, loops over a table's keys, the values a branch
returns, what calls add to a collection, the values of ``match`` patterns, a
comparison rebuilt from an importer's use, the needles of a table's rows, a parameter's
default, and what kind of marker a tested operand is."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Set, Tuple

import libcst as cst

from walint.flow.path_state import UNKNOWN, PathState, constant, decode_constant, truth
from walint.markers import classify_code_name, classify_text
from walint.semantic.nodes import code_constant_name, constant_key, dotted_name, entry_path, iter_subexpressions, small_statements
from walint.semantic.scopes import Scope

if TYPE_CHECKING:
    from walint.flow.unit_facts import Branch
    from walint.journal.model import ModuleModel


def flag_gates(model: "ModuleModel", downgrading: Dict[int, Tuple[bool, bool]]) -> Dict[str, List["Branch"]]:
    """Per failure flag, the branches testing it that downgrade on one side."""
    gates: Dict[str, List["Branch"]] = {}
    for branch in model.all_branches():
        if any(downgrading[id(branch)]):
            for flag in model.handler_flags(branch.node.test, branch.scope):
                gates.setdefault(flag, []).append(branch)
    return gates


def sets_a_downgrading_flag(
    block: cst.BaseSuite, gates: Dict[str, List["Branch"]], downgrading: Dict[int, Tuple[bool, bool]]
) -> bool:
    """Does the block set a failure flag to a value that takes a later test of it to the
    side that downgrades?"""
    for statement in small_statements(block):
        for small in getattr(statement, "body", ()) if isinstance(statement, cst.SimpleStatementLine) else ():
            if not isinstance(small, cst.Assign):
                continue
            value = constant(small.value, PathState(False))
            for target in small.targets:
                name = dotted_name(target.target)
                for gate in gates.get(name, ()) if value is not UNKNOWN else ():
                    answer = truth(gate.node.test, PathState(True, ((name, value),)))
                    when_true, when_false = downgrading[id(gate)]
                    if (answer is True and when_true) or (answer is False and when_false):
                        return True
    return False


def first_of_items(target: object, name: cst.BaseExpression, iterable: object) -> bool:
    """Is ``name`` the key of ``for key, value in mapping.items()``?"""
    return (
        isinstance(target, (cst.Tuple, cst.List))
        and bool(target.elements)
        and isinstance(target.elements[0].value, cst.Name)
        and isinstance(name, cst.Name)
        and target.elements[0].value.value == name.value
        and isinstance(iterable, cst.Call)
        and isinstance(iterable.func, cst.Attribute)
        and iterable.func.attr.value == "items"
        and not iterable.args
    )


def returned_value(block: cst.BaseSuite) -> Optional[cst.BaseExpression]:
    """What the first ``return`` directly in the block returns (None for a bare one)."""
    for statement in small_statements(block):
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Return):
                    return small.value
    return None


def returns_a_value(block: cst.BaseSuite) -> bool:
    """Does the block return something other than None or False?"""
    value = returned_value(block)
    return value is not None and not (isinstance(value, cst.Name) and value.value in ("None", "False"))


_ADDING_METHODS = frozenset({"append", "add", "extend", "update", "insert"})


def additions(model: "ModuleModel") -> Dict[str, List[Tuple[cst.BaseExpression, Scope]]]:
    """Per collection name, what ``NAME.append(x)`` / ``.add`` / ``.extend`` calls, and
    ``NAME |= {...}`` / ``NAME += [...]``, add to it."""
    found: Dict[str, List[Tuple[cst.BaseExpression, Scope]]] = {name: list(added) for name, added in model.augmented.items()}
    for site in model.all_sites():
        call = site.node
        if isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value in _ADDING_METHODS:
            receiver = dotted_name(call.func.value)
            if receiver:
                found.setdefault(receiver, []).extend((arg.value, site.scope) for arg in call.args)
    return found


def pattern_values(pattern: cst.MatchPattern) -> List[cst.BaseExpression]:
    if isinstance(pattern, cst.MatchOr):
        return [value for element in pattern.patterns for value in pattern_values(element.pattern)]
    if isinstance(pattern, cst.MatchValue):
        return [pattern.value]
    return []


def comparison_with(function: str, encoded: str) -> Optional[cst.Comparison]:
    """``classify(...) == <constant>`` rebuilt from an importer's use: the constant a
    classifier of this module is compared with there."""
    value = decode_constant(encoded)
    if not function.isidentifier():
        return None
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        parts = value[1:-1].split(".")  # an enum member, `<Verdict.NO_WAL>`
        if len(parts) != 2 or not all(part.isidentifier() for part in parts):
            return None
        other: cst.BaseExpression = cst.Attribute(cst.Name(parts[0]), cst.Name(parts[1]))
    elif isinstance(value, str):
        other = cst.SimpleString(json.dumps(value))
    elif value is None:  # `downgrade_reason(exc) is None`
        return cst.Comparison(cst.Call(cst.Name(function)), [cst.ComparisonTarget(cst.Is(), cst.Name("None"))])
    else:
        return None
    return cst.Comparison(cst.Call(cst.Name(function)), [cst.ComparisonTarget(cst.Equal(), other)])


def answer_is(answer: object, wanted: object) -> Optional[bool]:
    """Is a classifier's answer the constant it is compared with? An answer that is one
    of several values (a frozenset: ``return REASONS[key]``) is when all of them are, is
    not when none is, and cannot tell otherwise."""
    if isinstance(answer, frozenset):
        if wanted not in answer:
            return False
        return True if len(answer) == 1 else None
    return answer == wanted


def entry_lookup(node: cst.BaseExpression) -> Optional[Tuple[cst.BaseExpression, str]]:
    """``(table, key)`` of ``TABLE["bench"]`` or ``TABLE.get("bench", ...)``: one entry of a
    dict, picked by a constant key."""
    if isinstance(node, cst.Subscript) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        table, key = node.value, node.slice[0].slice.value
    elif (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "get"
        and node.args
        and node.args[0].keyword is None
        and not node.args[0].star
    ):
        table, key = node.func.value, node.args[0].value
    else:
        return None
    if not isinstance(table, (cst.Name, cst.Attribute)) or not isinstance(key, cst.SimpleString):
        return None
    text = key.evaluated_value
    return (table, text) if isinstance(text, str) else None


def imported_entry(model: "ModuleModel", table: cst.BaseExpression, scope: Scope, depth: int = 0) -> str:
    """The imported name an entry of nested dicts stands for, through a name bound once
    (``WAL_CFG`` of ``WAL_CFG = CONFIG["db"]["wal"]`` -> ``.settings.CONFIG['db']['wal']``)."""
    if depth > 6:
        return ""
    if isinstance(table, cst.Subscript):
        key = constant_key(table)
        owner = imported_entry(model, table.value, scope, depth + 1) if key is not None else ""
        return entry_path(owner, key) if owner else ""  # type: ignore[arg-type]
    if not isinstance(table, (cst.Name, cst.Attribute)):
        return ""
    bindings, parameter = model.bindings_of(table, scope)
    if parameter is None and bindings and all(b.kind == "import" for b in bindings):
        return model.qualified_name(table, scope)
    if parameter is None and len(bindings) == 1 and bindings[0].kind == "value" and bindings[0].scope is not None:
        return imported_entry(model, bindings[0].value, bindings[0].scope, depth + 1)  # type: ignore[arg-type]
    return ""


def parsed_entry(qualname: str) -> Optional[cst.Subscript]:
    """``NAME['key']`` (an importer's use of one entry of a dict here, or of dicts nested
    in it) as a node; anything else, a name or text no importer would write, is None."""
    owner, bracket, rest = qualname.partition("[")
    if not bracket or not owner.isidentifier() or len(qualname) > 200:
        return None
    try:
        node = cst.parse_expression(qualname)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return None
    inner = node  # `CONFIG['db']['wal']['give_up_on']`: entries of nested dicts, each key a constant
    while isinstance(inner, cst.Subscript) and constant_key(inner) is not None:
        inner = inner.value
    return node if isinstance(node, cst.Subscript) and isinstance(inner, cst.Name) else None


def marker_kind(node: cst.CSTNode, extra_transient: Sequence[str] = (), extra_permanent: Sequence[str] = ()) -> Optional[str]:
    """``TRANSIENT``, ``PERMANENT`` or None for a tested operand: a message string, a
    result-code name (``SQLITE_BUSY``, ``errors.SQLITE_BUSY``) or a code looked up by
    number (``sqlite3.SQLITE_BUSY``'s value); the extra texts come from the config."""
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        value = node.evaluated_value
        return classify_text(value, extra_transient, extra_permanent) if isinstance(value, str) else None
    if isinstance(node, cst.Attribute):
        return classify_code_name(node.attr.value)
    if isinstance(node, cst.Name):
        return classify_code_name(node.value)
    looked_up = code_constant_name(node)
    return classify_code_name(looked_up) if looked_up is not None else None


def row_needles(literal: cst.BaseExpression) -> List[cst.BaseExpression]:
    """The first item of each row of a table literal (``(("locking protocol", "delete"),
    ...)``): what a loop ``for needle, mode in TABLE`` tests; nothing for other literals."""
    if not isinstance(literal, (cst.Tuple, cst.List)) or not literal.elements:
        return []
    needles = []
    for element in literal.elements:
        row = element.value
        if isinstance(row, cst.Call) and isinstance(row.func, cst.Name) and len(row.args) >= 2 and not row.args[0].keyword:
            first = row.args[0].value  # a record, `Fallback("locking protocol", "DELETE")`
        elif isinstance(row, (cst.Tuple, cst.List)) and len(row.elements) >= 2:
            first = row.elements[0].value
        else:
            return []
        if not isinstance(first, (cst.SimpleString, cst.ConcatenatedString)):
            return []
        needles.append(first)
    return needles


def classifier_answers(
    model: "ModuleModel", subject: cst.BaseExpression, scope: Scope, depth: int = 0, needles: Optional[Set[int]] = None
) -> List[Tuple[cst.BaseExpression, object, Scope]]:
    """For a call of a function of this module (or a name bound once to one), each
    test of that function with the constant the branch it guards returns."""
    if isinstance(subject, cst.NamedExpr):  # `(verdict := classify(exc)) == ...`
        subject = subject.value
    if isinstance(subject, (cst.Name, cst.Attribute)) and depth < 4:
        bindings, _ = model.bindings_of(subject, scope)
        if len(bindings) == 1 and bindings[0].kind == "value" and bindings[0].scope is not None:
            return classifier_answers(model, bindings[0].value, bindings[0].scope, depth + 1, needles)  # type: ignore[arg-type]
        return []
    if isinstance(subject, cst.Await):
        subject = subject.expression
    if not isinstance(subject, cst.Call):
        return []
    unit = model.resolve_unit(subject, scope)
    if unit is None:
        return []
    answers = []
    for branch in model.facts(unit).branches:
        value = returned_value(branch.node.body)
        answer = constant(value, PathState(False)) if value is not None else UNKNOWN
        if answer is not UNKNOWN:
            answers.append((branch.node.test, answer, unit.scope))
        elif isinstance(value, cst.Name):
            answers.extend(_row_answers(model, branch.node.test, value, unit.scope, needles))
        elif isinstance(value, cst.Subscript):
            values = _table_values(model, value, unit.scope)
            if values is not None:
                answers.append((branch.node.test, values, unit.scope))
    return answers


def _table_values(model: "ModuleModel", lookup: cst.Subscript, scope: Scope) -> Optional[frozenset]:
    """``REASONS[key]`` of a dict literal whose values are all constants: one of them."""
    found = _looked_up_table(model, lookup.value, scope)
    return frozenset(found[1]) if found is not None else None


def answered_table(model: "ModuleModel", value: Optional[cst.BaseExpression], scope: Scope) -> Optional[cst.Dict]:
    """The dict literal ``REASONS[key]`` looks an answer up in, when every answer it
    holds is a true constant (a reason, a verdict): an answer from it is never None nor
    false, so a caller asking only whether one came treats every key alike."""
    table = _answering_table(model, value, scope) if value is not None else None
    found = _looked_up_table(model, table, scope) if table is not None else None
    return found[0] if found is not None and all(found[1]) else None


def _answering_table(model: "ModuleModel", value: cst.BaseExpression, scope: Scope) -> Optional[cst.BaseExpression]:
    """The table an answer is taken from: ``REASONS[key]``; ``reason`` of ``for needle,
    reason in REASONS.items()``; ``next((reason for needle, reason in REASONS.items() if
    ...), None)``."""
    if isinstance(value, cst.Subscript):
        return value.value
    if isinstance(value, cst.Call) and dotted_name(value.func) == "next" and value.args and isinstance(value.args[0].value, cst.GeneratorExp):
        generator = value.args[0].value
        return _items_of(generator.for_in.iter, generator.for_in.target, generator.elt)
    if isinstance(value, cst.Name):
        bindings, _ = model.bindings_of(value, scope)
        if len(bindings) == 1 and bindings[0].kind == "iter" and bindings[0].target is not None:
            return _items_of(bindings[0].value, bindings[0].target, value)  # type: ignore[arg-type]
    return None


def _items_of(iterated: cst.BaseExpression, target: cst.BaseExpression, value: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """``REASONS`` when ``value`` is the second name of ``key, value`` over ``REASONS.items()``."""
    if not (isinstance(iterated, cst.Call) and isinstance(iterated.func, cst.Attribute) and iterated.func.attr.value == "items" and not iterated.args):
        return None
    if not isinstance(target, cst.Tuple) or len(target.elements) != 2 or not isinstance(value, cst.Name):
        return None
    second = target.elements[1].value
    return iterated.func.value if isinstance(second, cst.Name) and second.value == value.value else None


def _looked_up_table(model: "ModuleModel", table_name: cst.BaseExpression, scope: Scope) -> Optional[Tuple[cst.Dict, List[object]]]:
    """The dict literal ``TABLE`` names (bound once to it), with the constant each of
    its entries holds; None when one of them is no constant."""
    if not isinstance(table_name, (cst.Name, cst.Attribute)):
        return None
    bindings, _ = model.bindings_of(table_name, scope)
    table = bindings[0].value if len(bindings) == 1 and bindings[0].kind == "value" else None
    if not isinstance(table, cst.Dict) or not table.elements:
        return None
    values = []
    for element in table.elements:
        value = constant(element.value, PathState(False)) if isinstance(element, cst.DictElement) else UNKNOWN
        if value is UNKNOWN:
            return None
        values.append(value)
    return table, values


def _row_answers(
    model: "ModuleModel", test: cst.BaseExpression, value: cst.Name, scope: Scope, needles: Optional[Set[int]]
) -> List[Tuple[cst.BaseExpression, object, Scope]]:
    """``for needle, verdict in VERDICTS: if needle in msg: return verdict``: for each
    row of the table, the test with that row's needle, and the row's verdict."""
    bindings, _ = model.bindings_of(value, scope)
    if len(bindings) != 1 or bindings[0].kind != "iter" or bindings[0].scope is None or bindings[0].target is None:
        return []
    binding = bindings[0]
    rows = model.loop_rows(binding.target, binding.value, binding.scope)  # type: ignore[arg-type]
    others = {n.value for n in iter_subexpressions(binding.target) if isinstance(n, cst.Name)} - {value.value}
    found = []
    for row in rows or ():
        held = row.get(value.value)
        answer = constant(held[0], PathState(False)) if held is not None and held[0] is not None else UNKNOWN
        if answer is UNKNOWN:
            continue
        row_test = test
        for node in [n for n in iter_subexpressions(test, limit=200) if isinstance(n, cst.Name) and n.value in others]:
            needle = row.get(node.value)
            if needle is not None and needle[0] is not None:
                if needles is not None:  # a row's needle: its finding names the row
                    needles.add(id(needle[0]))
                row_test = row_test.deep_replace(node, needle[0])  # type: ignore[assignment]
        if row_test is not test:
            found.append((row_test, answer, scope))
    return found
