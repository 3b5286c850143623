"""What a test or a block proves on its own: which side of an ``if`` test rules WAL out
(through ``not``/``and``/``or``), whether a test refuses an unknown (None) mode, whether
a block always exits. Pure functions of the syntax; :mod:`walint.flow.walker` applies them."""

from __future__ import annotations

from typing import Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst

from walint.semantic.nodes import (
    SIMPLE_LINES,
    dotted_name,
    else_statements,
    is_none,
    is_true_false_none,
    iter_subexpressions,
    normalised_from,
    small_statements,
    tests_existence_of,
)
from walint.tree import own_nodes, preorder

_GUARD_EXIT = (cst.Raise, cst.Return)


def refuses_none(comparison: cst.Comparison, test: cst.BaseExpression) -> bool:
    """Does the test treat an unknown (None) mode like WAL: ``in ("wal", None)``, ``is None``?"""
    for node in iter_subexpressions(test, limit=400):
        if isinstance(node, (cst.Tuple, cst.List, cst.Set)) and any(is_none(e.value) for e in node.elements):
            return True
        if isinstance(node, cst.Comparison) and any(
            isinstance(c.operator, (cst.Is, cst.Equal)) and is_none(c.comparator) for c in node.comparisons
        ):
            return True
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not) and isinstance(node.expression, cst.Name):
            return True  # `not mode or mode == "wal"`
        if isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.And):
            # `mode is not None and mode != "wal"`: the downgrade side needs a known mode.
            downgrades_when_true = all(isinstance(c.operator, (cst.NotEqual, cst.NotIn)) for c in comparison.comparisons)
            operands = {o.value for o in map(normalised_from, (comparison.left, *(c.comparator for c in comparison.comparisons))) if isinstance(o, cst.Name)}
            for side, other in ((node.left, node.right), (node.right, node.left)):
                if (
                    downgrades_when_true
                    and _excludes_none(side, operands)
                    and comparison in set(iter_subexpressions(other, limit=100))
                ):
                    return True
    return False


def _excludes_none(test: cst.BaseExpression, names: Set[str]) -> bool:
    """``mode is not None``, ``mode != None`` or a bare ``mode``, for one of ``names``:
    true only for a known mode."""
    if isinstance(test, cst.Name):
        return test.value in names
    subject = _named(test.left) if isinstance(test, cst.Comparison) else None
    return (
        isinstance(test, cst.Comparison)
        and isinstance(subject, cst.Name)
        and subject.value in names
        and any(isinstance(c.operator, (cst.IsNot, cst.NotEqual)) and is_none(c.comparator) for c in test.comparisons)
    )


def _named(expr: cst.BaseExpression) -> cst.BaseExpression:
    """``mode`` of ``(mode := probe(conn))``; any other expression itself."""
    return expr.target if isinstance(expr, cst.NamedExpr) else expr


def excludes_none(test: cst.BaseExpression) -> bool:
    """``x is not None`` (or ``x != None``) of a name, or of one a walrus binds."""
    if not isinstance(test, cst.Comparison):
        return False
    subject = _named(test.left)
    return isinstance(subject, cst.Name) and _excludes_none(test, {subject.value})


# Calls after which nothing runs: the process ends, or they always raise (Flask's and
# Werkzeug's `abort(409)`, pytest's `fail`, `skip` and `exit`, unittest's `self.fail`).
_PROCESS_EXITS = frozenset({"sys.exit", "exit", "quit", "os._exit", "os.abort", "flask.abort", "pytest.fail", "pytest.skip", "pytest.exit"})


def _http_status(first: Optional[cst.BaseExpression]) -> bool:
    if first is None:
        return False
    return isinstance(first, cst.Integer) or "HTTPStatus." in (dotted_name(first) or "")


def _message_or_nothing(first: Optional[cst.BaseExpression]) -> bool:
    return first is None or isinstance(first, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString))


# Names that end the path only in the shape their well-known owner gives them: Flask's and
# Werkzeug's `abort(503)` takes a status code, unittest's `self.fail("...")` a message. A
# project's own `abort(conn)` (a transaction) or `self.fail(job)` (a job queue) returns.
_EXITS_BY_FIRST_ARGUMENT: Dict[str, Callable[[Optional[cst.BaseExpression]], bool]] = {
    "abort": _http_status,
    "self.fail": _message_or_nothing,
}


