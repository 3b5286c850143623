"""Which functions of a module can matter to the journal mode ("hot" ones), worked out
once per module from what each definition spells and names, so that the rules and the
summary leave the rest of a large module alone.

A definition (a function, or a statement at module or class level) is hot when its text
holds a seed: a journal token or mode, SQLite's names, a header byte offset, a name of
the execute family or of a connect; or when it names something hot (a function, a
constant, an attribute a hot function assigns, a name another module's facts are about).
Every effect on the mode, every WAL attempt, probe, guard, connect and SQL wrapper needs
one of those, so a function that is not hot ("cold") has no site that sets or reads a
mode and calls nothing that does: its facts are what its returns, handlers and nested
wrappers say, and :meth:`Relevance.may_be_interesting` says when those can matter.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Set, Tuple, Union

import libcst as cst

from walint.codes import ALL_SPECS
from walint.journal.connections import CONNECT_FUNCTIONS, ENGINE_CLASSES, defers_a_database
from walint.journal.header_versions import is_header_version, may_read_header_bytes
from walint.journal.wrappers import EXIT_METHODS, is_context_manager
from walint.sql import ROLLBACK_MODES, runs_sql
from walint.text import IDENTIFIER_RE
from walint.flow.conditions import statements_exit
from walint.tree import Handler, in_turn
from walint.semantic.nodes import dotted_name, small_statements

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel
    from walint.semantic.scopes import Scope, Unit

# Words of string literals that make a definition hot (lower-cased, anywhere in the text).
_TEXT_WORDS = ("journal", "pragma", "sqlite", "\\x02")
_TOKENS = tuple(dict.fromkeys(token.decode().lower() for spec in ALL_SPECS for token in spec.tokens))
# A whole literal that is a journal mode (`"delete"`, `'WAL'`), prefixes and quotes aside.
_MODE_LITERAL_RE = re.compile(
    r"^[rbuf]*('''|\"\"\"|'|\")\s*(?:" + "|".join(sorted(ROLLBACK_MODES | {"wal"})) + r")\s*\1$", re.I
)
# Parts of identifiers that make a definition hot (lower-cased, anywhere in the name).
_NAME_PARTS = ("journal", "sqlite", "pragma", "operationalerror", "databaseerror")
# Words of identifiers (split at underscores and case changes) that make one hot.
_NAME_WORDS = frozenset({"wal", "ioerr"})
# The libraries that open databases, and what of theirs opens one (`create_engine`,
# `SqliteDatabase`; not `connect`, which sockets share): a module's import of them is hot,
# and so is each function naming what that import binds.
_OPENER_NAMES = frozenset(
    {name.split(".")[0] for name in CONNECT_FUNCTIONS | ENGINE_CLASSES}
    | {name.rsplit(".", 1)[-1] for name in CONNECT_FUNCTIONS if not name.endswith((".connect", ".Connection"))}
)
_WORD_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
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


def _hot_name(name: str) -> bool:
    lowered = name.lower()
    return (
        any(part in lowered for part in _NAME_PARTS)
        or name in _OPENER_NAMES
        or any(word.lower() in _NAME_WORDS for word in _WORD_RE.findall(name))
    )


class _Definition:
    """A function, or one statement at module or class level: what it names, whether it
    holds a seed, and the names it gives a value when it is hot."""

    __slots__ = ("refs", "seeded", "binds", "hot", "enclosing", "owner", "own_refs", "own_binds", "returns", "catches", "defines", "tests_a_parameter", "holds_a_mode")

    def __init__(self, enclosing: Optional["_Definition"], owner: Optional[str]) -> None:
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

    def __init__(self, definition: _Definition, scope: Optional["Scope"] = None) -> None:
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
    the tree does both. Its ``visitors`` are handlers by node type, as the builder's."""

    def __init__(self, model: "ModuleModel", module: cst.Module, extra_texts: Iterable[str]) -> None:
        self.model = model
        self._hot_text = _hot_text_re(extra_texts).search
        self.definitions: List[_Definition] = []
        self.of_unit: Dict[int, _Definition] = {}
        self.related: Dict[str, str] = {}  # class name -> a name for its family (bases and subclasses)
        self.function_names: Dict[int, str] = {}  # id of a function's definition -> its name
        self._frames: List[_Frame] = []
        # Statements of the module or of a class body: each opens a definition, with the
        # class it is in and the definition enclosing it.
        self._starts: Dict[int, Tuple[Optional[str], Optional[_Definition]]] = {id(s): (None, None) for s in module.body}
        self._opened: Set[int] = set()
        # Names that are no use of a name: one being defined or given, `self.X`'s parts.
        self._unnamed: Set[int] = set()
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
        self.visitors = (visit, leave)

    # ----- definitions --------------------------------------------------------------

    def _new(self, enclosing: Optional[_Definition], owner: Optional[str]) -> _Definition:
        definition = _Definition(enclosing, owner)
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
        self.function_names[id(definition)] = name
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


