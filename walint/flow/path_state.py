"""The abstract state of the error-path walk (:mod:`walint.flow.error_paths`): one set of
paths, whether a WAL attempt failed on them and the constant each tracked name holds,
and what an expression, a test or a ``match`` case comes to on it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import FrozenSet, Iterable, Optional, Tuple

import libcst as cst

from walint.semantic.nodes import dotted_name, grown_collection, subscript_path

# A name's value when it is not one constant the analysis can tell.
UNKNOWN = ("<unknown>",)
# A connection to a database no other connection writes: in memory, or opened read-only.
PRIVATE_DATABASE = "<a database no other connection writes>"
# Some value other than None (the mode a WAL switch read back): only `is None` tells.
NOT_NONE = "<not None>"
# What a set or list holds: none yet (`set()`, `[]`), or at least one item (`.add(x)`).
EMPTY, HOLDS_ITEMS = "<an empty collection>", "<a collection with items>"
_EMPTY_COLLECTIONS = frozenset({"set", "list", "deque", "collections.deque"})
# Beyond this many distinct states at one point, states that agree on `failed` are merged
# (names they disagree on become UNKNOWN): precision is traded for a bounded cost.
MAX_STATES = 16

Const = object
States = FrozenSet["PathState"]


@dataclass(frozen=True)
class PathState:
    """One set of paths: whether a WAL attempt failed on them, and known constants."""

    failed: bool
    env: Tuple[Tuple[str, Const], ...] = ()
    # The `try` (by id) whose handler these paths went through last.
    failed_at: FrozenSet[int] = frozenset()
    # Since the failure, a guard proved the mode on disk is not WAL.
    guarded: bool = False

    def get(self, name: str) -> Const:
        for key, value in self.env:
            if key == name:
                return value
        return UNKNOWN

    def bind(self, name: str, value: Const) -> "PathState":
        env = tuple((k, v) for k, v in self.env if k != name)
        if value is not UNKNOWN:
            env = tuple(sorted(env + ((name, value),), key=lambda item: item[0]))
        return PathState(self.failed, env, self.failed_at, self.guarded)

    def forget_entries_of(self, name: str) -> "PathState":
        """This state without what it knew of the entries of the dict ``name`` held."""
        prefix = name + "["
        if not any(key.startswith(prefix) for key, _ in self.env):
            return self
        return PathState(self.failed, tuple(item for item in self.env if not item[0].startswith(prefix)), self.failed_at, self.guarded)

    def failing(self, at: FrozenSet[int]) -> "PathState":
        """This state on the paths where a (new) WAL attempt just failed."""
        return PathState(True, self.env, at, False)


def bounded(states: Iterable[PathState]) -> States:
    found = frozenset(states)
    if len(found) <= MAX_STATES:
        return found
    merged = []
    for failed in (False, True):
        group = [s for s in found if s.failed is failed]
        if not group:
            continue
        common = set(group[0].env)
        for state in group[1:]:
            common &= set(state.env)
        failed_at = frozenset().union(*(state.failed_at for state in group))
        guarded = all(state.guarded for state in group)
        merged.append(PathState(failed, tuple(sorted(common, key=lambda item: item[0])), failed_at, guarded))
    return frozenset(merged)


def call_key(call: cst.Call) -> str:
    """The name under which a state keeps what one call answered on its path."""
    return f"<call {id(call)}>"


def constant(expr: Optional[cst.BaseExpression], state: PathState) -> Const:
    """The constant ``expr`` evaluates to on this path, or UNKNOWN."""
    if isinstance(expr, cst.NamedExpr):  # `(err := _try_wal(db)) is not None`
        expr = expr.value
    if isinstance(expr, cst.Await):  # `if not await _try_wal(db):`
        expr = expr.expression
    if isinstance(expr, cst.Call):
        if grown_collection(expr) is not None:
            # The value a handler's `broken.add(path)` leaves (see SemanticModel's bindings).
            return HOLDS_ITEMS
        if not expr.args and dotted_name(expr.func) in _EMPTY_COLLECTIONS:
            return EMPTY
        return state.get(call_key(expr))
    if isinstance(expr, cst.List) and not expr.elements:
        return EMPTY
    if isinstance(expr, cst.SimpleString):
        value = expr.evaluated_value
        return value if isinstance(value, str) else UNKNOWN
    if isinstance(expr, cst.Integer):
        try:
            return int(expr.value, 0)
        except ValueError:
            return UNKNOWN
    if isinstance(expr, cst.Name):
        if expr.value in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[expr.value]
        return state.get(expr.value)
    if isinstance(expr, cst.Attribute):  # `self._wal_failed`: known only where a caller says
        name = dotted_name(expr)
        known = state.get(name) if name else UNKNOWN
        if known is UNKNOWN and names_enum_member(expr):
            return f"<{name}>"  # `Result.FAILED` is itself, wherever it is compared
        return known
    if isinstance(expr, cst.Subscript):  # `state["wal"]`
        return state.get(subscript_path(expr)) if subscript_path(expr) else UNKNOWN
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
        inner = truth(expr.expression, state)
        return UNKNOWN if inner is None else not inner
    if isinstance(expr, cst.IfExp):  # `"wal" if STATE["wal"] else "delete"`
        chosen = truth(expr.test, state)
        return UNKNOWN if chosen is None else constant(expr.body if chosen else expr.orelse, state)
    return UNKNOWN


def names_enum_member(expr: cst.Attribute) -> bool:
    """``Result.FAILED``: a capitalised class's upper-case attribute."""
    owner = expr.value
    name = owner.attr.value if isinstance(owner, cst.Attribute) else owner.value if isinstance(owner, cst.Name) else ""
    return name[:1].isupper() and not name.isupper() and expr.attr.value.isupper()


