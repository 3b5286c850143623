"""What each definition of a module (a function, or a statement at module or class level)
names, spells and gives a value to: recorded on the walk that builds the module's scopes,
for :mod:`walint.journal.relevance` to spread from the seeds it finds."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Dict, FrozenSet, Iterable, List, Optional, Set, Tuple, Union

import libcst as cst

from walint.codes import ALL_SPECS
from walint.journal.connections import defers_a_database
from walint.journal.header_versions import is_header_version, may_read_header_bytes
from walint.semantic.nodes import dotted_name
from walint.sql import ROLLBACK_MODES, runs_sql
from walint.tree import Handler, in_turn

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel
    from walint.semantic.scopes import Scope

# Words of string literals that make a definition hot (lower-cased, anywhere in the text).
_TEXT_WORDS = ("journal", "pragma", "sqlite", "\\x02")
_TOKENS = tuple(dict.fromkeys(token.decode().lower() for spec in ALL_SPECS for token in spec.tokens))
# A whole literal that is a journal mode (`"delete"`, `'WAL'`), prefixes and quotes aside.
_MODE_LITERAL_RE = re.compile(
    r"^[rbuf]*('''|\"\"\"|'|\")\s*(?:" + "|".join(sorted(ROLLBACK_MODES | {"wal"})) + r")\s*\1$", re.I
)
_INSTANCE = frozenset({"self", "cls"})
# Methods that run when a class is used by its name (`Store(path)`, `with Store(path):`).
_RUN_BY_CLASS_NAME = frozenset({"__init__", "__new__", "__post_init__", "__enter__", "__aenter__", "__call__"})


def _hot_text_re(extra: Iterable[str]) -> "re.Pattern[str]":
    """One search for every seed a literal's text can hold (matched lower-cased): the
    words, each rule's tokens, the configured markers, and "wal" as a word."""
    words = dict.fromkeys((*_TEXT_WORDS, *_TOKENS, *(text.lower() for text in extra if text)))
    return re.compile("|".join([*(re.escape(word) for word in words), r"(?<![a-z])wal(?![a-z])"]))


def _reads_header_bytes(node: cst.CSTNode) -> bool:
    """``header[18]``, ``header[18:20]``, ``fh.seek(18)``, ``fh.read(100)``: what
    :mod:`walint.journal.header_versions` takes for a read of the versions."""
    if isinstance(node, cst.Subscript):
        return is_header_version(node)
    return isinstance(node, cst.Call) and may_read_header_bytes(node)


class Definition:
    """A function, or one statement at module or class level: what it names, whether it
    holds a seed, and the names it gives a value when it is hot."""

    __slots__ = ("refs", "seeded", "binds", "hot", "enclosing", "owner", "own_refs", "own_binds", "returns", "catches", "defines", "tests_a_parameter", "holds_a_mode", "function")

    def __init__(self, enclosing: Optional["Definition"], owner: Optional[str]) -> None:
        self.refs: Set[str] = set()
        self.seeded = False
        self.binds: Set[str] = set()
        self.hot = False
        self.enclosing = enclosing
        # The class whose methods this is (or is inside of), and the attributes of its
        # instances it reads and assigns (`self.X`, `cls.X`): those reach only the methods
        # of the classes it shares state with, not every `.X` of the module.
        self.owner = owner
        self.own_refs: Set[str] = set()
        self.own_binds: Set[str] = set()
        # For a function: does it `return`, catch errors, define a function (a wrapper it
        # may return), test membership in a parameter?
        self.returns = False
        self.catches = False
        self.defines = False
        self.tests_a_parameter = False
        self.holds_a_mode = False
        # The name of the function it is, if it is one.
        self.function: Optional[str] = None


# Statements that can open a definition (one of the module's or a class body's own).
_STATEMENTS = tuple(
    kind
    for kind in vars(cst).values()
    if isinstance(kind, type)
    and issubclass(kind, (cst.SimpleStatementLine, cst.BaseSmallStatement, cst.BaseCompoundStatement))
    and kind not in (cst.FunctionDef, cst.ClassDef)
    and not getattr(kind, "__abstractmethods__", None)
)