class Relevance:
    """The hot functions of one module (see the module docstring)."""

    def __init__(self, model: "ModuleModel", scan: RelevanceScan, seed_names: Iterable[str]) -> None:
        self.model = model
        self._seed_names = set(seed_names)
        self._definitions = scan.definitions
        self._of_unit = scan.of_unit
        self._family = scan.family
        for definition in self._definitions:
            if scan.function_names.get(id(definition)) in self._seed_names:
                definition.seeded = True  # a configured guard, or a name the project pass knows of
        self._spread()
        self.hot_units: List["Unit"] = [
            unit for unit in model.units if unit is model.module_unit or self._of_unit[id(unit.node)].hot
        ]
        self._hot_ids = {id(unit.node) for unit in self.hot_units}

    def is_hot(self, unit: "Unit") -> bool:
        return id(unit.node) in self._hot_ids

    # ----- the spread --------------------------------------------------------------

    def _spread(self) -> None:
        """Mark the seeded definitions hot, then whatever names a hot one's names, until
        nothing changes; a function inside a hot definition, or holding a hot one, is hot."""
        naming: Dict[object, List[_Definition]] = {}  # a name, or (class family, attribute)
        inside: Dict[int, List[_Definition]] = {}
        hot_name: Dict[str, bool] = {}
        queue: List[_Definition] = []

        def mark(definition: _Definition) -> None:
            if not definition.hot:
                definition.hot = True
                queue.append(definition)

        def seeds(names: Iterable[str]) -> bool:
            for name in names:
                seeded = hot_name.get(name)
                if seeded is None:
                    seeded = hot_name[name] = name in self._seed_names or _hot_name(name)
                if seeded:
                    return True
            return False

        for definition in self._definitions:
            if definition.enclosing is not None:
                inside.setdefault(id(definition.enclosing), []).append(definition)
            for name in definition.refs:
                naming.setdefault(name, []).append(definition)
            if definition.owner is not None:
                family = self._family(definition.owner)
                for name in definition.own_refs:
                    naming.setdefault((family, name), []).append(definition)
            if definition.seeded or seeds(definition.refs) or seeds(definition.own_refs):
                definition.seeded = True
                mark(definition)
        spread: Set[object] = set()
        while queue:
            definition = queue.pop()
            if definition.enclosing is not None:
                mark(definition.enclosing)
            for nested in inside.get(id(definition), ()):
                mark(nested)
            keys: List[object] = list(definition.binds)
            if definition.owner is not None:
                family = self._family(definition.owner)
                keys.extend((family, name) for name in definition.own_binds)
            for key in keys:
                if key not in spread:
                    spread.add(key)
                    for other in naming.get(key, ()):
                        mark(other)

    # ----- what a cold function can still tell -------------------------------------

    def may_be_interesting(self, unit: "Unit") -> bool:
        """Can a cold function's facts matter to an importer? It may never return (it
        raises), test membership in a parameter (a predicate over the caller's markers),
        or catch the errors of what it is given to run: a function defined inside it (a
        decorator's wrapper), ``fn(*args)`` in a ``try``, a context manager's ``yield``."""
        node = unit.node
        definition = self._of_unit.get(id(node))
        if not isinstance(node, cst.FunctionDef) or definition is None or definition.tests_a_parameter:
            return True
        if node.name.value in EXIT_METHODS:
            return True  # a context manager's exit may swallow the errors of its body
        if definition.returns and (definition.defines or definition.holds_a_mode):
            return True  # a decorator's wrapper, or a rollback mode it may answer
        if definition.catches and (isinstance(node.params.star_arg, cst.Param) or is_context_manager(node)):
            return True
        annotation = node.returns.annotation if node.returns is not None else None
        if annotation is not None and dotted_name(annotation).rsplit(".", 1)[-1] in ("NoReturn", "Never"):
            return True
        return not definition.returns and statements_exit(small_statements(node.body))


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


def names_in_keys(keys: Iterable[object]) -> Set[str]:
    """The identifiers of what the project pass tells a module about (``.store.Store.reset``
    gives ``store``, ``Store`` and ``reset``), and of the names its importers' tests use:
    a definition naming one of them is hot."""
    found: Set[str] = set()
    for key in keys:
        if isinstance(key, str):
            found.update(IDENTIFIER_RE.findall(key))
        elif isinstance(key, tuple):
            found |= names_in_keys(key)
    return found
