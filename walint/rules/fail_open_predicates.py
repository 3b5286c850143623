"""WAL005's checks of a guard that trusts a predicate (``if header_says_wal(path): raise``,
``journal_of(conn).startswith("wal")``): the predicate answers None, a made-up mode or a
guess when it cannot read the mode, and the guard lets the downgrade through on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Tuple

import libcst as cst

from walint.fixes import SAFE, FixPlan
from walint.flow.conditions import guarded_sides, truth_tested
from walint.journal.guard_reading import (
    is_none_comparison,
    may_hold_made_up,
    none_refused_before,
    probe_makes_up_a_mode,
    startswith_wal,
    uppercases,
)
from walint.semantic.nodes import is_none, iter_subexpressions
from walint.sql import callee_name

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel
    from walint.semantic.scopes import Scope, Unit


NO_FIX_MADE_UP = "the probe's made-up answer is not None: change the probe to answer None, then refuse None"
NO_FIX_COMPARISON = 'only a plain `==`, `!=`, `in` or `not in` against "wal" is rewritten: refuse None by hand'
NO_FIX_GUESS = "the predicate itself makes the answer up: let its `except` raise (or answer None and refuse None)"


def predicate_problem(
    model: "ModuleModel", unit: "Unit", answer: cst.BaseExpression, test: cst.BaseExpression, scope: "Scope"
) -> Optional[Tuple[str, Optional[FixPlan], str]]:
    """``if header_says_wal(path): raise`` where the predicate answers None when it cannot
    tell: None is falsy, so the unknown mode passes as "not WAL"."""
    if model.wal_answer(answer, scope) is not True:
        return None
    tested = startswith_wal(answer)
    if tested is not None:
        return _prefix_test_problem(model, answer, tested, scope)  # type: ignore[arg-type]
    # `header_says_wal(path) is True` is as true as `header_says_wal(path)`: None fails both.
    subject = truth_tested(answer) or answer
    guesser = _guessing_predicate(model, subject, scope)
    if guesser is None and not _predicate_may_answer_none(model, subject, scope):
        return None
    if not _downgrades_where_it_proves_not_wal(model, unit, answer, test):
        return None  # read the wrong way round: WAL001 reports the downgrade
    names = {answer.value} if isinstance(answer, cst.Name) else set()
    if any(is_none_comparison(node) for node in iter_subexpressions(test, limit=200)):
        return None  # `wal is None or wal`
    if names and none_refused_before(model, unit, answer, [(answer, answer, scope)]):
        return None
    if guesser is not None:
        message = (
            f"Guard trusts `{guesser}()`, which answers \"not WAL\" when it cannot read the mode (its "
            "`except` makes the answer up): the downgrade proceeds on an unknown mode; let it raise"
        )
        return message, None, NO_FIX_GUESS
    message = (
        "Guard lets the downgrade proceed when the on-disk mode is unknown (the predicate can "
        "return None, which is falsy); refuse it too: `is not False`"
    )
    # `x` becomes `x is not False`, and `not x` becomes `x is False`.
    negated = next(
        (node for node in iter_subexpressions(test, limit=200) if isinstance(node, cst.UnaryOperation) and node.expression is answer),
        None,
    )
    target: cst.BaseExpression = negated if isinstance(negated, cst.UnaryOperation) and isinstance(negated.operator, cst.Not) else answer
    operator = cst.Is() if target is not answer else cst.IsNot()
    refusing = cst.Comparison(subject.with_changes(lpar=[], rpar=[]), [cst.ComparisonTarget(operator, cst.Name("False"))])
    if target.lpar:
        refusing = refusing.with_changes(lpar=target.lpar, rpar=target.rpar)
    return message, FixPlan("Refuse an unknown mode too: `is not False`", SAFE, {target: refusing}), NO_FIX_COMPARISON


def _prefix_test_problem(
    model: "ModuleModel", prefix_test: cst.Call, tested: cst.BaseExpression, scope: "Scope"
) -> Optional[Tuple[str, Optional[FixPlan], str]]:
    """``journal_of(conn).startswith("wal")``: None raises there (it fails closed), but a
    made-up word (``"unknown"``) passes as "not WAL", and a spelling SQLite never answers
    in (``startswith("WAL")`` of the mode as read) never matches."""
    probed = model.probe_calls(tested, scope)
    literal = prefix_test.args[0].value
    if probed and isinstance(literal, cst.SimpleString) and literal.evaluated_value != "wal":
        as_answered = all(_answers_lower_case(model, call, where) for call, where in probed)
        if as_answered and not uppercases(model, tested, scope):
            message = (
                f"Guard tests whether the journal mode starts with `{literal.evaluated_value}`, but SQLite "
                'answers in lower case: it never refuses; test for "wal"'
            )
            return message, lowercase_literal_fix(literal), NO_FIX_COMPARISON
    if any(probe_makes_up_a_mode(model, call, where) for call, where in probed) or may_hold_made_up(model, tested, scope):
        message = (
            "Guard lets the downgrade proceed when the on-disk mode is unknown (the probe answers "
            "a made-up mode when it cannot read one); make it answer None and refuse None too"
        )
        return message, None, NO_FIX_MADE_UP
    return None


def _answers_lower_case(model: "ModuleModel", probe: cst.CSTNode, scope: "Scope") -> bool:
    """Does ``probe`` answer the mode as SQLite spells it: a read of the pragma, or a
    project probe that returns one untouched (or lower-cased)?"""
    if not isinstance(probe, cst.Call):
        return False
    effect = model.direct_effect(probe, scope)
    if effect is not None:
        return effect.reads
    callee = model.callee(probe, scope)
    return callee is not None and callee.probe_normalises and not callee.probe_uppercases


def lowercase_literal_fix(literal: cst.SimpleString) -> FixPlan:
    """WAL005's fix for a guard comparing with ``"WAL"``: compare with ``"wal"``."""
    lowered = literal.with_changes(value=literal.prefix + literal.quote + "wal" + literal.quote)
    return FixPlan('Compare with "wal", the way SQLite answers', SAFE, {literal: lowered})


