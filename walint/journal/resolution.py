"""What a name, an attribute or a subscript of one module refers to, for the string
folder (:class:`walint.constants.StringFolder`): its bindings here, a loop's rows, a
parameter's default, a record's field, or what the project pass says another module
binds it to. A mixin of :class:`walint.journal.model.ModuleModel`."""

from __future__ import annotations

from typing import List, Optional, Tuple

import libcst as cst

from walint.constants import Resolution, loop_hole
from walint.journal.loops import loop_view
from walint.semantic.nodes import is_constant_literal, is_none, iter_subexpressions
from walint.semantic.scopes import Binding, Scope, default_of
from walint.summary import IMPORTED_LITERAL, MAX_LITERAL
from walint.tree import own_nodes


class NameResolution:
    """Resolution of names, asked of a :class:`ModuleModel` (mixed in)."""

    def resolve(self, expr: cst.BaseExpression, scope: object) -> Optional[Resolution]:
        assert isinstance(scope, Scope)
        bindings, parameter = self.bindings_of(expr, scope)
        if not bindings and parameter is None and isinstance(expr, cst.Attribute):
            aliased = self._through_alias(expr, scope)
            if aliased is not None:  # `s = self.settings` ... `s.fallback_journal`
                return self.resolve(*aliased)
        if isinstance(expr, cst.Name) and sum(b.kind == "iter" for b in bindings) > 1:
            # `for statement in FALLBACK: ...` and `for statement in TUNING: ...` in one
            # function: inside a loop's body, the name is that loop's item.
            bindings = self._loop_around(expr, bindings) or bindings
        values: Tuple[str, ...] = ()
        imported: Optional[cst.BaseExpression] = None
        if any(b.kind == "import" for b in bindings) or (not bindings and isinstance(expr, (cst.Attribute, cst.Subscript))):
            qualname = self.qualified_name(expr, scope)
            if not qualname and isinstance(expr, cst.Attribute):
                # `self.policy.rollback_mode`, `self.policy` an instance of an imported
                # class: the default its class declares for the field.
                owner = self.imported_class_of(expr.value, scope)
                qualname = f"{owner}.{expr.attr.value}" if owner else ""
            found = self.external(qualname) if qualname else None
            if isinstance(found, tuple):
                values = found
            imported = self.imported_literal(qualname) if qualname else None
            if imported is not None:
                bindings = [b for b in bindings if b.kind != "import"]
        prop = self.property_unit(expr, scope) if isinstance(expr, cst.Attribute) else None
        if prop is not None and prop not in self._in_progress:
            # `self.fallback_statement`, a @property: the strings it returns.
            values = self.function_facts(prop).returned_values
            bindings = [b for b in bindings if b.kind != "def"]
        if not bindings and parameter is None and not values and imported is None:
            fields = self.row_fields(expr, scope) if isinstance(expr, cst.Attribute) else None
            return Resolution(fields) if fields is not None else None
        if parameter is not None and not bindings and isinstance(expr, cst.Name):
            owner = self._scope_of_param(parameter, scope)
            default = default_of(parameter, owner) if owner is not None else None
            if owner is not None and owner is not _function_scope(scope) and isinstance(default, (cst.SimpleString, cst.ConcatenatedString)):
                # `def with_fallback(fallback="DELETE"): def wrapper(): ... {fallback}`: a
                # closure over a factory's parameter holds its default where the factory
                # is called without one (`@with_fallback()`).
                return Resolution([(default, owner.parent or self.module_scope)])
            if isinstance(default, (cst.Name, cst.Attribute, cst.Dict, cst.Subscript)) and not is_none(default) and owner is not None:
                return Resolution(parameter=parameter, values=values, default=(default, owner.parent or self.module_scope))
        expressions: List[Tuple[Optional[cst.BaseExpression], Optional[Scope]]] = []
        if imported is not None:
            expressions.append((imported, self.module_scope))  # constants only: any scope reads them alike
        for b in bindings:
            if values and b.kind == "import":
                continue
            if b.kind == "value":
                expressions.append(self._field_from_a_parameter(expr, b) or (b.value, b.scope))  # type: ignore[arg-type]
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

    def _through_alias(self, expr: cst.Attribute, scope: Scope) -> Optional[Tuple[cst.Attribute, Scope]]:
        """``s.fallback_journal`` where ``s`` is bound once, to another name or attribute
        (``s = self.settings``, ``s = DEFAULT``): the same attribute of what it names."""
        if not isinstance(expr.value, cst.Name):
            return None
        bindings, parameter = self.bindings_of(expr.value, scope)
        if parameter is not None or len(bindings) != 1 or bindings[0].kind != "value" or bindings[0].scope is None:
            return None
        target = bindings[0].value
        if not isinstance(target, (cst.Name, cst.Attribute)) or any(
            isinstance(node, cst.Name) and node.value == expr.value.value for node in iter_subexpressions(target, limit=20)
        ):
            return None
        return expr.with_changes(value=target), bindings[0].scope

    def _field_from_a_parameter(self, expr: cst.BaseExpression, binding: Binding) -> Optional[Tuple[cst.BaseExpression, Scope]]:
        """``self.fallback_mode`` set in ``__init__`` from ``fallback_mode="DELETE"``: that
        default, unless its maker passes another (the parameter means nothing elsewhere)."""
        value, where = binding.value, binding.scope
        if not isinstance(expr, cst.Attribute) or not isinstance(value, cst.Name) or where is None:
            return None
        bindings, parameter = self.lookup(value.value, where)
        if not parameter or bindings:
            return None
        owner = self._scope_of_param(value.value, where)
        default = default_of(value.value, owner) if owner is not None else None
        if isinstance(default, (cst.SimpleString, cst.ConcatenatedString)) and owner is not None:
            return default, owner.parent or self.module_scope
        return None

    def _loop_around(self, name: cst.Name, bindings: List[Binding]) -> List[Binding]:
        """The one loop binding of ``name`` whose loop's body holds this use, if any."""
        for binding in bindings:
            if binding.kind != "iter" or binding.target is None or binding.scope is None or binding.scope.unit is None:
                continue
            loop = self._loops_by_target.get(id(binding.target))
            if loop is None:
                for node in own_nodes(binding.scope.unit.node):
                    if isinstance(node, (cst.For, cst.CompFor)):
                        self._loops_by_target[id(node.target)] = node
                loop = self._loops_by_target.get(id(binding.target))
            body = loop.body if isinstance(loop, cst.For) else None
            if body is not None and any(node is name for node in iter_subexpressions(body, limit=5000)):
                return [binding]
        return []

    def imported_literal(self, qualname: str) -> Optional[cst.BaseExpression]:
        """The literal another module of the project binds ``qualname`` to, parsed from the
        source text its summary carries (a table of rows, a dict of modes); its nodes are
        in :attr:`foreign_nodes`, so nothing is ever reported at them."""
        if qualname in self._imported_literals:
            return self._imported_literals[qualname]
        source = self.external(IMPORTED_LITERAL + qualname)
        parsed: Optional[cst.BaseExpression] = None
        if isinstance(source, str) and len(source) <= MAX_LITERAL:
            try:
                parsed = cst.parse_expression(source)
            except (cst.ParserSyntaxError, RecursionError, ValueError):
                parsed = None
            if parsed is not None and not is_constant_literal(parsed):
                parsed = None  # cache entries are input too: constants only
        if parsed is not None:
            self.foreign_nodes.update(id(node) for node in iter_subexpressions(parsed, limit=100_000))
        self._imported_literals[qualname] = parsed
        return parsed

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


def _function_scope(scope: Scope) -> Optional[Scope]:
    """The innermost function (or lambda) scope ``scope`` is, or is inside."""
    current: Optional[Scope] = scope
    while current is not None and current.kind not in ("function", "lambda"):
        current = current.parent
    return current
