"""Scopes, name bindings and qualified names of one module: what a name means where it
is used. This layer knows nothing of SQLite; :mod:`walint.journal` builds on it.

One pass over the tree (:mod:`walint.semantic.builder`) records every scope, what each
name is bound to there (:mod:`walint.semantic.scopes`), the functions of the module and
the string collections it spells out; :class:`SemanticModel` answers what a name
denotes where it is used.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import libcst as cst

from walint.semantic.builder import Handlers, ScopeBuilder
from walint.semantic.calls import CallTargets
from walint.semantic.nodes import dotted_name, subscript_path
from walint.semantic.scopes import Binding, Collection, Scope, Unit


class SemanticModel(CallTargets):
    """Scopes, bindings and the functions of one module, and what a name denotes."""

    def __init__(self, module: cst.Module, alongside: Sequence[Handlers] = ()) -> None:
        self.module = module
        self.module_scope = Scope("module", "", None)
        self.units: List[Unit] = []
        self.function_units: Dict[cst.FunctionDef, Unit] = {}
        self.class_scopes: Dict[cst.ClassDef, Scope] = {}
        self.collections: List[Collection] = []
        # What `NAME |= ...` and `NAME += ...` add to a collection, by the name grown.
        self.augmented: Dict[str, List[Tuple[cst.BaseExpression, Scope]]] = {}
        self._overrides: Dict[Tuple[int, str], List[Unit]] = {}
        ScopeBuilder(self).run(module, alongside)
        self.class_nodes: Dict[int, cst.ClassDef] = {id(scope): node for node, scope in self.class_scopes.items()}
        self.module_unit = Unit(module, self.module_scope, "<module>", "<module>", None)
        self.module_scope.unit = self.module_unit
        self.units.insert(0, self.module_unit)

    def lookup(self, name: str, scope: Scope) -> Tuple[List[Binding], bool]:
        """The bindings of ``name`` seen from ``scope``, and whether it is a parameter there."""
        current: Optional[Scope] = scope
        first = True
        while current is not None:
            if current.kind == "class" and not first:
                current = current.parent
                continue
            if name in current.globals:
                current = current.module()
            bindings = current.bindings.get(name)
            is_param = name in current.params
            if bindings or is_param:
                return list(bindings or ()), is_param
            current = current.parent
            first = False
        return [], False

    def class_scope_for(self, owner: cst.BaseExpression, scope: Scope) -> Optional[Scope]:
        """The class an attribute's owner denotes: ``self``/``cls`` in a method, a class
        name, an instance made on the spot (``Policy(conn).apply()``) or a name bound only
        to one (``policy = Policy(conn)``)."""
        found = self._class_of(owner, scope)
        return found if isinstance(found, Scope) else None

    def imported_class_of(self, owner: cst.BaseExpression, scope: Scope) -> str:
        """The imported dotted name of the class an attribute's owner is an instance of
        (``self.policy`` where ``self.policy = policy`` and ``policy: FallbackPolicy`` is
        imported), or ""."""
        found = self._class_of(owner, scope)
        return found if isinstance(found, str) else ""

    def _class_of(self, owner: cst.BaseExpression, scope: Scope, _depth: int = 0) -> Union[Scope, str, None]:
        """The class scope of this module ``owner`` denotes, or the imported name of its class."""
        if isinstance(owner, cst.Call) and _depth < 3:
            return self._class_of(owner.func, scope, _depth + 1)
        if isinstance(owner, cst.Attribute) and _depth < 3:
            # `self.pragmas.journal(...)` where `self.pragmas = Pragmas(conn)`.
            bindings, _ = self.bindings_of(owner, scope)
            makers = {
                (_maker_of(b.value).value, b.scope)  # type: ignore[union-attr]
                for b in bindings
                if _maker_of(b.value) is not None and b.scope is not None
            }
            holders = {b.value.value for b in bindings if isinstance(b.value, cst.Name) and b.scope is not None}  # type: ignore[union-attr]
            if len(holders) == 1 and len(bindings) == 1 and not makers:
                # `self.cfg = cfg` where `cfg: DbConfig` is a parameter.
                return self._class_of(cst.Name(holders.pop()), bindings[0].scope, _depth + 1)  # type: ignore[arg-type]
            if len(makers) != 1 or len(bindings) != len([b for b in bindings if b.kind == "value"]):
                return None
            maker, where = makers.pop()
            return self._class_of(cst.Name(maker), where, _depth + 1)  # type: ignore[arg-type]
        if not isinstance(owner, cst.Name):
            return None
        if owner.value in ("self", "cls"):
            current: Optional[Scope] = scope
            while current is not None and current.kind != "class":
                current = current.parent
            return current
        bindings, is_param = self.lookup(owner.value, scope)
        if is_param and not bindings and _depth < 3:
            holder = self._scope_of_param(owner.value, scope)
            annotated = holder.annotations.get(owner.value) if holder is not None else None
            if annotated is not None and annotated.isidentifier():
                return self._class_of(cst.Name(annotated), holder, _depth + 1)  # type: ignore[arg-type]
            return None
        for binding in bindings:
            if binding.kind == "def" and isinstance(binding.value, cst.ClassDef):
                return self.class_scopes.get(binding.value)
        if len(bindings) == 1 and bindings[0].kind == "value" and _depth < 3:
            made_by = _maker_of(bindings[0].value)  # `Policy()`, or `cfg = cfg or Policy()`
            if made_by is not None and bindings[0].scope is not None:
                return self._class_of(made_by, bindings[0].scope, _depth + 1)
        if bindings and all(b.kind == "import" for b in bindings) and _depth > 0:
            return self.qualified_name(owner, scope) or None  # a class another module defines
        return None

    @staticmethod
    def _scope_of_param(name: str, scope: Scope) -> Optional[Scope]:
        current: Optional[Scope] = scope
        while current is not None:
            if name in current.params:
                return current
            current = current.parent
        return None

    def bindings_of(self, expr: cst.BaseExpression, scope: Scope) -> Tuple[List[Binding], Optional[str]]:
        """Bindings of a name or ``self.attr``/``Cls.attr``, and the parameter it is, if any."""
        if isinstance(expr, cst.Name):
            bindings, is_param = self.lookup(expr.value, scope)
            return bindings, expr.value if is_param else None
        if isinstance(expr, cst.Attribute):
            class_scope = self.class_scope_for(expr.value, scope)
            # `self.config.journal_mode = ...` in a method: set on this instance's config.
            own = self.class_scope_for(cst.Name("self"), scope) if isinstance(expr.value, cst.Attribute) else None
            set_here = own.bindings.get(dotted_name(expr), []) if own is not None else []
            if class_scope is not None:
                found = self._method_bindings(class_scope, expr.attr.value, fields=True)
                if isinstance(expr.value, cst.Name) and expr.value.value not in ("self", "cls"):
                    # `state.wal_enabled = False` on a parameter typed `IngestState`, here or
                    # in a function handed the same kind of object under the same name.
                    key = f"{expr.value.value}.{expr.attr.value}"
                    set_here = [
                        b
                        for b in self.module_scope.bindings.get(key, [])
                        if b.scope is scope or (b.scope is not None and self.class_scope_for(expr.value, b.scope) is class_scope)
                    ]
                return found + set_here, None
            if set_here:
                return set_here, None
            if isinstance(expr.value, cst.Name):
                return self.module_scope.bindings.get(f"{expr.value.value}.{expr.attr.value}", []), None
        path = subscript_path(expr)
        if path:
            return self.lookup(path, scope)[0], None
        return [], None

    def names_caught_exception(self, value: Optional[cst.CSTNode], scope: Scope) -> bool:
        """Is ``value`` a name bound only by ``except ... as <name>`` where it is used?"""
        if not isinstance(value, cst.Name):
            return False
        bindings, _ = self.lookup(value.value, scope)
        return bool(bindings) and all(b.kind == "caught" for b in bindings)

    def qualified_name(self, expr: cst.BaseExpression, scope: Scope) -> str:
        """The imported dotted name an expression denotes (``sq.connect`` -> ``sqlite3.connect``)."""
        if isinstance(expr, cst.Name):
            bindings, _ = self.lookup(expr.value, scope)
            for binding in bindings:
                if binding.kind == "import" and binding.origin:
                    return binding.origin
            return ""
        if isinstance(expr, cst.Attribute):
            base = self.qualified_name(expr.value, scope)
            return f"{base}.{expr.attr.value}" if base else ""
        if subscript_path(expr):  # `POLICY["fallback"]`, an entry of an imported dict
            base = self.qualified_name(expr.value, scope)  # type: ignore[attr-defined]
            return base + subscript_path(expr)[len(expr.value.value):] if base else ""  # type: ignore[attr-defined]
        return ""

    def release(self) -> None:
        """Let go of the syntax tree once the caller is done with the model.

        Scopes and units refer to each other (a unit's scope, a scope's unit, a binding's
        scope), and through them to the tree's nodes: left as they are, the tree lives
        until the cyclic collector finds the cycles, and then it walks all of the tree's
        millions of nodes. Broken here, the tree is freed the moment the last reference
        to it goes, and the model can no longer be asked anything."""
        for scope in list(self._scopes()):
            scope.bindings.clear()
            scope.unit = None
            scope.parent = None
        self.__dict__.clear()

    def _scopes(self) -> Iterator[Scope]:
        yield self.module_scope
        yield from self.class_scopes.values()
        for unit in self.units[1:]:
            yield unit.scope


def _maker_of(value: Optional[cst.CSTNode]) -> Optional[cst.Name]:
    """The class named by ``Policy(conn)``, or by the default of ``policy or Policy()``
    (a strategy the caller may pass, else that one)."""
    if isinstance(value, cst.BooleanOperation) and isinstance(value.operator, cst.Or):
        value = value.right
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Name):
        return value.func
    return None
