"""The per-module semantic model that rules query.

One pass builds scopes and name bindings; a second, per function and on demand, walks
statements in order and records every call with the control context it runs in: the
``except`` handler around it, whether an on-disk guard ran before it on that path, and
whether it is conditional. From those facts the model answers what each call does to
the journal mode, including calls of functions defined in the same module (helpers that
downgrade, probes that read the mode, guards that refuse when it is WAL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Set, Tuple, Union

import libcst as cst

from walint.constants import Resolution, StringFolder, is_known
from walint.sql import ROLLBACK_MODES, ModeEffect, classify_call, modes_set_by_sql, normalise_mode
from walint.summary import FunctionFacts, ModuleSummary
from walint.tree import NodePositions, positions_of, preorder, walk

if TYPE_CHECKING:
    from walint.flow.error_paths import ErrorPaths, PathState

# How a rollback site is on a failed WAL path (ModuleModel.on_failure_path).
FAILED_PATH, MODE_FROM_VALUE = "failed-path", "mode-from-value"

# Names of functions that read the mode on disk wherever they come from: walint's own helper.
DEFAULT_GUARDS = frozenset({"journal_mode_on_disk"})


class Binding(NamedTuple):
    """One way a name gets a value: ``value`` (an expression), ``iter`` (a loop target over
    ``value``), ``def`` (a function or class definition), ``import`` or ``unknown``."""

    kind: str
    value: Optional[cst.CSTNode]
    scope: Optional["Scope"]
    # Bound inside an `except` handler: a flag recording that something failed.
    in_handler: bool = False
    # For imports, the dotted name bound: "sqlite3", "sqlite3.connect", ".helpers.fallback".
    origin: Optional[str] = None


class Scope:
    """A module, class or function namespace and what its names are bound to."""

    __slots__ = ("kind", "name", "parent", "bindings", "params", "globals", "unit")

    def __init__(self, kind: str, name: str, parent: Optional["Scope"]) -> None:
        self.kind = kind
        self.name = name
        self.parent = parent
        self.bindings: Dict[str, List[Binding]] = {}
        self.params: List[str] = []
        self.globals: Set[str] = set()
        self.unit: Optional["Unit"] = None

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
class Site:
    """A call (or a ``x.journal_mode = ...`` assignment) and the context it runs in."""

    node: cst.CSTNode
    unit: Unit
    scope: Scope
    handler: Optional[cst.ExceptHandler]
    guarded: bool
    conditional: bool
    statement: cst.CSTNode
    # Decided by a flag that an `except` handler set (`wal_ok = False` ... `if not wal_ok:`).
    flagged: bool = False
    # The innermost `try` whose body (not handlers) holds this site.
    try_node: Optional[cst.CSTNode] = None
    # The simple statement line holding the site, where a fix can insert before it.
    line: Optional[cst.CSTNode] = None


@dataclass(eq=False)
class TryFacts:
    """A ``try`` and the site ranges of its body and of each handler."""

    node: cst.CSTNode
    body: Tuple[int, int]
    handlers: List[Tuple[cst.CSTNode, Tuple[int, int]]]
    # Inside a loop whose exhaustion raises: a handler that falls through is a retry.
    retried_then_raised: bool


@dataclass(eq=False)
class SuppressFacts:
    """A ``with contextlib.suppress(...)`` block and the sites in it."""

    node: cst.With
    exceptions: Sequence[cst.BaseExpression]
    body: Tuple[int, int]


@dataclass(eq=False)
class GuardFacts:
    """A comparison of the probed journal mode with "wal" that decides a downgrade."""

    comparison: cst.Comparison
    test: cst.BaseExpression
    scope: Scope


@dataclass(eq=False)
class Branch:
    """An ``if`` and the sites that run when its test is true, or false."""

    node: cst.If
    unit: Unit
    scope: Scope
    when_true: Tuple[int, int]
    when_false: List[Tuple[int, int]] = field(default_factory=list)
    # `if test: return True/False` inside a predicate function.
    returns: Optional[bool] = None


@dataclass(eq=False)
class Collection:
    """A tuple, list, set or dict literal of strings, and the name it is known by: the
    variable it is assigned to, else the function it appears in."""

    node: cst.BaseExpression
    name: str
    scope: Scope
    assigned: bool


_COLLECTIONS = (cst.Tuple, cst.List, cst.Set, cst.Dict)
_COLLECTION_CALLS = frozenset({"frozenset", "set", "tuple", "list"})


def unwrap_collection(expr: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """The literal inside ``frozenset({...})`` and friends, or the literal itself."""
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value in _COLLECTION_CALLS:
        if len(expr.args) == 1:
            expr = expr.args[0].value
    return expr if isinstance(expr, _COLLECTIONS) else None


def collection_items(node: cst.BaseExpression) -> List[cst.BaseExpression]:
    """The elements of a collection literal; the keys of a dict."""
    if isinstance(node, cst.Dict):
        return [e.key for e in node.elements if isinstance(e, cst.DictElement)]
    if isinstance(node, (cst.Tuple, cst.List, cst.Set)):
        return [e.value for e in node.elements if not isinstance(e, cst.StarredElement)]
    return []


@dataclass(eq=False)
class UnitFacts:
    sites: List[Site] = field(default_factory=list)
    branches: List[Branch] = field(default_factory=list)
    returns: List[cst.BaseExpression] = field(default_factory=list)
    # An `if <mode is wal>: raise` (or an assert) at the top level of the body.
    refuses_wal: bool = False
    # It can return None: `return`, `return None`, a return in a handler, or falling off the end.
    returns_none: bool = False
    tries: List[TryFacts] = field(default_factory=list)
    suppressions: List[SuppressFacts] = field(default_factory=list)
    guards: List[GuardFacts] = field(default_factory=list)
    # Names of handler-set flags that decide something later.
    flags: Set[str] = field(default_factory=set)
    # Decorated as a SQLAlchemy "connect" listener, so it receives a fresh connection.
    connect_listener: bool = False


class _Ctx(NamedTuple):
    scope: Scope
    handler: Optional[cst.ExceptHandler]
    guarded: bool
    conditional: bool
    flagged: bool = False
    try_node: Optional[cst.CSTNode] = None
    # The enclosing loop raises once it runs out (`for ...: ... else: raise`).
    loop_raises: bool = False


def _collect(node: Optional[cst.CSTNode]) -> List[cst.CSTNode]:
    """The calls, and ``.journal_mode`` reads, inside one expression or statement."""
    if node is None:
        return []
    return [
        found
        for found in preorder(node)
        if isinstance(found, cst.Call) or (isinstance(found, cst.Attribute) and found.attr.value == "journal_mode")
    ]


class _ScopeBuilder:
    """First pass: scopes, bindings, and the functions of the module.

    Its ``visit_<Node>``/``leave_<Node>`` methods are called by :func:`walint.tree.walk`,
    which costs a fraction of a LibCST visitor.
    """

    def __init__(self, model: "ModuleModel") -> None:
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
                self._bind_name(target.value, Binding(kind, value, self.scope))
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
        literal = unwrap_collection(node.value)
        if literal is not None:
            target = node.targets[-1].target
            if isinstance(target, cst.Name):
                name = target.value
            elif isinstance(target, cst.Attribute):
                name = target.attr.value
            else:
                name = self._function_name()
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
        if any(isinstance(item, (cst.SimpleString, cst.ConcatenatedString, cst.Attribute, cst.Name)) for item in collection_items(node)):
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
        self._bind(node.target, node.value) if node.value is not None else None

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
            self._bind(node.asname.name, None)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._bind(node.name.name, None)
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


_GUARD_EXIT = (cst.Raise, cst.Return)


def dotted_name(node: Optional[cst.CSTNode]) -> str:
    """``a.b.c`` for a Name/Attribute chain, "" for anything else."""
    parts: List[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return ""


def _small_statements(block: cst.BaseSuite) -> Sequence[cst.CSTNode]:
    """The statements of a block; a one-line suite (`if x: return`) is one statement."""
    return block.body if isinstance(block, cst.IndentedBlock) else [block]


def _else_statements(orelse: Union[cst.If, cst.Else]) -> Sequence[cst.CSTNode]:
    return [orelse] if isinstance(orelse, cst.If) else _small_statements(orelse.body)


_SIMPLE_LINES = (cst.SimpleStatementLine, cst.SimpleStatementSuite)


def iter_subexpressions(node: cst.CSTNode, limit: int = 2000) -> Iterator[cst.CSTNode]:
    """Pre-order walk of ``node`` and its descendants (bounded; used on small expressions)."""
    return preorder(node, limit)


# What `sqlite3.connect` and friends are called, by their qualified names.
CONNECT_FUNCTIONS = frozenset(
    {
        "sqlite3.connect",
        "sqlite3.dbapi2.connect",
        "sqlite3.Connection",
        "pysqlite2.dbapi2.connect",
        "aiosqlite.connect",
        "apsw.Connection",
        "sqlcipher3.connect",
    }
)
_FLAG_CONSTANTS = frozenset({"False", "None", "True"})

# Answers "what is this imported dotted name": FunctionFacts, a tuple of string values for
# a constant, or None. Supplied by the project pass; the default knows nothing.
ExternalLookup = Callable[[str], object]


def _no_external(origin: str) -> object:
    return None


class ModuleModel:
    """Everything the rules ask about one parsed module."""

    def __init__(
        self,
        module: cst.Module,
        guards: Sequence[str] = (),
        external: ExternalLookup = _no_external,
        path: str = "",
    ) -> None:
        self.module = module
        self.path = path
        self.external = external
        self.guard_names = DEFAULT_GUARDS | frozenset(g.rsplit(".", 1)[-1].rsplit(":", 1)[-1] for g in guards)
        self.module_scope = Scope("module", "", None)
        self.units: List[Unit] = []
        self.function_units: Dict[cst.FunctionDef, Unit] = {}
        self.class_scopes: Dict[cst.ClassDef, Scope] = {}
        self.collections: List[Collection] = []
        self.folder = StringFolder(self.resolve)
        _ScopeBuilder(self).run(module)
        self.module_unit = Unit(module, self.module_scope, "<module>", "<module>", None)
        self.module_scope.unit = self.module_unit
        self.units.insert(0, self.module_unit)
        self._facts: Dict[Unit, UnitFacts] = {}
        self._in_progress: Set[Unit] = set()
        self._effects: Dict[int, Optional[ModeEffect]] = {}
        self._function_facts: Dict[Unit, FunctionFacts] = {}
        self._positions: Optional[NodePositions] = None
        # (expression, scope) -> does it evaluate to "wal"; asked again by every rule.
        self._mentions_wal: Dict[Tuple[cst.CSTNode, Scope], bool] = {}
        self._error_paths: Dict[Unit, "ErrorPaths"] = {}

    # ----- names -------------------------------------------------------------------

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
        """The class an attribute's owner denotes: ``self``/``cls`` in a method, or a class name."""
        if not isinstance(owner, cst.Name):
            return None
        if owner.value in ("self", "cls"):
            current: Optional[Scope] = scope
            while current is not None and current.kind != "class":
                current = current.parent
            return current
        bindings, _ = self.lookup(owner.value, scope)
        for binding in bindings:
            if binding.kind == "def" and isinstance(binding.value, cst.ClassDef):
                return self.class_scopes.get(binding.value)
        return None

    def bindings_of(self, expr: cst.BaseExpression, scope: Scope) -> Tuple[List[Binding], Optional[str]]:
        """Bindings of a name or ``self.attr``/``Cls.attr``, and the parameter it is, if any."""
        if isinstance(expr, cst.Name):
            bindings, is_param = self.lookup(expr.value, scope)
            return bindings, expr.value if is_param else None
        if isinstance(expr, cst.Attribute):
            class_scope = self.class_scope_for(expr.value, scope)
            if class_scope is not None:
                attr = expr.attr.value
                found = class_scope.bindings.get(attr, []) + class_scope.bindings.get("self." + attr, [])
                return found, None
            if isinstance(expr.value, cst.Name):
                return self.module_scope.bindings.get(f"{expr.value.value}.{expr.attr.value}", []), None
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

    def resolve(self, expr: cst.BaseExpression, scope: object) -> Optional[Resolution]:
        assert isinstance(scope, Scope)
        bindings, parameter = self.bindings_of(expr, scope)
        values: Tuple[str, ...] = ()
        if any(b.kind == "import" for b in bindings) or (not bindings and isinstance(expr, cst.Attribute)):
            found = self.external(self.qualified_name(expr, scope)) if self.qualified_name(expr, scope) else None
            if isinstance(found, tuple):
                values = found
        if not bindings and parameter is None and not values:
            return None
        expressions = [
            (b.value, b.scope) if b.kind == "value" else (None, None)
            for b in bindings
            if not (values and b.kind == "import")
        ]
        return Resolution(expressions, parameter, values)  # type: ignore[arg-type]

    def resolve_unit(self, call: cst.Call, scope: Scope) -> Optional[Unit]:
        """The function of this module that ``call`` calls, when that can be told."""
        func = call.func
        bindings: List[Binding] = []
        if isinstance(func, cst.Name):
            bindings, _ = self.lookup(func.value, scope)
        elif isinstance(func, cst.Attribute):
            class_scope = self.class_scope_for(func.value, scope)
            if class_scope is not None:
                bindings = class_scope.bindings.get(func.attr.value, [])
        for binding in bindings:
            if binding.kind == "def" and isinstance(binding.value, cst.FunctionDef):
                return self.function_units.get(binding.value)
        return None

    def callee(self, call: cst.Call, scope: Scope) -> Optional[FunctionFacts]:
        """What is known about the project function ``call`` calls, here or in another module."""
        unit = self.resolve_unit(call, scope)
        if unit is not None:
            return self.function_facts(unit)
        origin = self.qualified_name(call.func, scope)
        if origin:
            found = self.external(origin)
            if isinstance(found, FunctionFacts):
                return found
        return None

    # ----- per-unit facts ----------------------------------------------------------

    def facts(self, unit: Unit) -> UnitFacts:
        facts = self._facts.get(unit)
        if facts is None:
            if unit in self._in_progress:
                return UnitFacts()  # a recursive call: assume nothing about it
            self._in_progress.add(unit)
            try:
                facts = _UnitWalker(self, unit).run()
            finally:
                self._in_progress.discard(unit)
            self._facts[unit] = facts
        return facts

    def all_sites(self) -> Iterator[Site]:
        for unit in self.units:
            yield from self.facts(unit).sites

    def all_branches(self) -> Iterator[Branch]:
        for unit in self.units:
            yield from self.facts(unit).branches

    def location(self, node: cst.CSTNode) -> str:
        """``path:line`` of a node."""
        return f"{self.path}:{self.line_of(node)}"

    def line_of(self, node: cst.CSTNode) -> int:
        """A node's first line; positions are computed once, and only when asked for."""
        if self._positions is None:
            self._positions = positions_of(self.module)
        span = self._positions.get(node)
        return span.start.line if span is not None else 0  # type: ignore[attr-defined]

    # ----- what calls do -----------------------------------------------------------

    def direct_effect(self, node: cst.CSTNode, scope: Scope) -> Optional[ModeEffect]:
        """The effect of a call by what it says, without looking into project functions."""
        if isinstance(node, cst.Call):
            return classify_call(node, self.folder, scope)
        if isinstance(node, cst.Attribute):
            return ModeEffect(reads=True)  # `db.journal_mode` (peewee, sqlite-utils)
        return None

    def effect(self, site: Site) -> Optional[ModeEffect]:
        """What ``site`` does to the journal mode, following project functions."""
        key = id(site.node)
        if key in self._effects:
            return self._effects[key]
        self._effects[key] = None  # cycle guard
        result = self._site_effect(site)
        self._effects[key] = result
        return result

    def _site_effect(self, site: Site) -> Optional[ModeEffect]:
        node = site.node
        if isinstance(node, cst.Assign):  # `db.journal_mode = "delete"` (peewee)
            return ModeEffect(
                tuple(dict.fromkeys(normalise_mode(v) for v in self.folder.values(node.value, site.scope) if is_known(v)))
            )
        direct = self.direct_effect(node, site.scope)
        if direct is not None or not isinstance(node, cst.Call):
            return direct
        callee = self.callee(node, site.scope)
        if callee is None:
            return None
        modes = callee.downgrades + self._argument_modes(node, callee, site.scope)
        if modes:
            return ModeEffect(tuple(dict.fromkeys(modes)))
        if callee.probe:
            return ModeEffect(reads=True)
        return None

    def _argument_modes(self, call: cst.Call, callee: FunctionFacts, scope: Scope) -> Tuple[str, ...]:
        """Rollback modes a caller passes to a helper that sets the mode from a parameter."""
        if not callee.downgrade_params:
            return ()
        params = list(callee.params)
        if callee.is_method and params and isinstance(call.func, cst.Attribute):
            params = params[1:]  # bound `self`/`cls`
        passed: Dict[str, cst.BaseExpression] = {}
        index = 0
        for arg in call.args:
            if arg.star:
                continue
            if arg.keyword is not None:
                passed[arg.keyword.value] = arg.value
            elif index < len(params):
                passed[params[index]] = arg.value
                index += 1
        defaults = dict(callee.defaults)
        modes: List[str] = []
        for parameter in callee.downgrade_params:
            if parameter in passed:
                modes.extend(normalise_mode(v) for v in self.folder.values(passed[parameter], scope) if is_known(v))
            elif not any(arg.star for arg in call.args):  # `fallback(conn)`: the default decides
                modes.extend(normalise_mode(v) for v in defaults.get(parameter, ()))
        return tuple(m for m in modes if m in ROLLBACK_MODES)

    def function_facts(self, unit: Unit) -> FunctionFacts:
        """What callers need to know about one function of this module."""
        cached = self._function_facts.get(unit)
        if cached is not None:
            return cached
        placeholder = FunctionFacts(unit.qualname, tuple(unit.scope.params), unit.is_method)
        if unit in self._in_progress:
            return placeholder
        self._function_facts[unit] = placeholder  # recursion sees "nothing known"
        facts = self.facts(unit)
        modes: List[str] = []
        parameters: List[str] = []
        unguarded: Optional[str] = None
        probe = False
        sets_mode = False
        opens = facts.connect_listener
        for site in facts.sites:
            node = site.node
            if isinstance(node, cst.Call) and self.qualified_name(node.func, site.scope) in CONNECT_FUNCTIONS:
                opens = True
            if isinstance(node, cst.Call):
                for arg in node.args:  # `connect` passed as a value: `creator=sqlite3.connect`
                    if self.qualified_name(arg.value, site.scope) in CONNECT_FUNCTIONS:
                        opens = True
            effect = self.effect(site)
            if isinstance(node, cst.Call) and (effect is None or not effect.rollback_modes):
                callee = self.callee(node, site.scope)
                if callee is not None and callee.qualname != unit.qualname:
                    opens = opens or callee.opens_connection
                    sets_mode = sets_mode or callee.sets_journal_mode
                    if callee.unguarded_downgrade and not site.guarded and unguarded is None:
                        unguarded = callee.unguarded_downgrade
            if effect is None:
                continue
            if effect.reads or effect.sets_wal:
                probe = True
            sets_mode = sets_mode or bool(effect.sets)
            if site.guarded:
                continue
            if effect.rollback_modes and unguarded is None:
                unguarded = self.location(node)
            if not site.conditional:
                modes.extend(effect.rollback_modes)
                parameters.extend(p for p in effect.parameter_modes if p in unit.scope.params)
        # A probe reads the pragma and returns, or answers "wal" itself (a header reader).
        probe = (probe and bool(facts.returns) or any(self._answers_wal(v, unit.scope) for v in facts.returns)) and not modes
        result = FunctionFacts(
            qualname=unit.qualname,
            params=tuple(unit.scope.params),
            is_method=unit.is_method,
            defaults=self._constant_defaults(unit) if parameters else (),
            downgrades=tuple(dict.fromkeys(modes)),
            downgrade_params=tuple(dict.fromkeys(parameters)),
            unguarded_downgrade=unguarded,
            probe=probe or unit.name in self.guard_names,
            probe_may_return_none=facts.returns_none,
            probe_normalises=all(self._normalised(value, unit.scope) for value in facts.returns),
            refuses_wal=facts.refuses_wal,
            sets_journal_mode=sets_mode,
            opens_connection=opens,
        )
        self._function_facts[unit] = result
        return result

    def _constant_defaults(self, unit: Unit) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
        """``mode="DELETE"``: the values each parameter's default folds to."""
        node = unit.node
        if not isinstance(node, cst.FunctionDef):
            return ()
        outer = unit.scope.parent or self.module_scope
        found = []
        for param in (*node.params.posonly_params, *node.params.params, *node.params.kwonly_params):
            if param.default is not None:
                values = self.folder.values(param.default, outer)
                if values and all(is_known(v) and len(v) < 200 for v in values):
                    found.append((param.name.value, tuple(values)))
        return tuple(found)

    def _answers_wal(self, value: cst.BaseExpression, scope: Scope) -> bool:
        if isinstance(value, cst.IfExp):
            return self._answers_wal(value.body, scope) or self._answers_wal(value.orelse, scope)
        return self.mentions_wal(value, scope)

    def _normalised(self, value: cst.BaseExpression, scope: Scope) -> bool:
        """Is a returned mode certainly lower-case: ``.lower()``, a pragma read, or a literal?"""
        if _is_none(value):
            return True
        if isinstance(value, (cst.SimpleString, cst.ConcatenatedString)):
            text = value.evaluated_value
            return isinstance(text, str) and text == text.lower()
        if isinstance(value, cst.IfExp):
            return self._normalised(value.body, scope) and self._normalised(value.orelse, scope)
        methods = {
            node.func.attr.value
            for node in iter_subexpressions(value, limit=200)
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
        }
        if methods & {"upper", "capitalize", "title"}:
            return False
        if methods & {"lower", "casefold"}:
            return True
        return any(
            isinstance(node, cst.Call) and (self.direct_effect(node, scope) or ModeEffect()).reads
            for node in iter_subexpressions(value, limit=200)
        )  # SQLite answers the journal mode in lower case

    def is_probe_node(self, node: cst.CSTNode, scope: Scope) -> bool:
        """A call whose result is the journal mode: a read, the WAL pragma's own answer,
        the configured guard, or a probe function of the project."""
        if isinstance(node, cst.Attribute):
            return node.attr.value == "journal_mode"
        if not isinstance(node, cst.Call):
            return False
        if dotted_name(node.func).rsplit(".", 1)[-1] in self.guard_names:
            return True
        effect = self.direct_effect(node, scope)
        if effect is not None:
            return effect.reads or effect.sets_wal
        callee = self.callee(node, scope)
        return callee is not None and callee.probe

    def probe_calls(self, expr: cst.BaseExpression, scope: Scope, _depth: int = 0) -> List[Tuple[cst.CSTNode, Scope]]:
        """The probe calls whose answer ``expr`` carries, directly or through names."""
        found: List[Tuple[cst.CSTNode, Scope]] = []
        if _depth > 4:
            return found
        for node in iter_subexpressions(expr):
            if isinstance(node, (cst.Call, cst.Attribute)) and self.is_probe_node(node, scope):
                found.append((node, scope))
            elif isinstance(node, (cst.Name, cst.Attribute)):
                bindings, _ = self.bindings_of(node, scope)
                for binding in bindings:
                    if binding.kind == "value" and binding.value is not None and binding.scope is not None:
                        found.extend(self.probe_calls(binding.value, binding.scope, _depth + 1))  # type: ignore[arg-type]
        return found

    # ----- paths after a failed WAL attempt (walint.flow) ---------------------------

    def error_paths(self, unit: Unit) -> "ErrorPaths":
        flow = self._error_paths.get(unit)
        if flow is None:
            from walint.flow.error_paths import ErrorPaths, PathState

            entry = {PathState(False, self._global_flag_values(handler=False))}
            # A module-global flag a handler cleared in an earlier call: the failure
            # reaches this call through the flag's value.
            for name, value in self._global_flag_values(handler=True):
                entry.add(PathState(True, ((name, value),)))
            node = unit.node
            statements = _small_statements(node.body) if isinstance(node, cst.FunctionDef) else node.body
            flow = ErrorPaths(lambda try_node: self._attempts_wal(unit, try_node)).run(statements, frozenset(entry))
            self._error_paths[unit] = flow
        return flow

    def _global_flag_values(self, handler: bool) -> Tuple[Tuple[str, object], ...]:
        """Module-level names some ``except`` handler sets to a constant, with the constant
        they start with (``handler=False``) or the one a handler gives them."""
        from walint.flow.error_paths import UNKNOWN, PathState, constant

        found = []
        for name, bindings in self.module_scope.bindings.items():
            if "." in name or not any(b.in_handler and _is_flag_value(b.value) for b in bindings):
                continue
            for binding in bindings:
                if binding.kind == "value" and binding.in_handler is handler:
                    value = constant(binding.value, PathState(False))  # type: ignore[arg-type]
                    if value is not UNKNOWN:
                        found.append((name, value))
                        break
        return tuple(sorted(found, key=lambda item: item[0]))

    def _attempts_wal(self, unit: Unit, try_node: cst.CSTNode) -> bool:
        facts = self.facts(unit)
        for try_facts in facts.tries:
            if try_facts.node is try_node:
                start, end = try_facts.body
                return any(self._sets_wal(site) for site in facts.sites[start:end])
        return False

    def _sets_wal(self, site: Site) -> bool:
        effect = self.effect(site)
        if effect is not None and effect.sets_wal:
            return True
        if isinstance(site.node, cst.Call):
            callee = self.callee(site.node, site.scope)
            return callee is not None and callee.sets_journal_mode and not callee.downgrades
        return False

    def on_failure_path(self, site: Site) -> Optional[str]:
        """Is this rollback site reached on a path where a WAL attempt failed, and on no
        path where none did? The failure may be carried by a value: a mode a handler
        chose, a flag it cleared, a module-global flag an earlier call cleared.

        Returns None when it is not, ``MODE_FROM_VALUE`` when a name in the statement
        holds the rollback mode on the failed paths only (a guard in front of the
        statement would also stop the WAL path), else ``FAILED_PATH``."""
        states = self.error_paths(site.unit).states_before(site.statement)
        if not states:
            return None
        names = {node.value for node in iter_subexpressions(site.node) if isinstance(node, cst.Name)}
        by_value = False

        def downgrades_on(state: "PathState") -> bool:
            nonlocal by_value
            verdicts = set()
            for name in names:
                value = state.get(name)
                if isinstance(value, str):
                    modes = modes_set_by_sql(value) if "journal_mode" in value.lower() else [normalise_mode(value)]
                    if modes:
                        by_value = True
                        verdicts.add(any(mode in ROLLBACK_MODES for mode in modes))
            return True in verdicts or not verdicts  # a value that is WAL here decides: no downgrade

        failing = any(state.failed and downgrades_on(state) for state in states)
        if not failing or any(not state.failed and downgrades_on(state) for state in states):
            return None
        # A guard in front of the statement is right only when no WAL path runs it too.
        return MODE_FROM_VALUE if by_value and any(not state.failed for state in states) else FAILED_PATH

    def is_rollback_site(self, site: Site) -> bool:
        effect = self.effect(site)
        return effect is not None and bool(effect.rollback_modes)

    # ----- guards and flags --------------------------------------------------------

    def mentions_wal(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        key = (expr, scope)
        known = self._mentions_wal.get(key)
        if known is None:
            known = self._mentions_wal[key] = self._mentions_wal_uncached(expr, scope)
        return known

    def _mentions_wal_uncached(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        if isinstance(expr, (cst.Tuple, cst.List, cst.Set)):
            return any(self.mentions_wal(e.value, scope) for e in expr.elements)
        if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString, cst.Name, cst.Attribute)):
            return any(v.lower() == "wal" for v in self.folder.values(expr, scope))
        return False

    def handler_flags(self, expr: cst.BaseExpression, scope: Scope) -> Set[str]:
        """Names in ``expr`` that an ``except`` handler sets to a constant (a failure flag)."""
        flags: Set[str] = set()
        for node in iter_subexpressions(expr, limit=400):
            if isinstance(node, (cst.Name, cst.Attribute)):
                bindings, _ = self.bindings_of(node, scope)
                if any(b.in_handler and _is_flag_value(b.value) for b in bindings):
                    flags.add(dotted_name(node))
        return flags

    def wal_check_comparisons(self, test: cst.BaseExpression, scope: Scope) -> List[cst.Comparison]:
        """Comparisons in ``test`` of the mode read from the database with "wal".

        A name that a handler sets to a sentinel (``actual = None``) when the *WAL switch
        itself* failed marks the error path, which such a comparison does not guard
        unless it refuses None too. When a *read* of the mode failed, the comparison is
        still a guard, and WAL005 judges whether None can get past it.
        """
        found = []
        for node in iter_subexpressions(test, limit=400):
            if not isinstance(node, cst.Comparison):
                continue
            operands = [node.left] + [c.comparator for c in node.comparisons]
            if not any(self.mentions_wal(o, scope) for o in operands):
                continue
            probed = [o for o in operands if not self.mentions_wal(o, scope) and self.probe_calls(o, scope)]
            if not probed:
                continue
            if (
                not refuses_none(node, test)
                and any(self.handler_flags(o, scope) for o in probed)
                and self._holds_wal_attempt(probed, scope)
            ):
                continue
            found.append(node)
        return found

    def _holds_wal_attempt(self, operands: Sequence[cst.BaseExpression], scope: Scope) -> bool:
        """Do these operands carry the answer of ``PRAGMA journal_mode=WAL`` itself?"""
        for operand in operands:
            for call, call_scope in self.probe_calls(operand, scope):
                effect = self.direct_effect(call, call_scope)
                if effect is not None and effect.sets_wal:
                    return True
        return False

    def is_wal_check(self, test: cst.BaseExpression, scope: Scope) -> bool:
        return bool(self.wal_check_comparisons(test, scope))

    def is_guard_call(self, statement: cst.CSTNode, scope: Scope) -> bool:
        """A bare call of a function that raises when the database is in WAL."""
        if isinstance(statement, cst.Expr):
            value = statement.value
            if isinstance(value, cst.Await):
                value = value.expression
            if isinstance(value, cst.Call):
                unit = self.resolve_unit(value, scope)
                if unit is not None:
                    return unit not in self._in_progress and self.facts(unit).refuses_wal
                callee = self.callee(value, scope)
                return callee is not None and callee.refuses_wal
        return False

    def summary(self) -> ModuleSummary:
        """What other modules may import from this one, as plain data."""
        functions = tuple(self.function_facts(unit) for unit in self.units if unit is not self.module_unit)
        constants = []
        for name, bindings in self.module_scope.bindings.items():
            if "." in name or not all(b.kind == "value" for b in bindings):
                continue
            values = self.folder.values(cst.Name(name), self.module_scope)
            if values and all(is_known(v) and len(v) < 200 for v in values):
                constants.append((name, values))
        imports = {
            binding.origin
            for scope in self._scopes()
            for bindings in scope.bindings.values()
            for binding in bindings
            if binding.kind == "import" and binding.origin
        }
        return ModuleSummary(self.path, functions, tuple(constants), tuple(sorted(imports)))

    def _scopes(self) -> Iterator[Scope]:
        yield self.module_scope
        yield from self.class_scopes.values()
        for unit in self.units[1:]:
            yield unit.scope

    def try_of_handler(self, handler: cst.CSTNode, unit: Unit) -> Optional[TryFacts]:
        for try_facts in self.facts(unit).tries:
            if any(h is handler for h, _ in try_facts.handlers):
                return try_facts
        return None

    def opens_connection(self, unit: Unit) -> bool:
        if unit is self.module_unit:
            return False
        return self.function_facts(unit).opens_connection


