"""One pass over a module that records its scopes, what each name is bound to there, its
functions and the string collections it spells out (:mod:`walint.semantic.scopes`).
Its ``visit_<Node>``/``leave_<Node>`` methods are called by :func:`walint.tree.walk`,
which costs a fraction of a LibCST visitor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import libcst as cst

from walint.semantic.nodes import (
    field_default,
    signalled_event,
    code_constant_name,
    collection_items,
    dotted_name,
    grown_collection,
    subscript_path,
    unwrap_collection,
    updated_entries,
)
from walint.semantic.scopes import Binding, Collection, Scope, Unit
from walint.tree import Handler, in_turn, walk

if TYPE_CHECKING:
    from walint.semantic.model import SemanticModel


# What walks along the builder: handlers by node type, on entering and on leaving a node.
Handlers = Tuple[Mapping[type, Handler], Mapping[type, Handler]]


def _join(handlers: Dict[type, Handler], others: Mapping[type, Handler]) -> None:
    for kind, other in others.items():
        own = handlers.get(kind)
        handlers[kind] = other if own is None else in_turn(own, other)


class ScopeBuilder:
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

    def run(self, module: cst.Module, alongside: Sequence[Handlers] = ()) -> None:
        """Walk ``module`` once; each of ``alongside`` (handlers by node type, to visit and
        to leave) is called on the same walk, after the builder's own."""
        visit: Dict[type, Handler] = {getattr(cst, n[6:]): getattr(self, n) for n in dir(self) if n.startswith("visit_")}
        leave: Dict[type, Handler] = {getattr(cst, n[6:]): getattr(self, n) for n in dir(self) if n.startswith("leave_")}
        for other_visit, other_leave in alongside:
            _join(visit, other_visit)
            _join(leave, other_leave)
        walk(module, visit, leave)

    @property
    def scope(self) -> Scope:
        return self.stack[-1]

    def _target_scope(self, name: str) -> Scope:
        scope = self.scope
        if name in scope.globals:
            return scope.module()
        if name in scope.nonlocals:
            # `nonlocal wal`: the nearest function around that has the name.
            outer = scope.parent
            while outer is not None and (outer.kind != "function" or (name not in outer.bindings and name not in outer.params)):
                outer = outer.parent
            return outer if outer is not None else scope
        return scope

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
        if any(dotted_name(base.value).rsplit(".", 1)[-1].endswith("Enum") for base in node.bases):
            self._record(node, node.name.value)  # an enum's members are its items
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

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.scope.nonlocals.update(item.name.value for item in node.names)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self.recorded.add(id(target.target))  # `w, r = ...`: names bound, no collection
            self._bind(target.target, node.value)
        self._record_assigned(node.targets[-1].target, node.value)

    def _record_assigned(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        """The collection literals an assignment binds, under the name they are bound to."""
        if isinstance(target, cst.Name):
            name = target.value
        elif isinstance(target, cst.Attribute):
            name = target.attr.value
        else:
            name = self._function_name()
        self._record_named_parts(name, value)

    def _record_named_parts(self, name: str, value: cst.BaseExpression) -> None:
        value = _default_of_field(value)
        for part in _joined_parts(value):
            literal = unwrap_collection(part)
            if literal is not None:
                self._record(literal, name)

    def _function_name(self) -> str:
        for scope in reversed(self.stack):
            if scope.kind == "function":
                return scope.name
        return ""

    def _record(self, node: cst.BaseExpression, name: str) -> None:
        if id(node) in self.recorded:
            return
        self.recorded.add(id(node))
        if any(
            isinstance(item, (cst.SimpleString, cst.ConcatenatedString, cst.Attribute, cst.Name, cst.Integer))
            or code_constant_name(item) is not None
            for item in collection_items(node)
        ):
            self.model.collections.append(Collection(node, name, self.scope))

    def visit_Tuple(self, node: cst.Tuple) -> None:
        self._record(node, self._function_name())

    def visit_List(self, node: cst.List) -> None:
        self._record(node, self._function_name())

    def visit_Set(self, node: cst.Set) -> None:
        self._record(node, self._function_name())

    def visit_Dict(self, node: cst.Dict) -> None:
        # `{"wal_fallback_errors": [...]}`: an entry's collection goes by its key, as an
        # assigned one goes by its variable.
        for element in node.elements:
            if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
                key = element.key.evaluated_value
                if isinstance(key, str) and key.isidentifier():
                    self._record_named_parts(key, element.value)
        self._record(node, self._function_name())

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:  # `Settings(fallback_errors=(...))`
            self._record_named_parts(node.keyword.value, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            value = field_default(node.value) if self.scope.kind == "class" else node.value
            self._bind(node.target, value)
            self._record_assigned(node.target, value)

    def visit_Expr(self, node: cst.Expr) -> None:
        for target, value in updated_entries(node.value):
            self._bind(target, value)
        grown = grown_collection(node.value)
        if grown is not None and self.handler_depth > 0:
            # `self._wal_broken.add(path)` in a handler: the collection records a failure,
            # as a flag would; the call stands for what it leaves in the collection.
            self._bind_grown(grown, node.value)
        event = signalled_event(node.value)
        if event is not None and self.handler_depth > 0:
            self._bind_grown(event, cst.Name("True"))  # `self.wal_refused.set()`: a flag raised

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
        if isinstance(node.operator, (cst.BitOrAssign, cst.AddAssign)):
            # `MARKERS |= {"database is busy"}`, `MARKERS += [...]`: what the right side
            # holds joins the collection, and a literal there goes by the collection's name.
            self._record_assigned(node.target, node.value)
            grown = dotted_name(node.target)
            if grown:
                self.model.augmented.setdefault(grown, []).append((node.value, self.scope))

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target, node.value)

    def visit_For(self, node: cst.For) -> None:
        self.recorded.add(id(node.target))  # `for key, level in ...`: names bound, no collection
        self._bind(node.target, node.iter, kind="iter")

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self.recorded.add(id(node.target))
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


def _joined_parts(value: cst.BaseExpression) -> List[cst.BaseExpression]:
    """The operands of ``PERMANENT + ("disk i/o error",)`` or ``BASE | {...}``: each
    literal part of a joined collection is named by the assignment, as a whole one is."""
    if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, (cst.Add, cst.BitOr)):
        return _joined_parts(value.left) + _joined_parts(value.right)
    return [value]


def _default_of_field(value: cst.BaseExpression) -> cst.BaseExpression:
    """``field(default_factory=lambda: [...])`` (or ``default=(...)``) in a dataclass: the
    collection the field starts with."""
    if isinstance(value, cst.Call) and dotted_name(value.func).rsplit(".", 1)[-1] in ("field", "Field"):
        for arg in value.args:
            if arg.keyword is not None and arg.keyword.value in ("default", "default_factory"):
                value = arg.value
                break
    return value.body if isinstance(value, cst.Lambda) else value
