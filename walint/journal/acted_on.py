"""Whether a failed WAL switch is acted on after its handler, rather than swallowed:
flags a later test decides by, the mode names its pragmas are built from, what the
function hands back, and the reads after it that insist on WAL (WAL004's facts)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Iterator, Sequence, Set

import libcst as cst

from walint.flow.conditions import always_exits, guarded_sides, not_wal_when
from walint.journal.handlers import sets_some_mode
from walint.semantic.nodes import SIMPLE_LINES, dotted_name, iter_subexpressions, small_statements
from walint.sql import ROLLBACK_MODES, normalise_mode
from walint.tree import own_nodes

if TYPE_CHECKING:
    from walint.flow.unit_facts import Branch, Site
    from walint.journal.model import ModuleModel
    from walint.semantic.scopes import Scope, Unit


def deciding_flags(model: "ModuleModel") -> Dict[str, Set["Unit"]]:
    """Failure flags a later ``if`` acts on (one side sets a journal mode or raises), with
    the functions it acts in. A flag that only picks a log line or fills a status report
    decides nothing for the connection, which carries on in whatever mode it has."""
    found: Dict[str, Set["Unit"]] = {}
    for branch in model.all_branches():
        flags = model.handler_flags(branch.node.test, branch.scope) | _derived_flags(model, branch.node.test, branch.scope)
        if not flags:
            continue
        if branch_acts(model, branch):
            for flag in flags:
                found.setdefault(flag, set()).add(branch.unit)
    for unit in model.hot_units:
        tests_flags = bool(model.facts(unit).flags)
        for node in own_nodes(unit.node):
            if isinstance(node, cst.Match) and _acts_in_a_case(model, unit, node):
                # `outcome = classify(exc)` in the handler, then `match outcome:` whose cases
                # raise or set a mode: the failure is decided there, case by case.
                for flag in _set_in_a_handler(model, node.subject, unit.scope):
                    found.setdefault(flag, set()).add(unit)
            if not tests_flags:
                continue
            # `batch = 1 if not self.wal_enabled else 100`: a setting chosen by the failure, as
            # a mode chosen by it is; not words for a person (`"on" if wal else "off"`).
            chosen = node.value if isinstance(node, (cst.Assign, cst.AnnAssign, cst.Return)) and isinstance(node.value, cst.IfExp) else None
            if isinstance(chosen, cst.IfExp) and not (_is_text(chosen.body) and _is_text(chosen.orelse)):
                for flag in model.handler_flags(chosen.test, unit.scope):
                    found.setdefault(flag, set()).add(unit)
            # `journal = "wal" if STATE["wal"] else "delete"`
            if isinstance(node, cst.IfExp) and any(
                normalise_mode(value) in ROLLBACK_MODES
                for side in (node.body, node.orelse)
                for value in model.folder.values(side, unit.scope)
            ):
                for flag in model.handler_flags(node.test, unit.scope):
                    found.setdefault(flag, set()).add(unit)
    return found


def _derived_flags(model: "ModuleModel", test: cst.BaseExpression, scope: "Scope") -> Set[str]:
    """The failure flags behind a name the test reads, set from them outside any handler
    (``self._lock_writes = not self._wal``, then ``if self._lock_writes:``)."""
    found: Set[str] = set()
    for node in iter_subexpressions(test, limit=100):
        if isinstance(node, (cst.Name, cst.Attribute)):
            for binding in model.bindings_of(node, scope)[0]:
                if binding.kind == "value" and not binding.in_handler and binding.value is not None and binding.scope is not None:
                    found |= model.handler_flags(binding.value, binding.scope)  # type: ignore[arg-type]
    return found


def _set_in_a_handler(model: "ModuleModel", expr: cst.BaseExpression, scope: "Scope") -> Set[str]:
    """Names in ``expr`` that an ``except`` handler assigns, whatever the value."""
    return {
        dotted_name(node)
        for node in iter_subexpressions(expr, limit=100)
        if isinstance(node, (cst.Name, cst.Attribute)) and any(b.in_handler for b in model.bindings_of(node, scope)[0])
    }


def _acts_in_a_case(model: "ModuleModel", unit: "Unit", match: cst.CSTNode) -> bool:
    """Does a case of ``match`` raise or set a journal mode?"""
    inside = {id(node) for node in iter_subexpressions(match, limit=5000)}
    return _raises(match) or any(id(site.node) in inside and sets_some_mode(model, site) for site in model.facts(unit).sites)  # type: ignore[arg-type]


def flags_acted_on_for(model: "ModuleModel", unit: "Unit", deciding: Dict[str, Set["Unit"]]) -> Set[str]:
    """The deciding flags that act on the connection ``unit`` switched: not those only
    acted on in another function that opens a connection of its own (``reopen()``) and
    never calls ``unit``, where the downgrade is another connection's."""
    local = (
        set()
        if unit is model.module_unit
        else {name for name in unit.scope.bindings if name.isidentifier() and name not in unit.scope.globals}
    )
    return {
        flag
        for flag, units in deciding.items()
        # A local flag is this function's own: another function's `wal_ok` is another name.
        if any(
            other is unit or (flag not in local and (not model.opens_connection(other) or _calls(model, other, unit)))
            for other in units
        )
    }


