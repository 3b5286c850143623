"""The per-function walk that records each call with the control context it runs in:
the ``except`` handler around it, whether an on-disk guard ran before it in its block,
whether it is conditional, and the ``try``, ``if``, ``with suppress`` and guards around
it. Rules and :class:`walint.journal.model.ModuleModel` read these facts;
:mod:`walint.flow.error_paths` adds the path-sensitive view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, NamedTuple, Optional, Sequence, Tuple

import libcst as cst

from walint.semantic.scopes import Scope, Unit
from walint.flow.unit_facts import Branch, GuardFacts, Site, SuppressFacts, TryFacts, UnitFacts
from walint.summary import SWALLOWS_WITH_BODY
from walint.semantic.nodes import SIMPLE_LINES, else_statements, iter_subexpressions, none_when_missing, small_statements
from walint.flow.conditions import (
    always_exits,
    answers_when_run_out,
    refuses_captured_wal,
    is_connect_listener,
    walks_items,
    ends_in_return,
    fetches_a_row,
    guard_premises,
    guarded_sides,
    holds_premise,
    not_wal_when,
    pattern_strings,
    raises_next,
    raises_when_run_out,
    returned_constant,
    statements_exit,
    suppress_calls,
    truth_tested,
)
from walint.flow.path_state import PathState, truth
from walint.tree import children, own_nodes
from walint.journal.header_versions import compares_with_wal_versions

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel


class _Ctx(NamedTuple):
    scope: Scope
    handler: Optional[cst.ExceptHandler]
    guarded: bool
    conditional: bool
    flagged: bool = False
    try_node: Optional[cst.CSTNode] = None
    # The enclosing loop raises once it runs out (`for ...: ... else: raise`).
    loop_raises: bool = False
    guard: Optional[cst.CSTNode] = None
    # The enclosing loop walks items (`for alias in aliases`), not attempts: its
    # `continue` moves on to the next item rather than trying again.
    item_loop: bool = False
    retry_loop: bool = False
    attempt_names: Tuple[str, ...] = ()
    conditions: Tuple[int, ...] = ()
    # The enclosing loop of attempts answers a failure once it runs out (`return False`).
    loop_answers: bool = False
    forever: bool = False
    # Conditions under which an earlier `if <condition> and <WAL check>: raise` has
    # refused WAL, each with that statement (conditions.guard_premises).
    premises: Tuple[Tuple[cst.BaseExpression, cst.CSTNode], ...] = ()

    def under(self, condition: cst.CSTNode, **changes: object) -> "_Ctx":
        """This context inside a branch that runs on ``condition``."""
        return self._replace(conditional=True, conditions=self.conditions + (id(condition),), **changes)  # type: ignore[arg-type]


def _collect(node: Optional[cst.CSTNode], tests: List[cst.BaseExpression]) -> List[cst.CSTNode]:
    """The calls, and ``.journal_mode`` reads, inside one expression or statement; the
    tests of its conditional expressions go to ``tests``."""
    if node is None:
        return []
    found: List[cst.CSTNode] = []
    stack = [node]
    while stack:
        current = stack.pop()
        kind = type(current)  # LibCST's node classes are final: `is` spares ABCMeta's isinstance
        if kind is cst.Lambda:
            continue  # its body runs where the lambda is called, not here
        if kind is cst.Call or (kind is cst.Attribute and current.attr.value == "journal_mode"):  # type: ignore[attr-defined]
            found.append(current)
        elif kind is cst.IfExp:
            tests.append(current.test)  # type: ignore[attr-defined]
        below = children(current)
        below.reverse()
        stack.extend(below)
    return found


class UnitWalker:
    """Second pass over one unit: sites in order, with handler, guard and flag context."""

    def __init__(self, model: "ModuleModel", unit: Unit) -> None:
        self.model = model
        self.unit = unit
        self.facts = UnitFacts()
        self._line: Optional[cst.CSTNode] = None
        self._premises: Dict[int, Tuple[cst.BaseExpression, ...]] = {}

    def run(self) -> UnitFacts:
        node = self.unit.node
        # `@requires_rollback_on_disk`: the decorator's wrapper refuses WAL before the body runs.
        guarded = isinstance(node, cst.FunctionDef) and any(d.guards_what_it_wraps for d in self.model.decorators_of(self.unit))
        ctx = _Ctx(self.unit.scope, None, guarded, False)
        if isinstance(node, cst.FunctionDef):
            self.facts.connect_listener = any(is_connect_listener(d.decorator) for d in node.decorators)
            statements = small_statements(node.body)
            if not statements_exit(statements):
                self.facts.returns_none = self.facts.falls_off_end = True
        else:
            statements = node.body
        self._block(statements, ctx, top_level=True)
        return self.facts

    def _site(self, node: cst.CSTNode, ctx: _Ctx, statement: cst.CSTNode) -> Site:
        return Site(
            node,
            self.unit,
            ctx.scope,
            ctx.handler,
            ctx.guarded,
            ctx.conditional,
            statement,
            ctx.flagged,
            ctx.try_node,
            self._line,
            ctx.guard,
            ctx.conditions,
        )

    def _add(self, node: Optional[cst.CSTNode], ctx: _Ctx, statement: cst.CSTNode) -> None:
        tests: List[cst.BaseExpression] = []
        for found in _collect(node, tests):
            self.facts.sites.append(self._site(found, ctx, statement))
        if ctx.handler is None:
            for test in tests:  # `"wal" if STATE["wal"] else "delete"` decides on a flag too
                self.facts.flags.update(self.model.handler_flags(test, ctx.scope))

    def _block(self, statements: Sequence[cst.CSTNode], ctx: _Ctx, top_level: bool = False) -> bool:
        """Record ``statements``; True when one of them guards what follows the block."""
        pending: List[Branch] = []
        guarded = False
        for index, statement in enumerate(statements):
            guards = self._statement(statement, ctx, top_level, statements[index + 1 :])
            if isinstance(statement, cst.If):
                branch = self.facts.branches[-1] if self.facts.branches and self.facts.branches[-1].node is statement else None
                if branch is not None and always_exits(statement.body):
                    pending.append(branch)
                    if not guards and ends_in_return(statement.body) and self._sets_wal_in(branch.when_true):
                        # `if local_fs: <WAL>; return conn`, then a rollback mode: the mode
                        # that follows is chosen by the opposite condition.
                        ctx = ctx.under(statement.orelse or statement)
            if guards:
                ctx = ctx._replace(guarded=True, guard=statement)
                self.facts.guard_statements.add(id(statement))
                guarded = True
            elif isinstance(statement, cst.If) and always_exits(statement.body):
                premises = self._premises.get(id(statement.test), ())
                if premises:
                    ctx = ctx._replace(premises=ctx.premises + tuple((premise, statement) for premise in premises))
        end = len(self.facts.sites)
        for branch in pending:
            # Code after `if test: raise` runs only when the test was false.
            branch.when_false.append((branch.when_true[1], end))
        return guarded

    def _sets_wal_in(self, span: Tuple[int, int]) -> bool:
        """Does a site among ``span`` switch to WAL?"""
        return any(self.model.switches_to_wal(site) for site in self.facts.sites[span[0] : span[1]])

    def _swallowing_managers(self, statement: cst.With, scope: Scope) -> List[cst.Call]:
        """``with ignoring(sqlite3.OperationalError):``, a project context manager that logs
        the errors of its body and carries on, as ``suppress`` does."""
        found = []
        for item in statement.items:
            call = item.item
            if isinstance(call, cst.Call) and isinstance(call.func, (cst.Name, cst.Attribute)):
                callee = self.model.callee(call, scope) or self.model.exit_facts(call, scope)
                if callee is not None and callee.swallows == SWALLOWS_WITH_BODY:
                    found.append(call)
        return found

    def _record_guards(self, test: cst.BaseExpression, scope: Scope) -> Tuple[bool, bool]:
        """Record the WAL checks in ``test`` (for WAL005); whether the test being true,
        and being false, proves the mode is not WAL (:func:`guarded_sides`)."""
        comparisons = self.model.wal_check_comparisons(test, scope)
        for comparison in comparisons:
            self.facts.guards.append(GuardFacts(comparison, test, scope))
        checks: List[Tuple[cst.BaseExpression, bool]] = [(c, not_wal_when(c, True)) for c in comparisons]
        checks += [(c, not_wal_when(c, False)) for c in self.model.rollback_mode_checks(test, scope)]
        predicates = self.model.wal_predicate_checks(test, scope)
        checks += predicates
        for atom, _ in predicates:
            # `version_bytes(path) == b"\x02\x02"`: a probe's bytes, which WAL005 judges as
            # it judges a probe's mode (what does it answer when it cannot read?).
            operands = () if not isinstance(atom, cst.Comparison) else (atom.left, *(c.comparator for c in atom.comparisons))
            if not isinstance(atom, cst.Comparison) or truth_tested(atom) is not None or (
                compares_with_wal_versions(atom, lambda operand: self.model.version_literal(operand, scope))
                and any(
                    self.model.probe_calls(operand, scope) or self.model.header_made_up_on_error(operand, scope)
                    for operand in operands
                )
            ):
                self.facts.guards.append(GuardFacts(atom, test, scope))
        checks += self.model.in_memory_checks(test, scope)
        if checks:
            checks += self.model.header_length_checks(test, scope)
            premises = guard_premises(test, checks)
            if premises:
                self._premises[id(test)] = premises
        return guarded_sides(test, checks) if checks else (False, False)

    def _statement(
        self, statement: cst.CSTNode, ctx: _Ctx, top_level: bool, following: Sequence[cst.CSTNode] = ()
    ) -> bool:
        """Record one statement; True when it guards everything after it."""
        model = self.model
        self._line = None
        if isinstance(statement, SIMPLE_LINES):
            guards = False
            self._line = statement
            for small in statement.body:
                if isinstance(small, cst.Return):
                    if small.value is not None:
                        self.facts.returns.append(small.value)
                    self.facts.return_sites.append((small.value, ctx.handler))
                    # (`return "wal"` where the read failed assumes the worst: no None there.)
                    failure_answer = ctx.handler is not None and not _says_wal(small.value)
                    if small.value is None or failure_answer or none_when_missing(small.value):
                        self.facts.returns_none = True  # `return row[0] if row else None`
                    elif isinstance(small.value, cst.Name):
                        self.facts.named_returns.append(small)
                    self._add(small.value, ctx, small)
                    if isinstance(small.value, (cst.Comparison, cst.BooleanOperation, cst.UnaryOperation)):
                        self._record_guards(small.value, ctx.scope)  # `return mode == "WAL"`: a predicate's check
                elif isinstance(small, cst.Assert):
                    self._add(small, ctx, small)
                    proves_not_wal, _ = self._record_guards(small.test, ctx.scope)
                    # `assert mode != "wal"` refuses WAL; `assert mode == "wal"` insists on it.
                    if proves_not_wal:
                        guards = True
                        if top_level:
                            self.facts.refuses_wal = True
                elif isinstance(small, cst.Assign):
                    self._add(small.value, ctx, small)
                    for target in small.targets:
                        if (
                            isinstance(target.target, cst.Attribute)
                            and target.target.attr.value == "journal_mode"
                            and self.model.uses_peewee
                        ):  # `db.journal_mode = "wal"` sets the pragma in peewee; elsewhere a config field
                            self.facts.sites.append(self._site(small, ctx, small))
                        else:
                            self._add(target.target, ctx, small)
                else:
                    self._add(small, ctx, small)
                    if model.is_guard_call(small, ctx.scope):
                        guards = True
            self._line = None
            return guards
        if isinstance(statement, cst.If):
            self._add(statement.test, ctx, statement)
            true_side, false_side = self._record_guards(statement.test, ctx.scope)
            premised = [guard for premise, guard in ctx.premises if holds_premise(statement.test, True, (premise,))]
            premised_else = [guard for premise, guard in ctx.premises if holds_premise(statement.test, False, (premise,))]
            flags = model.handler_flags(statement.test, ctx.scope) if ctx.handler is None else set()
            self.facts.flags.update(flags)
            # A branch is guarded where the mode is known not to be WAL: the body of
            # `if mode != "wal":`, the else of `if mode == "wal":`, what follows an
            # `if mode == "wal": raise`. The body of `if mode == "wal":` is not.
            # The branch a failure flag's handler value takes is the error path; the other
            # is where the flag says nothing failed.
            on_failure = truth(statement.test, PathState(True, tuple(sorted(model.handler_flag_values(statement.test, ctx.scope).items())))) if flags else None
            body_ctx = ctx.under(
                statement,
                guarded=ctx.guarded or true_side or bool(premised),
                flagged=ctx.flagged or (bool(flags) and on_failure is not False),
                guard=statement if true_side else (premised[0] if premised else ctx.guard),
            )
            else_ctx = ctx.under(
                statement.orelse or statement,
                guarded=ctx.guarded or false_side or bool(premised_else),
                flagged=ctx.flagged or (bool(flags) and on_failure is not True),
                guard=statement if false_side else (premised_else[0] if premised_else else ctx.guard),
            )
            start = len(self.facts.sites)
            branch = Branch(statement, self.unit, ctx.scope, (start, start), returns=returned_constant(statement.body))
            self.facts.branches.append(branch)
            self._block(small_statements(statement.body), body_ctx)
            branch.when_true = (start, len(self.facts.sites))
            if statement.orelse is not None:
                else_start = len(self.facts.sites)
                self._block(else_statements(statement.orelse), else_ctx)
                branch.when_false.append((else_start, len(self.facts.sites)))
            exits = always_exits(statement.body)
            if false_side and exits:
                if top_level and any(
                    isinstance(s, cst.Raise)
                    for line in small_statements(statement.body)
                    if isinstance(line, SIMPLE_LINES)
                    for s in line.body
                ):
                    self.facts.refuses_wal = True
                return True
            return False
        if isinstance(statement, (cst.For, cst.While)):
            self._add(statement.iter if isinstance(statement, cst.For) else statement.test, ctx, statement)
            # Exhaustion raises: the loop's `else`, or what follows it (`conn.close()`, then
            # `raise TimeoutError(...)`).
            raises_after = (
                (statement.orelse is not None and always_exits(statement.orelse.body))
                or raises_next(following)
                or raises_when_run_out(statement, following)
            )
            # A loop is no condition of its own: a retry loop or a loop over paths runs its
            # body as the code around it does (an `if` inside it still counts).
            items = walks_items(statement)
            counters = tuple(
                n.value for n in iter_subexpressions(statement.target) if isinstance(n, cst.Name)
            ) if isinstance(statement, cst.For) else ()
            # `while True:` never runs out: a handler that falls through tries again, when
            # the loop ends once it works (a `break` or `return` in it). A loop that never
            # ends (a heartbeat) carries on with the rest of its body instead.
            forever = (
                isinstance(statement, cst.While)
                and isinstance(statement.test, cst.Name)
                and statement.test.value == "True"
                and any(isinstance(node, (cst.Break, cst.Return)) for node in own_nodes(statement))
            )
            inner = ctx._replace(
                loop_raises=raises_after, item_loop=items, retry_loop=not items and not forever, attempt_names=counters,
                loop_answers=not items and answers_when_run_out(statement, following), forever=forever,
            )
            self._block(small_statements(statement.body), inner)
            if statement.orelse is not None:
                self._block(small_statements(statement.orelse.body), ctx.under(statement.orelse))
            return False
        if isinstance(statement, cst.With):
            for item in statement.items:
                self._add(item.item, ctx, statement)
            start = len(self.facts.sites)
            self._block(small_statements(statement.body), ctx)
            for call in suppress_calls(statement, lambda func: self.model.qualified_name(func, ctx.scope)) + self._swallowing_managers(statement, ctx.scope):
                arguments = [a.value for a in call.args]
                self.facts.suppressions.append(SuppressFacts(statement, arguments, (start, len(self.facts.sites))))
            return False
        if isinstance(statement, (cst.Try, cst.TryStar)):
            start = len(self.facts.sites)
            # `try: refuse_if_wal(conn) / except GuardError: conn.close(); raise`: a guard still.
            body_guards = self._block(small_statements(statement.body), ctx._replace(try_node=statement))
            try_facts = TryFacts(
                statement, (start, len(self.facts.sites)), [], ctx.loop_raises, ctx.item_loop, ctx.retry_loop, ctx.attempt_names,
                ctx.loop_answers, ctx.forever,
            )
            for handler in statement.handlers:
                self._add(handler.type, ctx, handler)
                handler_start = len(self.facts.sites)
                self._block(
                    small_statements(handler.body), ctx.under(handler, handler=handler, try_node=None)
                )
                try_facts.handlers.append((handler, (handler_start, len(self.facts.sites))))
            self.facts.tries.append(try_facts)
            if statement.orelse is not None:
                self._block(small_statements(statement.orelse.body), ctx.under(statement.orelse))
            if statement.finalbody is not None:
                self._block(small_statements(statement.finalbody.body), ctx)
            return body_guards and all(always_exits(handler.body) for handler in statement.handlers)
        if isinstance(statement, cst.FunctionDef):
            for decorator in statement.decorators:
                self._add(decorator.decorator, ctx, statement)
            return False
        if isinstance(statement, cst.ClassDef):
            class_scope = self.model.class_scopes.get(statement)
            if class_scope is not None:
                self._block(small_statements(statement.body), ctx._replace(scope=class_scope))
            return False
        if isinstance(statement, cst.Match):
            self._add(statement.subject, ctx, statement)
            # `match journal_mode_on_disk(conn): case "wal" | None: raise` refuses WAL for
            # the cases after it; `case "delete":` is a mode that is not WAL.
            probed = bool(model.probe_calls(statement.subject, ctx.scope))
            rows = fetches_a_row(statement.subject)
            wal_refused = none_refused = False
            for case in statement.cases:
                values = pattern_strings(case.pattern, rows) if probed else set()
                exits = always_exits(case.body)
                none_refused = none_refused or (None in values and exits)
                if "wal" in values and exits and not wal_refused and not none_refused:
                    self.facts.wal_cases.append((statement, case, ctx.scope))
                refused_here = wal_refused or bool(values and "wal" not in values and None not in values)
                # `case "unsupported" if on_disk_mode(conn) != "wal":` guards its body as an `if` would.
                case_guarded = False
                if case.guard is not None:
                    self._add(case.guard, ctx, case)
                    case_guarded = self._record_guards(case.guard, ctx.scope)[0] or (probed and refuses_captured_wal(case))
                guard = statement if refused_here else (case.guard if case_guarded else ctx.guard)
                self._block(
                    small_statements(case.body),
                    ctx.under(case, guarded=ctx.guarded or refused_here or case_guarded, guard=guard),
                )
                if "wal" in values and exits:
                    wal_refused = True
            # `match current: case "wal" | None: raise` / `case _: log(...)`, then the
            # downgrade: what follows the match runs only where the mode is not WAL.
            return wal_refused
        return False




def _says_wal(value: Optional[cst.BaseExpression]) -> bool:
    """``"wal"`` (any case), a literal a probe answers to assume the worst."""
    return isinstance(value, cst.SimpleString) and str(value.evaluated_value).strip().lower() == "wal"
