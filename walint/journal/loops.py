"""Loops over constant collections, unrolled: what each name of a loop target holds on
each iteration (``for key, value in SETTINGS.items()``), so a pragma built from several
of them is read one item at a time. A mixin of :class:`walint.journal.model.ModuleModel`."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Union

import libcst as cst

from walint.constants import LOOP_VIEWS, Resolution, StringFolder
from walint.semantic.scopes import Scope
from walint.semantic.nodes import collection_items, constant_key, dotted_name, entry_of, field_default, iter_subexpressions, subscript_path, unwrap_collection
from walint.sql import ModeEffect, classify_call

Row = Dict[str, Tuple[cst.BaseExpression, Scope]]

# A loop item: one expression, or the (key, value) pair of a dict's `.items()`.
LoopItem = Union[cst.BaseExpression, Tuple[cst.BaseExpression, cst.BaseExpression]]
# Loops over longer constant collections are not unrolled.
_MAX_LOOP_ROWS = 64


def loop_view(iterable: cst.BaseExpression) -> Tuple[cst.BaseExpression, str]:
    """The collection a loop walks and how: ``pragmas.items()`` is (``pragmas``, "items");
    a bare collection is walked as "iter"."""
    if isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Attribute) and not iterable.args:
        if iterable.func.attr.value in LOOP_VIEWS:
            return iterable.func.value, iterable.func.attr.value
    return iterable, "iter"


def _unpack(target: cst.BaseExpression, item: LoopItem, scope: Scope, row: Row) -> bool:
    """Bind ``target``'s names in ``row`` to the parts of ``item``; False when the shapes differ."""
    if isinstance(target, cst.Name):
        if isinstance(item, tuple):
            return False
        row[target.value] = (item, scope)  # None: an item of a part that is not a constant
        return True
    if item is None:
        return False
    if not isinstance(target, (cst.Tuple, cst.List)):
        return False
    if isinstance(item, tuple):
        parts: Sequence[cst.BaseExpression] = item
    elif isinstance(item, (cst.Tuple, cst.List)) and not any(isinstance(e, cst.StarredElement) for e in item.elements):
        parts = [e.value for e in item.elements]
    else:
        return False
    if len(parts) != len(target.elements) or any(isinstance(e, cst.StarredElement) for e in target.elements):
        return False
    return all(_unpack(element.value, part, scope, row) for element, part in zip(target.elements, parts))


def item_part(item: LoopItem, index: Optional[int]) -> Optional[cst.BaseExpression]:
    """Part ``index`` of a loop item (the whole item for None), or None when unknown."""
    if item is None:
        return None
    if index is None:
        return None if isinstance(item, tuple) else item
    if isinstance(item, tuple):
        return item[index] if index < len(item) else None
    if isinstance(item, (cst.Tuple, cst.List)) and index < len(item.elements):
        return item.elements[index].value
    return None


