"""WAL005: an on-disk guard that lets the downgrade proceed when the mode is unknown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, List, Optional, Set, Tuple

import libcst as cst

from walint.codes import SPECS_BY_CODE
from walint.constants import is_known
from walint.journal.guard_reading import (
    answers_wal_when_unread,
    may_hold_made_up,
    refuses_made_up,
    probe_makes_up_a_mode,
    lets_none_past,
    lower_case_wal,
    lowercases,
    may_hold_none,
    none_refused_before,
    probe_may_answer_none,
    spells_as_it_answers,
    spells_wal,
    upper_case_literal,
    uppercases,
)
from walint.flow.conditions import refuses_none, truth_tested
from walint.semantic.nodes import dotted_name, iter_subexpressions
from walint.fixes import SAFE, FixPlan
from walint.rules.base import Invalid, ModelRule, Report, Valid
from walint.rules.fail_open_reach import (
    NO_FIX_RETURNS_WHEN_UNREAD,
    RETURNS_WHEN_UNREAD,
    guard_returns_when_unread,
    guards_its_callers,
    guards_something,
)
from walint.journal.header_versions import compares_with_wal_versions
from walint.rules.fail_open_cases import case_spelling_never_answered, match_lets_none_through, refuse_none_case_fix
from walint.rules.fail_open_predicates import NO_FIX_COMPARISON, NO_FIX_MADE_UP, lowercase_literal_fix, predicate_problem
from walint.sql import callee_name

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel
    from walint.semantic.scopes import Scope, Unit


HEADER_MADE_UP = (
    "Guard lets the downgrade proceed when the header cannot be read (the read's `except` makes "
    "up a header that is not WAL); let the error propagate, or refuse when it is unread"
)
NO_FIX_HEADER_MADE_UP = "the made-up header is assigned in an `except`: make it raise (or refuse) by hand"
NO_FIX_NORMALISE = "the probe can also return None, so `.lower()` would fail: normalise inside the probe"


def _answers_converted(model: "ModuleModel", operands: List[cst.BaseExpression], scope: "Scope") -> Set[cst.CSTNode]:
    """The probe calls whose answer reaches these operands only through a project function
    that never returns None (``_mode_from_row(_switch(conn))`` turns None into "")."""
    expressions: List[Tuple[cst.BaseExpression, "Scope"]] = []
    for operand in operands:
        expressions.append((operand, scope))
        if isinstance(operand, (cst.Name, cst.Attribute)):
            bindings, _ = model.bindings_of(operand, scope)
            expressions += [(b.value, b.scope) for b in bindings if b.kind == "value" and isinstance(b.value, cst.BaseExpression)]  # type: ignore[misc]
    converted: Set[cst.CSTNode] = set()
    for expression, where in expressions:
        for outer in iter_subexpressions(expression, limit=200):
            if not isinstance(outer, cst.Call) or where is None:
                continue
            callee = model.callee(outer, where)
            if callee is not None and not callee.probe_may_return_none and not callee.probe:
                for arg in outer.args:
                    converted.update(node for node in iter_subexpressions(arg.value, limit=200) if isinstance(node, cst.Call))
    return converted


def _unknown_read_as_wal(model: "ModuleModel", operand: cst.BaseExpression, scope: "Scope") -> bool:
    """``journal_mode_of(conn) or "wal"``: an unknown (None, "") mode is taken for WAL;
    so is it in a name bound only that way (``mode = _probe(conn) or "wal"``)."""
    if isinstance(operand, cst.Name):
        bindings, parameter = model.bindings_of(operand, scope)
        return parameter is None and bool(bindings) and all(
            b.kind == "value" and b.scope is not None and isinstance(b.value, cst.BaseExpression)
            and _unknown_read_as_wal(model, b.value, b.scope)
            for b in bindings
        )
    return (
        isinstance(operand, cst.BooleanOperation)
        and isinstance(operand.operator, cst.Or)
        and model.mentions_wal(operand.right, scope)
    )


NO_FIX_NAMED_SPELLING = "the spelling lives where the name is defined: compare with \"wal\" by hand"


def _upper_case_constant(model: "ModuleModel", operands: List[cst.BaseExpression], scope: "Scope") -> Optional[str]:
    """A name or attribute the mode is compared with (``JournalMode.WAL.value``,
    ``WAL_MODE``) whose every value is WAL spelt in some case other than lower."""
    for operand in operands:
        if not isinstance(operand, (cst.Name, cst.Attribute)):
            continue
        values = model.folder.values(operand, scope)
        if values and all(is_known(v) and v.lower() == "wal" and v != "wal" for v in values):
            return dotted_name(operand) or "the name"
    return None


def _comparison_held_by(model: "ModuleModel", answer: cst.BaseExpression, scope: "Scope") -> Optional[cst.Comparison]:
    """The comparison of a probed mode a local name is bound to, once, in this function
    (``already_wal = mode == "wal"``): the guard is that comparison."""
    if not isinstance(answer, cst.Name):
        return None
    bindings, parameter = model.bindings_of(answer, scope)
    if parameter or len(bindings) != 1 or bindings[0].kind != "value" or bindings[0].scope is not scope:
        return None
    value = bindings[0].value
    if isinstance(value, cst.Comparison) and model.wal_check_comparisons(value, scope) == [value]:
        return value
    return None


class FailOpenGuard(ModelRule):
    """
    ## What it does
    Checks the on-disk guard in front of a downgrade for a comparison that lets the
    downgrade go ahead when the mode is unknown: `mode == "wal"` (or `mode != "wal"`
    around the downgrade) when the probe can return None or hides its own error, a
    case-sensitive comparison of a probe that does not normalise its answer, or a guard
    function that returns quietly when its own read of the mode fails.

    ## Why is this bad?
    The guard exists to refuse a downgrade unless the database is certainly not in WAL.
    A probe that cannot read the header, or swallows the error from reading it, answers
    None; `None == "wal"` is false, so the guard waves the downgrade through exactly when
    it knows least. Likewise `"WAL" == "wal"` is false. The guard must fail closed.

    ## Example
    ```python
    if journal_mode_on_disk(conn) == "wal":
        raise
    conn.execute("PRAGMA journal_mode=DELETE")
    ```

    Use instead:
    ```python
    if journal_mode_on_disk(conn) in ("wal", None):
        raise
    conn.execute("PRAGMA journal_mode=DELETE")
    ```

    A separate `if mode is None: raise` (or `return`) earlier on the path closes the
    unknown case as well; a comparison with `"WAL"` of a mode SQLite answers in lower
    case never refuses anything.

    ## Fix safety
    The fix makes the comparison fail closed: `== "wal"` becomes `in ("wal", None)`,
    `!= "wal"` becomes `not in ("wal", None)`, and a `("wal",)` collection gains `None`.
    A case-sensitive comparison of a probe that cannot return None compares
    `probe(...).lower()` instead, and a comparison with `"WAL"` compares with `"wal"`. The guard then refuses in more cases and never in
    fewer, so the fix is safe.
    """

    spec = SPECS_BY_CODE["WAL005"]

    VALID = (
        Valid(
            """
