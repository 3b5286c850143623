"""Fast, iterative walks over LibCST trees.

LibCST's own visitor rebuilds every node it passes (``_visit_and_replace_children``
returns a copy), and ``node.children`` does the same to list one node's children: on a
large module either costs about as much as the parse. The analysis only needs to look,
so it walks here: each node type's child fields are learnt once (in lexical order, from
one probe of LibCST's own visit), whitespace and punctuation fields are left out, and the
walk keeps its own stack, so no tree is too deep for it.
"""

from __future__ import annotations

import re
from operator import attrgetter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Set, Tuple, Type

import libcst as cst
from libcst._position import CodePosition, CodeRange
from libcst._nodes.internal import CodegenState

# Fields that only ever hold whitespace, comments and punctuation: nothing a rule asks about.
_SKIPPED_FIELDS = frozenset(
    {
        "lpar",
        "rpar",
        "comma",
        "leading_lines",
        "lines_after_decorators",
        "header",
        "footer",
        "semicolon",
        "colon",
        "equal",
        "newline",
        "trailing_whitespace",
        "asynchronous",
        "lbrace",
        "rbrace",
        "lbracket",
        "rbracket",
        "first_line",
        "empty_lines",
        "last_line",
        "dot",
        "relative",
        "operator",
        "whitespace",
        "comment",
    }
)

_FIELDS: Dict[type, Tuple[str, ...]] = {}