def _is_flag_value(value: Optional[cst.CSTNode]) -> bool:
    if isinstance(value, cst.Name):
        return value.value in _FLAG_CONSTANTS
    return isinstance(value, (cst.Integer, cst.SimpleString))


def refuses_none(comparison: cst.Comparison, test: cst.BaseExpression) -> bool:
    """Does the test treat an unknown (None) mode like WAL: ``in ("wal", None)``, ``is None``?"""
    for node in iter_subexpressions(test, limit=400):
        if isinstance(node, (cst.Tuple, cst.List, cst.Set)) and any(_is_none(e.value) for e in node.elements):
            return True
        if isinstance(node, cst.Comparison) and any(
            isinstance(c.operator, (cst.Is, cst.Equal)) and _is_none(c.comparator) for c in node.comparisons
        ):
            return True
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not) and isinstance(node.expression, cst.Name):
            return True  # `not mode or mode == "wal"`
    return False


def _statements_exit(statements: Sequence[cst.CSTNode]) -> bool:
    for statement in statements:
        if isinstance(statement, _SIMPLE_LINES):
            if any(isinstance(s, _GUARD_EXIT) for s in statement.body):
                return True
        elif isinstance(statement, cst.If) and statement.orelse is not None:
            if always_exits(statement.body) and _statements_exit(_else_statements(statement.orelse)):
                return True
    return False


