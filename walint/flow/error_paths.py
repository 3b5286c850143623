"""A forward dataflow over one function's statements: on which paths has a WAL attempt
failed, and what constants do the names that carry that failure hold?

Failures are often remembered in values rather than acted on in the ``except`` handler:
``journal = "DELETE"`` in the handler and an interpolated pragma later, a flag cleared in
the handler and tested after the ``try``, a module-global flag cleared by an earlier
call. Each path is a :class:`PathState` (did a WAL attempt fail on it, and the constant
each tracked name holds), and the analysis is path-sensitive on those constants: an
``if`` sends each state down the branches its test can take. Python's control flow is
structured, so the statements are walked as a tree: ``if``/``elif``/``else``, ``match``,
loops with ``else``, ``break``/``continue``, ``try``/``except``/``else``/``finally``,
``with``, ``return`` and ``raise``. The result is the set of states that reach each
statement; rules ask about the statements their sites sit in.
"""

from __future__ import annotations

from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple

import libcst as cst

from walint.semantic.nodes import dotted_name, grown_collection, literal_entries, subscript_path, updated_entries
from walint.flow.conditions import ends_the_process, suppresses
from walint.flow.path_state import (
    EMPTY,
    HOLDS_ITEMS,
    NOT_NONE,
    PRIVATE_DATABASE,
    UNKNOWN,
    Const,
    PathState,
    States,
    bounded,
    branch,
    call_key,
    constant,
    match_case,
)


def _block(suite: cst.BaseSuite) -> Sequence[cst.CSTNode]:
    return suite.body if isinstance(suite, cst.IndentedBlock) else [suite]


class _Loop:
    __slots__ = ("breaks", "continues")

    def __init__(self) -> None:
        self.breaks: List[PathState] = []
        self.continues: List[PathState] = []


