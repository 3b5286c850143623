"""Small questions every layer asks of LibCST nodes: the items of a literal collection,
the dotted name or dict entry an expression spells, the statements of a block."""

from __future__ import annotations

from typing import Iterator, List, Optional, Sequence, Tuple, Union

import libcst as cst

from walint.tree import preorder


_COLLECTIONS = (cst.Tuple, cst.List, cst.Set, cst.Dict)
# Calls that copy a collection, or wrap it in a read-only view, keeping its items.
_COLLECTION_CALLS = frozenset(
    {
        "frozenset",
        "set",
        "tuple",
        "list",
        "dict",
        "MappingProxyType",
        "types.MappingProxyType",
        "OrderedDict",
        "collections.OrderedDict",
        "frozendict",
        "immutabledict",
    }
)


def _copied(expr: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """The one positional argument of ``frozenset(...)``, ``MappingProxyType(...)`` and the
    other calls that copy a collection or wrap it in a view."""
    if (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, (cst.Name, cst.Attribute))
        and dotted_name(expr.func) in _COLLECTION_CALLS
        and len(expr.args) == 1
        and expr.args[0].keyword is None
        and not expr.args[0].star
    ):
        return expr.args[0].value
    return None


def _inside_copy(expr: cst.BaseExpression) -> cst.BaseExpression:
    copied = _copied(expr)
    return copied if copied is not None else expr


def unwrap_collection(expr: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """The literal inside ``frozenset({...})`` and friends, or the literal itself."""
    expr = _inside_copy(expr)
    return expr if isinstance(expr, _COLLECTIONS) else None


def copied_collection(expr: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """``frozenset(NoWalCode)``, ``tuple(MARKERS)``: the named collection (or enum) copied."""
    copied = _copied(expr)
    if isinstance(copied, (cst.Name, cst.Attribute, cst.BooleanOperation)):
        return copied  # `list(markers or DEFAULT_MARKERS)` too
    return None


def unwrap_comprehension(expr: cst.BaseExpression) -> Optional[Union[cst.SetComp, cst.ListComp, cst.GeneratorExp]]:
    """``{m.lower() for m in RAW}`` (or ``frozenset(m.lower() for m in RAW)``): a
    comprehension of one ``for`` whose items are the loop's own, at most normalised, or
    the values of an enum's members (``{code.value for code in NoWalCode}``)."""
    expr = _inside_copy(expr)
    if not isinstance(expr, (cst.SetComp, cst.ListComp, cst.GeneratorExp)) or expr.for_in.inner_for_in is not None:
        return None
    element, target = expr.elt, expr.for_in.target
    while isinstance(element, cst.Call) and isinstance(element.func, cst.Attribute) and not element.args:
        if element.func.attr.value not in NORMALISING_METHODS:
            return None
        element = element.func.value
    if isinstance(element, cst.Attribute) and element.attr.value == "value":
        element = element.value
    elif isinstance(element, cst.Call) and dotted_name(element.func) in ("int", "str") and len(element.args) == 1:
        element = element.args[0].value  # `int(code) for code in NoWalCode`
    return expr if isinstance(element, cst.Name) and isinstance(target, cst.Name) and element.value == target.value else None


def projected_column(expr: cst.BaseExpression) -> Optional[Tuple[cst.BaseExpression, int]]:
    """``{code for code, _ in ROWS}`` (or ``frozenset(...)`` of it): the rows iterated and
    the position of the item each row gives, or None for any other expression."""
    expr = _inside_copy(expr)
    if not isinstance(expr, (cst.SetComp, cst.ListComp, cst.GeneratorExp)) or expr.for_in.inner_for_in is not None:
        return None
    target, element = expr.for_in.target, expr.elt
    if not isinstance(target, (cst.Tuple, cst.List)) or not isinstance(element, cst.Name):
        return None
    names = [e.value.value if isinstance(e.value, cst.Name) else None for e in target.elements]
    if names.count(element.value) != 1 or any(isinstance(e, cst.StarredElement) for e in target.elements):
        return None
    return expr.for_in.iter, names.index(element.value)


NORMALISING_METHODS = frozenset({"lower", "casefold", "strip", "upper"})


def normalised_from(operand: cst.BaseExpression) -> cst.BaseExpression:
    """``mode`` of ``mode.lower()`` (or ``.strip().casefold()``): what was normalised;
    any other expression itself."""
    while isinstance(operand, cst.Call) and isinstance(operand.func, cst.Attribute) and not operand.args and operand.func.attr.value in NORMALISING_METHODS:
        operand = operand.func.value
    return operand


def collection_items(node: cst.CSTNode) -> List[cst.BaseExpression]:
    """The elements of a collection literal; the keys of a dict; the values of an enum
    class's members (``LOCKED = "database is locked"``, ``BUSY = sqlite3.SQLITE_BUSY``)."""
    if isinstance(node, cst.ClassDef):
        return [
            line.body[0].value
            for line in node.body.body
            if isinstance(line, cst.SimpleStatementLine)
            and len(line.body) == 1
            and isinstance(line.body[0], cst.Assign)
            and isinstance(line.body[0].targets[0].target, cst.Name)
            and isinstance(line.body[0].value, (cst.SimpleString, cst.ConcatenatedString, cst.Integer, cst.Attribute))
        ]
    if isinstance(node, cst.Dict):
        return [e.key for e in node.elements if isinstance(e, cst.DictElement)]
    if isinstance(node, (cst.Tuple, cst.List, cst.Set)):
        return [e.value for e in node.elements if not isinstance(e, cst.StarredElement)]
    return []


_GROWING_METHODS = frozenset({"add", "append", "appendleft", "insert"})


def code_constant_name(node: cst.CSTNode) -> Optional[str]:
    """``getattr(sqlite3, "SQLITE_LOCKED", 6)``: the result code's name, looked up with a
    fallback number for Pythons whose sqlite3 lacks the constant."""
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Name)
        and node.func.value == "getattr"
        and len(node.args) >= 2
        and isinstance(node.args[1].value, cst.SimpleString)
    ):
        name = node.args[1].value.evaluated_value
        return name if isinstance(name, str) else None
    return None