def fallback(conn, path):
    mode = read_header_mode(path)  # None when the header cannot be read
    if mode is None:
        raise RuntimeError("cannot tell the journal mode on disk")
    if mode == "wal":
        raise RuntimeError("refusing to leave WAL")
    conn.execute("PRAGMA journal_mode=DELETE")
"""
        ),
        Valid(
            """
def fallback(conn):
    if journal_mode_on_disk(conn) in ("wal", None):
        raise RuntimeError("refusing to leave WAL")
    conn.execute("PRAGMA journal_mode=DELETE")
"""
        ),
        Valid(
            """
def fallback(conn):
    # A pragma read raises on error and answers in lower case: nothing to fail open.
    if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        raise RuntimeError("refusing to leave WAL")
    conn.execute("PRAGMA journal_mode=DELETE")
"""
        ),
    )
    INVALID = (
        Invalid(
            """
def fallback(conn):
    current = conn.execute("PRAGMA journal_mode").fetchone()[0]
    if current == "WAL":  # expect: WAL005
        raise RuntimeError("refusing to leave WAL")
    conn.execute("PRAGMA journal_mode=DELETE")
""",
            fixed="""
def fallback(conn):
    current = conn.execute("PRAGMA journal_mode").fetchone()[0]
    if current == "wal":  # expect: WAL005
        raise RuntimeError("refusing to leave WAL")
    conn.execute("PRAGMA journal_mode=DELETE")
""",
        ),
        Invalid(
            """
def fallback(conn):
    if journal_mode_on_disk(conn) == "wal":  # expect: WAL005
        raise RuntimeError("refusing to leave WAL")
    conn.execute("PRAGMA journal_mode=DELETE")
""",
            fixed="""