def _downgrades_where_it_proves_not_wal(
    model: "ModuleModel", unit: "Unit", answer: cst.BaseExpression, test: cst.BaseExpression
) -> bool:
    """Is a downgrade on the side of the ``if`` where the predicate's False answer (the one
    None passes for) lets it run?"""
    facts = model.facts(unit)
    when_true, when_false = guarded_sides(test, [(answer, False)])
    for branch in facts.branches:
        if branch.node.test is test:
            ranges = ([branch.when_true] if when_true else []) + (list(branch.when_false) if when_false else [])
            return any(model.is_rollback_site(site) for start, end in ranges for site in facts.sites[start:end])
    return True


def _guessing_predicate(model: "ModuleModel", answer: cst.BaseExpression, scope: "Scope") -> Optional[str]:
    """The name of the predicate ``answer`` calls, when it answers "not WAL" on error."""
    if isinstance(answer, cst.Call):
        callee = model.callee(answer, scope)
        if callee is not None and callee.guesses_not_wal:
            return callee_name(answer)
    return None


def _predicate_may_answer_none(model: "ModuleModel", answer: cst.BaseExpression, scope: "Scope") -> bool:
    calls: List[Tuple[cst.BaseExpression, "Scope"]] = [(answer, scope)]
    if isinstance(answer, (cst.Name, cst.Attribute)):
        bindings, _ = model.bindings_of(answer, scope)
        calls = [(b.value, b.scope) for b in bindings if b.kind == "value" and isinstance(b.value, cst.BaseExpression)]  # type: ignore[misc]
        if any(is_none(value) for value, _ in calls):
            return True
    for call, where in calls:
        if isinstance(call, cst.Call):
            callee = model.callee(call, where)
            if callee is not None and callee.wal_answer is not None and callee.probe_may_return_none:
                return True
    return False
