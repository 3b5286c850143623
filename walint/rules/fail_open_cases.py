"""WAL005's checks of a guard written as a ``match`` on the mode read: a case that refuses
WAL but lets an unknown (None) mode fall to the downgrade, and one spelt as SQLite never
answers (``case "WAL":``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import libcst as cst

from walint.fixes import SAFE, FixPlan
from walint.flow.conditions import always_exits
from walint.journal.guard_reading import probe_may_answer_none, uppercases
from walint.semantic.nodes import iter_subexpressions

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel
    from walint.semantic.scopes import Scope, Unit


def match_lets_none_through(
    model: "ModuleModel", unit: "Unit", match: cst.Match, case: cst.MatchCase, scope: "Scope"
) -> bool:
    """``match read_mode(conn): case "wal": raise / case _: <downgrade>`` with a probe
    that answers None when it cannot read the mode."""
    if not any(
        isinstance(call, cst.Call) and probe_may_answer_none(model, call, where)
        for call, where in model.probe_calls(match.subject, scope)
    ):
        return False
    later = match.cases[list(match.cases).index(case) + 1 :]
    for other in later:
        if isinstance(other.pattern, cst.MatchAs) and other.pattern.pattern is None:
            break  # `case _:` or `case other:` takes None before any case after it
        if _matches_none(other.pattern) and other.guard is None and always_exits(other.body):
            return False  # `case None: raise`: an unknown mode is refused there
    inside = {id(node) for other in later for node in iter_subexpressions(other.body, limit=5000)}
    # In a later case, or after the match (which it guards: `case _: log(...)`, then the downgrade).
    return any(
        (id(site.node) in inside or site.guard is match) and model.is_rollback_site(site) for site in model.facts(unit).sites
    )


def _matches_none(pattern: cst.MatchPattern) -> bool:
    """``case None:`` (or ``case "wal" | None:``)."""
    if isinstance(pattern, cst.MatchSingleton):
        return isinstance(pattern.value, cst.Name) and pattern.value.value == "None"
    if isinstance(pattern, cst.MatchOr):
        return any(_matches_none(element.pattern) for element in pattern.patterns)
    return False


def case_spelling_never_answered(
    model: "ModuleModel", match: cst.Match, case: cst.MatchCase, scope: "Scope"
) -> Optional[cst.SimpleString]:
    """``case "WAL":`` on the mode as read (not upper-cased): the literal it never matches."""
    literals = [n for n in iter_subexpressions(case.pattern, limit=50) if isinstance(n, cst.SimpleString)]
    spelt = next((n for n in literals if str(n.evaluated_value).lower() == "wal" and n.evaluated_value != "wal"), None)
    if spelt is None or uppercases(model, match.subject, scope):
        return None
    probes = model.probe_calls(match.subject, scope)
    return spelt if probes and all(isinstance(call, cst.Call) and _answers_as_read(model, call, where) for call, where in probes) else None


def _answers_as_read(model: "ModuleModel", call: cst.Call, scope: "Scope") -> bool:
    """Is ``call`` a read of the pragma, or a probe of the project (here or imported) whose
    answers are all in lower case, as SQLite spells the mode?"""
    if model.direct_effect(call, scope) is not None:
        return True
    callee = model.callee(call, scope)
    return callee is not None and callee.probe and callee.probe_normalises and not callee.probe_uppercases and callee.wal_answer is None


def refuse_none_case_fix(case: cst.MatchCase) -> Optional[FixPlan]:
    pattern = case.pattern
    if not isinstance(pattern, (cst.MatchValue, cst.MatchOr)):
        return None
    options = list(pattern.patterns) if isinstance(pattern, cst.MatchOr) else [cst.MatchOrElement(pattern)]
    options[-1] = options[-1].with_changes(separator=cst.BitOr())
    widened = cst.MatchOr(options + [cst.MatchOrElement(cst.MatchSingleton(cst.Name("None")))])
    return FixPlan("Refuse an unknown mode too: `| None`", SAFE, {pattern: widened})
