"""What code does to a journal mode, per module: the effect of each call (SQL recognised
by :mod:`walint.sql`, project functions followed through their facts), the probes that
read the mode, the guards that refuse a downgrade (:mod:`walint.journal.guards`), the
paths after a failed WAL attempt (:mod:`walint.journal.failures`), and the plain-data
summary other modules import. Built on the semantic layer (:mod:`walint.semantic`) and
the per-function walks (:mod:`walint.flow`).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst

from walint.constants import HOLE, Resolution, StringFolder, is_known, loop_hole, param_hole, param_of
from walint.journal.answers import AnswerQueries
from walint.journal.calls import MAX_TEMPLATES, CallEffects, fills_only, merged_effects
from walint.journal.failures import FailureQueries
from walint.journal.guards import GuardQueries
from walint.journal.loops import LoopQueries, loop_view
from walint.flow.conditions import not_wal_when
from walint.flow.walker import Branch, Site, TryFacts, UnitFacts, UnitWalker
from walint.semantic.model import Binding, SemanticModel, Scope, Unit
from walint.semantic.nodes import dotted_name, is_none, iter_subexpressions
from walint.sql import ModeEffect, classify_call, normalise_mode, sql_texts
from walint.summary import FunctionFacts, ModuleSummary
from walint.tree import NodePositions, own_nodes, positions_of

if TYPE_CHECKING:
    from walint.flow.error_paths import ErrorPaths

# Names of functions that read the mode on disk wherever they come from: walint's own helper.
DEFAULT_GUARDS = frozenset({"journal_mode_on_disk"})

# What `sqlite3.connect` and friends are called, by their qualified names.
CONNECT_FUNCTIONS = frozenset(
    {
        "sqlite3.connect",
        "sqlite3.dbapi2.connect",
        "sqlite3.Connection",
        "pysqlite2.dbapi2.connect",
        "aiosqlite.connect",
        "apsw.Connection",
        "sqlcipher3.connect",
        "pysqlite3.connect",
        "pysqlite3.dbapi2.connect",
        "sqlean.connect",
        # Libraries whose database (or engine) object opens the file for the caller.
        "sqlite_utils.Database",
        "sqlite_utils.db.Database",
        "peewee.SqliteDatabase",
        "playhouse.sqlite_ext.SqliteExtDatabase",
        "playhouse.sqlite_ext.CSqliteExtDatabase",
        "playhouse.apsw_ext.APSWDatabase",
        "playhouse.sqliteq.SqliteQueueDatabase",
        "playhouse.pool.PooledSqliteDatabase",
        "playhouse.pool.PooledSqliteExtDatabase",
        "sqlalchemy.create_engine",
        "sqlalchemy.engine.create_engine",
        "sqlalchemy.ext.asyncio.create_async_engine",
        "sqlmodel.create_engine",
        "dataset.connect",
    }
)

# Answers "what is this imported dotted name": FunctionFacts, a tuple of string values for
# a constant, or None. Supplied by the project pass; the default knows nothing.
ExternalLookup = Callable[[str], object]


def _no_external(origin: str) -> object:
    return None


_FETCH_METHODS = frozenset({"fetchone", "fetchall", "fetchmany"})


def _cursor_reads(unit: Unit) -> Dict[int, cst.Call]:
    """Each fetch on a cursor name in ``unit``, with the last execute on that name before it."""
    found: Dict[int, cst.Call] = {}
    last: Dict[str, cst.Call] = {}
    for node in own_nodes(unit.node):
        if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
            continue
        receiver = dotted_name(node.func.value)
        if not receiver:
            continue
        method = node.func.attr.value
        if method == "execute":
            last[receiver] = node
        elif method in _FETCH_METHODS and receiver in last:
            found[id(node)] = last[receiver]
    return found


def _is_constant(value: Optional[cst.BaseExpression]) -> bool:
    return isinstance(value, cst.Name) and value.value in ("True", "False", "None")


class ModuleModel(SemanticModel, GuardQueries, FailureQueries, AnswerQueries, CallEffects, LoopQueries):
    """Everything the rules ask about one parsed module."""

    def __init__(
        self,
        module: cst.Module,
        guards: Sequence[str] = (),
        external: ExternalLookup = _no_external,
        path: str = "",
    ) -> None:
        self.path = path
        self.external = external
        self.guard_names = DEFAULT_GUARDS | frozenset(g.rsplit(".", 1)[-1].rsplit(":", 1)[-1] for g in guards)
        self.folder = StringFolder(self.resolve, self.returned_values)
        super().__init__(module)
        self._facts: Dict[Unit, UnitFacts] = {}
        self._in_progress: Set[Unit] = set()
        self._effects: Dict[int, Optional[ModeEffect]] = {}
        self._function_facts: Dict[Unit, FunctionFacts] = {}
        self._positions: Optional[NodePositions] = None
        # (expression, scope) -> does it evaluate to "wal"; asked again by every rule.
        self._mentions_wal: Dict[Tuple[cst.CSTNode, Scope], bool] = {}
        self._error_paths: Dict[Unit, "ErrorPaths"] = {}
        self._error_paths_in_progress: Set[Unit] = set()
        self._error_callbacks: Optional[Dict[Unit, str]] = None
        self._unpacking_scopes: Dict[Scope, bool] = {}
        self._probe_calls: Dict[Tuple[cst.CSTNode, Scope], List[Tuple[cst.CSTNode, Scope]]] = {}
        self._cursor_reads: Dict[Unit, Dict[int, cst.Call]] = {}

    def fetched_by(self, call: cst.Call, scope: Scope) -> Optional[cst.Call]:
        """For ``cur.fetchone()`` (``fetchall``, ``fetchmany``) on a name, the last
        ``cur.execute(...)`` written before it in the same function: the statement whose
        rows it fetches (``cur.execute("PRAGMA journal_mode"); row = cur.fetchone()``)."""
        if not isinstance(call.func, cst.Attribute) or call.func.attr.value not in _FETCH_METHODS:
            return None
        unit = scope.unit or self.module_unit
        found = self._cursor_reads.get(unit)
        if found is None:
            found = self._cursor_reads[unit] = _cursor_reads(unit)
        return found.get(id(call))

    @cached_property
    def uses_peewee(self) -> bool:
        """Does the module import peewee (or playhouse), whose databases set a pragma by
        attribute assignment (``db.journal_mode = "wal"``)?"""
        return any(
            binding.kind == "import" and (binding.origin or "").lstrip(".").split(".")[0] in ("peewee", "playhouse")
            for bindings in self.module_scope.bindings.values()
            for binding in bindings
        )

    def resolve(self, expr: cst.BaseExpression, scope: object) -> Optional[Resolution]:
        assert isinstance(scope, Scope)
        bindings, parameter = self.bindings_of(expr, scope)
        values: Tuple[str, ...] = ()
        if any(b.kind == "import" for b in bindings) or (not bindings and isinstance(expr, cst.Attribute)):
            found = self.external(self.qualified_name(expr, scope)) if self.qualified_name(expr, scope) else None
            if isinstance(found, tuple):
                values = found
        if not bindings and parameter is None and not values:
            return None
        expressions: List[Tuple[Optional[cst.BaseExpression], Optional[Scope]]] = []
        for b in bindings:
            if values and b.kind == "import":
                continue
            if b.kind == "value":
                expressions.append((b.value, b.scope))  # type: ignore[arg-type]
            elif b.kind == "iter" and b.scope is not None and b.target is not None:
                # `for pragma in FALLBACK_PRAGMAS:`: what the name holds on each iteration.
                rows = self.loop_rows(b.target, b.value, b.scope)  # type: ignore[arg-type]
                held = [row[expr.value] for row in rows or () if expr.value in row] if isinstance(expr, cst.Name) else []
                hole = self._item_of_a_parameter(expr, b) if rows is None else None
                if hole is not None and len(bindings) == 1:
                    return Resolution(parameter=hole)  # `for key, value in steps:`, `steps` a parameter
                expressions.extend(held or [(None, None)])  # type: ignore[list-item]
            else:
                expressions.append((None, None))
        return Resolution(expressions, parameter, values)  # type: ignore[arg-type]

    def _item_of_a_parameter(self, expr: cst.BaseExpression, binding: Binding) -> Optional[str]:
        """The placeholder for ``expr`` when it is (a part of) the item of a loop over a
        parameter (``for key, value in pragmas.items():``): the caller's argument decides."""
        iterable, view = loop_view(binding.value)  # type: ignore[arg-type]
        if not isinstance(expr, cst.Name) or not isinstance(iterable, cst.Name) or binding.scope is None:
            return None
        if iterable.value not in binding.scope.params or binding.scope.bindings.get(iterable.value):
            return None  # not a parameter, or one the function rebinds
        target = binding.target
        if isinstance(target, cst.Name):
            return loop_hole(iterable.value, view, None) if target.value == expr.value else None
        if isinstance(target, (cst.Tuple, cst.List)):
            for index, element in enumerate(target.elements):
                if isinstance(element.value, cst.Name) and element.value.value == expr.value:
                    return loop_hole(iterable.value, view, index)
        return None

    def _answer_by_branches(self, unit: Unit) -> Optional[bool]:
        """For a predicate that returns only True and False, deciding by a test of the mode
        (``if row and row[0] == "wal": return False`` ... ``return True``): whether its
        True means WAL."""
        facts = self.facts(unit)
        if facts.falls_off_end or not all(_is_constant(value) and not is_none(value) for value in facts.returns):
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
            return all(_is_constant(side) or self._guesses_by_a_test(side, scope) for side in (value.body, value.orelse))
        return (
            isinstance(value, (cst.Comparison, cst.BooleanOperation))
            and not self.probe_calls(value, scope)
            and not any(self.mentions_wal(n, scope) for n in iter_subexpressions(value, limit=50) if isinstance(n, (cst.SimpleString, cst.Name)))
        )

    def is_connect_call(self, node: cst.CSTNode, scope: Scope) -> bool:
        """``sqlite3.connect(...)`` and its kin, or ``engine.connect()`` on an engine made here."""
        return isinstance(node, cst.Call) and (
            self.qualified_name(node.func, scope) in CONNECT_FUNCTIONS or self._connects_an_engine(node, scope)
        )

    def _connects_an_engine(self, call: cst.Call, scope: Scope) -> bool:
        """``engine.connect()`` (or ``.begin()``) where ``engine = create_engine(...)``."""
        func = call.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in ("connect", "begin", "raw_connection"):
            return False
        bindings, _ = self.bindings_of(func.value, scope)
        return bool(bindings) and all(
            b.kind == "value"
            and isinstance(b.value, cst.Call)
            and b.scope is not None
            and self.qualified_name(b.value.func, b.scope) in CONNECT_FUNCTIONS
            for b in bindings
        )

    def returned_values(self, call: cst.Call, scope: object) -> Tuple[str, ...]:
        """The strings a call of a project function returns, when all are constants."""
        assert isinstance(scope, Scope)
        unit = self.resolve_unit(call, scope)
        if unit is not None and unit in self._in_progress:
            return ()
        callee = self.callee(call, scope)
        return callee.returned_values if callee is not None else ()

    def callee(self, call: cst.Call, scope: Scope) -> Optional[FunctionFacts]:
        """What is known about the project function ``call`` calls, here or in another module."""
        named = self._named_callee(call, scope)
        if named is not None:
            return named
        # A table of remedies picked by the error (`REMEDIES.get(name)(conn)`): the call
        # may run any of them, so it downgrades if one does. A table that also holds a
        # WAL strategy (`{"wal": _use_wal, "delete": _use_rollback}[preferred]`) leaves
        # that to its key, as configuration does.
        known = self.table_entries(call, scope)
        downgrading = [facts for facts in known if facts.downgrades or facts.unguarded_downgrade]
        if any(facts.sets_journal_mode and facts not in downgrading for facts in known):
            return None
        return downgrading[0] if downgrading else None

    def property_facts(self, attribute: cst.Attribute, scope: Scope) -> Optional[FunctionFacts]:
        """What is known about the ``@property`` an attribute reads (``self.journal_mode``)."""
        unit = self.property_unit(attribute, scope)
        return self.function_facts(unit) if unit is not None else None

    def table_entries(self, call: cst.Call, scope: Scope) -> List[FunctionFacts]:
        """What is known about the project functions a call may pick from a dict literal."""
        entries = (
            self._named_callee(cst.Call(func=func), where)
            for func, where in self.dispatch_candidates(call, scope)
            if isinstance(func, (cst.Name, cst.Attribute))
        )
        return [facts for facts in entries if facts is not None]

    def _named_callee(self, call: cst.Call, scope: Scope, depth: int = 0) -> Optional[FunctionFacts]:
        unit = self.resolve_unit(call, scope)
        if unit is not None:
            return self.function_facts(unit)
        origin = self.qualified_name(call.func, scope)
        found = self.external(origin) if origin else None
        if found is None and isinstance(call.func, cst.Name) and depth < 3:
            # `_guard = refuse_if_wal` ... `_guard(conn)`: an alias of a function.
            bindings, parameter = self.bindings_of(call.func, scope)
            if not parameter and len(bindings) == 1 and bindings[0].kind == "value" and bindings[0].scope is not None:
                aliased = bindings[0].value
                if isinstance(aliased, (cst.Name, cst.Attribute)):
                    return self._named_callee(call.with_changes(func=aliased), bindings[0].scope, depth + 1)
        return found if isinstance(found, FunctionFacts) else None

    # ----- per-unit facts ----------------------------------------------------------

    def facts(self, unit: Unit) -> UnitFacts:
        facts = self._facts.get(unit)
        if facts is None:
            if unit in self._in_progress:
                return UnitFacts()  # a recursive call: assume nothing about it
            self._in_progress.add(unit)
            try:
                facts = UnitWalker(self, unit).run()
            finally:
                self._in_progress.discard(unit)
            self._facts[unit] = facts
        return facts

    def all_sites(self) -> Iterator[Site]:
        for unit in self.units:
            yield from self.facts(unit).sites

    def all_branches(self) -> Iterator[Branch]:
        for unit in self.units:
            yield from self.facts(unit).branches

    def location(self, node: cst.CSTNode) -> str:
        """``path:line`` of a node."""
        return f"{self.path}:{self.line_of(node)}"

    def line_of(self, node: cst.CSTNode) -> int:
        """A node's first line; positions are computed once, and only when asked for."""
        if self._positions is None:
            self._positions = positions_of(self.module)
        span = self._positions.get(node)
        return span.start.line if span is not None else 0  # type: ignore[attr-defined]

    # ----- what calls do -----------------------------------------------------------

    def direct_effect(self, node: cst.CSTNode, scope: Scope) -> Optional[ModeEffect]:
        """The effect of a call by what it says, without looking into project functions."""
        if isinstance(node, cst.Call):
            return classify_call(node, self.folder, scope)
        if isinstance(node, cst.Attribute):
            return ModeEffect(reads=True)  # `db.journal_mode` (peewee, sqlite-utils)
        return None

    def effect(self, site: Site) -> Optional[ModeEffect]:
        """What ``site`` does to the journal mode, following project functions."""
        key = id(site.node)
        if key in self._effects:
            return self._effects[key]
        self._effects[key] = None  # cycle guard
        result = self._with_defaults(self._site_effect(site), site.unit)
        self._effects[key] = result
        return result

    def _with_defaults(self, effect: Optional[ModeEffect], unit: Unit) -> Optional[ModeEffect]:
        """``execute(MODE_SQL % fallback)`` in ``def main(path, fallback="persist")``: the
        mode the parameter's default gives, when the caller passes none."""
        if effect is None or not effect.parameter_modes:
            return effect
        defaults = dict(self._constant_defaults(unit))
        extra = [normalise_mode(v) for p in effect.parameter_modes for v in defaults.get(p, ())]
        extra = [m for m in dict.fromkeys(extra) if m not in effect.sets]
        return ModeEffect(effect.sets + tuple(extra), effect.reads, tuple(extra)) if extra else effect

    def _site_effect(self, site: Site) -> Optional[ModeEffect]:
        node = site.node
        if isinstance(node, cst.Assign):  # `db.journal_mode = "delete"` (peewee)
            return ModeEffect(
                tuple(dict.fromkeys(normalise_mode(v) for v in self.folder.values(node.value, site.scope) if is_known(v)))
            )
        rows = self._unpacked_loop_rows(node, site.scope) if isinstance(node, cst.Call) else None
        if rows:
            # `for key, value in SETTINGS.items(): execute(f"PRAGMA {key}={value}")`: each
            # iteration pairs one key with its own value, never with another entry's.
            effects = [self._effect_in_row(node, site.scope, row) for row in rows]
            return merged_effects([e for e in effects if e is not None])
        direct = self.direct_effect(node, site.scope)
        if direct is not None or not isinstance(node, cst.Call):
            return direct
        return self._call_effect(node, site.scope)

    def function_facts(self, unit: Unit) -> FunctionFacts:
        """What callers need to know about one function of this module."""
        cached = self._function_facts.get(unit)
        if cached is not None:
            return cached
        placeholder = FunctionFacts(unit.qualname, tuple(unit.scope.params), unit.is_method)
        if unit in self._in_progress:
            return placeholder
        self._function_facts[unit] = placeholder  # recursion sees "nothing known"
        facts = self.facts(unit)
        modes: List[str] = []
        templates: List[str] = []
        unguarded: Optional[str] = None
        unguarded_on_error_path = False
        probe = False
        sets_mode = False
        opens = facts.connect_listener
        for site in facts.sites:
            node = site.node
            if self.is_connect_call(node, site.scope):
                opens = True
            if isinstance(node, cst.Call):
                for arg in node.args:  # `connect` passed as a value: `creator=sqlite3.connect`
                    if self.qualified_name(arg.value, site.scope) in CONNECT_FUNCTIONS:
                        opens = True
            if isinstance(node, cst.Call) and not site.conditional and not site.guarded:
                # `execute(f"PRAGMA {name} = {value}")`: the caller's arguments decide.
                templates.extend(
                    text
                    for texts in sql_texts(node, self.folder, site.scope)
                    for text in texts
                    # `execute(statement)`: a wrapper runs what its caller passes.
                    if ("pragma" in text.lower() or param_of(text.strip()) is not None) and fills_only(text, unit.scope.params)
                )
            effect = self.effect(site)
            if isinstance(node, cst.Call) and (effect is None or not effect.rollback_modes):
                callee = self.callee(node, site.scope)
                if callee is not None and callee.qualname != unit.qualname:
                    opens = opens or callee.opens_connection
                    sets_mode = sets_mode or callee.sets_journal_mode
                    if callee.unguarded_downgrade and not site.guarded and unguarded is None:
                        unguarded = callee.unguarded_downgrade
                        unguarded_on_error_path = callee.unguarded_on_error_path or site.handler is not None
            if effect is None:
                continue
            if effect.reads or effect.sets_wal:
                probe = True
            sets_mode = sets_mode or bool(effect.sets)
            if site.guarded:
                continue
            if effect.rollback_modes and site.handler is None and not site.flagged and self.switched_back_to_wal(site):
                continue  # DELETE for a VACUUM, then WAL again: a temporary switch, not a downgrade
            always = [m for m in effect.rollback_modes if m not in effect.from_defaults]
            if always and unguarded is None:
                unguarded = self.location(node)
                unguarded_on_error_path = site.handler is not None or site.flagged
            if not site.conditional:
                modes.extend(always)
                templates.extend(f"PRAGMA journal_mode={param_hole(p)}" for p in effect.parameter_modes if p in unit.scope.params)
        # A probe reads the pragma and returns, or answers "wal" itself (a header reader).
        if unguarded is not None and modes and self.restores_the_mode_it_read(unit):
            unguarded, modes = None, []  # a switch for a bulk job, undone before it returns
        probe = (probe and bool(facts.returns) or any(self._answers_wal(v, unit.scope) for v in facts.returns)) and not modes
        success_returns, failure_returns, failure_in_tuple = self._wal_outcome(unit)
        # An answer a handler makes up (`except ...: return False`) is a guess, not a reading.
        # An answer a handler makes up (`except sqlite3.Error: return False`) is a guess,
        # not a reading. Guessing "WAL" refuses when unsure; guessing "not WAL" fails open.
        guesses = {value.value == "True" for value, handler in facts.return_sites if handler is not None and _is_constant(value) and not is_none(value)}  # type: ignore[union-attr]
        readings = [(value, self.wal_answer(value, unit.scope)) for value in facts.returns if not _is_constant(value)]
        # `if len(header) < 20: return os.path.getsize(path) != 0`: a test that reads no
        # mode, beside the readings, is a guess as a constant would be.
        answers = {said for value, said in readings if said is not None or not self._guesses_by_a_test(value, unit.scope)}
        answer = answers.pop() if len(answers) == 1 else None
        if answer is None and not readings:
            answer = self._answer_by_branches(unit)  # `if mode == "wal": return False` ... `return True`
        if guesses and failure_returns:
            answer = None  # `False` where the WAL switch raised: the failure, not a reading
        guesses_not_wal = answer is not None and (not answer) in guesses
        made_up = self._made_up_answers(unit)
        param_answer = self._answers_of_a_parameter(unit, facts.returns) if len(facts.returns) == 1 and not facts.falls_off_end else (None, None)
        result = FunctionFacts(
            qualname=unit.qualname,
            params=tuple(unit.scope.params),
            is_method=unit.is_method,
            defaults=self._constant_defaults(unit) if templates else (),
            downgrades=tuple(dict.fromkeys(modes)),
            sql_templates=tuple(dict.fromkeys(templates))[:MAX_TEMPLATES],
            unguarded_downgrade=unguarded,
            unguarded_on_error_path=unguarded is not None and unguarded_on_error_path,
            probe=probe or unit.name in self.guard_names,
            # A predicate's made-up True/False is judged as a guess (`guesses_not_wal`), not as None.
            probe_may_return_none=(facts.returns_none or bool(made_up))
            if answer is None or not guesses
            else facts.falls_off_end or any(v is None or is_none(v) for v, _ in facts.return_sites),
            probe_normalises=all(self._normalised(value, unit.scope) for value in facts.returns),
            refuses_wal=facts.refuses_wal,
            wal_answer=answer if answer is not None else param_answer[1],
            wal_answer_param=param_answer[0] if answer is None else None,
            guesses_not_wal=guesses_not_wal,
            wal_success_returns=success_returns,
            wal_failure_returns=failure_returns,
            wal_failure_in_tuple=failure_in_tuple,
            sets_journal_mode=sets_mode,
            opens_connection=opens,
            returned_values=self._returned_values(unit),
            never_returns=self._never_returns(unit, facts),
            wal_failure_propagates=not opens and self._wal_failure_propagates(facts),
            probe_makes_up_a_mode="string" in made_up,
        )
        self._function_facts[unit] = result
        return result

    def _never_returns(self, unit: Unit, facts: UnitFacts) -> bool:
        node = unit.node
        if not isinstance(node, cst.FunctionDef):
            return False
        annotation = node.returns.annotation if node.returns is not None else None
        if annotation is not None and dotted_name(annotation).rsplit(".", 1)[-1] in ("NoReturn", "Never"):
            return True
        # No `return` (the walk records each) and no end to fall off; a generator's
        # `yield` hands control back all the same.
        return not facts.falls_off_end and not facts.return_sites and not any(
            isinstance(n, cst.Yield) for n in iter_subexpressions(node.body, limit=5000)
        )

    def _returned_values(self, unit: Unit) -> Tuple[str, ...]:
        facts = self.facts(unit)
        if facts.falls_off_end or not facts.returns or len(facts.returns) != len(facts.return_sites):
            return ()  # it may answer None too
        values: List[str] = []
        for value in facts.returns:
            if not isinstance(value, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString, cst.Name, cst.Attribute, cst.IfExp)):
                return ()
            folded = self.folder.values(value, unit.scope)
            if not folded or not all(is_known(v) and len(v) < 200 for v in folded):
                return ()
            values.extend(folded)
        return tuple(dict.fromkeys(values))[:MAX_TEMPLATES]

    def _constant_defaults(self, unit: Unit) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
        """``mode="DELETE"``: the values each parameter's default folds to."""
        node = unit.node
        if not isinstance(node, cst.FunctionDef):
            return ()
        outer = unit.scope.parent or self.module_scope
        found = []
        for param in (*node.params.posonly_params, *node.params.params, *node.params.kwonly_params):
            if param.default is not None:
                values = self.folder.values(param.default, outer)
                if values and all(is_known(v) and len(v) < 200 for v in values):
                    found.append((param.name.value, tuple(values)))
        return tuple(found)

    def restores_the_mode_it_read(self, unit: Unit) -> bool:
        """Does the function read the journal mode and later set the mode it read back
        (``f"PRAGMA journal_mode={previous}"``)? Then its rollback switch is a deliberate one,
        for a VACUUM or a bulk job, undone when the job ends: not a connect that skips the
        guard."""
        sites = self.facts(unit).sites
        if not any(self.is_rollback_site(site) for site in sites):
            return False  # nothing switched here: a mode passed on (`config.journal_mode`) is no restore
        for site in sites:
            if not isinstance(site.node, cst.Call):
                continue
            effect = self.effect(site)
            if effect is None or HOLE not in effect.sets:
                continue
            if any(self.probe_calls(arg.value, site.scope) for arg in site.node.args):
                return True
        return False

    def is_rollback_site(self, site: Site) -> bool:
        effect = self.effect(site)
        return effect is not None and bool(effect.rollback_modes)

    def summary(self) -> ModuleSummary:
        """What other modules may import from this one, as plain data."""
        functions = tuple(self.function_facts(unit) for unit in self.units if unit is not self.module_unit)
        constants = []
        for name, bindings in self.module_scope.bindings.items():
            if not name.isidentifier() or not all(b.kind == "value" for b in bindings):
                continue
            values = self.folder.values(cst.Name(name), self.module_scope)
            if values and all(is_known(v) and len(v) < 200 for v in values):
                constants.append((name, values))
        for class_scope in self.class_scopes.values():
            if class_scope.parent is not self.module_scope:
                continue
            for name, bindings in class_scope.bindings.items():  # `class Journal(Enum): DELETE = "delete"`
                if not name.isidentifier() or not all(b.kind == "value" for b in bindings):
                    continue
                values = self.folder.values(cst.Attribute(cst.Name(class_scope.name), cst.Name(name)), self.module_scope)
                if values and all(is_known(v) and len(v) < 200 for v in values):
                    constants.append((f"{class_scope.name}.{name}", values))
        imports = {
            binding.origin
            for scope in self._scopes()
            for bindings in scope.bindings.values()
            for binding in bindings
            if binding.kind == "import" and binding.origin
        }
        return ModuleSummary(self.path, functions, tuple(constants), tuple(sorted(imports)))

    def try_of_handler(self, handler: cst.CSTNode, unit: Unit) -> Optional[TryFacts]:
        for try_facts in self.facts(unit).tries:
            if any(h is handler for h, _ in try_facts.handlers):
                return try_facts
        return None

    def opens_connection(self, unit: Unit) -> bool:
        if unit is self.module_unit:
            return False
        return self.function_facts(unit).opens_connection
