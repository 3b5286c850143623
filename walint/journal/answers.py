"""What a function answers its callers about the WAL switch and the mode: the constants
it returns when the switch worked and when it failed, the failures it lets propagate,
and the answers a probe makes up when it cannot read the mode."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Optional, Sequence, Set, Tuple

import libcst as cst

from walint.flow.conditions import not_wal_when
from walint.journal.header_versions import made_up_version
from walint.markers import says_unknown
from walint.semantic.scopes import Scope, Unit, default_of
from walint.semantic.nodes import dotted_name, is_none, is_true_false_none, iter_subexpressions, small_statements
from walint.flow.path_state import NOT_NONE, UNKNOWN, PathState, constant, encode_constant

if TYPE_CHECKING:
    from walint.flow.unit_facts import UnitFacts


class PredicateAnswer(NamedTuple):
    wal_answer: Optional[bool]
    about_param: Optional[str]
    guesses_not_wal: bool
    may_return_none: bool
    makes_up_a_mode: bool


class AnswerQueries:
    """Answers of a unit, asked of a :class:`walint.journal.model.ModuleModel` (mixed in)."""

    def _wal_outcome(self, unit: Unit) -> Tuple[Tuple[str, ...], Tuple[str, ...], bool]:
        """For ``def try_wal(conn): try: <WAL>; return True / except: return False``: what
        it answers when the switch worked and when it failed (encoded constants), when
        the two tell failure from success (constants from the handlers of a WAL ``try``,
        another elsewhere), and whether the answer is the first item of the tuples
        it returns (``return False, why``). Besides True/False: None against the mode read
        back, or two members of an enum."""
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
        # `return conn` after `conn.execute(<WAL>)`: the connection it switched, never None.
        switched = {
            dotted_name(site.node.func.value)
            for site in facts.sites
            if isinstance(site.node, cst.Call) and isinstance(site.node.func, cst.Attribute) and self.switches_to_wal(site)
        } - {""}
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
            if said is UNKNOWN and in_failure and self.names_caught_exception(answer, unit.scope):
                said = NOT_NONE  # `except Error as exc: return exc`: the error, never None
            if said is UNKNOWN and not in_failure and isinstance(answer, (cst.Name, cst.Attribute)) and (
                dotted_name(answer) in switched or self._made_by_a_connect(answer, unit.scope)
            ):
                said = NOT_NONE  # the connection (or engine) it set up, never None
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
        facts = self.facts(unit)
        kinds: Set[str] = set()
        for value, handler in facts.return_sites:
            # `return "unknown"`, `return PROBE_FAILED`, `return JournalState.UNKNOWN`
            if handler is not None and isinstance(value, (cst.SimpleString, cst.ConcatenatedString, cst.Name, cst.Attribute)):
                if any(says_unknown(word) for word in self.folder.values(value, unit.scope)):
                    kinds.add("string")
                # `except Error: return default`, `default="delete"`: the caller's word, or that one.
                default = default_of(value.value, unit.scope) if isinstance(value, cst.Name) and value.value in unit.scope.params else None
                if isinstance(default, cst.SimpleString) and str(default.evaluated_value).lower() != "wal":
                    kinds.add("string")
            # `except OSError: return b""` from a reader of header bytes 18-19: no versions.
            if handler is not None and made_up_version(value) and not is_none(value):
                kinds.add("string")  # `except OSError: return 0` (or `(0, 0)`), no version at all
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

    def _made_by_a_connect(self, answer: cst.BaseExpression, scope: Scope) -> bool:
        """``engine`` bound only to ``create_engine(...)`` (``sqlite3.connect``, ...)."""
        bindings, parameter = self.bindings_of(answer, scope)
        return parameter is None and bool(bindings) and all(
            b.kind == "value" and b.scope is not None and self.is_connect_call(b.value, b.scope) for b in bindings  # type: ignore[arg-type]
        )

    def _predicate_answer(self, unit: Unit, facts: "UnitFacts", failure_returns: Tuple[str, ...]) -> "PredicateAnswer":
        """What a probe or predicate answers about the mode: whether its true answer means
        WAL (read from its returns, its branches, or a parameter it compares), and what it
        answers when it cannot tell."""
        # An answer a handler makes up (`except sqlite3.Error: return False`) is a guess,
        # not a reading. Guessing "WAL" refuses when unsure; guessing "not WAL" fails open.
        guesses = {
            value.value == "True"  # type: ignore[union-attr]
            for value, handler in facts.return_sites
            if handler is not None and is_true_false_none(value) and not is_none(value)
        }
        readings = [(value, self.wal_answer(value, unit.scope)) for value in facts.returns if not is_true_false_none(value)]
        # `if len(header) < 20: return os.path.getsize(path) != 0`: a test that reads no
        # mode, beside the readings, is a guess as a constant would be.
        answers = {said for value, said in readings if said is not None or not self._guesses_by_a_test(value, unit.scope)}
        answer = answers.pop() if len(answers) == 1 else None
        if answer is None and not readings:
            answer = self._answer_by_branches(unit)  # `if mode == "wal": return False` ... `return True`
        if guesses and failure_returns:
            answer = None  # `False` where the WAL switch raised: the failure, not a reading
        made_up = self._made_up_answers(unit)
        param, param_answer = (
            self._answers_of_a_parameter(unit, facts.returns) if len(facts.returns) == 1 and not facts.falls_off_end else (None, None)
        )
        return PredicateAnswer(
            wal_answer=answer if answer is not None else param_answer,
            about_param=param if answer is None else None,
            guesses_not_wal=answer is not None and (not answer) in guesses,
            # A predicate's made-up True/False is judged as a guess (`guesses_not_wal`), not as None.
            may_return_none=(facts.returns_none or bool(made_up))
            if answer is None or not guesses
            else facts.falls_off_end or any(v is None or is_none(v) for v, _ in facts.return_sites),
            makes_up_a_mode="string" in made_up,
        )

    def _answer_by_branches(self, unit: Unit) -> Optional[bool]:
        """For a predicate that returns only True and False, deciding by a test of the mode
        (``if row and row[0] == "wal": return False`` ... ``return True``): whether its
        True means WAL."""
        facts = self.facts(unit)
        if facts.falls_off_end or not all(is_true_false_none(value) and not is_none(value) for value in facts.returns):
            return None
        answers = set()
        for branch in facts.branches:
            if branch.returns is None:
                continue
            tested = self.wal_answer(branch.node.test, unit.scope)
            if tested is not None:
                answers.add(tested == branch.returns)
        return answers.pop() if len(answers) == 1 else None

    def _answers_of_a_parameter(
        self, unit: Unit, returns: Sequence[cst.BaseExpression]
    ) -> Tuple[Optional[str], Optional[bool]]:
        """``return mode == "wal"`` (or ``mode.lower() != "wal"``) on a parameter ``mode``:
        the parameter and whether a true answer means WAL."""
        value = returns[0]
        if not isinstance(value, cst.Comparison) or len(value.comparisons) != 1:
            return None, None
        for subject, other in ((value.left, value.comparisons[0].comparator), (value.comparisons[0].comparator, value.left)):
            while isinstance(subject, cst.Call) and isinstance(subject.func, cst.Attribute) and not subject.args:
                subject = subject.func.value  # `mode.lower()`
            if (
                isinstance(subject, cst.Name)
                and subject.value in unit.scope.params
                and not unit.scope.bindings.get(subject.value)
                and self.mentions_wal(other, unit.scope)
            ):
                return subject.value, not not_wal_when(value, True)
        return None, None

    def _guesses_by_a_test(self, value: cst.BaseExpression, scope: Scope) -> bool:
        """A returned comparison that reads no journal mode and names no WAL, or a choice
        between constants (``False if not header else None``)."""
        if isinstance(value, cst.IfExp):
            return all(is_true_false_none(side) or self._guesses_by_a_test(side, scope) for side in (value.body, value.orelse))
        return (
            isinstance(value, (cst.Comparison, cst.BooleanOperation))
            and not self.probe_calls(value, scope)
            and not any(self.mentions_wal(n, scope) for n in iter_subexpressions(value, limit=50) if isinstance(n, (cst.SimpleString, cst.Name)))
        )


def _reraises(handler: cst.ExceptHandler) -> bool:
    """Does the handler end by raising (the same error or one of its own)?"""
    statements = small_statements(handler.body)
    last = statements[-1] if statements else None
    return isinstance(last, cst.SimpleStatementLine) and any(isinstance(s, cst.Raise) for s in last.body)


def _encoded(values: Set[object]) -> Tuple[str, ...]:
    return tuple(sorted(encode_constant(value) for value in values))  # type: ignore[arg-type]
