"""Which function of the module a call runs: by name, by a method of the class at hand,
by a dict of functions picked with a key, or by a subclass's override of a hook."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

import libcst as cst

from walint.semantic.nodes import dotted_name

if TYPE_CHECKING:
    from walint.semantic.scopes import Binding, Scope, Unit


class CallTargets:
    """Call resolution for :class:`walint.semantic.model.SemanticModel` (mixed in)."""

    if TYPE_CHECKING:
        function_units: Dict[cst.FunctionDef, "Unit"]
        class_scopes: Dict[cst.ClassDef, "Scope"]
        class_nodes: Dict[int, cst.ClassDef]
        _overrides: Dict[Tuple[int, str], List["Unit"]]

        def lookup(self, name: str, scope: "Scope") -> Tuple[List["Binding"], bool]: ...
        def class_scope_for(self, owner: cst.BaseExpression, scope: "Scope", _depth: int = 0) -> Optional["Scope"]: ...
        def bindings_of(self, expr: cst.BaseExpression, scope: "Scope") -> Tuple[List["Binding"], Optional[str]]: ...

    def resolve_unit(self, call: cst.Call, scope: Scope) -> Optional[Unit]:
        """The function of this module that ``call`` calls, when that can be told."""
        func = self._dispatched(call.func, scope)
        bindings: List[Binding] = []
        if isinstance(func, cst.Name):
            bindings, is_param = self.lookup(func.value, scope)
            if is_param and not bindings:
                bindings = self._callable_default(func.value, scope)
        elif isinstance(func, cst.Attribute):
            class_scope = self.class_scope_for(func.value, scope)
            if class_scope is not None:
                bindings = self._method_bindings(class_scope, func.attr.value)
                if not bindings and dotted_name(func.value) == "self":
                    bindings = self._kept_callable(class_scope, func.attr.value)
        if isinstance(func, (cst.Name, cst.Attribute)) and not any(b.kind == "def" for b in bindings):
            maker = self.instance_maker(func, scope)
            class_scope = self.class_scope_for(*maker) if maker is not None else None
            if class_scope is not None:  # `probe = ModeProbe()` ... `probe(conn)`
                bindings = self._method_bindings(class_scope, "__call__")
        for binding in bindings:
            if binding.kind == "def" and isinstance(binding.value, cst.FunctionDef):
                return self.function_units.get(binding.value)
        return None

    def instance_maker(self, func: cst.BaseExpression, scope: Scope) -> Optional[Tuple[cst.Call, Scope]]:
        """The call that made the instance ``func`` names, when it is bound once to one
        (``probe = ModeProbe()``, ``self._probe = ModeProbe()``): calling it runs the
        class's ``__call__``."""
        bindings, _ = self.bindings_of(func, scope)
        if len(bindings) == 1 and bindings[0].kind == "value" and isinstance(bindings[0].value, cst.Call) and bindings[0].scope is not None:
            return bindings[0].value, bindings[0].scope
        return None

    def callable_default(self, param: str, scope: Scope) -> Optional[Tuple[cst.Name, Scope]]:
        """``on_wal_failure=_rollback_journal``: the parameter's default function, and the
        scope its name is looked up in (the one around the function)."""
        holder = self._scope_of_param(param, scope)
        default = holder.callable_defaults.get(param) if holder is not None else None
        if default is None or holder is None or holder.parent is None:
            return None
        return default, holder.parent

    def _callable_default(self, param: str, scope: Scope) -> List[Binding]:
        """``on_wal_failure(conn, exc)``: what the parameter's default function is bound to."""
        found = self.callable_default(param, scope)
        return self.lookup(found[0].value, found[1])[0] if found is not None else []

    def _kept_callable(self, class_scope: Scope, name: str) -> List[Binding]:
        """``self._on_wal_failure(conn)`` where ``__init__`` keeps a parameter
        (``self._on_wal_failure = on_wal_failure``): the parameter's default function."""
        kept = class_scope.bindings.get("self." + name, [])
        if len(kept) != 1 or kept[0].kind != "value" or kept[0].scope is None or not isinstance(kept[0].value, cst.Name):
            return []
        param = kept[0].value.value
        if param not in kept[0].scope.params or kept[0].scope.bindings.get(param):
            return []
        return self._callable_default(param, kept[0].scope)

    def _method_bindings(self, class_scope: Scope, name: str, _depth: int = 0, fields: bool = False) -> List[Binding]:
        """What ``name`` is bound to on a class, or else on the first of its bases (classes
        of this module, searched depth first as the MRO would for single inheritance) that
        defines it: ``self._fallback_journal()`` inherited from ``BaseQueue``. With
        ``fields``, instance fields count too (``self.fallback_mode = ...`` in the base's
        ``__init__``)."""
        own = class_scope.bindings.get(name, []) + (class_scope.bindings.get("self." + name, []) if fields else [])
        if own or _depth > 4:
            return own
        node = self.class_nodes.get(id(class_scope))
        for base in node.bases if node is not None else ():
            base_scope = self.class_scope_for(base.value, class_scope.parent) if class_scope.parent is not None else None
            if base_scope is not None and base_scope is not class_scope:
                found = self._method_bindings(base_scope, name, _depth + 1, fields)
                if found:
                    return found
        return []

    def _dispatched(self, func: cst.BaseExpression, scope: Scope) -> cst.BaseExpression:
        """``STRATEGIES["delete"]`` where ``STRATEGIES = {"delete": _use_delete, ...}``: the
        function the constant key picks from a dict literal (``func`` itself otherwise)."""
        if not isinstance(func, cst.Subscript) or len(func.slice) != 1 or not isinstance(func.slice[0].slice, cst.Index):
            return func
        key = func.slice[0].slice.value
        if not isinstance(key, cst.SimpleString) or not isinstance(func.value, cst.Name):
            return func
        bindings, _ = self.lookup(func.value.value, scope)
        if len(bindings) != 1 or bindings[0].kind != "value" or not isinstance(bindings[0].value, cst.Dict):
            return func
        for element in bindings[0].value.elements:
            if (
                isinstance(element, cst.DictElement)
                and isinstance(element.key, cst.SimpleString)
                and element.key.evaluated_value == key.evaluated_value
                and isinstance(element.value, (cst.Name, cst.Attribute))
            ):
                return element.value
        return func

    def overrides(self, call: cst.Call, scope: Scope) -> List[Unit]:
        """The methods of subclasses (in this module) that ``self.hook(...)`` may run
        instead of the one its own class defines."""
        func = call.func
        if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value in ("self", "cls")):
            return []
        own = self.class_scope_for(func.value, scope)
        if own is None:
            return []
        key = (id(own), func.attr.value)
        cached = self._overrides.get(key)
        if cached is None:
            cached = self._overrides[key] = self._find_overrides(own, func.attr.value)
        return cached

    def _find_overrides(self, own: Scope, method: str) -> List[Unit]:
        names = {own.name}
        found: List[Unit] = []
        grew = True
        while grew:  # subclasses of subclasses
            grew = False
            for node, class_scope in self.class_scopes.items():
                if class_scope.name in names or not any(
                    isinstance(base.value, cst.Name) and base.value.value in names for base in node.bases
                ):
                    continue
                names.add(class_scope.name)
                grew = True
                for binding in class_scope.bindings.get(method, []):
                    if binding.kind == "def" and isinstance(binding.value, cst.FunctionDef):
                        unit = self.function_units.get(binding.value)
                        if unit is not None:
                            found.append(unit)
        return found

    def dispatch_candidates(self, call: cst.Call, scope: Scope) -> List[Tuple[cst.BaseExpression, Scope]]:
        """The entries of a dict literal a call may run, each with the scope it is written
        in: ``HANDLERS.get(name)(conn)``, or ``handler = HANDLERS.get(name)`` then
        ``handler(conn)``, or ``HANDLERS[name](conn)``. A constant key picks its entry."""
        picked: cst.BaseExpression = call.func
        if isinstance(picked, cst.Name):
            bindings, parameter = self.lookup(picked.value, scope)
            if parameter or len(bindings) != 1 or bindings[0].kind != "value" or bindings[0].value is None:
                return []
            picked = bindings[0].value
        table: Optional[cst.BaseExpression] = None
        key: Optional[cst.BaseExpression] = None
        if isinstance(picked, cst.Call) and isinstance(picked.func, cst.Attribute) and picked.func.attr.value == "get":
            table, key = picked.func.value, picked.args[0].value if picked.args else None
        elif isinstance(picked, cst.Subscript) and len(picked.slice) == 1 and isinstance(picked.slice[0].slice, cst.Index):
            table, key = picked.value, picked.slice[0].slice.value
        if not isinstance(table, cst.Name):
            return []
        bindings, _ = self.lookup(table.value, scope)
        if len(bindings) != 1 or bindings[0].kind != "value" or not isinstance(bindings[0].value, cst.Dict):
            return []
        where = bindings[0].scope
        entries = [e for e in bindings[0].value.elements if isinstance(e, cst.DictElement)]
        if isinstance(key, cst.SimpleString):
            entries = [
                e for e in entries if isinstance(e.key, cst.SimpleString) and e.key.evaluated_value == key.evaluated_value
            ]
        return [(e.value, where) for e in entries if where is not None]

    def property_unit(self, attribute: cst.Attribute, scope: Scope) -> Optional[Unit]:
        """The ``@property`` method ``self.journal_mode`` reads, when it is one."""
        class_scope = self.class_scope_for(attribute.value, scope)
        if class_scope is None:
            return None
        for binding in class_scope.bindings.get(attribute.attr.value, []):
            node = binding.value
            if binding.kind == "def" and isinstance(node, cst.FunctionDef) and any(
                isinstance(d.decorator, cst.Name) and d.decorator.value in ("property", "cached_property")
                or isinstance(d.decorator, cst.Attribute) and d.decorator.attr.value == "cached_property"
                for d in node.decorators
            ):
                return self.function_units.get(node)
        return None
