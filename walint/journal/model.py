"""What code does to a journal mode, per module: the effect of each call (SQL recognised
by :mod:`walint.sql`, project functions followed through their facts) and the per-unit
walks (:mod:`walint.flow`), with the queries mixed in from their own modules: guards
(:mod:`~walint.journal.guards`), failed WAL attempts (:mod:`~walint.journal.failures`),
answers (:mod:`~walint.journal.answers`), connections
(:mod:`~walint.journal.connections`) and the summary importers read
(:mod:`~walint.journal.summaries`). Built on the semantic layer (:mod:`walint.semantic`).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst

from walint.constants import HOLE, StringFolder, is_known
from walint.journal.answers import AnswerQueries
from walint.journal.calls import CallEffects, handed_call, merged_effects
from walint.journal.connections import ConnectionQueries
from walint.journal.error_callbacks import ErrorCallbacks
from walint.journal.failures import FailureQueries
from walint.journal.guards import GuardQueries
from walint.journal.loops import LoopQueries
from walint.journal.marker_shapes import additions, marker_kind
from walint.journal.marker_uses import MarkerUses
from walint.journal.relevance import Relevance, names_in_keys
from walint.journal.relevance_scan import RelevanceScan
from walint.journal.resolution import NameResolution
from walint.journal.summaries import SummaryQueries
from walint.journal.wrappers import WrapperQueries
from walint.flow.unit_facts import Branch, Site, TryFacts, UnitFacts
from walint.flow.walker import UnitWalker
from walint.semantic.scopes import Scope, Unit
from walint.semantic.model import SemanticModel
from walint.semantic.nodes import dotted_name, is_none, iter_subexpressions, queue_of
from walint.sql import ModeEffect, callee_name, classify_call, effect_of_sql, normalise_mode, runs_sql
from walint.summary import FunctionFacts
from walint.tree import NodePositions, own_nodes, positions_of

if TYPE_CHECKING:
    from walint.flow.error_paths import ErrorPaths

# Names of functions that read the mode on disk wherever they come from: walint's own helper.
DEFAULT_GUARDS = frozenset({"journal_mode_on_disk"})

# Answers "what is this imported dotted name": FunctionFacts, a tuple of string values for
# a constant, or None. Supplied by the project pass; the default knows nothing.
ExternalLookup = Callable[[str], object]


def _no_external(origin: str) -> object:
    return None


_LIBRARY_SWITCHES = frozenset({"disable_wal", "enable_wal"})  # sqlite-utils', unless the project's own


class ModuleModel(
    SemanticModel,
    NameResolution,
    GuardQueries,
    FailureQueries,
    ErrorCallbacks,
    AnswerQueries,
    SummaryQueries,
    ConnectionQueries,
    WrapperQueries,
    CallEffects,
    LoopQueries,
):
    """Everything the rules ask about one parsed module."""

    def __init__(
        self,
        module: cst.Module,
        guards: Sequence[str] = (),
        external: ExternalLookup = _no_external,
        path: str = "",
        extra_markers: Tuple[Sequence[str], Sequence[str]] = ((), ()),
        external_names: Iterable[str] = (),
    ) -> None:
        self.path = path
        self._external_names = tuple(external_names)
        self.extra_markers = extra_markers
        self.external = external
        self.guard_names = DEFAULT_GUARDS | frozenset(g.rsplit(".", 1)[-1].rsplit(":", 1)[-1] for g in guards)
        self.folder = StringFolder(self.resolve, self.returned_values)
        # The relevance scan walks along with the scope builder: one pass over the tree.
        self._relevance_scan = RelevanceScan(self, module, (*extra_markers[0], *extra_markers[1]))
        super().__init__(module, (self._relevance_scan.visitors(),))
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
        self._wal_failure_hooks: Dict[Scope, Set[str]] = {}
        self._marker_uses: Optional[MarkerUses] = None
        self._nested: Optional[Dict[Scope, Dict[str, Unit]]] = None
        self._unpacking_scopes: Dict[Scope, bool] = {}
        self._probe_calls: Dict[Tuple[cst.CSTNode, Scope], List[Tuple[cst.CSTNode, Scope]]] = {}
        self._cursor_reads: Dict[Unit, Dict[int, cst.Call]] = {}
        self._imported_literals: Dict[str, Optional[cst.BaseExpression]] = {}
        self._loops_by_target: Dict[int, cst.CSTNode] = {}
        self._handed: Dict[int, Optional[cst.Call]] = {}
        # Nodes of literals parsed from other modules' summaries (by id): never reported.
        self.foreign_nodes: Set[int] = set()

    @cached_property
    def relevance(self) -> Relevance:
        """Which functions can matter to the journal mode: the rules and the summary walk
        those, and a function of no concern to it costs the scan that finds so."""
        return Relevance(self, self._relevance_scan, self.guard_names | names_in_keys(self._external_names))

    @property
    def hot_units(self) -> List[Unit]:
        """The module's top level and the functions that can matter to the journal mode."""
        return self.relevance.hot_units

    @cached_property
    def marker_additions(self) -> Dict[str, List[Tuple[cst.BaseExpression, Scope]]]:
        """Per collection name, what ``NAME.append(x)`` (``.add``, ``.extend``, ``|=``) adds to it."""
        return additions(self)

    def marker_kind(self, node: cst.CSTNode) -> Optional[str]:
        """Is a tested operand a transient or a permanent marker, by the configured texts? A
        name imported under another counts as what it imports (``SQLITE_BUSY as BUSY``)."""
        kind = marker_kind(node, *self.extra_markers)
        if kind is None and isinstance(node, cst.Name):
            imported = self.qualified_name(node, self.module_scope)
            if imported and imported.rsplit(".", 1)[-1] != node.value:
                kind = marker_kind(cst.Name(imported.rsplit(".", 1)[-1]), *self.extra_markers)
        return kind

    def marker_uses(self) -> MarkerUses:
        """How the module's tests use marker strings, walked once for WAL002 and the
        summary alike, so a summary never depends on which rules ran before it."""
        if self._marker_uses is None:
            self._marker_uses = MarkerUses(self, self.marker_kind)
        return self._marker_uses

    @cached_property
    def uses_peewee(self) -> bool:
        """Does the module import peewee (or playhouse), whose databases set a pragma by
        attribute assignment (``db.journal_mode = "wal"``)?"""
        return any(
            binding.kind == "import" and (binding.origin or "").lstrip(".").split(".")[0] in ("peewee", "playhouse")
            for bindings in self.module_scope.bindings.values()
            for binding in bindings
        )

    def returned_values(self, call: cst.Call, scope: object) -> Tuple[str, ...]:
        """The strings a call of a project function returns, when all are constants."""
        assert isinstance(scope, Scope)
        picked = self._picked_from_rows(call, scope)
        if picked:
            return picked
        unit = self.resolve_unit(call, scope)
        if unit is not None and unit in self._in_progress:
            return ()
        callee = self.callee(call, scope)
        return callee.returned_values if callee is not None else ()

    def _picked_from_rows(self, call: cst.Call, scope: Scope) -> Tuple[str, ...]:
        """``next((mode for marker, mode in RULES if marker in msg), None)`` over constant
        rows: the column it picks, from any row (a ``None`` default is no string)."""
        if dotted_name(call.func) != "next" or not call.args or not isinstance(call.args[0].value, cst.GeneratorExp):
            return ()
        generator = call.args[0].value
        if generator.for_in.inner_for_in is not None or not isinstance(generator.elt, cst.Name):
            return ()
        rows = self.loop_rows(generator.for_in.target, generator.for_in.iter, scope)
        picked = [row[generator.elt.value] for row in rows or () if generator.elt.value in row]
        values = [v for value, value_scope in picked for v in self.folder.values(value, value_scope)]
        if len(call.args) > 1 and not is_none(call.args[1].value):
            values.extend(self.folder.values(call.args[1].value, scope))
        return tuple(dict.fromkeys(values)) if values and all(is_known(v) for v in values) else ()

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
        origin = self.qualified_name(call.func, scope) or self._default_origin(call.func, scope) or self._instance_origin(call.func, scope)
        found = self.external(origin) if origin else None
        if found is None and not origin:
            found = self._inherited(call.func, scope)
        if found is None and isinstance(call.func, cst.Name) and depth < 3:
            # `_guard = refuse_if_wal` ... `_guard(conn)`: an alias of a function. A `None`
            # it may also hold is never called (`fallback = None` ... `if fallback: fallback(conn)`).
            bindings, parameter = self.bindings_of(call.func, scope)
            bindings = [b for b in bindings if not (b.kind == "value" and b.value is not None and is_none(b.value))]
            if not parameter and len(bindings) == 1 and bindings[0].kind == "value" and bindings[0].scope is not None:
                aliased = bindings[0].value
                if isinstance(aliased, (cst.Name, cst.Attribute)):
                    return self._named_callee(call.with_changes(func=aliased), bindings[0].scope, depth + 1)
        return found if isinstance(found, FunctionFacts) else None

    def _instance_origin(self, func: cst.BaseExpression, scope: Scope) -> str:
        """``self._db.execute_void(...)`` where ``self._db = Store(path)`` and ``Store`` is
        imported: the imported name of the method (``.compat.Store.execute_void``). So is
        ``Store(path).downgrade(conn)``, on an instance made in place."""
        maker = self.instance_maker(func, scope)
        if maker is not None and isinstance(maker[0].func, (cst.Name, cst.Attribute)):
            cls = self.qualified_name(maker[0].func, maker[1])
            if cls:  # `self._probe = ModeProbe()`, the class imported: its `__call__`
                return f"{cls}.__call__"
        if not isinstance(func, cst.Attribute):
            return ""
        if isinstance(func.value, cst.Call):
            made, where = func.value, scope
        elif isinstance(func.value, (cst.Name, cst.Attribute)):
            bindings, _ = self.bindings_of(func.value, scope)
            if len(bindings) != 1 or bindings[0].kind != "value" or bindings[0].scope is None:
                return ""
            made, where = bindings[0].value, bindings[0].scope
        else:
            return ""
        if not isinstance(made, cst.Call) or not isinstance(made.func, (cst.Name, cst.Attribute)):
            return ""
        cls = self.qualified_name(made.func, where)
        return f"{cls}.{func.attr.value}" if cls else ""

    def _inherited(self, func: cst.BaseExpression, scope: Scope) -> object:
        """``self._journal_mode()`` in a subclass of a class another module defines
        (``class ArenaStore(BaseStore)``): what that module says of the inherited method."""
        if not isinstance(func, cst.Attribute) or not isinstance(func.value, cst.Name) or func.value.value not in ("self", "cls"):
            return None
        class_scope = self.class_scope_for(func.value, scope)
        node = self.class_nodes.get(id(class_scope)) if class_scope is not None else None
        if node is None or class_scope is None or func.attr.value in class_scope.bindings:
            return None
        for base in node.bases:
            origin = self.qualified_name(base.value, class_scope.parent or self.module_scope)
            found = self.external(f"{origin}.{func.attr.value}") if origin else None
            if found is not None:
                return found
        return None

    def _default_origin(self, func: cst.BaseExpression, scope: Scope) -> str:
        """``on_wal_failure(conn)`` where ``on_wal_failure=use_delete_journal`` is imported:
        the imported name of the parameter's default function."""
        if not isinstance(func, cst.Name):
            return ""
        bindings, is_param = self.lookup(func.value, scope)
        found = self.callable_default(func.value, scope) if is_param and not bindings else None
        return self.qualified_name(*found) if found is not None else ""

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
        """The sites of every function that can matter to the journal mode."""
        for unit in self.hot_units:
            yield from self.facts(unit).sites

    def all_branches(self) -> Iterator[Branch]:
        """The ``if`` statements of every function that can matter to the journal mode."""
        for unit in self.hot_units:
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

    def handed_call(self, call: cst.Call) -> Optional[cst.Call]:
        """What ``await asyncio.to_thread(conn.execute, sql)`` runs (``conn.execute(sql)``),
        made once: the call lives as long as the model, so no id of it is ever reused."""
        key = id(call)
        if key not in self._handed:
            self._handed[key] = handed_call(call)
        return self._handed[key]

    def called_name(self, call: cst.Call) -> str:
        """The name of what a call runs, for a message: ``_use_rollback`` for
        ``loop.run_in_executor(None, _use_rollback, conn)``."""
        return callee_name(self.handed_call(call) or call)

    def direct_effect(self, node: cst.CSTNode, scope: Scope) -> Optional[ModeEffect]:
        """The effect of a call by what it says, without looking into project functions."""
        if isinstance(node, cst.Call):
            node = self.handed_call(node) or node
            if dotted_name(node.func).rsplit(".", 1)[-1] in _LIBRARY_SWITCHES and self.callee(node, scope) is not None:
                return None  # `compat.disable_wal(conn)`, the project's own: what its body does
            return classify_call(node, self.folder, scope)
        if isinstance(node, cst.Attribute):
            return ModeEffect(reads=True)  # `db.journal_mode` (peewee, sqlite-utils)
        return None

    def switches_to_wal(self, site: Site) -> bool:
        """Is ``site`` a call whose own SQL switches to WAL (``journal_mode=WAL``)?"""
        if not isinstance(site.node, cst.Call):
            return False
        effect = self.direct_effect(site.node, site.scope)
        return effect is not None and effect.sets_wal

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
        queued = self._queued_statement_effect(node, site)
        if queued is not None:
            return queued
        return self._call_effect(self.handed_call(node) or node, site.scope)

    def _queued_statement_effect(self, call: cst.Call, site: Site) -> Optional[ModeEffect]:
        """``plan.append("PRAGMA journal_mode=DELETE")`` where the function later runs what
        ``plan`` holds (``for stmt in plan: conn.execute(stmt)``, ``";".join(plan)``): the
        statement runs, and the call that queues it decides that it does."""
        receiver = queue_of(call)
        if not receiver or not call.args:
            return None
        queued = call.args[-1].value
        items = [e.value for e in queued.elements] if isinstance(queued, (cst.List, cst.Tuple)) else [queued]
        texts = [v for item in items for v in self.folder.values(item, site.scope) if is_known(v)]
        effect = effect_of_sql(texts) if any("pragma" in text.lower() for text in texts) else None
        if effect is None or not effect.sets:
            return None
        runs = any(
            (
                isinstance(node, cst.For)
                and dotted_name(node.iter) == receiver
                and any(isinstance(n, cst.Call) and runs_sql(n) for n in iter_subexpressions(node.body, limit=500))
            )
            or (isinstance(node, cst.Call) and node is not call and any(dotted_name(n) == receiver for n in iter_subexpressions(node, limit=50) if isinstance(n, (cst.Name, cst.Attribute))) and runs_sql(node))
            for node in own_nodes(site.unit.node)
        )
        return effect if runs else None

    def restored_after(self, site: Site) -> bool:
        """Is the mode read before ``site`` set back by a later statement of its function
        (``prior = ...PRAGMA journal_mode``; TRUNCATE; VACUUM; ``PRAGMA journal_mode={prior}``)?
        A switch before the read, or with no restore after it, is no part of such a job."""
        sites = self.facts(site.unit).sites
        later = next((index for index, other in enumerate(sites) if other is site), len(sites)) + 1
        # `previous = tune_for_bulk(conn)`, a helper that reads, switches and returns what
        # it read: setting `previous` again restores it.
        callee = self.callee(site.node, site.scope) if isinstance(site.node, cst.Call) else None
        switched_and_returned = callee is not None and callee.returns_mode_before_switch
        for other in sites[later:]:
            if not isinstance(other.node, cst.Call):
                continue
            effect = self.effect(other)
            if effect is None or HOLE not in effect.sets:
                continue
            if switched_and_returned and any(self._holds_result_of(arg.value, site.node, other.scope) for arg in other.node.args):
                return True
            probes = [probe for arg in other.node.args for probe, _ in self.probe_calls(arg.value, other.scope)]
            # Positions cost a pass over the module: asked only once a restore is found.
            if probes and any(self.line_of(probe) <= self.line_of(site.node) for probe in probes):
                return True
        return False

    def _holds_result_of(self, expr: cst.BaseExpression, call: cst.CSTNode, scope: Scope) -> bool:
        """Does ``expr`` use a name bound only to the value ``call`` returned (``previous``,
        ``f"PRAGMA journal_mode={previous}"``)?"""
        for node in iter_subexpressions(expr, limit=50):
            if isinstance(node, cst.Name):
                bindings, parameter = self.bindings_of(node, scope)
                if parameter is None and len(bindings) == 1 and bindings[0].value is call:
                    return True
        return False

    def is_rollback_site(self, site: Site) -> bool:
        effect = self.effect(site)
        return effect is not None and bool(effect.rollback_modes)

    def try_of_handler(self, handler: cst.CSTNode, unit: Unit) -> Optional[TryFacts]:
        for try_facts in self.facts(unit).tries:
            if any(h is handler for h, _ in try_facts.handlers):
                return try_facts
        return None