def ends_the_process(small: cst.CSTNode) -> bool:
    """``sys.exit(...)`` (and ``os._exit``, ``exit``, ``quit``, ``os.abort``, an HTTP
    ``abort(503)``, ``pytest.fail(...)``, ``self.fail("...")``): nothing after it runs, as
    after a ``raise``."""
    if not isinstance(small, cst.Expr) or not isinstance(small.value, cst.Call):
        return False
    name = dotted_name(small.value.func) or ""
    if name in _PROCESS_EXITS:
        return True
    shape = _EXITS_BY_FIRST_ARGUMENT.get(name)
    return shape is not None and shape(small.value.args[0].value if small.value.args else None)


def statements_exit(statements: Sequence[cst.CSTNode]) -> bool:
    for statement in statements:
        if isinstance(statement, SIMPLE_LINES):
            if any(isinstance(s, _GUARD_EXIT) or ends_the_process(s) for s in statement.body):
                return True
        elif isinstance(statement, cst.If) and statement.orelse is not None:
            if always_exits(statement.body) and statements_exit(else_statements(statement.orelse)):
                return True
        elif isinstance(statement, cst.With) and always_exits(statement.body) and not suppresses(statement):
            return True
        elif isinstance(statement, cst.Match) and _exhaustive(statement) and all(always_exits(case.body) for case in statement.cases):
            return True
        elif isinstance(statement, (cst.Try, cst.TryStar)):
            if statement.finalbody is not None and always_exits(statement.finalbody.body):
                return True
            # The body exits (or its else does), and so does every handler (a `try` with
            # only a `finally` has none: `try: return read() finally: close()`).
            body_exits = always_exits(statement.body) or (
                statement.orelse is not None and always_exits(statement.orelse.body)
            )
            if body_exits and all(always_exits(h.body) for h in statement.handlers):
                return True
    return False


def _exhaustive(statement: cst.Match) -> bool:
    """Does a ``case`` match anything: ``case _:`` or ``case name:``, unguarded?"""
    return any(
        isinstance(case.pattern, cst.MatchAs) and case.pattern.pattern is None and case.guard is None for case in statement.cases
    )


def suppresses(statement: cst.With) -> bool:
    """``with contextlib.suppress(...)``: an error in the body ends the block, not the
    function, so a ``return`` inside it may be skipped."""
    return bool(suppress_calls(statement))


def suppress_calls(statement: cst.With, imported_as: Callable[[cst.BaseExpression], str] = dotted_name) -> List[cst.Call]:
    """The ``suppress(...)`` items of a ``with``, by the name written or, given
    ``imported_as``, the name it was imported by (``from contextlib import suppress as ignored``)."""
    return [
        item.item
        for item in statement.items
        if isinstance(item.item, cst.Call)
        and "suppress" in (dotted_name(item.item.func).rsplit(".", 1)[-1], imported_as(item.item.func).rsplit(".", 1)[-1])
    ]


def always_exits(block: cst.BaseSuite) -> bool:
    """Does every path through ``block`` end in ``raise`` or ``return``?"""
    return statements_exit(small_statements(block))


def ends_in_return(block: cst.BaseSuite) -> bool:
    """Does the block's last statement end in a ``return``?"""
    statements = small_statements(block)
    last = statements[-1] if statements else None
    return isinstance(last, SIMPLE_LINES) and isinstance(last.body[-1], cst.Return)


def returned_constant(block: cst.BaseSuite) -> Optional[bool]:
    for statement in small_statements(block):
        if not isinstance(statement, SIMPLE_LINES):
            continue
        for s in statement.body:
            if isinstance(s, cst.Return) and isinstance(s.value, cst.Name) and s.value.value in ("True", "False"):
                return s.value.value == "True"
    return None


def fetches_a_row(expr: cst.BaseExpression) -> bool:
    """``cur.fetchone()`` (awaited or not): a row, whose first item a ``("wal",)`` case matches."""
    if isinstance(expr, cst.Await):
        expr = expr.expression
    return isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "fetchone"


