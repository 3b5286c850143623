"""What one module's names are bound to, as plain data: a :class:`Binding` per way a
name gets a value, the :class:`Scope` that holds them, each function (a :class:`Unit`)
and each string :class:`Collection` spelled out. Built by
:mod:`walint.semantic.builder`; asked about through :mod:`walint.semantic.model`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, NamedTuple, Optional, Set, Union

import libcst as cst


class Binding(NamedTuple):
    """One way a name gets a value: ``value`` (an expression), ``iter`` (a loop target over
    ``value``), ``def`` (a function or class definition), ``import``, ``caught`` (the
    exception an ``except ... as`` handler catches) or ``unknown``."""

    kind: str
    value: Optional[cst.CSTNode]
    scope: Optional["Scope"]
    # Bound inside an `except` handler: a flag recording that something failed.
    in_handler: bool = False
    # For imports, the dotted name bound: "sqlite3", "sqlite3.connect", ".helpers.fallback".
    origin: Optional[str] = None
    # For loop targets, the whole target (`key, value` of `for key, value in D.items()`):
    # names bound by one target take their values from the same iteration.
    target: Optional[cst.BaseExpression] = None


class Scope:
    """A module, class or function namespace and what its names are bound to."""

    __slots__ = ("kind", "name", "parent", "bindings", "params", "globals", "nonlocals", "unit", "annotations", "callable_defaults")

    def __init__(self, kind: str, name: str, parent: Optional["Scope"]) -> None:
        self.kind = kind
        self.name = name
        self.parent = parent
        self.bindings: Dict[str, List[Binding]] = {}
        self.params: List[str] = []
        self.globals: Set[str] = set()
        # Names a nested function rebinds in the function around it (`nonlocal wal`).
        self.nonlocals: Set[str] = set()
        self.unit: Optional["Unit"] = None
        # Parameters annotated with a plain name (`cfg: DbConfig`): the class they hold.
        self.annotations: Dict[str, str] = {}
        # Parameters whose default is a name (`on_error=_use_rollback`): the function a
        # call of the parameter runs when the caller passes none.
        self.callable_defaults: Dict[str, cst.Name] = {}

    def bind(self, name: str, binding: Binding) -> None:
        self.bindings.setdefault(name, []).append(binding)

    def module(self) -> "Scope":
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope


class Unit:
    """A body of code that runs as one: the module's top level or one function."""

    __slots__ = ("node", "scope", "name", "qualname", "class_scope", "is_async")

    def __init__(
        self,
        node: Union[cst.Module, cst.FunctionDef],
        scope: Scope,
        name: str,
        qualname: str,
        class_scope: Optional[Scope],
    ) -> None:
        self.node = node
        self.scope = scope
        self.name = name
        self.qualname = qualname
        self.class_scope = class_scope
        self.is_async = isinstance(node, cst.FunctionDef) and node.asynchronous is not None

    @property
    def is_method(self) -> bool:
        """Is it called with the instance (or class) first? Not a ``@staticmethod``."""
        if self.class_scope is None:
            return False
        decorators = self.node.decorators if isinstance(self.node, cst.FunctionDef) else ()
        return not any(isinstance(d.decorator, cst.Name) and d.decorator.value == "staticmethod" for d in decorators)


@dataclass(eq=False)
class Collection:
    """A tuple, list, set or dict literal of strings (or an enum class of them), and the
    name it is known by: the variable it is assigned to (the class's), else the function
    it appears in."""

    node: Union[cst.BaseExpression, cst.ClassDef]
    name: str
    scope: Scope


def default_of(parameter: str, scope: Scope) -> Optional[cst.BaseExpression]:
    """The default value of ``parameter`` of the function ``scope`` is the body of."""
    node = scope.unit.node if scope.unit is not None else None
    if not isinstance(node, cst.FunctionDef):
        return None
    for param in (*node.params.posonly_params, *node.params.params, *node.params.kwonly_params):
        if param.name.value == parameter:
            return param.default
    return None