def fallback(conn):
    if journal_mode_on_disk(conn) in ("wal", None):  # expect: WAL005
        raise RuntimeError("refusing to leave WAL")
    conn.execute("PRAGMA journal_mode=DELETE")
""",
        ),
        Invalid(
            """
def _mode_on_disk(path):
    try:
        with open(path, "rb") as handle:
            header = handle.read(100)
    except OSError:
        return None
    return "wal" if header[18:20] == b"\\x02\\x02" else "delete"

def fallback(conn, path):
    if _mode_on_disk(path) != "wal":  # expect: WAL005
        conn.execute("PRAGMA journal_mode=DELETE")
""",
            fixed="""
def _mode_on_disk(path):
    try:
        with open(path, "rb") as handle:
            header = handle.read(100)
    except OSError:
        return None
    return "wal" if header[18:20] == b"\\x02\\x02" else "delete"

def fallback(conn, path):
    if _mode_on_disk(path) not in ("wal", None):  # expect: WAL005
        conn.execute("PRAGMA journal_mode=DELETE")
""",
        ),
        Invalid(
            """
def _current_mode(conn):
    return conn.execute("PRAGMA journal_mode").fetchone()[0].upper()

def fallback(conn):
    if _current_mode(conn) == "wal":  # expect: WAL005
        raise RuntimeError("refusing to leave WAL")
    conn.execute("PRAGMA journal_mode=DELETE")
""",
            fixed="""
def _current_mode(conn):
    return conn.execute("PRAGMA journal_mode").fetchone()[0].upper()

def fallback(conn):
    if _current_mode(conn).lower() == "wal":  # expect: WAL005
        raise RuntimeError("refusing to leave WAL")
    conn.execute("PRAGMA journal_mode=DELETE")