class ErrorPaths:
    """The states that reach each statement of one function body.

    ``attempts_wal(try_node)`` tells whether a ``try`` body tries to switch to WAL: only
    its handlers start failed paths.
    """

    def __init__(
        self,
        attempts_wal: Callable[[cst.CSTNode], bool],
        outcome: Callable[[cst.Call], Optional[Tuple[Tuple[Const, ...], Tuple[Const, ...]]]] = lambda call: None,
        untracked: FrozenSet[str] = frozenset(),
        guard_statements: FrozenSet[int] = frozenset(),
        suppressing: FrozenSet[int] = frozenset(),
        opens_private_database: Callable[[cst.Call], bool] = lambda call: False,
        outer_constant: Callable[[cst.BaseExpression], Const] = lambda expr: UNKNOWN,
        cleared_by: Callable[[cst.Call], Tuple[Tuple[str, Const], ...]] = lambda call: (),
    ) -> None:
        self._attempts_wal = attempts_wal
        # What a called method's failed WAL attempt leaves in the instance's flags.
        self._cleared_by = cleared_by
        self._outer_constant = outer_constant
        self._opens_private_database = opens_private_database
        self._guard_statements = guard_statements
        self._suppressing = suppressing
        # What a call of a function that tries WAL answers on success and on failure.
        self._outcome = outcome
        self._untracked = untracked
        self._at: Dict[int, States] = {}
        self._loops: List[_Loop] = []

    def run(self, statements: Sequence[cst.CSTNode], entry: States) -> "ErrorPaths":
        self._statements(statements, entry)
        return self

    def states_before(self, statement: cst.CSTNode) -> Optional[States]:
        """The states that reach ``statement`` (a small statement or a compound header),
        or None when the walk did not record it."""
        return self._at.get(id(statement))

    # ----- statements ---------------------------------------------------------------

    def _record(self, node: cst.CSTNode, states: States) -> None:
        known = self._at.get(id(node))
        self._at[id(node)] = states if known is None else bounded(known | states)

    def _statements(self, statements: Sequence[cst.CSTNode], states: States) -> States:
        for index, statement in enumerate(statements):
            if not states:
                self._unreachable(statements[index:])
                break
            states = self._statement(statement, states)
            if id(statement) in self._guard_statements:
                states = bounded(PathState(s.failed, s.env, s.failed_at, True) for s in states)
        return states

    def _unreachable(self, statements: Sequence[cst.CSTNode]) -> None:
        """Record that no path reaches these statements (nor anything inside them)."""
        for statement in statements:
            if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                for small in statement.body:
                    self._at.setdefault(id(small), frozenset())
                continue
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                continue
            self._at.setdefault(id(statement), frozenset())
            for suite in _suites(statement):
                self._unreachable(_block(suite))

    def _split_calls(self, expr: Optional[cst.BaseExpression], states: States) -> States:
        """Each state again for each call of a WAL-trying function in ``expr``: once for each
        answer it gives when the switch worked, and once for each it gives when it failed
        (a failed path)."""
        if expr is None:
            return states
        for node in _calls(expr):
            outcome = self._outcome(node)
            if outcome is None:
                continue
            successes, failures = outcome
            key = call_key(node)
            # The failure is this function's own attempt, made through the call.
            states = bounded(
                [s.bind(key, success) for s in states for success in successes]
                + [s.failing(s.failed_at | {id(node)}).bind(key, failure) for s in states for failure in failures]
            )
        return states

    def _statement(self, statement: cst.CSTNode, states: States) -> States:
        if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for small in statement.body:
                self._record(small, states)
                states = self._small(small, states)
                if not states:
                    break
            return states
        self._record(statement, states)
        if isinstance(statement, cst.If):
            return self._if(statement, states)
        if isinstance(statement, (cst.Try, cst.TryStar)):
            return self._try(statement, states)
        if isinstance(statement, cst.While):
            return self._loop(statement, states, statement.test)
        if isinstance(statement, cst.For):
            return self._loop(statement, frozenset(self._assign(statement.target, None, s) for s in states), None)
        if isinstance(statement, cst.With):
            for item in statement.items:
                if item.asname is not None:
                    # `with sqlite3.connect(":memory:") as db`: the connection it opens.
                    opened = item.item if isinstance(item.item, cst.Call) else None
                    states = frozenset(self._assign(item.asname.name, opened, s) for s in states)
            ran = self._statements(_block(statement.body), states)
            # `with suppress(Error):` may end its body early: past it, as if none had run.
            return bounded(ran | states) if id(statement) in self._suppressing or suppresses(statement) else ran
        if isinstance(statement, cst.Match):
            out: set = set()
            remaining = self._split_calls(statement.subject, states)
            for case in statement.cases:
                matched, remaining = match_case(statement.subject, case, remaining)
                out |= self._statements(_block(case.body), matched)
            return bounded(out | remaining)  # no case may match
        return states  # def, class: bodies are units of their own

    def _small(self, small: cst.CSTNode, states: States) -> States:
        if isinstance(small, (cst.Return, cst.Raise)) or ends_the_process(small):
            return frozenset()
        if isinstance(small, cst.Break) and self._loops:
            self._loops[-1].breaks.extend(states)
            return frozenset()
        if isinstance(small, cst.Continue) and self._loops:
            self._loops[-1].continues.extend(states)
            return frozenset()
        if isinstance(small, cst.Assign):
            out = self._split_calls(small.value, states)
            for target in small.targets:
                out = frozenset(self._assign(target.target, small.value, s) for s in out)
            return bounded(out)
        if isinstance(small, (cst.AnnAssign, cst.AugAssign)):
            value = small.value if isinstance(small, cst.AnnAssign) else None
            return bounded(self._assign(small.target, value, s) for s in states)
        if isinstance(small, cst.Expr):
            for target, value in updated_entries(small.value):  # `state.update(wal=False)`
                states = frozenset(self._assign(target, value, s) for s in states)
            call = small.value.expression if isinstance(small.value, cst.Await) else small.value
            cleared = self._cleared_by(call) if isinstance(call, cst.Call) else ()
            if cleared:
                # `self._enable_wal()`, whose handler sets `self.wal_ok = False`: a path where
                # it worked, and a failed one that carries the flag.
                failed = [s.failing(s.failed_at | {id(call)}) for s in states]
                for name, value in cleared:
                    failed = [s.bind(name, value) for s in failed]
                states = bounded(list(states) + failed)
            grown = grown_collection(small.value)
            if grown is not None and dotted_name(grown):  # `broken.add(path)`
                return frozenset(s.bind(dotted_name(grown), HOLDS_ITEMS) for s in states)
        return bounded(_let_collections_escape(small, s) for s in states)

    def _assign(self, target: cst.BaseExpression, value: Optional[cst.BaseExpression], state: PathState) -> PathState:
        if isinstance(target, cst.Name) and target.value in self._untracked:
            return state
        # `db = await aiosqlite.connect(":memory:")` opens as the call does.
        opened = value.expression if isinstance(value, cst.Await) else value
        if isinstance(target, cst.Name):
            if isinstance(opened, cst.Call) and self._opens_private_database(opened):
                return state.bind(target.value, PRIVATE_DATABASE)
            state = state.forget_entries_of(target.value)
            if isinstance(value, cst.Dict):  # `state = {"journal": "wal"}`: each constant entry
                for path, entry in literal_entries(target.value, value):
                    state = state.bind(path, constant(entry, state))
            return state.bind(target.value, self._held(value, state))
        if subscript_path(target) or (isinstance(target, cst.Attribute) and dotted_name(target)):
            # `state["journal"] = ...`, `self._use_wal = False`
            key = subscript_path(target) or dotted_name(target)
            if isinstance(opened, cst.Call) and self._opens_private_database(opened):
                return state.bind(key, PRIVATE_DATABASE)  # `self.conn = sqlite3.connect(":memory:")`
            return state.bind(key, self._held(value, state))
        if isinstance(target, (cst.Tuple, cst.List)):
            # `ok, why = try_wal(conn)`: the answer is the first item of the tuple returned.
            known = constant(value, state) if isinstance(value, cst.Call) else UNKNOWN
            items = known if isinstance(known, tuple) and known is not UNKNOWN else ()
            for index, element in enumerate(target.elements):
                if index < len(items) and isinstance(element.value, cst.Name) and element.value.value not in self._untracked:
                    state = state.bind(element.value.value, items[index])
                else:
                    state = self._assign(element.value, None, state)
        return state

    def _held(self, value: Optional[cst.BaseExpression], state: PathState) -> object:
        """What a name assigned ``value`` holds on this path."""
        held = constant(value, state) if value is not None else UNKNOWN
        if held is UNKNOWN and isinstance(value, (cst.Name, cst.Attribute)) and state.get(dotted_name(value)) is UNKNOWN:
            held = self._outer_constant(value)  # `journal = PREFERRED`, a module's constant
        return held

    def _if(self, statement: cst.If, states: States) -> States:
        when_true, when_false = branch(statement.test, self._split_calls(statement.test, states))
        out = set(self._statements(_block(statement.body), when_true))
        orelse = statement.orelse
        if orelse is None:
            out |= when_false
        elif isinstance(orelse, cst.If):
            self._record(orelse, when_false)
            out |= self._if(orelse, when_false)
        else:
            out |= self._statements(_block(orelse.body), when_false)
        return bounded(out)

    def _loop(self, statement: cst.CSTNode, states: States, test: Optional[cst.BaseExpression]) -> States:
        head = states
        exits: set = set()
        iterated: set = set()  # the states after at least one pass through the body
        loop = _Loop()
        self._loops.append(loop)
        try:
            for first in (True, False):  # twice: what one pass assigns reaches the next
                enter, leave = branch(test, head) if test is not None else (head, head)
                if first:
                    # A retry loop (`while time.monotonic() < deadline:`) is entered: only
                    # a test known to be false skips it.
                    exits |= leave - enter if test is not None else leave
                after = self._statements(_block(statement.body), enter)  # type: ignore[attr-defined]
                passed = after | frozenset(loop.continues)
                iterated |= passed
                exits |= branch(test, passed)[1] if test is not None else passed
                head = bounded(head | passed)
        finally:
            self._loops.pop()
        orelse = getattr(statement, "orelse", None)
        if test is not None:
            normal = bounded(exits)
        elif _runs_at_least_once(statement):  # `for attempt in range(3):` is left only after a pass
            normal = bounded(iterated)
        else:
            normal = bounded(exits)
        if orelse is not None:
            normal = self._statements(_block(orelse.body), normal)
        return bounded(set(normal) | set(loop.breaks))

    def _try(self, statement: cst.CSTNode, states: States) -> States:
        # Any statement of the body may raise: a handler starts from every state seen there.
        raised: set = set(states)
        current = states
        for inner in _block(statement.body):  # type: ignore[attr-defined]
            if not current:
                break
            current = self._statement(inner, current)
            raised |= current
        out: set = set()
        normal = current
        orelse = getattr(statement, "orelse", None)
        if orelse is not None and normal:
            normal = self._statements(_block(orelse.body), normal)
        out |= normal
        failing = self._attempts_wal(statement)
        for handler in statement.handlers:  # type: ignore[attr-defined]
            entry = frozenset(s.failing(frozenset({id(statement)})) if failing else s for s in raised)
            if isinstance(getattr(handler.name, "name", None), cst.Name):  # `as exc`: the failure, never None
                entry = frozenset(s.bind(handler.name.name.value, NOT_NONE) for s in entry)
            out |= self._statements(_block(handler.body), bounded(entry))
        finalbody = getattr(statement, "finalbody", None)
        result = bounded(out)
        if finalbody is not None and failing and not statement.handlers:  # type: ignore[attr-defined]
            # `try: <WAL>; switched = True / finally: if not switched: <DELETE>`: the failure
            # runs the `finally` on its way out, then propagates.
            escaping = frozenset(s.failing(frozenset({id(statement)})) for s in raised)
            self._statements(_block(finalbody.body), bounded(escaping))
        if finalbody is not None and result:
            result = self._statements(_block(finalbody.body), result)
        return result


