"""What the walk of one function (:mod:`walint.flow.walker`) records: each call with the
context it runs in (a :class:`Site`), the ``try``, ``if`` and ``with suppress`` statements
around calls, the on-disk checks, and what the function returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Set, Tuple

import libcst as cst

from walint.semantic.scopes import Scope, Unit


@dataclass(eq=False)
class Site:
    """A call (or a ``x.journal_mode = ...`` assignment) and the context it runs in."""

    node: cst.CSTNode
    unit: Unit
    scope: Scope
    handler: Optional[cst.ExceptHandler]
    guarded: bool
    conditional: bool
    statement: cst.CSTNode
    # Decided by a flag that an `except` handler set (`wal_ok = False` ... `if not wal_ok:`).
    flagged: bool = False
    # The innermost `try` whose body (not handlers) holds this site.
    try_node: Optional[cst.CSTNode] = None
    # The simple statement line holding the site, where a fix can insert before it.
    line: Optional[cst.CSTNode] = None
    # The nearest statement that made the site guarded (an `if` on the mode, a refusing call).
    guard: Optional[cst.CSTNode] = None
    # The statements (by id) whose condition the site runs under: an `if`, a `case`, a
    # handler, a loop's or a `try`'s `else`. `conditional` says there is at least one.
    conditions: Tuple[int, ...] = ()


@dataclass(eq=False)
class TryFacts:
    """A ``try`` and the site ranges of its body and of each handler."""

    node: cst.CSTNode
    body: Tuple[int, int]
    handlers: List[Tuple[cst.CSTNode, Tuple[int, int]]]
    # Inside a loop whose exhaustion raises: a handler that falls through is a retry.
    retried_then_raised: bool
    # Inside a loop over items: `continue` in a handler skips to the next one.
    in_item_loop: bool = False
    # Inside a loop of attempts (`for attempt in range(n)`, `while True`), and the names
    # its `for` counts attempts in.
    in_retry_loop: bool = False
    attempt_names: Tuple[str, ...] = ()
    # In a loop of attempts whose `try` returns True once the switch works, followed by
    # `return False`: running out of attempts hands the failure back.
    retried_then_answered: bool = False
    # In a `while True:` loop: a handler that falls through tries again, forever.
    retried_forever: bool = False


@dataclass(eq=False)
class SuppressFacts:
    """A ``with contextlib.suppress(...)`` block and the sites in it."""

    node: cst.With
    exceptions: Sequence[cst.BaseExpression]
    body: Tuple[int, int]


@dataclass(eq=False)
class GuardFacts:
    """A check of the mode on disk that decides a downgrade: a comparison of the probed
    journal mode with "wal", or the answer of a WAL predicate used as a truth value."""

    comparison: cst.BaseExpression
    test: cst.BaseExpression
    scope: Scope


@dataclass(eq=False)
class Branch:
    """An ``if`` and the sites that run when its test is true, or false."""

    node: cst.If
    unit: Unit
    scope: Scope
    when_true: Tuple[int, int]
    when_false: List[Tuple[int, int]] = field(default_factory=list)
    # `if test: return True/False` inside a predicate function.
    returns: Optional[bool] = None


@dataclass(eq=False)
class UnitFacts:
    sites: List[Site] = field(default_factory=list)
    branches: List[Branch] = field(default_factory=list)
    returns: List[cst.BaseExpression] = field(default_factory=list)
    # An `if <mode is wal>: raise` (or an assert) at the top level of the body.
    refuses_wal: bool = False
    # It can return None: `return`, `return None`, a return in a handler, or falling off the end.
    returns_none: bool = False
    # Each `return`, with the `except` handler it sits in (None outside handlers).
    return_sites: List[Tuple[Optional[cst.BaseExpression], Optional[cst.ExceptHandler]]] = field(default_factory=list)
    # `return mode`: whether the name can hold None there is the paths' to tell.
    named_returns: List[cst.Return] = field(default_factory=list)
    falls_off_end: bool = False
    tries: List[TryFacts] = field(default_factory=list)
    suppressions: List[SuppressFacts] = field(default_factory=list)
    guards: List[GuardFacts] = field(default_factory=list)
    # `match <probe>:` cases that refuse "wal" (and not None) before the cases after them.
    wal_cases: List[Tuple[cst.Match, cst.MatchCase, Scope]] = field(default_factory=list)
    # Names of handler-set flags that decide something later.
    flags: Set[str] = field(default_factory=set)
    # Decorated as a SQLAlchemy "connect" listener, so it receives a fresh connection.
    connect_listener: bool = False
    # The statements (by id) after which the mode is known not to be WAL on every path:
    # `if mode in ("wal", None): raise`, a call of a function that refuses WAL.
    guard_statements: Set[int] = field(default_factory=set)