def encode_constant(value: Const) -> str:
    """A tracked constant as JSON text, for the summaries other modules read."""
    return json.dumps(value)


def decode_constant(text: str) -> Const:
    """The constant :func:`encode_constant` wrote; UNKNOWN for anything else."""
    try:
        value = json.loads(text)
    except ValueError:
        return UNKNOWN
    return value if value is None or isinstance(value, (str, bool, int)) else UNKNOWN


def truth(expr: cst.BaseExpression, state: PathState) -> Optional[bool]:
    """Whether ``expr`` is true on this path: True, False, or None for "cannot tell"."""
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
        inner = truth(expr.expression, state)
        return None if inner is None else not inner
    if isinstance(expr, cst.BooleanOperation):
        left, right = truth(expr.left, state), truth(expr.right, state)
        if isinstance(expr.operator, cst.And):
            if left is False or right is False:
                return False
            return True if left and right else None
        if left is True or right is True:
            return True
        return False if left is False and right is False else None
    if isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1:
        target = expr.comparisons[0]
        left, right = constant(expr.left, state), constant(target.comparator, state)
        operator = target.operator
        if isinstance(operator, (cst.In, cst.NotIn)) and right in (EMPTY, HOLDS_ITEMS):
            # `path in self._wal_broken`: nothing is in an empty collection; which items
            # one holds is not tracked.
            return None if right == HOLDS_ITEMS else not isinstance(operator, cst.In)
        if isinstance(operator, (cst.In, cst.NotIn)) and isinstance(left, str) and isinstance(right, str):
            return (left in right) == isinstance(operator, cst.In)  # `"locked" not in message`
        if isinstance(operator, (cst.In, cst.NotIn)) and isinstance(target.comparator, (cst.Tuple, cst.List, cst.Set)):
            options = [constant(e.value, state) for e in target.comparator.elements]
            if left is UNKNOWN or any(o is UNKNOWN for o in options):
                return None
            found = left in options
            return found if isinstance(operator, cst.In) else not found
        if left is UNKNOWN or right is UNKNOWN:
            return None
        if NOT_NONE in (left, right) and None not in (left, right):
            return None  # some value, compared with something other than None
        if isinstance(operator, (cst.Equal, cst.Is)):
            return left == right
        if isinstance(operator, (cst.NotEqual, cst.IsNot)):
            return left != right
        return None
    value = constant(expr, state)
    if value is UNKNOWN:
        return None
    if value in (EMPTY, HOLDS_ITEMS):
        return value == HOLDS_ITEMS
    return bool(value)


def match_case(subject: cst.BaseExpression, case: cst.MatchCase, states: States) -> Tuple[States, States]:
    """The states that may take this ``case``, and those that may go on to the next one."""
    matched, passed = [], []
    for state in states:
        answer = _pattern_matches(case.pattern, constant(subject, state), state)
        if answer is not False:
            matched.append(state)
        if answer is not True or case.guard is not None:
            passed.append(state)
    if case.guard is not None:
        matched = list(branch(case.guard, frozenset(matched))[0])
    return bounded(matched), bounded(passed)


def _pattern_matches(pattern: cst.MatchPattern, value: Const, state: PathState) -> Optional[bool]:
    """Whether ``value`` matches ``pattern``: True, False, or None for "cannot tell"."""
    if isinstance(pattern, cst.MatchAs) and pattern.pattern is None:
        return True  # `case _:`, `case other:`
    if isinstance(pattern, cst.MatchAs):
        return _pattern_matches(pattern.pattern, value, state)
    if isinstance(pattern, cst.MatchOr):
        answers = [_pattern_matches(element.pattern, value, state) for element in pattern.patterns]
        return True if True in answers else None if None in answers else False
    if isinstance(pattern, (cst.MatchValue, cst.MatchSingleton)):
        expected = constant(pattern.value, state)
        if value is UNKNOWN or expected is UNKNOWN or (NOT_NONE in (value, expected) and None not in (value, expected)):
            return None
        return value == expected
    return None


def branch(test: cst.BaseExpression, states: States) -> Tuple[States, States]:
    """The states for which ``test`` may be true, and those for which it may be false."""
    when_true, when_false = [], []
    for state in states:
        answer = truth(test, state)
        if answer is not False:
            when_true.append(state)
        if answer is not True:
            when_false.append(state)
    return bounded(when_true), bounded(when_false)