""",
        ),
    )

    def check(self, model: "ModuleModel") -> Iterator[Report]:
        for unit in model.hot_units:
            for guard in model.facts(unit).guards:
                if not guards_something(model, unit, guard.comparison):
                    if guard_returns_when_unread(model, unit, guard.comparison, guard.scope):
                        yield Report(guard.comparison, RETURNS_WHEN_UNREAD, None, NO_FIX_RETURNS_WHEN_UNREAD)
                        continue
                    if not guards_its_callers(model, unit, guard.test):
                        continue  # a test's assert, a message: nothing downgrades behind it here
                if isinstance(guard.comparison, cst.Comparison) and _compares_header(model, guard.comparison, guard.scope) and any(
                    model.header_made_up_on_error(operand, guard.scope) and not _tested_apart(operand, guard.comparison, guard.test)
                    for operand in (guard.comparison.left, *(c.comparator for c in guard.comparison.comparisons))
                ):
                    yield Report(guard.comparison, HEADER_MADE_UP, None, NO_FIX_HEADER_MADE_UP)
                    continue
                compared = _comparison_held_by(model, guard.comparison, guard.scope)
                if compared is not None:  # `already_wal = mode == "wal"` ... `if already_wal:`
                    problem = self._problem(model, unit, compared, compared, guard.scope)
                    reported = compared
                elif isinstance(guard.comparison, cst.Comparison) and truth_tested(guard.comparison) is None:
                    problem = self._problem(model, unit, guard.comparison, guard.test, guard.scope)
                    reported = guard.comparison
                else:
                    problem = predicate_problem(model, unit, guard.comparison, guard.test, guard.scope)
                    reported = guard.comparison
                if problem is not None:
                    message, fix, no_fix_reason = problem
                    yield Report(reported, message, fix, None if fix else no_fix_reason)
            for match, case, scope in model.facts(unit).wal_cases:
                spelt = case_spelling_never_answered(model, match, case, scope)
                if spelt is not None:
                    message = (
                        f"Case compares the journal mode with `{spelt.evaluated_value}`, but SQLite answers in "
                        'lower case: it never refuses; match "wal"'
                    )
                    yield Report(case.pattern, message, lowercase_literal_fix(spelt), NO_FIX_NORMALISE)
                elif match_lets_none_through(model, unit, match, case, scope):
                    yield Report(
                        case.pattern,
                        "Case refuses WAL but not an unknown mode (the probe can return None), which "
                        "falls to the downgrade below; refuse it too: `case \"wal\" | None:`",
                        refuse_none_case_fix(case),
                        NO_FIX_COMPARISON,
                    )

    def _problem(
        self, model: "ModuleModel", unit: "Unit", comparison: cst.Comparison, test: cst.BaseExpression, scope: "Scope"
    ) -> Optional[Tuple[str, Optional[FixPlan], str]]:
        """The message, fix and reason for no fix, when the guard fails open."""
        operands = [comparison.left] + [c.comparator for c in comparison.comparisons]
        probed: List[Tuple[cst.BaseExpression, cst.CSTNode, "Scope"]] = [
            (operand, call, call_scope)
            for operand in operands
            if not model.mentions_wal(operand, scope) and not _unknown_read_as_wal(model, operand, scope)
            for call, call_scope in model.probe_calls(operand, scope)
        ]
        # `mode = None` where the read failed (a nested `try`), or before it was tried;
        # `row and row[0] == "wal"`, where a missing row passes as "not WAL".
        # (Not the WAL switch's own answer: `row` of `PRAGMA journal_mode=WAL` is always there.)
        may_be_none = any(may_hold_none(model, operand, scope) for operand, _, _ in probed) or (
            bool(probed) and lets_none_past(comparison, test) and not model.holds_wal_attempt(operands, scope)
        )
        unnormalised = False
        converted = _answers_converted(model, operands, scope)
        for operand, call, call_scope in probed:
            if isinstance(call, cst.Attribute):
                # `db.journal_mode` reads the pragma; a `@property` of the project is a probe.
                prop = model.property_facts(call, call_scope)
                may_be_none = may_be_none or (prop is not None and prop.probe_may_return_none)
                continue
            if call in converted:
                continue  # `_mode_from_row(<probe>)`: a project function that never answers None
            # `header[18] == 2` of a header that may be None raises: None never gets past it.
            may_be_none = may_be_none or (not isinstance(operand, cst.Subscript) and probe_may_answer_none(model, call, call_scope))
            if callee_name(call) in model.guard_names or model.direct_effect(call, call_scope) is not None:
                continue  # the helper normalises; a pragma read answers in lower case
            callee = model.callee(call, call_scope)
            if callee is None:
                continue
            if not callee.probe_normalises and not lowercases(operand) and not spells_as_it_answers(model, call, call_scope, operands) and not answers_wal_when_unread(model, call, call_scope):
                unnormalised = True
        never_matches = upper_case_literal(operands)
        spelt_as_answered = any(
            isinstance(call, cst.Call) and spells_as_it_answers(model, call, call_scope, operands) for _, call, call_scope in probed
        )
        if never_matches is not None and not spelt_as_answered and not any(uppercases(model, operand, scope) for operand, _, _ in probed):
            if not unnormalised:
                message = (
                    f"Guard compares the journal mode with `{never_matches.evaluated_value}`, but SQLite answers in "
                    'lower case: it never refuses; compare with "wal"'
                )
                return message, lowercase_literal_fix(never_matches), NO_FIX_NORMALISE
        named = _upper_case_constant(model, operands, scope) if never_matches is None and probed else None
        if named is not None and not spelt_as_answered and not unnormalised:
            if not any(uppercases(model, operand, scope) for operand, _, _ in probed):
                message = (
                    f"Guard compares the journal mode with `{named}`, which holds \"WAL\" in upper case, but SQLite "
                    'answers in lower case: it never refuses; compare with "wal"'
                )
                return message, None, NO_FIX_NAMED_SPELLING
        lower_wal = lower_case_wal(operands)
        if lower_wal is not None and probed and all(uppercases(model, operand, scope) for operand, _, _ in probed):
            message = 'Guard upper-cases the journal mode, then compares it with "wal": it never refuses; compare with "WAL"'
            upper = lower_wal.with_changes(value=lower_wal.prefix + lower_wal.quote + "WAL" + lower_wal.quote)
            return message, FixPlan('Compare with "WAL", as the mode is upper-cased', SAFE, {lower_wal: upper}), NO_FIX_NORMALISE
        made_up = [probe_makes_up_a_mode(model, call, where) or may_hold_made_up(model, operand, scope) for operand, call, where in probed]
        # `len(header) < 20 or header[18] == 2`: the unknown answer is refused first.
        tested_apart = any(_tested_apart(operand, comparison, test) for operand, _, _ in probed)
        if refuses_made_up(model, comparison, scope):
            # `in ("wal", "")` of a probe that answers "" where it cannot read: closed,
            # as long as that word is how it says "unknown".
            may_be_none = may_be_none and not all(made_up)
        elif any(made_up) and not tested_apart:
            message = (
                "Guard lets the downgrade proceed when the on-disk mode is unknown (the probe answers "
                "a made-up mode when it cannot read one); make it answer None and refuse None too"
            )
            return message, None, NO_FIX_MADE_UP
        if may_be_none and not refuses_none(comparison, test) and not tested_apart and not none_refused_before(model, unit, comparison, probed):
            message = (
                "Guard lets the downgrade proceed when the on-disk mode is unknown (the probe can "
                'return None); refuse it too: `in ("wal", None)`'
            )
            fix = None if lets_none_past(comparison, test) else fail_closed_fix(comparison)
            return message, fix, NO_FIX_COMPARISON
        if unnormalised:
            message = "Guard compares the journal mode case-sensitively; normalise it with `.lower()` first"
            operands = [operand for operand, _, _ in probed]
            fix = lowercase_fix(comparison, operands[0]) if len(operands) == 1 and not may_be_none else None
            return message, fix, NO_FIX_NORMALISE
        return None


def _compares_header(model: "ModuleModel", comparison: cst.Comparison, scope: "Scope") -> bool:
    """``header[18:20] == b"\x02\x02"``: the file's own bytes, not a mode read."""
    return compares_with_wal_versions(comparison, lambda operand: model.version_literal(operand, scope))