def pattern_strings(pattern: cst.MatchPattern, rows: bool = False) -> Set[Optional[str]]:
    """The literal values a case pattern matches ("wal", None, ...), lower-cased; empty
    for anything else (a capture, a wildcard). With ``rows``, the subject is a row, and
    ``("wal",)`` matches the row holding "wal"."""
    if rows and isinstance(pattern, (cst.MatchTuple, cst.MatchList)) and len(pattern.patterns) == 1:
        element = pattern.patterns[0]
        return pattern_strings(element.value) if isinstance(element, cst.MatchSequenceElement) else set()
    if isinstance(pattern, cst.MatchAs) and pattern.pattern is not None:
        return pattern_strings(pattern.pattern, rows)  # `case "wal" | None as mode:`
    if isinstance(pattern, cst.MatchOr):
        found: Set[Optional[str]] = set()
        for element in pattern.patterns:
            inner = pattern_strings(element.pattern, rows)
            if not inner:
                return set()
            found |= inner
        return found
    if isinstance(pattern, cst.MatchSingleton) and isinstance(pattern.value, cst.Name) and pattern.value.value == "None":
        return {None}
    if isinstance(pattern, cst.MatchValue) and isinstance(pattern.value, cst.SimpleString):
        value = pattern.value.evaluated_value
        return {value.lower()} if isinstance(value, str) else set()
    return set()


def guarded_sides(test: cst.BaseExpression, checks: Sequence[Tuple[cst.BaseExpression, bool]]) -> Tuple[bool, bool]:
    """Does ``test`` being true, and being false, prove the mode is not WAL?

    ``checks`` are the parts of ``test`` that look at the mode on disk, each with the
    value it takes when the mode is not WAL (:func:`not_wal_when`): ``mode == "wal"``
    proves it when false, ``mode != "delete"`` when false, ``mode == "delete"`` and
    ``not header_says_wal(path)`` when true. Through ``not``, ``and`` (true only) and
    ``or`` (false only) the proof carries; a check inside anything else (a call, say)
    is read as guarding both ways, since its direction cannot be told."""
    when_true = when_false = False
    for check, not_wal in checks:
        true_side = _implies_not_wal(test, check, True, not_wal)
        false_side = _implies_not_wal(test, check, False, not_wal)
        if true_side is None and false_side is None:
            return True, True
        when_true = when_true or bool(true_side)
        when_false = when_false or bool(false_side)
    # `mode != "delete" and mode != "truncate"` false: whichever part failed, it proves.
    known = {id(check): not_wal for check, not_wal in checks}
    return when_true or _proves(test, True, known), when_false or _proves(test, False, known)


def guard_premises(test: cst.BaseExpression, checks: Sequence[Tuple[cst.BaseExpression, bool]]) -> Tuple[cst.BaseExpression, ...]:
    """The parts ``A`` of a test ``A and W`` where ``W`` being false proves the mode is not
    WAL: after ``if is_nfs(path) and header_says_wal(path): raise``, wherever
    ``is_nfs(path)`` holds, the header was read and did not say WAL."""
    if not (isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And)):
        return ()
    found = []
    for side, other in ((test.left, test.right), (test.right, test.left)):
        inside = {id(node) for node in iter_subexpressions(other, limit=400)}
        inner = [(check, not_wal) for check, not_wal in checks if id(check) in inside]
        beside = {id(node) for node in iter_subexpressions(side, limit=400)}
        if inner and not any(id(check) in beside for check, _ in checks) and guarded_sides(other, inner)[1]:
            found.append(side)
    return tuple(found)


def holds_premise(test: cst.BaseExpression, when: bool, premises: Sequence[cst.BaseExpression]) -> bool:
    """Does ``test`` taking the value ``when`` mean one of ``premises`` holds (the test
    itself, a part of an ``and`` that is true, the inside of a ``not`` that is false)?"""
    if not premises:
        return False
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return holds_premise(test.expression, not when, premises)
    if when and isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return holds_premise(test.left, True, premises) or holds_premise(test.right, True, premises)
    return when and any(test.deep_equals(premise) for premise in premises)