class LoopQueries:
    """Unrolled loops, asked of a :class:`ModuleModel`."""

    def loop_rows(
        self, target: cst.BaseExpression, iterable: cst.BaseExpression, scope: Scope
    ) -> Optional[List[Row]]:
        """What each name of a loop target holds on each iteration of a loop over a constant
        collection (``for pragma in PRAGMAS``, ``for key, value in SETTINGS.items()``, ``for
        name, mode in (("journal_mode", "delete"), ...)``), or None for any other loop."""
        items = self._iterated_items(iterable, scope)
        if items is None:
            return None
        rows: List[Row] = []
        for item, item_scope in items[:_MAX_LOOP_ROWS]:
            row: Row = {}
            if not _unpack(target, item, item_scope, row):
                return None
            rows.append(row)
        return rows

    def row_fields(self, attribute: cst.Attribute, scope: Scope) -> Optional[List[Tuple[cst.BaseExpression, Scope]]]:
        """``rule.mode`` in ``for rule in RULES:``, each row made by a record class of the
        module (``JournalRule(re.compile("locking protocol"), "DELETE")``, a NamedTuple or
        a dataclass): the expression each row gives that field, or None."""
        owner = attribute.value
        if not isinstance(owner, cst.Name):
            return None
        bindings, _ = self.lookup(owner.value, scope)  # type: ignore[attr-defined]
        if len(bindings) != 1 or bindings[0].kind != "iter" or not isinstance(bindings[0].target, cst.Name):
            return None
        binding = bindings[0]
        rows = self.loop_rows(binding.target, binding.value, binding.scope) if binding.scope is not None else None  # type: ignore[arg-type]
        if not rows:
            return None
        found = []
        for row in rows:
            item, item_scope = row.get(owner.value, (None, None))
            value = self._record_field(item, item_scope, attribute.attr.value) if item is not None and item_scope is not None else None
            if value is None:
                return None
            found.append((value, item_scope))
        return found  # type: ignore[return-value]

    def _record_field(self, item: cst.BaseExpression, scope: Scope, field: str) -> Optional[cst.BaseExpression]:
        """The expression a record made by ``item`` (``JournalRule(pattern, "DELETE")``)
        holds in ``field``: its keyword argument, its positional one, or the class default;
        in a record table another module exports, its entry (``{"mode": "DELETE"}``)."""
        if isinstance(item, cst.Dict) and id(item) in self.foreign_nodes:  # type: ignore[attr-defined]
            return entry_of(item, field)
        if not isinstance(item, cst.Call) or not isinstance(item.func, cst.Name):
            return None
        fields = self._record_class_fields(item.func, scope)
        if fields is None or field not in fields or any(arg.star for arg in item.args):
            return None
        for arg in item.args:
            if arg.keyword is not None and arg.keyword.value == field:
                return arg.value
        positional = [arg.value for arg in item.args if arg.keyword is None]
        index = list(fields).index(field)
        return positional[index] if index < len(positional) else fields[field]

    def _record_class_fields(self, name: cst.Name, scope: Scope) -> Optional[Dict[str, Optional[cst.BaseExpression]]]:
        """The fields of a NamedTuple or dataclass defined in the module, in order, each
        with its default."""
        bindings, _ = self.lookup(name.value, scope)  # type: ignore[attr-defined]
        node = bindings[0].value if len(bindings) == 1 and bindings[0].kind == "def" else None
        if not isinstance(node, cst.ClassDef):
            return None
        is_tuple = any(dotted_name(base.value).rsplit(".", 1)[-1] == "NamedTuple" for base in node.bases)
        is_dataclass = any(
            dotted_name(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator).rsplit(".", 1)[-1] == "dataclass"
            for d in node.decorators
        )
        if not (is_tuple or is_dataclass) or not isinstance(node.body, cst.IndentedBlock):
            return None
        fields: Dict[str, Optional[cst.BaseExpression]] = {}
        for statement in node.body.body:
            for small in statement.body if isinstance(statement, cst.SimpleStatementLine) else ():
                if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                    if dotted_name(small.annotation.annotation).rsplit(".", 1)[-1] != "ClassVar":
                        fields[small.target.value] = field_default(small.value) if small.value is not None else None
        return fields

    def _iterated_items(self, iterable: cst.BaseExpression, scope: Scope) -> Optional[List[Tuple[LoopItem, Scope]]]:
        """The items a loop over a constant collection sees: elements, dict keys, dict values
        or (key, value) pairs for ``.keys()``, ``.values()`` and ``.items()``."""
        if isinstance(iterable, cst.BinaryOperation) and isinstance(iterable.operator, cst.Add):
            # `STARTUP_PRAGMAS + settings.extra_pragmas`: the known part item by item, and
            # an item nothing is known of (None) for a part that is not a constant.
            parts = [self._iterated_items(side, scope) for side in (iterable.left, iterable.right)]
            if all(part is None for part in parts):
                return None
            return [item for part in parts for item in (part if part is not None else [(None, scope)])]  # type: ignore[misc]
        iterable, view = loop_view(iterable)
        found = self.collection_literal(iterable, scope)
        if found is None:
            return None
        literal, where = found
        if isinstance(literal, cst.Dict):
            entries = [e for e in literal.elements if isinstance(e, cst.DictElement)]
            if len(entries) != len(literal.elements):
                return None  # `**OTHER`: keys unknown
            if view == "items":
                return [((e.key, e.value), where) for e in entries]
            return [(e.value if view == "values" else e.key, where) for e in entries]
        if view != "iter" or any(isinstance(e, cst.StarredElement) for e in literal.elements):  # type: ignore[attr-defined]
            return None
        return [(item, where) for item in collection_items(literal)]

    def collection_literal(
        self, expr: cst.BaseExpression, scope: Scope, depth: int = 0
    ) -> Optional[Tuple[cst.BaseExpression, Scope]]:
        """The collection literal ``expr`` is, or the one a name bound once holds."""
        literal = unwrap_collection(expr)
        if literal is not None:
            return literal, scope
        if depth < 6 and isinstance(expr, cst.BooleanOperation) and isinstance(expr.operator, cst.Or):
            # `cfg or DEFAULT_CONFIG`: the caller's table, or else the default one.
            return self.collection_literal(expr.right, scope, depth + 1)
        key = constant_key(expr)
        if depth < 6 and isinstance(expr, cst.Subscript) and key is not None:
            # `STORAGE["wal_fallback"]`, `CONFIG["db"]["wal"]`: that entry of a dict literal,
            # here or imported.
            owner = self.collection_literal(expr.value, scope, depth + 1)
            if owner is not None and isinstance(owner[0], cst.Dict):
                entry = entry_of(owner[0], key)
                return self.collection_literal(entry, owner[1], depth + 1) if entry is not None else None
            imported = self.imported_literal(self.qualified_name(expr, scope)) if subscript_path(expr) else None
            return (imported, self.module_scope) if imported is not None else None
        if depth < 6 and isinstance(expr, (cst.Name, cst.Attribute)):
            bindings, parameter = self.bindings_of(expr, scope)
            if parameter is None and len(bindings) == 1 and bindings[0].kind == "value" and bindings[0].scope is not None:
                return self.collection_literal(bindings[0].value, bindings[0].scope, depth + 1)  # type: ignore[arg-type]
            if parameter is None and all(b.kind == "import" for b in bindings):  # `from .policy import MODES`
                imported = self.imported_literal(self.qualified_name(expr, scope))
                if imported is not None:
                    return imported, self.module_scope
        return None

    def _unpacked_loop_rows(self, call: cst.Call, scope: Scope) -> Optional[List[Row]]:
        """The iterations of the loop whose unpacked target names the arguments of ``call``
        use together, when two or more of them are used."""
        if not call.args or not self._sees_unpacking_loop(scope):
            return None
        names = {n.value for arg in call.args for n in iter_subexpressions(arg.value, limit=200) if isinstance(n, cst.Name)}
        for name in names:
            bindings, _ = self.lookup(name, scope)
            if len(bindings) != 1 or bindings[0].kind != "iter" or not isinstance(bindings[0].target, (cst.Tuple, cst.List)):
                continue
            binding = bindings[0]
            rows = self.loop_rows(binding.target, binding.value, binding.scope)  # type: ignore[arg-type]
            if rows and len(names & set(rows[0])) > 1:
                return rows
        return None

    def _sees_unpacking_loop(self, scope: Scope) -> bool:
        """Does a ``for a, b in ...`` bind names in ``scope`` or a scope it sees?"""
        known = self._unpacking_scopes.get(scope)
        if known is None:
            known = any(
                b.kind == "iter" and isinstance(b.target, (cst.Tuple, cst.List))
                for bindings in scope.bindings.values()
                for b in bindings
            ) or (scope.parent is not None and self._sees_unpacking_loop(scope.parent))
            self._unpacking_scopes[scope] = known
        return known

    def _effect_in_row(self, call: cst.Call, scope: Scope, row: Row) -> Optional[ModeEffect]:
        """The effect of ``call`` on one iteration of its loop: its target names hold ``row``."""

        def resolve(expr: cst.BaseExpression, where: object) -> Optional[Resolution]:
            if isinstance(expr, cst.Name) and where is scope and expr.value in row:
                return Resolution([row[expr.value]])
            return self.resolve(expr, where)

        folder = StringFolder(resolve)
        return classify_call(call, folder, scope) or self._call_effect(call, scope, folder=folder)