def _tested_apart(operand: cst.BaseExpression, comparison: cst.Comparison, test: cst.BaseExpression) -> bool:
    """Is ``comparison`` one side of an ``or`` whose other side looks at ``operand``'s name
    (``header is None or``, ``not header or``, ``len(header) < 20 or``)? Then an unread
    value refuses there. (``mode is not None and mode == "wal"`` lets it through.)"""
    while isinstance(operand, cst.Subscript):
        operand = operand.value
    if not isinstance(operand, cst.Name):
        return False
    for node in iter_subexpressions(test, limit=400):
        if not isinstance(node, cst.BooleanOperation) or not isinstance(node.operator, cst.Or):
            continue
        for side, other in ((node.left, node.right), (node.right, node.left)):
            if any(n is comparison for n in iter_subexpressions(side, limit=400)) and any(
                isinstance(n, cst.Name) and n.value == operand.value for n in iter_subexpressions(other, limit=400)
            ):
                return True
    return False


def _with_none(collection: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    if not isinstance(collection, (cst.Tuple, cst.List, cst.Set)) or not collection.elements:
        return None
    elements = list(collection.elements)
    last = elements[-1]
    if not isinstance(last.comma, cst.Comma):
        elements[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    elif isinstance(last.comma.whitespace_after, cst.SimpleWhitespace) and not last.comma.whitespace_after.value:
        elements[-1] = last.with_changes(comma=last.comma.with_changes(whitespace_after=cst.SimpleWhitespace(" ")))
    elements.append(cst.Element(cst.Name("None")))
    return collection.with_changes(elements=elements)


def fail_closed_fix(comparison: cst.Comparison) -> Optional[FixPlan]:
    """WAL005's fix: ``mode == "wal"`` -> ``mode in ("wal", None)`` (and ``!=`` -> ``not in``)."""
    if len(comparison.comparisons) != 1:
        return None
    target = comparison.comparisons[0]
    left, right, operator = comparison.left, target.comparator, target.operator
    if isinstance(operator, (cst.Equal, cst.NotEqual)):
        if spells_wal(left) and not spells_wal(right):
            left, right = right, left
        if not spells_wal(right):
            return None
        membership: cst.BaseCompOp = (
            cst.In() if isinstance(operator, cst.Equal) else cst.NotIn(whitespace_between=cst.SimpleWhitespace(" "))
        )
        comparator: Optional[cst.BaseExpression] = cst.Tuple(
            [cst.Element(right, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))), cst.Element(cst.Name("None"))]
        )
    elif isinstance(operator, (cst.In, cst.NotIn)):
        membership, comparator = operator, _with_none(right)
        if comparator is None:
            return None
    else:
        return None
    fixed = comparison.with_changes(left=left, comparisons=[target.with_changes(operator=membership, comparator=comparator)])
    return FixPlan('Refuse an unknown mode too: `in ("wal", None)`', SAFE, {comparison: fixed})


def lowercase_fix(comparison: cst.Comparison, operand: cst.BaseExpression) -> Optional[FixPlan]:
    """WAL005's fix for a case-sensitive guard: compare ``operand.lower()``."""
    if not isinstance(operand, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)) or operand.lpar:
        return None
    lowered = cst.Call(cst.Attribute(operand, cst.Name("lower")))
    return FixPlan("Normalise the mode with `.lower()` before comparing", SAFE, {operand: lowered})
