"""Scopes, name bindings and qualified names of one module: what a name means where it
is used. This layer knows nothing of SQLite; :mod:`walint.journal` builds on it.

One pass over the tree (:func:`walint.tree.walk`, a fraction of a LibCST visitor's cost)
records every scope, what each name is bound to there, the functions of the module and
the string collections it spells out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Set, Tuple, Union

import libcst as cst

from walint.semantic.nodes import (
    collection_items,
    dotted_name,
    grown_collection,
    subscript_path,
    unwrap_collection,
    updated_entries,
)
from walint.semantic.calls import CallTargets
from walint.tree import walk


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

    __slots__ = ("kind", "name", "parent", "bindings", "params", "globals", "unit", "annotations", "callable_defaults")

    def __init__(self, kind: str, name: str, parent: Optional["Scope"]) -> None:
        self.kind = kind
        self.name = name
        self.parent = parent
        self.bindings: Dict[str, List[Binding]] = {}
        self.params: List[str] = []
        self.globals: Set[str] = set()
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
        return self.class_scope is not None


@dataclass(eq=False)
class Collection:
    """A tuple, list, set or dict literal of strings, and the name it is known by: the
    variable it is assigned to, else the function it appears in."""

    node: cst.BaseExpression
    name: str
    scope: Scope
    assigned: bool


class _ScopeBuilder:
    """First pass: scopes, bindings, and the functions of the module.

    Its ``visit_<Node>``/``leave_<Node>`` methods are called by :func:`walint.tree.walk`,
    which costs a fraction of a LibCST visitor.
    """

    def __init__(self, model: "SemanticModel") -> None:
        self.model = model
        self.stack: List[Scope] = [model.module_scope]
        self.qualnames: List[str] = []
        self.recorded: Set[int] = set()
        self.handler_depth = 0

    def run(self, module: cst.Module) -> None:
        visit = {getattr(cst, n[6:]): getattr(self, n) for n in dir(self) if n.startswith("visit_")}
        leave = {getattr(cst, n[6:]): getattr(self, n) for n in dir(self) if n.startswith("leave_")}
        walk(module, visit, leave)

    @property
    def scope(self) -> Scope:
        return self.stack[-1]

    def _target_scope(self, name: str) -> Scope:
        scope = self.scope
        return scope.module() if name in scope.globals else scope

    def _bind_name(self, name: str, binding: Binding) -> None:
        if self.handler_depth and not binding.in_handler:
            binding = binding._replace(in_handler=True)
        self._target_scope(name).bind(name, binding)

    def _bind(self, target: cst.BaseExpression, value: Optional[cst.BaseExpression], kind: str = "value") -> None:
        if isinstance(target, cst.Name):
            if value is None:
                self._bind_name(target.value, Binding("unknown", None, None))
            else:
                self._bind_name(target.value, Binding(kind, value, self.scope, target=target if kind == "iter" else None))
        elif kind == "iter" and value is not None and isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                if isinstance(element.value, cst.Name) and not isinstance(element, cst.StarredElement):
                    self._bind_name(element.value.value, Binding("iter", value, self.scope, target=target))
                else:
                    self._bind(element.value, None)
        elif isinstance(target, (cst.Tuple, cst.List)):
            values: Sequence[Optional[cst.BaseExpression]]
            if kind == "value" and isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == len(
                target.elements
            ):
                values = [e.value for e in value.elements]
            elif kind == "value" and value is not None and len(target.elements) == 1:
                # `(mode,) = cur.fetchone()`: the one name holds the row's only value, so
                # it carries whatever the call read (a journal-mode probe, say).
                values = [value]
            else:
                values = [None] * len(target.elements)
            for element, element_value in zip(target.elements, values):
                self._bind(element.value, element_value if not isinstance(element, cst.StarredElement) else None)
        elif subscript_path(target) and value is not None:
            # `state["journal"] = "delete"`: an entry of the dict, in the scope holding it.
            owner = target.value.value  # type: ignore[attr-defined]
            local = owner in self.scope.bindings or owner in self.scope.params or owner in self.scope.globals
            holder = self._target_scope(owner) if local else self.scope.module()
            in_handler = self.handler_depth > 0
            holder.bind(subscript_path(target), Binding(kind, value, self.scope, in_handler))
        elif isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name):
            # `self.X = ...` in a method, or `Cls.X = ...`: remembered on the class.
            class_scope = self._enclosing_class()
            owner = target.value.value
            in_handler = self.handler_depth > 0
            if class_scope is not None and owner in ("self", "cls"):
                class_scope.bind(
                    "self." + target.attr.value,
                    Binding(kind, value, self.scope, in_handler)
                    if value is not None
                    else Binding("unknown", None, None, in_handler),
                )
            elif value is not None:
                self.model.module_scope.bind(
                    f"{owner}.{target.attr.value}", Binding(kind, value, self.scope, in_handler)
                )
        elif isinstance(target, cst.Attribute) and value is not None and dotted_name(target).startswith("self."):
            # `self.config.journal_mode = "delete"`: state of the instance, kept on the class.
            class_scope = self._enclosing_class()
            if class_scope is not None:
                class_scope.bind(dotted_name(target), Binding(kind, value, self.scope, self.handler_depth > 0))

    def _enclosing_class(self) -> Optional[Scope]:
        for scope in reversed(self.stack):
            if scope.kind == "class":
                return scope
        return None

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._bind_name(node.name.value, Binding("def", node, self.scope))
        scope = Scope("class", node.name.value, self.scope)
        self.model.class_scopes[node] = scope
        self.stack.append(scope)
        self.qualnames.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.stack.pop()
        self.qualnames.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._bind_name(node.name.value, Binding("def", node, self.scope))
        class_scope = self.scope if self.scope.kind == "class" else None
        scope = Scope("function", node.name.value, self.scope)
        params = node.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            scope.params.append(param.name.value)
            annotation = param.annotation.annotation if param.annotation is not None else None
            if isinstance(annotation, cst.SimpleString) and isinstance(annotation.evaluated_value, str):
                scope.annotations[param.name.value] = annotation.evaluated_value  # `cfg: "DbConfig"`
            elif isinstance(annotation, cst.Name):
                scope.annotations[param.name.value] = annotation.value
            if isinstance(param.default, cst.Name) and param.default.value not in ("None", "True", "False"):
                scope.callable_defaults[param.name.value] = param.default
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                scope.bind(star.name.value, Binding("unknown", None, None))
        self.qualnames.append(node.name.value)
        unit = Unit(node, scope, node.name.value, ".".join(self.qualnames), class_scope)
        scope.unit = unit
        self.model.units.append(unit)
        self.model.function_units[node] = unit
        self.stack.append(scope)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.stack.pop()
        self.qualnames.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        scope = Scope("lambda", "<lambda>", self.scope)
        for param in (*node.params.posonly_params, *node.params.params, *node.params.kwonly_params):
            scope.params.append(param.name.value)
        self.stack.append(scope)

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.stack.pop()

    def visit_Global(self, node: cst.Global) -> None:
        self.scope.globals.update(item.name.value for item in node.names)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind(target.target, node.value)
        self._record_assigned(node.targets[-1].target, node.value)

    def _record_assigned(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        """The collection literals an assignment binds, under the name they are bound to."""
        literals = [unwrap_collection(part) for part in _joined_parts(value)]
        if any(literal is not None for literal in literals):
            if isinstance(target, cst.Name):
                name = target.value
            elif isinstance(target, cst.Attribute):
                name = target.attr.value
            else:
                name = self._function_name()
            for literal in literals:
                if literal is not None:
                    self._record(literal, name, assigned=True)

    def _function_name(self) -> str:
        for scope in reversed(self.stack):
            if scope.kind == "function":
                return scope.name
        return ""

    def _record(self, node: cst.BaseExpression, name: str, assigned: bool) -> None:
        if id(node) in self.recorded:
            return
        self.recorded.add(id(node))
        if any(isinstance(item, (cst.SimpleString, cst.ConcatenatedString, cst.Attribute, cst.Name, cst.Integer)) for item in collection_items(node)):
            self.model.collections.append(Collection(node, name, self.scope, assigned))

    def visit_Tuple(self, node: cst.Tuple) -> None:
        self._record(node, self._function_name(), assigned=False)

    def visit_List(self, node: cst.List) -> None:
        self._record(node, self._function_name(), assigned=False)

    def visit_Set(self, node: cst.Set) -> None:
        self._record(node, self._function_name(), assigned=False)

    def visit_Dict(self, node: cst.Dict) -> None:
        self._record(node, self._function_name(), assigned=False)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind(node.target, node.value)
            self._record_assigned(node.target, node.value)

    def visit_Expr(self, node: cst.Expr) -> None:
        for target, value in updated_entries(node.value):
            self._bind(target, value)
        grown = grown_collection(node.value)
        if grown is not None and self.handler_depth > 0:
            # `self._wal_broken.add(path)` in a handler: the collection records a failure,
            # as a flag would; the call stands for what it leaves in the collection.
            self._bind_grown(grown, node.value)

    def _bind_grown(self, collection: cst.BaseExpression, call: cst.BaseExpression) -> None:
        binding = Binding("value", call, self.scope, in_handler=True)
        if isinstance(collection, cst.Name):
            name = collection.value
            local = name in self.scope.bindings or name in self.scope.params or name in self.scope.globals
            (self._target_scope(name) if local else self.scope.module()).bind(name, binding)
        elif dotted_name(collection).startswith("self."):
            class_scope = self._enclosing_class()
            if class_scope is not None:
                class_scope.bind(dotted_name(collection), binding)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target, None)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target, node.value)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target, node.iter, kind="iter")

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._bind(node.target, node.iter, kind="iter")

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            # `async with db.execute("PRAGMA journal_mode") as cur`: cursors and connections
            # enter as themselves, so the name holds what the call made.
            item = node.item.expression if isinstance(node.item, cst.Await) else node.item
            self._bind(node.asname.name, item if isinstance(item, cst.Call) else None)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None and isinstance(node.name.name, cst.Name):
            # `except OperationalError as exc`: the failure itself, which `error = exc` records.
            self._bind_name(node.name.name.value, Binding("caught", None, self.scope))
        self.handler_depth += 1

    def leave_ExceptHandler(self, original_node: cst.ExceptHandler) -> None:
        self.handler_depth -= 1

    def visit_ExceptStarHandler(self, node: cst.ExceptStarHandler) -> None:
        self.handler_depth += 1

    def leave_ExceptStarHandler(self, original_node: cst.ExceptStarHandler) -> None:
        self.handler_depth -= 1

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            dotted = dotted_name(alias.name)
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self._bind_name(alias.asname.name.value, Binding("import", alias, self.scope, origin=dotted))
            elif dotted:
                # `import a.b` binds `a`, through which `a.b.f` is reached.
                head = dotted.split(".")[0]
                self._bind_name(head, Binding("import", alias, self.scope, origin=head))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        base = "." * len(node.relative) + (dotted_name(node.module) if node.module is not None else "")
        for alias in node.names:
            bound = alias.asname.name if alias.asname is not None else alias.name
            if isinstance(bound, cst.Name):
                name = dotted_name(alias.name)
                origin = f"{base}.{name}" if base and not base.endswith(".") else base + name
                self._bind_name(bound.value, Binding("import", alias, self.scope, origin=origin))


class SemanticModel(CallTargets):
    """Scopes, bindings and the functions of one module, and what a name denotes."""

    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.module_scope = Scope("module", "", None)
        self.units: List[Unit] = []
        self.function_units: Dict[cst.FunctionDef, Unit] = {}
        self.class_scopes: Dict[cst.ClassDef, Scope] = {}
        self.collections: List[Collection] = []
        self._overrides: Dict[Tuple[int, str], List[Unit]] = {}
        _ScopeBuilder(self).run(module)
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

    def class_scope_for(self, owner: cst.BaseExpression, scope: Scope, _depth: int = 0) -> Optional[Scope]:
        """The class an attribute's owner denotes: ``self``/``cls`` in a method, a class
        name, an instance made on the spot (``Policy(conn).apply()``) or a name bound only
        to one (``policy = Policy(conn)``)."""
        if isinstance(owner, cst.Call) and _depth < 3:
            return self.class_scope_for(owner.func, scope, _depth + 1)
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
                return self.class_scope_for(cst.Name(holders.pop()), bindings[0].scope, _depth + 1)  # type: ignore[arg-type]
            if len(makers) != 1 or len(bindings) != len([b for b in bindings if b.kind == "value"]):
                return None
            maker, where = makers.pop()
            return self.class_scope_for(cst.Name(maker), where, _depth + 1)  # type: ignore[arg-type]
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
                return self.class_scope_for(cst.Name(annotated), holder, _depth + 1)  # type: ignore[arg-type]
            return None
        for binding in bindings:
            if binding.kind == "def" and isinstance(binding.value, cst.ClassDef):
                return self.class_scopes.get(binding.value)
        if len(bindings) == 1 and bindings[0].kind == "value" and isinstance(bindings[0].value, cst.Call) and _depth < 3:
            made_by = bindings[0].value.func
            if isinstance(made_by, cst.Name) and bindings[0].scope is not None:
                return self.class_scope_for(made_by, bindings[0].scope, _depth + 1)
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
                attr = expr.attr.value
                found = class_scope.bindings.get(attr, []) + class_scope.bindings.get("self." + attr, [])
                return found + set_here, None
            if set_here:
                return set_here, None
            if isinstance(expr.value, cst.Name):
                return self.module_scope.bindings.get(f"{expr.value.value}.{expr.attr.value}", []), None
        path = subscript_path(expr)
        if path:
            return self.lookup(path, scope)[0], None
        return [], None

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
        return ""

    def _scopes(self) -> Iterator[Scope]:
        yield self.module_scope
        yield from self.class_scopes.values()
        for unit in self.units[1:]:
            yield unit.scope


def _joined_parts(value: cst.BaseExpression) -> List[cst.BaseExpression]:
    """The operands of ``PERMANENT + ("disk i/o error",)`` or ``BASE | {...}``: each
    literal part of a joined collection is named by the assignment, as a whole one is."""
    if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, (cst.Add, cst.BitOr)):
        return _joined_parts(value.left) + _joined_parts(value.right)
    return [value]


def _maker_of(value: Optional[cst.CSTNode]) -> Optional[cst.Name]:
    """The class named by ``Policy(conn)``, or by the default of ``policy or Policy()``
    (a strategy the caller may pass, else that one)."""
    if isinstance(value, cst.BooleanOperation) and isinstance(value.operator, cst.Or):
        value = value.right
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Name):
        return value.func
    return None