def always_exits(block: cst.BaseSuite) -> bool:
    """Does every path through ``block`` end in ``raise`` or ``return``?"""
    return _statements_exit(_small_statements(block))


def _returned_constant(block: cst.BaseSuite) -> Optional[bool]:
    for statement in _small_statements(block):
        if not isinstance(statement, _SIMPLE_LINES):
            continue
        for s in statement.body:
            if isinstance(s, cst.Return) and isinstance(s.value, cst.Name) and s.value.value in ("True", "False"):
                return s.value.value == "True"
    return None


class _UnitWalker:
    """Second pass over one unit: sites in order, with handler, guard and flag context."""

    def __init__(self, model: ModuleModel, unit: Unit) -> None:
        self.model = model
        self.unit = unit
        self.facts = UnitFacts()
        self._line: Optional[cst.CSTNode] = None

    def run(self) -> UnitFacts:
        ctx = _Ctx(self.unit.scope, None, False, False)
        node = self.unit.node
        if isinstance(node, cst.FunctionDef):
            self.facts.connect_listener = any(_is_connect_listener(d.decorator) for d in node.decorators)
            statements = _small_statements(node.body)
            if not _statements_exit(statements):
                self.facts.returns_none = True  # falls off the end
        else:
            statements = node.body
        self._block(statements, ctx, top_level=True)
        return self.facts

    def _site(self, node: cst.CSTNode, ctx: _Ctx, statement: cst.CSTNode) -> Site:
        return Site(
            node,
            self.unit,
            ctx.scope,
            ctx.handler,
            ctx.guarded,
            ctx.conditional,
            statement,
            ctx.flagged,
            ctx.try_node,
            self._line,
        )

    def _add(self, node: Optional[cst.CSTNode], ctx: _Ctx, statement: cst.CSTNode) -> None:
        for found in _collect(node):
            self.facts.sites.append(self._site(found, ctx, statement))

    def _block(self, statements: Sequence[cst.CSTNode], ctx: _Ctx, top_level: bool = False) -> None:
        pending: List[Branch] = []
        for index, statement in enumerate(statements):
            following = statements[index + 1] if index + 1 < len(statements) else None
            guards = self._statement(statement, ctx, top_level, following)
            if isinstance(statement, cst.If):
                branch = self.facts.branches[-1] if self.facts.branches and self.facts.branches[-1].node is statement else None
                if branch is not None and always_exits(statement.body):
                    pending.append(branch)
            if guards:
                ctx = ctx._replace(guarded=True)
        end = len(self.facts.sites)
        for branch in pending:
            # Code after `if test: raise` runs only when the test was false.
            branch.when_false.append((branch.when_true[1], end))

    def _record_guards(self, test: cst.BaseExpression, scope: Scope) -> bool:
        comparisons = self.model.wal_check_comparisons(test, scope)
        for comparison in comparisons:
            self.facts.guards.append(GuardFacts(comparison, test, scope))
        return bool(comparisons)

    def _statement(
        self, statement: cst.CSTNode, ctx: _Ctx, top_level: bool, following: Optional[cst.CSTNode] = None
    ) -> bool:
        """Record one statement; True when it guards everything after it."""
        model = self.model
        self._line = None
        if isinstance(statement, _SIMPLE_LINES):
            guards = False
            self._line = statement
            for small in statement.body:
                if isinstance(small, cst.Return):
                    if small.value is not None:
                        self.facts.returns.append(small.value)
                    if small.value is None or _is_none(small.value) or ctx.handler is not None:
                        self.facts.returns_none = True
                    self._add(small.value, ctx, small)
                elif isinstance(small, cst.Assert):
                    self._add(small, ctx, small)
                    if self._record_guards(small.test, ctx.scope):
                        guards = True
                        if top_level:
                            self.facts.refuses_wal = True
                elif isinstance(small, cst.Assign):
                    self._add(small.value, ctx, small)
                    for target in small.targets:
                        if isinstance(target.target, cst.Attribute) and target.target.attr.value == "journal_mode":
                            self.facts.sites.append(self._site(small, ctx, small))
                        else:
                            self._add(target.target, ctx, small)
                else:
                    self._add(small, ctx, small)
                    if model.is_guard_call(small, ctx.scope):
                        guards = True
            self._line = None
            return guards
        if isinstance(statement, cst.If):
            self._add(statement.test, ctx, statement)
            check = self._record_guards(statement.test, ctx.scope)
            flags = model.handler_flags(statement.test, ctx.scope) if ctx.handler is None else set()
            self.facts.flags.update(flags)
            inner = ctx._replace(conditional=True, guarded=ctx.guarded or check, flagged=ctx.flagged or bool(flags))
            start = len(self.facts.sites)
            branch = Branch(statement, self.unit, ctx.scope, (start, start), returns=_returned_constant(statement.body))
            self.facts.branches.append(branch)
            self._block(_small_statements(statement.body), inner)
            branch.when_true = (start, len(self.facts.sites))
            if statement.orelse is not None:
                else_start = len(self.facts.sites)
                self._block(_else_statements(statement.orelse), inner)
                branch.when_false.append((else_start, len(self.facts.sites)))
            exits = always_exits(statement.body)
            if check and exits:
                if top_level and any(
                    isinstance(s, cst.Raise)
                    for line in _small_statements(statement.body)
                    if isinstance(line, _SIMPLE_LINES)
                    for s in line.body
                ):
                    self.facts.refuses_wal = True
                return True
            return False
        if isinstance(statement, (cst.For, cst.While)):
            self._add(statement.iter if isinstance(statement, cst.For) else statement.test, ctx, statement)
            raises_after = (statement.orelse is not None and always_exits(statement.orelse.body)) or (
                isinstance(following, _SIMPLE_LINES) and any(isinstance(s, cst.Raise) for s in following.body)
            )
            inner = ctx._replace(conditional=True, loop_raises=raises_after)
            self._block(_small_statements(statement.body), inner)
            if statement.orelse is not None:
                self._block(_small_statements(statement.orelse.body), ctx._replace(conditional=True))
            return False
        if isinstance(statement, cst.With):
            for item in statement.items:
                self._add(item.item, ctx, statement)
            start = len(self.facts.sites)
            self._block(_small_statements(statement.body), ctx)
            for item in statement.items:
                call = item.item
                if isinstance(call, cst.Call) and dotted_name(call.func).rsplit(".", 1)[-1] == "suppress":
                    arguments = [a.value for a in call.args]
                    self.facts.suppressions.append(SuppressFacts(statement, arguments, (start, len(self.facts.sites))))
            return False
        if isinstance(statement, (cst.Try, cst.TryStar)):
            start = len(self.facts.sites)
            self._block(_small_statements(statement.body), ctx._replace(try_node=statement))
            try_facts = TryFacts(statement, (start, len(self.facts.sites)), [], ctx.loop_raises)
            for handler in statement.handlers:
                self._add(handler.type, ctx, handler)
                handler_start = len(self.facts.sites)
                self._block(
                    _small_statements(handler.body), ctx._replace(handler=handler, conditional=True, try_node=None)
                )
                try_facts.handlers.append((handler, (handler_start, len(self.facts.sites))))
            self.facts.tries.append(try_facts)
            if statement.orelse is not None:
                self._block(_small_statements(statement.orelse.body), ctx._replace(conditional=True))
            if statement.finalbody is not None:
                self._block(_small_statements(statement.finalbody.body), ctx)
            return False
        if isinstance(statement, cst.FunctionDef):
            for decorator in statement.decorators:
                self._add(decorator.decorator, ctx, statement)
            return False
        if isinstance(statement, cst.ClassDef):
            class_scope = self.model.class_scopes.get(statement)
            if class_scope is not None:
                self._block(_small_statements(statement.body), ctx._replace(scope=class_scope))
            return False
        if isinstance(statement, cst.Match):
            self._add(statement.subject, ctx, statement)
            for case in statement.cases:
                self._block(_small_statements(case.body), ctx._replace(conditional=True))
            return False
        return False


def _is_none(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"


def _is_connect_listener(decorator: cst.BaseExpression) -> bool:
    """``@event.listens_for(engine, "connect")`` and friends."""
    if not isinstance(decorator, cst.Call) or dotted_name(decorator.func).rsplit(".", 1)[-1] != "listens_for":
        return False
    for arg in decorator.args[1:2]:
        if isinstance(arg.value, cst.SimpleString) and arg.value.evaluated_value in ("connect", "first_connect"):
            return True
    return False
