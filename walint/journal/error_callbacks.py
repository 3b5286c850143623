"""Functions a failed WAL switch runs through a name: a callback parameter an ``except``
handler calls (``on_wal_error(conn, exc)``), and the hooks a class's handlers call on
``self``, here or in a base class another module defines. A mixin of
:class:`walint.journal.model.ModuleModel`."""

from __future__ import annotations

from typing import Dict, Optional, Set

import libcst as cst

from walint.semantic.nodes import dotted_name
from walint.semantic.scopes import Scope, Unit
from walint.summary import FunctionFacts


class ErrorCallbacks:
    """Callbacks and hooks of failed WAL switches, asked of a :class:`ModuleModel`."""

    def runs_as_error_callback(self, unit: Unit) -> Optional[str]:
        """``open_db(path, on_wal_error=rollback_journal)`` where ``open_db``'s handler
        calls ``on_wal_error(conn, exc)``: the name of the parameter through which an
        ``except`` handler runs this function, if one does. Or a method overriding a hook
        that a base class imported from another module calls on a failed WAL switch
        (``self._on_wal_unavailable(conn, exc)``): ``self.<name>``."""
        callbacks = self._error_callbacks
        if callbacks is None:
            callbacks = self._error_callbacks = self._find_error_callbacks()
        found = callbacks.get(unit)
        if found is None and self._overrides_an_imported_hook(unit):
            found = f"self.{unit.name}"
        return found

    def wal_failure_hooks(self, class_scope: Scope) -> Set[str]:
        """The methods a class's own handlers of a failed WAL switch call on ``self``."""
        hooks = self._wal_failure_hooks.get(class_scope)
        if hooks is None:
            hooks = self._wal_failure_hooks[class_scope] = set()
            for unit in self.hot_units:  # a handler of a WAL attempt is in a hot function
                if unit.class_scope is not class_scope:
                    continue
                for site in self.facts(unit).sites:
                    call = site.node
                    if (
                        site.handler is not None
                        and isinstance(call, cst.Call)
                        and isinstance(call.func, cst.Attribute)
                        and dotted_name(call.func.value) == "self"
                    ):
                        try_facts = self.try_of_handler(site.handler, unit)
                        if try_facts is not None and self._attempts_wal(unit, try_facts.node):
                            hooks.add(call.func.attr.value)
        return hooks

    def _overrides_an_imported_hook(self, unit: Unit) -> bool:
        class_node = self.class_nodes.get(id(unit.class_scope)) if unit.class_scope is not None else None
        if class_node is None or unit.class_scope is None or unit.class_scope.parent is None:
            return False
        for base in class_node.bases:
            origin = self.qualified_name(base.value, unit.class_scope.parent)
            facts = self.external(f"{origin}.{unit.name}") if origin else None
            if isinstance(facts, FunctionFacts) and facts.called_on_wal_failure:
                return True
        return False

    def _find_error_callbacks(self) -> Dict[Unit, str]:
        called_in_handler: Dict[Unit, Set[str]] = {}
        for unit in self.hot_units:
            if unit is self.module_unit:
                continue
            names = {
                site.node.func.value
                for site in self.facts(unit).sites
                if site.handler is not None
                and isinstance(site.node, cst.Call)
                and isinstance(site.node.func, cst.Name)
                and site.node.func.value in unit.scope.params
            }
            if names:
                called_in_handler[unit] = names
        found: Dict[Unit, str] = {}
        if not called_in_handler:
            return found
        for site in self.all_sites():
            call = site.node
            target = self.resolve_unit(call, site.scope) if isinstance(call, cst.Call) else None
            if target is None or target not in called_in_handler:
                continue
            params = list(target.scope.params)
            if target.is_method and isinstance(call.func, cst.Attribute) and params:  # type: ignore[union-attr]
                params = params[1:]
            for index, arg in enumerate(call.args):  # type: ignore[union-attr]
                name = arg.keyword.value if arg.keyword is not None else (params[index] if index < len(params) else None)
                if name not in called_in_handler[target] or not isinstance(arg.value, (cst.Name, cst.Attribute)):
                    continue
                passed = self.resolve_unit(cst.Call(func=arg.value), site.scope)
                if passed is not None:
                    found.setdefault(passed, name)
        return found
