"""What the comprehensions in a module's tests say about the collections they walk: the
collection each name a comprehension binds comes from, the items a filter drops, and
dicts walked by their keys alone. A mixin of :class:`walint.journal.marker_uses.MarkerUses`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Set

import libcst as cst

from walint.semantic.nodes import collection_items, dotted_name
from walint.semantic.scopes import Binding, Scope
from walint.flow.path_state import PathState, truth
from walint.tree import own_nodes, preorder

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel


class ComprehensionNotes:
    """Notes a :class:`MarkerUses` walk takes of the comprehensions it meets."""

    if TYPE_CHECKING:
        model: "ModuleModel"
        _comprehension_bindings: Dict[int, Binding]
        answered_by_presence: Set[int]
        filtered_out: Set[int]

    def _note_comprehension_names(self, expr: cst.BaseExpression, scope: Scope) -> None:
        """Record what each name a comprehension's own ``for`` binds iterates over, for
        the uses of that name inside it."""
        for_in = expr.for_in  # type: ignore[attr-defined]
        while for_in is not None:
            target = for_in.target
            names = [target] if isinstance(target, cst.Name) else [
                e.value for e in getattr(target, "elements", ()) if isinstance(e.value, cst.Name)
            ]
            binding = Binding("iter", for_in.iter, scope, target=target)
            parts = [expr.elt] + [condition.test for condition in for_in.ifs]  # type: ignore[attr-defined]
            bound = {name.value for name in names}
            for part in parts:
                for node in preorder(part):
                    if isinstance(node, cst.Name) and node.value in bound:
                        self._comprehension_bindings.setdefault(id(node), binding)
            for_in = for_in.inner_for_in

    def _note_keys_only(self, comprehension: cst.BaseExpression, scope: Scope) -> None:
        """``next((k for k in REASONS if k in msg), None)``, ``any(k in msg for k in
        REASONS)``: a comprehension over a dict's keys, in a function that never reads the
        dict's values, leads every key to the same place, whatever verdict it maps to."""
        iterated = comprehension.for_in.iter  # type: ignore[attr-defined]
        if isinstance(iterated, cst.Call) and isinstance(iterated.func, cst.Attribute) and iterated.func.attr.value == "keys" and not iterated.args:
            iterated = iterated.func.value
        found = self.model.collection_literal(iterated, scope)
        if found is None or not isinstance(found[0], cst.Dict) or scope.unit is None:
            return
        name = dotted_name(iterated)
        for node in own_nodes(scope.unit.node):
            if isinstance(node, cst.Subscript) and dotted_name(node.value) == name:
                return  # `REASONS[key]`
            if isinstance(node, cst.Attribute) and node.attr.value in ("get", "items", "values", "pop") and dotted_name(node.value) == name:
                return
        self.answered_by_presence.add(id(found[0]))

    def _note_filtered_items(self, comprehension: cst.BaseExpression, scope: Scope) -> None:
        """Record the items of the literal a filtering comprehension walks that its filter
        is known to drop."""
        for_in = comprehension.for_in  # type: ignore[attr-defined]
        if not for_in.ifs or not isinstance(for_in.target, cst.Name):
            return
        found = self.model.collection_literal(for_in.iter, scope)
        if found is None:
            return
        literal, _ = found
        for item in collection_items(literal):
            value = item.evaluated_value if isinstance(item, cst.SimpleString) else None
            if not isinstance(value, str):
                continue
            state = PathState(False, ((for_in.target.value, value),))
            if any(truth(condition.test, state) is False for condition in for_in.ifs):
                self.filtered_out.add(id(item))
