"""WAL005: an on-disk guard that lets the downgrade proceed when the mode is unknown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, List, Optional, Tuple

import libcst as cst

from walint.analysis import iter_subexpressions, refuses_none
from walint.fixes import FixPlan, fail_closed_fix, lowercase_fix
from walint.rules.base import Invalid, Report, Rule, Valid

if TYPE_CHECKING:
    from walint.analysis import ModuleModel, Scope


NO_FIX_COMPARISON = 'only a plain `==`, `!=`, `in` or `not in` against "wal" is rewritten: refuse None by hand'
NO_FIX_NORMALISE = "the probe can also return None, so `.lower()` would fail: normalise inside the probe"


def _lowercases(expr: cst.BaseExpression) -> bool:
    return any(
        isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in ("lower", "casefold")
        for node in iter_subexpressions(expr, limit=200)
    )


class FailOpenGuard(Rule):
    """
    ## What it does
    Checks the on-disk guard in front of a downgrade for a comparison that lets the
    downgrade go ahead when the mode is unknown: `mode == "wal"` (or `mode != "wal"`
    around the downgrade) when the probe can return None or hides its own error, or a
    case-sensitive comparison of a probe that does not normalise its answer.

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

    ## Fix safety
    The fix makes the comparison fail closed: `== "wal"` becomes `in ("wal", None)`,
    `!= "wal"` becomes `not in ("wal", None)`, and a `("wal",)` collection gains `None`.
    A case-sensitive comparison of a probe that cannot return None compares
    `probe(...).lower()` instead. The guard then refuses in more cases and never in
    fewer, so the fix is safe.
    """

    code = "WAL005"
    name = "fail-open-guard"
    tokens = (b"journal_mode",)
    fixable = True

    VALID = (
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
"""
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
        for unit in model.units:
            for guard in model.facts(unit).guards:
                problem = self._problem(model, guard.comparison, guard.test, guard.scope)
                if problem is not None:
                    message, fix, no_fix_reason = problem
                    yield Report(guard.comparison, message, fix, None if fix else no_fix_reason)

    def _problem(
        self, model: "ModuleModel", comparison: cst.Comparison, test: cst.BaseExpression, scope: "Scope"
    ) -> Optional[Tuple[str, Optional[FixPlan], str]]:
        """The message, fix and reason for no fix, when the guard fails open."""
        operands = [comparison.left] + [c.comparator for c in comparison.comparisons]
        probed: List[Tuple[cst.BaseExpression, cst.CSTNode, "Scope"]] = [
            (operand, call, call_scope)
            for operand in operands
            if not model.mentions_wal(operand, scope)
            for call, call_scope in model.probe_calls(operand, scope)
        ]
        may_be_none = False
        unnormalised = False
        for operand, call, call_scope in probed:
            if isinstance(call, cst.Attribute):
                continue  # `db.journal_mode` reads the pragma
            name = call.func.attr.value if isinstance(call.func, cst.Attribute) else getattr(call.func, "value", "")
            if name in model.guard_names:
                may_be_none = True  # walint's helper (and configured guards) answer None when unsure
                continue
            direct = model.direct_effect(call, call_scope)
            if direct is not None:
                continue  # a pragma read raises on failure and answers in lower case
            callee = model.callee(call, call_scope)
            if callee is None:
                continue
            may_be_none = may_be_none or callee.probe_may_return_none
            if not callee.probe_normalises and not _lowercases(operand):
                unnormalised = True
        if may_be_none and not refuses_none(comparison, test):
            message = (
                "Guard lets the downgrade proceed when the on-disk mode is unknown (the probe can "
                'return None); refuse it too: `in ("wal", None)`'
            )
            return message, fail_closed_fix(comparison), NO_FIX_COMPARISON
        if unnormalised:
            message = "Guard compares the journal mode case-sensitively; normalise it with `.lower()` first"
            operands = [operand for operand, _, _ in probed]
            fix = lowercase_fix(comparison, operands[0]) if len(operands) == 1 and not may_be_none else None
            return message, fix, NO_FIX_NORMALISE
        return None