class _Frame:
    """The definition the walk is in, and how its nodes count there."""

    __slots__ = ("definition", "at_top", "params", "owner", "own_binds", "pending", "scope")

    def __init__(self, definition: Definition, scope: Optional["Scope"] = None) -> None:
        self.definition = definition
        # A statement of the module or a class: all its targets bind.
        self.at_top = scope is None
        self.params = frozenset(scope.params) if scope is not None else frozenset()
        self.owner = definition.owner if scope is not None else None
        self.own_binds = definition.own_binds if self.owner is not None else definition.binds
        # A function's targets, judged once its locals are all known (when it is left).
        self.pending: List[cst.CSTNode] = []
        self.scope = scope


class RelevanceScan:
    """Records what each definition names and spells, from inside the walk that builds
    the module's scopes (:class:`walint.semantic.builder.ScopeBuilder`): one pass over
    the tree does both."""

    def __init__(self, model: "ModuleModel", module: cst.Module, extra_texts: Iterable[str]) -> None:
        self.model = model
        self._hot_text = _hot_text_re(extra_texts).search
        self.definitions: List[Definition] = []
        self.of_unit: Dict[int, Definition] = {}
        self.related: Dict[str, str] = {}  # class name -> a name for its family (bases and subclasses)
        self._frames: List[_Frame] = []
        # Statements of the module or of a class body: each opens a definition, with the
        # class it is in and the definition enclosing it.
        self._starts: Dict[int, Tuple[Optional[str], Optional[Definition]]] = {id(s): (None, None) for s in module.body}
        self._opened: Set[int] = set()
        # Names that are no use of a name: one being defined or given, `self.X`'s parts.
        self._unnamed: Set[int] = set()

    def visitors(self) -> Tuple[Dict[type, Handler], Dict[type, Handler]]:
        """Its handlers by node type, on entering and on leaving a node (kept by the walk
        only: held here, they would tie the scan into a cycle with itself)."""
        visit: Dict[type, Handler] = {
            cst.Name: self._name,
            cst.Attribute: self._attribute,
            cst.SimpleString: self._string,
            cst.FormattedStringText: self._string,
            cst.Call: self._call,
            cst.Subscript: self._subscript,
            cst.ComparisonTarget: self._comparison,
            cst.CompFor: self._comp_for,
            cst.AssignTarget: self._assigning,
            cst.NamedExpr: self._assigning,
            cst.AsName: self._as_name,
            cst.ImportAlias: self._import_alias,
            cst.FunctionDef: self._function,
            cst.ClassDef: self._class,
            cst.Param: self._param,
            cst.Arg: self._arg,
        }
        for kind, handler in (
            (cst.Return, self._return), (cst.Global, self._global), (cst.Try, self._catches), (cst.TryStar, self._catches)
        ):
            visit[kind] = in_turn(self._statement, handler)
        for kind in (cst.AnnAssign, cst.AugAssign, cst.For):
            visit[kind] = in_turn(self._statement, self._assigning)
        for kind in _STATEMENTS:
            visit.setdefault(kind, self._statement)
        leave: Dict[type, Handler] = {kind: self._leave_statement for kind in _STATEMENTS}
        leave[cst.FunctionDef] = self._leave_function
        leave[cst.ClassDef] = self._leave_class
        return visit, leave

    # ----- definitions --------------------------------------------------------------

    def _new(self, enclosing: Optional[Definition], owner: Optional[str]) -> Definition:
        definition = Definition(enclosing, owner)
        self.definitions.append(definition)
        return definition

    def family(self, name: str) -> str:
        """One name for a class and the classes of the module it inherits from or passes
        its attributes to."""
        while self.related.get(name, name) != name:
            name = self.related[name]
        return name

    def _relate(self, name: str, base: str) -> None:
        first, second = self.family(name), self.family(base)
        if first != second:
            self.related[first] = second

    def _statement(self, node: cst.CSTNode) -> None:
        """A statement of the module or of a class body opens a definition of its own."""
        start = self._starts.get(id(node))
        if start is not None:
            class_name, enclosing = start
            self._opened.add(id(node))
            self._frames.append(_Frame(self._new(enclosing, class_name)))

    def _leave_statement(self, node: cst.CSTNode) -> None:
        if id(node) in self._opened:
            definition = self._frames.pop().definition
            class_name = definition.owner
            if class_name:
                definition.own_binds |= definition.binds  # `mode = "delete"`: `self.mode` in its methods
                definition.binds.add(class_name)

    def _function(self, node: cst.FunctionDef) -> None:
        start = self._starts.get(id(node))
        if start is not None:
            class_name, enclosing = start
        else:
            frame = self._frames[-1]
            # In a statement of a class body (`if PY2: def enable(self): ...`), a method.
            class_name, enclosing = (frame.definition.owner if frame.at_top else None), frame.definition
            enclosing.defines = True
        owner = class_name or (enclosing.owner if enclosing is not None else None)
        definition = self._new(enclosing, owner)
        self.of_unit[id(node)] = definition
        name = node.name.value
        definition.function = name
        definition.binds.add(name)
        if class_name:
            definition.own_binds.add(name)  # `self.name()` in its class's methods
        if class_name and name in _RUN_BY_CLASS_NAME:
            definition.binds.add(class_name)  # what runs when the class is used by its name
        self._unnamed.add(id(node.name))
        self._frames.append(_Frame(definition, self.model.function_units[node].scope))

    def _leave_function(self, node: cst.FunctionDef) -> None:
        frame = self._frames.pop()
        if frame.pending:
            local = _locals(frame.scope)  # type: ignore[arg-type]
            definition = frame.definition
            for target in frame.pending:
                _targets(target, definition.binds, frame.own_binds, False, local)

    def _class(self, node: cst.ClassDef) -> None:
        start = self._starts.get(id(node))
        if start is not None:
            enclosing = start[1]
        else:
            # A class inside a statement or a function (`try: ... except ImportError:
            # class BaseStore:`): a class of its own, its methods its members.
            enclosing = self._frames[-1].definition
            enclosing.binds.add(node.name.value)
        header = self._new(enclosing, None)
        header.binds.add(node.name.value)
        self._unnamed.add(id(node.name))
        for base in node.bases:
            named = base.value
            if isinstance(named, cst.Attribute):
                named = named.attr
            if isinstance(named, cst.Name):
                self._relate(node.name.value, named.value)
        body = node.body.body if isinstance(node.body, cst.IndentedBlock) else node.body.body
        for statement in body:
            self._starts[id(statement)] = (node.name.value, enclosing)
        self._frames.append(_Frame(header))

    def _leave_class(self, node: cst.ClassDef) -> None:
        self._frames.pop()

    # ----- what a definition names and spells ----------------------------------------

    def _name(self, node: cst.Name) -> None:
        if self._unnamed:
            key = id(node)
            if key in self._unnamed:
                self._unnamed.discard(key)
                return
        if self._frames:
            self._frames[-1].definition.refs.add(node.value)

    def _attribute(self, node: cst.Attribute) -> None:
        frame = self._frames[-1] if self._frames else None
        receiver = node.value
        if frame is not None and frame.owner is not None and type(receiver) is cst.Name and receiver.value in _INSTANCE:
            frame.definition.own_refs.add(node.attr.value)
            self._unnamed.update((id(receiver), id(node.attr)))

    def _string(self, node: Union[cst.SimpleString, cst.FormattedStringText]) -> None:
        if not self._frames:
            return
        frame = self._frames[-1]
        definition = frame.definition
        if not definition.seeded:
            text = node.value
            if self._hot_text(text.lower()) is not None:
                definition.seeded = True
            elif _MODE_LITERAL_RE.match(text) is not None:
                # `"delete"` is a mode at module or class level (`FALLBACK = "delete"`);
                # in a function it is as often Tk's or an HTTP verb, and a mode there
                # reaches a pragma only through something hot.
                definition.seeded = frame.at_top
                definition.holds_a_mode = True

    def _call(self, node: cst.Call) -> None:
        definition = self._frames[-1].definition if self._frames else None
        if definition is not None and not definition.seeded:
            if _reads_header_bytes(node) or runs_sql(node) or defers_a_database(node):
                definition.seeded = True

    def _subscript(self, node: cst.Subscript) -> None:
        definition = self._frames[-1].definition if self._frames else None
        if definition is not None and not definition.seeded and _reads_header_bytes(node):
            definition.seeded = True

    def _return(self, node: cst.Return) -> None:
        if self._frames:
            self._frames[-1].definition.returns = True

    def _catches(self, node: cst.CSTNode) -> None:
        if self._frames:
            self._frames[-1].definition.catches = True

    def _comparison(self, node: cst.ComparisonTarget) -> None:
        frame = self._frames[-1] if self._frames else None
        comparator = node.comparator
        if frame is not None and type(comparator) is cst.Name and comparator.value in frame.params and type(node.operator) in (cst.In, cst.NotIn):
            frame.definition.tests_a_parameter = True

    def _comp_for(self, node: cst.CompFor) -> None:
        frame = self._frames[-1] if self._frames else None
        if frame is not None and type(node.iter) is cst.Name and node.iter.value in frame.params:
            frame.definition.tests_a_parameter = True
        self._assigning(node)

    def _assigning(self, node: cst.CSTNode) -> None:
        self._gives(node.target)  # type: ignore[attr-defined]

    def _as_name(self, node: cst.AsName) -> None:
        self._gives(node.name)

    def _gives(self, target: cst.CSTNode) -> None:
        if not self._frames:
            return
        frame = self._frames[-1]
        if frame.at_top:
            _targets(target, frame.definition.binds, frame.own_binds, True, frozenset())
        else:
            frame.pending.append(target)

    def _global(self, node: cst.Global) -> None:
        if self._frames:
            self._frames[-1].definition.binds.update(item.name.value for item in node.names)

    def _import_alias(self, node: cst.ImportAlias) -> None:
        frame = self._frames[-1] if self._frames else None
        if frame is not None and frame.at_top:
            frame.definition.binds.add(dotted_name(node.name).split(".")[0])  # `import a.b` binds `a`

    def _param(self, node: cst.Param) -> None:
        self._unnamed.add(id(node.name))  # a parameter's name is no use of a hot name

    def _arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self._unnamed.add(id(node.keyword))  # nor is a keyword's (`recover=...`)


