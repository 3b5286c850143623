"""What a function answers its callers about the WAL switch and the mode: the constants
it returns when the switch worked and when it failed, the failures it lets propagate,
and the answers a probe makes up when it cannot read the mode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Set, Tuple

import libcst as cst

from walint.journal.guard_reading import says_unknown
from walint.semantic.model import Unit
from walint.semantic.nodes import small_statements

if TYPE_CHECKING:
    from walint.flow.walker import UnitFacts


class AnswerQueries:
    """Answers of a unit, asked of a :class:`walint.journal.model.ModuleModel` (mixed in)."""

    def _wal_outcome(self, unit: Unit) -> Tuple[Tuple[str, ...], Tuple[str, ...], bool]:
        """For ``def try_wal(conn): try: <WAL>; return True / except: return False``: what
        it answers when the switch worked and when it failed (encoded constants), when
        the two tell failure from success (constants from the handlers of a WAL ``try``,
        another elsewhere), and whether the answer is the first item of the tuples
        it returns (``return False, why``). Besides True/False: None against the mode read
        back, or two members of an enum."""
        from walint.flow.error_paths import NOT_NONE, UNKNOWN, PathState, constant

        facts = self.facts(unit)
        nothing: Tuple[Tuple[str, ...], Tuple[str, ...], bool] = ((), (), False)
        if facts.falls_off_end or not facts.return_sites:
            return nothing
        failure_handlers = {
            id(handler)
            for _, handler in facts.return_sites
            if handler is not None and self._handles_failed_wal(handler, unit)
        }
        if not failure_handlers:
            return nothing  # no answer comes from a failed switch: nothing tells it apart
        failed, succeeded, shapes = set(), set(), set()
        for value, handler in facts.return_sites:
            in_tuple = isinstance(value, cst.Tuple) and bool(value.elements)
            answer = value.elements[0].value if in_tuple else value  # type: ignore[union-attr]
            in_failure = id(handler) in failure_handlers
            said = constant(answer, PathState(False)) if answer is not None else None
            if said is UNKNOWN and isinstance(answer, cst.IfExp):
                # `Status.ENABLED if mode == "wal" else Status.UNSUPPORTED`: either.
                either = [constant(side, PathState(False)) for side in (answer.body, answer.orelse)]
                if UNKNOWN not in either:
                    shapes.add(in_tuple)
                    (failed if in_failure else succeeded).update(either)
                    continue
            if said is UNKNOWN and in_failure and _names_caught(answer, handler):
                said = NOT_NONE  # `except Error as exc: return exc`: the error, never None
            if said is UNKNOWN and not in_failure and answer is not None:
                if self.wal_answer(answer, unit.scope) is True:
                    # `return <the WAL pragma's answer> == "wal"`: false only where the mode
                    # read back says it is not WAL, which is a guard of its own.
                    said = True
                elif self.probe_calls(answer, unit.scope):
                    said = NOT_NONE  # the mode it read back
            if said is UNKNOWN:
                return nothing
            shapes.add(in_tuple)
            (failed if in_failure else succeeded).add(said)
        if failed and succeeded and failed != succeeded and len(shapes) == 1:
            # An answer both give (`UNAVAILABLE` for a switch that left another mode, and
            # for a failure) is on both kinds of path; callers still act on the failure.
            return _encoded(succeeded), _encoded(failed), shapes.pop()
        return nothing

    def _handles_failed_wal(self, handler: cst.CSTNode, unit: Unit) -> bool:
        try_facts = self.try_of_handler(handler, unit)
        return try_facts is not None and self._attempts_wal(unit, try_facts.node)

    def _wal_failure_propagates(self, facts: UnitFacts) -> bool:
        for site in facts.sites:
            if site.handler is not None or not isinstance(site.node, cst.Call):
                continue
            effect = self.direct_effect(site.node, site.scope)
            if effect is None or not effect.sets_wal:
                continue
            try_node = site.try_node
            if try_node is None or all(_reraises(h) for h in try_node.handlers):  # type: ignore[attr-defined]
                return True
        return False

    def _made_up_answers(self, unit: Unit) -> Set[str]:
        """What a probe can answer without having read the mode: ``"none"`` (``mode =
        None`` / ``with suppress(Error): mode = <read>`` / ``return mode``) and ``"string"``
        (``except Error: mode = "unknown"`` or ``return "unknown"``)."""
        from walint.flow.error_paths import UNKNOWN

        facts = self.facts(unit)
        kinds: Set[str] = set()
        for value, handler in facts.return_sites:
            if handler is not None and isinstance(value, (cst.SimpleString, cst.ConcatenatedString)):
                if says_unknown(value.evaluated_value):
                    kinds.add("string")
        if not facts.named_returns:
            return kinds
        flow = self.error_paths(unit)
        for statement in facts.named_returns:
            states = flow.states_before(statement) or ()
            name = statement.value.value  # type: ignore[union-attr]
            values = [state.get(name) for state in states]
            if UNKNOWN not in values:
                continue  # every path returns a constant: an answer of its own, not a reading
            if None in values:
                kinds.add("none")
            if any(isinstance(value, str) and says_unknown(value) for value in values):
                kinds.add("string")
        return kinds


def _reraises(handler: cst.ExceptHandler) -> bool:
    """Does the handler end by raising (the same error or one of its own)?"""
    statements = small_statements(handler.body)
    last = statements[-1] if statements else None
    return isinstance(last, cst.SimpleStatementLine) and any(isinstance(s, cst.Raise) for s in last.body)


def _names_caught(value: Optional[cst.BaseExpression], handler: Optional[cst.ExceptHandler]) -> bool:
    """Is ``value`` the name the handler binds the caught exception to?"""
    name = handler.name if handler is not None else None
    return (
        isinstance(value, cst.Name)
        and isinstance(name, cst.AsName)
        and isinstance(name.name, cst.Name)
        and name.name.value == value.value
    )


def _encoded(values: Set[object]) -> Tuple[str, ...]:
    from walint.flow.error_paths import encode_constant

    return tuple(sorted(encode_constant(value) for value in values))  # type: ignore[arg-type]