def _proves(expr: cst.BaseExpression, when: bool, known: Dict[int, bool], depth: int = 0) -> bool:
    """Does ``expr`` evaluating to ``when`` prove the mode is not WAL, by the checks in
    ``known`` (id -> their value when it is not WAL) and ``not``/``and``/``or``, each
    part a proof on every way the whole can take that value?"""
    if id(expr) in known:
        return when == known[id(expr)]
    if depth > 50:
        return False
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
        return _proves(expr.expression, not when, known, depth + 1)
    if isinstance(expr, cst.BooleanOperation):
        left, right = _proves(expr.left, when, known, depth + 1), _proves(expr.right, when, known, depth + 1)
        # `and` true and `or` false: every part took that value; otherwise one part did.
        every_part = when == isinstance(expr.operator, cst.And)
        return (left or right) if every_part else (left and right)
    return False


def not_wal_when(comparison: cst.Comparison, with_wal: bool) -> bool:
    """The value a comparison of the mode on disk takes when the mode is not WAL: false
    for ``mode == "wal"`` (``with_wal``) and ``mode != "delete"``, true otherwise."""
    positive = isinstance(comparison.comparisons[0].operator, (cst.Equal, cst.In, cst.Is))
    return positive != with_wal


def boolean_atoms(test: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    """The parts of ``test`` it is built from with ``not``, ``and`` and ``or``."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        yield from boolean_atoms(test.expression)
    elif isinstance(test, cst.BooleanOperation):
        yield from boolean_atoms(test.left)
        yield from boolean_atoms(test.right)
    else:
        yield test


def _implies_not_wal(
    expr: cst.BaseExpression, target: cst.BaseExpression, when: bool, not_wal: bool, depth: int = 0
) -> Optional[bool]:
    """Does ``expr`` evaluating to ``when`` prove, through ``target`` (which takes the
    value ``not_wal`` when the mode is not WAL), that the mode is not WAL? None when
    ``target`` is not reached through ``not``/``and``/``or``."""
    if expr is target:
        return when == not_wal
    if depth > 50:
        return None
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
        return _implies_not_wal(expr.expression, target, not when, not_wal, depth + 1)
    if isinstance(expr, cst.BooleanOperation):
        for side, other in ((expr.left, expr.right), (expr.right, expr.left)):
            found = _implies_not_wal(side, target, when, not_wal, depth + 1)
            if found is None:
                continue
            # `a and check` true: both hold; false: perhaps only `a` failed. `or` the reverse.
            # Except `mode != "wal" and <check>` in a helper that sets `mode`: when the
            # first part fails, the mode it sets is WAL, and nothing is downgraded.
            # So is `row and row[0] == "wal"`: the other part only asks whether the value
            # compared is there at all.
            # So is `path.exists() and <check>`: a file that is not there is not in WAL.
            if isinstance(expr.operator, cst.And):
                proves = when or _compares_with_wal(other) or tests_presence_of(other, target) or bool(tests_existence_of(other))
                return found if proves else False
            return found if not when else False
    return None


def tests_presence_of(expr: cst.BaseExpression, comparison: cst.BaseExpression) -> bool:
    """Is ``expr`` a bare name that the comparison itself reads (``row`` in ``row and
    row[0] == "wal"``), or a ``mode is not None`` of one? (A None let through that way is
    the fail-open guard WAL005 reports, not a missing guard.)"""
    if excludes_none(expr):
        expr = expr.left  # type: ignore[attr-defined]
    expr = _named(expr)  # `(mode := probe(conn)) and mode == "wal"`
    if not isinstance(expr, cst.Name):
        return False
    return any(isinstance(node, cst.Name) and node.value == expr.value for node in preorder(comparison))


def _compares_with_wal(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Comparison) and any(
        isinstance(operand, cst.SimpleString)
        and isinstance(operand.evaluated_value, str)
        and operand.evaluated_value.lower() == "wal"
        for operand in [expr.left] + [c.comparator for c in expr.comparisons]
    )


def raises_next(statements: Sequence[cst.CSTNode]) -> bool:
    """Do ``statements`` raise, after simple lines that neither return nor branch
    (``conn.close()``, a log line)?"""
    for line in statements:
        if not isinstance(line, SIMPLE_LINES):
            return False
        if any(isinstance(small, cst.Raise) for small in line.body):
            return True
        if any(isinstance(small, cst.Return) for small in line.body):
            return False
    return False


def answers_when_run_out(loop: cst.CSTNode, following: Sequence[cst.CSTNode]) -> bool:
    """``return False`` right after a loop of attempts whose ``try`` returns another
    constant (``return True``) once the switch works: running out of attempts hands the
    failure back as an answer."""
    if not following or not isinstance(following[0], SIMPLE_LINES) or len(following[0].body) != 1:
        return False
    after = following[0].body[0]
    if not isinstance(after, cst.Return) or not is_true_false_none(after.value):
        return False
    return any(
        isinstance(small, cst.Return) and is_true_false_none(small.value) and small.value.value != after.value.value  # type: ignore[union-attr]
        for node in own_nodes(loop)
        if isinstance(node, cst.Try)
        for line in small_statements(node.body)
        if isinstance(line, SIMPLE_LINES)
        for small in line.body
    )


def raises_when_run_out(loop: cst.CSTNode, following: Sequence[cst.CSTNode]) -> bool:
    """``if attempts == 3: raise ...`` (or ``if not ready:``) right after the loop, on a
    name the loop counts or sets: the attempts running out raise."""
    if not following or not isinstance(following[0], cst.If) or following[0].orelse is not None:
        return False
    check = following[0]
    if not raises_next(small_statements(check.body)):
        return False
    counted = {
        target.value
        for node in own_nodes(loop)
        if isinstance(node, (cst.Assign, cst.AugAssign))
        for target in ([t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target])
        if isinstance(target, cst.Name)
    }
    return any(isinstance(n, cst.Name) and n.value in counted for n in iter_subexpressions(check.test, limit=100))


def walks_items(loop: cst.CSTNode) -> bool:
    """``for alias in connections``: a loop over things rather than over attempts
    (``while True``, ``for attempt in range(3)``, ``itertools.count()``)."""
    if not isinstance(loop, cst.For):
        return False
    iterable = loop.iter
    if isinstance(iterable, cst.Call):
        return dotted_name(iterable.func).rsplit(".", 1)[-1] not in ("range", "count", "repeat")
    return True


def is_connect_listener(decorator: cst.BaseExpression) -> bool:
    """``@event.listens_for(engine, "connect")`` and friends."""
    if not isinstance(decorator, cst.Call) or dotted_name(decorator.func).rsplit(".", 1)[-1] != "listens_for":
        return False
    for arg in decorator.args[1:2]:
        if isinstance(arg.value, cst.SimpleString) and arg.value.evaluated_value in ("connect", "first_connect"):
            return True
    return False


def refuses_captured_wal(case: cst.MatchCase) -> bool:
    """``case (str(mode),) if mode.lower() != "wal":`` in a ``match`` on the mode read: the
    guard proves the captured mode is not WAL wherever the case body runs."""
    captured = {n.name.value for n in iter_subexpressions(case.pattern, limit=100) if isinstance(n, cst.MatchAs) and n.name is not None}
    test = case.guard
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    subject = test.left
    while isinstance(subject, cst.Call) and isinstance(subject.func, cst.Attribute) and subject.func.attr.value in ("lower", "casefold", "strip"):
        subject = subject.func.value
    literal = test.comparisons[0].comparator
    return (
        isinstance(subject, cst.Name)
        and subject.value in captured
        and isinstance(literal, cst.SimpleString)
        and str(literal.evaluated_value).lower() == "wal"
        and not_wal_when(test, True)
    )


def truth_tested(expr: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """``pred(path)`` of ``pred(path) is True`` (or ``== True``): a test that is true
    exactly where ``pred(path)`` is truthy, for a predicate answering True, False or None."""
    if isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1:
        target = expr.comparisons[0]
        if isinstance(target.operator, (cst.Is, cst.Equal)) and isinstance(target.comparator, cst.Name) and target.comparator.value == "True":
            return expr.left
    return None