# ----- evaluating constants and tests ---------------------------------------------------


def _runs_at_least_once(statement: cst.CSTNode) -> bool:
    """A ``for`` over ``range(N)`` (a literal N > 0, or a count such as ``retries``), or
    over a non-empty literal."""
    iterable = getattr(statement, "iter", None)
    if isinstance(iterable, (cst.Tuple, cst.List, cst.Set)):
        return bool(iterable.elements)
    if isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Name) and iterable.func.value == "range":
        bounds = [arg.value for arg in iterable.args]
        if bounds and all(isinstance(b, cst.Integer) for b in bounds):
            numbers = [int(b.value, 0) for b in bounds]  # type: ignore[union-attr]
            start, stop = (0, numbers[0]) if len(numbers) == 1 else (numbers[0], numbers[1])
            return stop > start
        # `for attempt in range(retries):` is a retry loop; one that never tries is no use.
        return len(bounds) == 1
    return False


def _let_collections_escape(small: cst.CSTNode, state: PathState) -> PathState:
    """Forget what is known of a collection once anything but a test touches it: passed to
    a call (``fill(found)``) or changed by a method other than the ones that add."""
    tracked = [key for key, value in state.env if value in (EMPTY, HOLDS_ITEMS)]
    if not tracked:
        return state
    for call in _calls(small):  # type: ignore[arg-type]
        touched = [arg.value for arg in call.args]
        if isinstance(call.func, cst.Attribute) and grown_collection(call) is None:
            touched.append(call.func.value)  # `broken.discard(path)`, `found.clear()`
        for expr in touched:
            if dotted_name(expr) in tracked:
                state = state.bind(dotted_name(expr), UNKNOWN)
    return state


def _calls(expr: cst.BaseExpression) -> List[cst.Call]:
    found = []
    stack: List[cst.CSTNode] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Lambda):
            continue
        if isinstance(node, cst.Call):
            found.append(node)
        stack.extend(node.children)
    return found


def _suites(statement: cst.CSTNode) -> List[cst.BaseSuite]:
    """The blocks directly inside a compound statement."""
    suites: List[cst.BaseSuite] = []
    for name in ("body", "orelse", "finalbody"):
        part = getattr(statement, name, None)
        if isinstance(part, cst.If):
            suites.append(cst.IndentedBlock(body=[part]))
        elif isinstance(part, cst.BaseSuite):
            suites.append(part)
        elif part is not None and isinstance(getattr(part, "body", None), cst.BaseSuite):
            suites.append(part.body)
    for handler in getattr(statement, "handlers", ()):
        suites.append(handler.body)
    for case in getattr(statement, "cases", ()):
        suites.append(case.body)
    return suites