class _FieldRecorder(cst.CSTVisitor):
    """Records the names of the fields LibCST visits, in order, without descending."""

    def __init__(self) -> None:
        self.names: List[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return False

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        if attribute not in self.names:
            self.names.append(attribute)


def _fields(node: cst.CSTNode) -> Tuple[str, ...]:
    kind = type(node)
    fields = _FIELDS.get(kind)
    if fields is None:
        recorder = _FieldRecorder()
        node._visit_and_replace_children(recorder)
        fields = tuple(
            name for name in recorder.names if name not in _SKIPPED_FIELDS and not name.startswith("whitespace")
        )
        _FIELDS[kind] = fields
    return fields


class _NodeTypes(Dict[type, bool]):
    """Whether values of a type are LibCST nodes, learnt once per type: `isinstance(x,
    cst.CSTNode)` goes through ABCMeta on every call, and the walks ask millions of times."""

    def __missing__(self, kind: type) -> bool:
        known = self[kind] = issubclass(kind, cst.CSTNode)
        return known


_IS_NODE = _NodeTypes()


_Getter = Callable[[cst.CSTNode], Tuple[object, ...]]
_GETTERS: Dict[type, _Getter] = {}


def _getter(node: cst.CSTNode) -> _Getter:
    """One call that reads all of a node type's child fields (``operator.attrgetter``)."""
    fields = _fields(node)
    getter: _Getter
    if len(fields) > 1:
        getter = attrgetter(*fields)
    elif fields:
        single = attrgetter(fields[0])
        getter = lambda value: (single(value),)  # noqa: E731
    else:
        getter = lambda value: ()  # noqa: E731
    _GETTERS[type(node)] = getter
    return getter


def children(node: cst.CSTNode) -> List[cst.CSTNode]:
    """The child nodes of ``node`` that can hold code, in lexical order."""
    out: List[cst.CSTNode] = []
    getter = _GETTERS.get(type(node)) or _getter(node)
    for value in getter(node):
        kind = type(value)
        if kind is tuple or kind is list:
            out.extend([item for item in value if _IS_NODE[type(item)]])  # type: ignore[attr-defined]
        elif _IS_NODE[kind]:
            out.append(value)  # type: ignore[arg-type]
    return out


def preorder(node: cst.CSTNode, limit: int = -1) -> Iterator[cst.CSTNode]:
    """``node`` and its descendants, parents first, in lexical order; at most ``limit``."""
    stack = [node]
    seen = 0
    while stack and seen != limit:
        current = stack.pop()
        seen += 1
        yield current
        below = children(current)
        below.reverse()
        stack.extend(below)


Handler = Callable[[cst.CSTNode], None]


def in_turn(first: Handler, second: Handler) -> Handler:
    """One handler that calls ``first``, then ``second``."""

    def handler(node: cst.CSTNode) -> None:
        first(node)
        second(node)

    return handler


def walk(
    node: cst.CSTNode, visit: Mapping[Type[cst.CSTNode], Handler], leave: Mapping[Type[cst.CSTNode], Handler]
) -> None:
    """Call ``visit[type]`` on entering and ``leave[type]`` on leaving each node, like a
    ``CSTVisitor`` whose ``visit_*`` methods all return None."""
    _LEAVE = object()
    stack: List[object] = [node]
    while stack:
        current = stack.pop()
        if current is _LEAVE:
            leaving = stack.pop()
            leave[type(leaving)](leaving)  # type: ignore[arg-type]
            continue
        kind = type(current)
        handler = visit.get(kind)
        if handler is not None:
            handler(current)  # type: ignore[arg-type]
        if kind in leave:
            stack.append(current)
            stack.append(_LEAVE)
        below = children(current)  # type: ignore[arg-type]
        below.reverse()
        stack.extend(below)


_NEWLINE_RE = re.compile(r"\r\n?|\n")


@dataclass(frozen=False)
class _SpanRecordingState(CodegenState):
    """Code generation that notes, for every node, which generated tokens it spans.

    The same hooks LibCST's PositionProvider uses (``before_codegen``/``after_codegen``
    for whitespace-inclusive spans, ``record_syntactic_position`` overriding them), but
    it records token indices instead of tracking line and column on every token: the
    tokens before a node are counted only for the few nodes that are asked about.
    """

    spans: Dict[cst.CSTNode, Tuple[int, int]] = field(default_factory=dict)
    starts: List[int] = field(default_factory=list)

    def before_codegen(self, node: cst.CSTNode) -> None:
        self.starts.append(len(self.tokens))

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self.starts.pop()
        if node not in self.spans:
            self.spans[node] = (start, len(self.tokens))

    @contextmanager
    def record_syntactic_position(
        self,
        node: cst.CSTNode,
        *,
        start_node: Optional[cst.CSTNode] = None,
        end_node: Optional[cst.CSTNode] = None,
    ) -> Iterator[None]:
        start = len(self.tokens)
        try:
            yield
        finally:
            end = len(self.tokens)
            if start_node is not None:
                start = self.spans[start_node][0]
            if end_node is not None:
                end = self.spans[end_node][1]
            self.spans[node] = (start, end)


class NodePositions:
    """What LibCST's ``PositionProvider`` says of a module's nodes, at the cost of generating
    its code once: ``positions[node]`` is the node's ``CodeRange``.

    The provider tracks line and column on every token, which costs more than the parse;
    here the tokens before a node are counted only for the nodes that are asked about.
    """

    def __init__(self, module: cst.Module) -> None:
        state = _SpanRecordingState(default_indent=module.default_indent, default_newline=module.default_newline)
        module._codegen(state)
        self._tokens = state.tokens
        self._spans = state.spans
        self._at: Dict[int, CodePosition] = {}

    def _position(self, index: int) -> CodePosition:
        found = self._at.get(index)
        if found is None:
            lines = _NEWLINE_RE.split("".join(self._tokens[:index]))
            found = self._at[index] = CodePosition(len(lines), len(lines[-1]))
        return found

    def get(self, node: cst.CSTNode) -> Optional[CodeRange]:
        span = self._spans.get(node)
        return None if span is None else CodeRange(self._position(span[0]), self._position(span[1]))

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self.get(node)
        if found is None:
            raise KeyError(node)
        return found


# The last few modules asked about, with their positions; keyed by id, the module held
# alive by its entry (nodes have slots: no weak references).
_RECENT_POSITIONS: List[Tuple[cst.Module, NodePositions]] = []


def positions_of(module: cst.Module) -> NodePositions:
    """The module's :class:`NodePositions`, generated once however many ask (the model for
    a helper's location, the engine for the findings)."""
    for known, found in _RECENT_POSITIONS:
        if known is module:
            return found
    found = NodePositions(module)
    _RECENT_POSITIONS.insert(0, (module, found))
    del _RECENT_POSITIONS[2:]
    return found


@dataclass(frozen=False)
class _InclusiveSpanState(CodegenState):
    """Code generation that notes which tokens each node of interest generates, comments
    and indentation above a statement included (LibCST's whitespace-inclusive span).

    ``record_syntactic_position`` stays CodegenState's, which records nothing: unlike
    :class:`_SpanRecordingState`, no syntactic span narrows these."""

    interest: Set[cst.CSTNode] = field(default_factory=set)
    spans: Dict[cst.CSTNode, Tuple[int, int]] = field(default_factory=dict)
    starts: Dict[cst.CSTNode, int] = field(default_factory=dict)

    def before_codegen(self, node: cst.CSTNode) -> None:
        if node in self.interest:
            self.starts[node] = len(self.tokens)

    def after_codegen(self, node: cst.CSTNode) -> None:
        if node in self.interest and node not in self.spans:
            self.spans[node] = (self.starts[node], len(self.tokens))


def inclusive_token_spans(
    module: cst.Module, nodes: Set[cst.CSTNode]
) -> Tuple[List[str], Dict[cst.CSTNode, Tuple[int, int]]]:
    """The module's generated tokens, and for each of ``nodes`` the (start, end) token
    indices of everything it generates."""
    state = _InclusiveSpanState(
        default_indent=module.default_indent, default_newline=module.default_newline, interest=nodes
    )
    module._codegen(state)
    return state.tokens, state.spans


def own_nodes(root: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The nodes of one unit in lexical order, without the bodies of functions, lambdas
    and classes defined inside it."""
    stack = list(reversed(children(root)))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            stack.extend(reversed(children(node)))