def queue_of(node: cst.CSTNode) -> str:
    """``plan.append("PRAGMA journal_mode=DELETE")``: the list a statement is queued in
    to run later ("" for any other node)."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in ("append", "extend", "insert"):
        return dotted_name(node.func.value)
    return ""


def grown_collection(expr: Optional[cst.CSTNode]) -> Optional[cst.BaseExpression]:
    """``broken.add(path)``, ``self.failures.append(exc)``: the collection (a name or an
    attribute) the call puts an item in; None for any other expression."""
    if (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Attribute)
        and expr.func.attr.value in _GROWING_METHODS
        and expr.args
        and isinstance(expr.func.value, (cst.Name, cst.Attribute))
    ):
        return expr.func.value
    return None


def signalled_event(expr: Optional[cst.CSTNode]) -> Optional[cst.BaseExpression]:
    """``self.wal_refused.set()``: the event (a name or an attribute) the call sets, which
    a later ``is_set()`` reads as a flag; None for any other expression."""
    if (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Attribute)
        and expr.func.attr.value == "set"
        and not expr.args
        and isinstance(expr.func.value, (cst.Name, cst.Attribute))
    ):
        return expr.func.value
    return None


def constant_key(expr: cst.BaseExpression) -> Optional[str]:
    """The string key of ``TABLE["key"]``, else None."""
    if not isinstance(expr, cst.Subscript) or len(expr.slice) != 1 or not isinstance(expr.slice[0].slice, cst.Index):
        return None
    key = expr.slice[0].slice.value
    value = key.evaluated_value if isinstance(key, cst.SimpleString) else None
    return value if isinstance(value, str) else None


def subscript_path(node: Optional[cst.CSTNode]) -> str:
    """``state['journal']`` for ``state["journal"]``: an entry of a dict a name holds,
    named so it can be bound and tracked like a name; "" for any other expression."""
    if not isinstance(node, cst.Subscript) or not isinstance(node.value, cst.Name) or len(node.slice) != 1:
        return ""
    index = node.slice[0].slice
    if not isinstance(index, cst.Index) or not isinstance(index.value, cst.SimpleString):
        return ""
    key = index.value.evaluated_value
    return entry_path(node.value.value, key) if isinstance(key, str) else ""


def updated_entries(expr: cst.BaseExpression) -> List[Tuple[cst.Subscript, cst.BaseExpression]]:
    """``state.update(wal=False)`` or ``state.update({"wal": False})``: each entry it
    sets, as the ``state["wal"]`` it assigns and the value."""
    if not (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Attribute)
        and expr.func.attr.value == "update"
        and isinstance(expr.func.value, cst.Name)
    ):
        return []
    owner = expr.func.value
    pairs: List[Tuple[str, cst.BaseExpression]] = []
    for arg in expr.args:
        if arg.keyword is not None:
            pairs.append((arg.keyword.value, arg.value))
        elif isinstance(arg.value, cst.Dict) and not arg.star:
            for element in arg.value.elements:
                if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
                    key = element.key.evaluated_value
                    if isinstance(key, str):
                        pairs.append((key, element.value))
    return [
        (cst.Subscript(owner, [cst.SubscriptElement(cst.Index(cst.SimpleString(repr(key))))]), value)
        for key, value in pairs
    ]


def is_constant_literal(node: object) -> bool:
    """A tuple, list, set or dict literal of strings, numbers, True/False/None and such
    literals, nothing else (no names, calls or f-strings)."""
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        return not isinstance(node, cst.ConcatenatedString) or isinstance(node.evaluated_value, str)
    if isinstance(node, (cst.Integer, cst.Float)):
        return True
    if isinstance(node, cst.Name):
        return node.value in ("True", "False", "None")
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        return isinstance(node.expression, (cst.Integer, cst.Float))
    if isinstance(node, (cst.Tuple, cst.List, cst.Set)):
        return all(isinstance(e, cst.Element) and is_constant_literal(e.value) for e in node.elements)
    if isinstance(node, cst.Dict):
        return all(isinstance(e, cst.DictElement) and is_constant_literal(e.key) and is_constant_literal(e.value) for e in node.elements)
    return False


def has_more_elements(node: cst.BaseExpression, limit: int) -> bool:
    """Whether the collection literal ``node`` holds more than ``limit`` elements, nested
    ones counted: each takes at least a character of source, so a literal that does is
    longer than ``limit`` characters (found without walking the rest of a huge table)."""
    pending: List[cst.BaseExpression] = [node]
    count = 0
    while pending:
        current = pending.pop()
        if isinstance(current, (cst.Tuple, cst.List, cst.Set)):
            elements = [e.value for e in current.elements]
        elif isinstance(current, cst.Dict):
            elements = [part for e in current.elements if isinstance(e, cst.DictElement) for part in (e.key, e.value)]
        else:
            continue
        count += len(elements)
        if count > limit:
            return True
        pending.extend(elements)
    return False


def entry_of(table: cst.Dict, key: str) -> Optional[cst.BaseExpression]:
    """The value a dict literal holds under the constant ``key``."""
    for element in table.elements:
        if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString) and element.key.evaluated_value == key:
            return element.value
    return None


def entry_path(owner: str, key: str) -> str:
    """The name the entry ``key`` of the dict ``owner`` holds is tracked under."""
    return f"{owner}[{key!r}]"


def literal_entries(owner: str, mapping: cst.Dict) -> Iterator[Tuple[str, cst.BaseExpression]]:
    """``(entry path, value)`` for each constant string key of a dict literal ``owner`` holds."""
    for element in mapping.elements:
        if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
            key = element.key.evaluated_value
            if isinstance(key, str):
                yield entry_path(owner, key), element.value


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


def small_statements(block: cst.BaseSuite) -> Sequence[cst.CSTNode]:
    """The statements of a block; a one-line suite (`if x: return`) is one statement."""
    return block.body if isinstance(block, cst.IndentedBlock) else [block]


def else_statements(orelse: Union[cst.If, cst.Else]) -> Sequence[cst.CSTNode]:
    return [orelse] if isinstance(orelse, cst.If) else small_statements(orelse.body)


SIMPLE_LINES = (cst.SimpleStatementLine, cst.SimpleStatementSuite)


def iter_subexpressions(node: cst.CSTNode, limit: int = 2000) -> Iterator[cst.CSTNode]:
    """Pre-order walk of ``node`` and its descendants (bounded; used on small expressions)."""
    return preorder(node, limit)


def is_none(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"


def none_when_missing(value: object) -> bool:
    """``None``, ``row[0] if row else None``, ``(row or [None])[0]``, ``row and row[0]``,
    ``next(rows, None)``: an expression that is None when nothing was read."""
    if isinstance(value, cst.Name):
        return is_none(value)
    if isinstance(value, cst.IfExp):
        return is_none(value.body) or is_none(value.orelse)
    if isinstance(value, cst.Subscript) and isinstance(value.value, cst.BooleanOperation):
        fallback = value.value.right
        return isinstance(fallback, (cst.List, cst.Tuple)) and any(is_none(e.value) for e in fallback.elements)
    if isinstance(value, cst.Call):
        return dotted_name(value.func) in ("next", "getattr") and len(value.args) >= 2 and is_none(value.args[-1].value)
    return isinstance(value, cst.BooleanOperation) and isinstance(value.operator, cst.And) and isinstance(value.left, cst.Name)


def is_true_false_none(value: Optional[cst.BaseExpression]) -> bool:
    """Is ``value`` the constant ``True``, ``False`` or ``None``?"""
    return isinstance(value, cst.Name) and value.value in ("True", "False", "None")


def field_default(value: cst.BaseExpression) -> cst.BaseExpression:
    """The default a dataclass field declares: ``field(default=X)`` or
    ``field(default_factory=lambda: X)`` holds X; anything else is itself."""
    if not isinstance(value, cst.Call) or dotted_name(value.func) not in ("field", "dataclasses.field", "attr.ib", "attrs.field"):
        return value
    for arg in value.args:
        if arg.keyword is not None and arg.keyword.value == "default":
            return arg.value
        if arg.keyword is not None and arg.keyword.value in ("default_factory", "factory") and isinstance(arg.value, cst.Lambda):
            return arg.value.body
    return value


# Calls that hand a path on as the same file: `str(path)`, `Path(path)`.
PATH_WRAPPERS = frozenset({"str", "os.fspath", "Path", "pathlib.Path", "os.path.abspath", "os.path.realpath"})


# Tests of whether a file is there: `os.path.exists(p)`, `p.exists()`, `p.is_file()`.
_EXISTENCE_FUNCTIONS = frozenset({"os.path.exists", "os.path.isfile", "path.exists", "path.isfile", "exists", "isfile"})
_EXISTENCE_METHODS = frozenset({"exists", "is_file"})


def unwrapped_path(expr: cst.BaseExpression) -> cst.BaseExpression:
    """``path`` of ``str(path)``, ``Path(path)``, ``os.fspath(path)``."""
    while isinstance(expr, cst.Call) and dotted_name(expr.func) in PATH_WRAPPERS and len(expr.args) == 1:
        expr = expr.args[0].value
    return expr


def tests_existence_of(test: cst.BaseExpression) -> str:
    """The dotted name of the path ``test`` checks is there, or ""."""
    if not isinstance(test, cst.Call):
        return ""
    if dotted_name(test.func) in _EXISTENCE_FUNCTIONS and len(test.args) == 1:
        return dotted_name(unwrapped_path(test.args[0].value))
    if isinstance(test.func, cst.Attribute) and test.func.attr.value in _EXISTENCE_METHODS and not test.args:
        return dotted_name(unwrapped_path(test.func.value))
    return ""