def _locals(scope: "Scope") -> FrozenSet[str]:
    """The names a function binds for itself (not those it declares global)."""
    return frozenset(name for name in (*scope.bindings, *scope.params) if name not in scope.globals)


def _targets(target: cst.CSTNode, into: Set[str], own: Set[str], every_name: bool, local: FrozenSet[str]) -> None:
    """The names an assignment to ``target`` gives a value (into ``into``, or ``own`` for
    an attribute of ``self``): at module or class level any name; in a function only what
    outlives the call (``self.X``, ``obj.X``, an entry of ``STATE``)."""
    kind = type(target)
    if kind is cst.Name:
        if every_name:
            into.add(target.value)  # type: ignore[attr-defined]
    elif kind is cst.Attribute:
        receiver = target.value  # type: ignore[attr-defined]
        named = type(receiver) is cst.Name
        if named and receiver.value in _INSTANCE:
            own.add(target.attr.value)  # type: ignore[attr-defined]
        elif every_name or not named or receiver.value not in local:
            into.add(target.attr.value)  # type: ignore[attr-defined]  # `Config.mode = ...`: not a local's
    elif kind is cst.Subscript:
        value = target.value  # type: ignore[attr-defined]
        while isinstance(value, (cst.Subscript, cst.Attribute)):
            if isinstance(value, cst.Attribute):
                into.add(value.attr.value)
            value = value.value
        if isinstance(value, cst.Name) and (every_name or value.value not in local):
            into.add(value.value)
    elif kind is cst.Tuple or kind is cst.List:
        for element in target.elements:  # type: ignore[attr-defined]
            _targets(element.value, into, own, every_name, local)
    elif kind is cst.StarredElement:
        _targets(target.value, into, own, every_name, local)  # type: ignore[attr-defined]