def _calls(model: "ModuleModel", caller: "Unit", callee: "Unit") -> bool:
    return any(
        isinstance(site.node, cst.Call) and model.resolve_unit(site.node, site.scope) is callee
        for site in model.facts(caller).sites
    )


def _is_text(node: cst.BaseExpression) -> bool:
    return isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString))


_REPORTING_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "log", "print", "echo", "secho"})


def _only_reports(block: cst.BaseSuite) -> bool:
    """Does ``block`` only log, print or pass (or set a status entry worded for a person)?"""
    for line in small_statements(block):
        if not isinstance(line, SIMPLE_LINES):
            return False
        for small in line.body:
            if isinstance(small, cst.Pass):
                continue
            if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                name = dotted_name(small.value.func).rsplit(".", 1)[-1]
                if name in _REPORTING_METHODS:
                    continue
            if isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Subscript):
                continue  # `status["wal"] = "off"`: a report
            return False
    return True


def _raises(block: cst.BaseSuite) -> bool:
    return any(isinstance(node, cst.Raise) for node in iter_subexpressions(block, limit=2000))


def mode_names(model: "ModuleModel", sites: Sequence["Site"], attributes: Set[str]) -> Set[str]:
    """Names the SQL of this function's journal-mode pragmas is built from, and the
    instance attributes (``self.journal``) any method's pragmas are built from."""
    names = set(attributes)
    for site in sites:
        names.update(node.value for node in _pragma_parts(model, site) if isinstance(node, cst.Name))
    return names


def returned_names(model: "ModuleModel", unit: "Unit") -> Set[str]:
    """Names the function hands back (``return conn, wal_enabled``): a failure recorded in
    one is reported to the caller, who decides."""
    if unit is model.module_unit:
        return set()
    names: Set[str] = set()
    for value in model.facts(unit).returns:
        parts = [element.value for element in value.elements] if isinstance(value, cst.Tuple) else [value]
        names.update(dotted_name(part) for part in parts if isinstance(part, (cst.Name, cst.Attribute)))
    return names - {""}


def attribute_mode_names(model: "ModuleModel") -> Set[str]:
    """``self.journal`` and such: the instance attributes any method's journal-mode
    pragma is built from."""
    return {
        dotted_name(node)
        for site in model.all_sites()
        for node in _pragma_parts(model, site)
        if isinstance(node, cst.Attribute) and dotted_name(node).startswith("self.")
    }


def _pragma_parts(model: "ModuleModel", site: "Site") -> Iterator[cst.CSTNode]:
    """The nodes of the arguments of a call that sets a journal mode."""
    effect = model.effect(site)
    if effect is None or not effect.sets or not isinstance(site.node, cst.Call):
        return
    for arg in site.node.args:
        yield from iter_subexpressions(arg.value)


def success_flag_acted_on(model: "ModuleModel", unit: "Unit", try_node: cst.CSTNode) -> bool:
    """Does the ``try`` body set a name to a constant once the switch worked, which an
    ``if`` after the ``try`` acts on (raises, sets a mode, or does more than log)?"""
    flags = {
        dotted_name(target.target)
        for line in small_statements(try_node.body)  # type: ignore[attr-defined]
        if isinstance(line, SIMPLE_LINES)
        for small in line.body
        if isinstance(small, cst.Assign) and isinstance(small.value, cst.Name) and small.value.value in ("True", "False")
        for target in small.targets
    } - {""}
    if not flags:
        return False
    after = model.line_of(try_node)
    for branch in model.facts(unit).branches:
        tested = {dotted_name(n) for n in iter_subexpressions(branch.node.test, limit=100) if isinstance(n, (cst.Name, cst.Attribute))}
        if tested & flags and model.line_of(branch.node) > after and branch_acts(model, branch):
            return True
    return False


def branch_acts(model: "ModuleModel", branch: "Branch") -> bool:
    """Does one side of this ``if`` set a journal mode, raise, or do more than log? `if
    self.wal: <checkpoint>` goes on differently without WAL, which is acting on the
    failure, as a raise or a mode set would be; a log line is not."""
    sites = model.facts(branch.unit).sites
    ranges = [branch.when_true, *branch.when_false]
    if any(sets_some_mode(model, site) for start, end in ranges for site in sites[start:end]):
        return True
    orelse = branch.node.orelse
    sides = [branch.node.body, *([orelse.body] if isinstance(orelse, cst.Else) else [])]
    return any(_raises(side) or not _only_reports(side) for side in sides)


def insists_on_wal_after(model: "ModuleModel", unit: "Unit", try_node: cst.CSTNode) -> bool:
    """Does the function, after this ``try``, read the mode and leave (raise, return) when
    it is not WAL?"""
    facts = model.facts(unit)
    after = model.line_of(try_node)
    for branch in facts.branches:
        if model.line_of(branch.node) <= after or not always_exits(branch.node.body):
            continue
        test = branch.node.test
        checks = [(c, not_wal_when(c, True)) for c in model.wal_check_comparisons(test, branch.scope)]
        checks += model.wal_predicate_checks(test, branch.scope)
        if checks and guarded_sides(test, checks)[0]:
            return True
    return False
