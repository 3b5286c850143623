"""Before LibCST sees a file: does Python accept it, and is it within what LibCST parses
in bounded time and memory without crashing?

LibCST's native parser recurses once a nesting level and keeps memo tables that grow with
the square of the nesting depth. On deep input it does not fail cleanly: it runs for
minutes, takes gigabytes, or overflows its stack and kills the process (SIGSEGV), taking
every other file's findings with it. Python's own parser compiles the same input in
milliseconds (or refuses it cleanly), so its tree is measured first:

* a file Python rejects with a syntax error LibCST cannot survive (brackets nested past
  Python's own limit of 200) is a parse error straight away;
* a file nested deeper than :data:`MAX_DEPTH`, or with too much deeply nested code in
  all (:data:`MAX_DEEP_WORK`), is not analysed, and says so;
* a file nested deeper than :data:`ISOLATE_DEPTH` is analysed in a child process, so
  that a crash costs that file only.

Measurements (LibCST 1.x on CPython 3.11, x86-64, one core; ``n`` nesting levels of one
shape in one statement; parse alone, then walint's whole analysis on a large stack):

=====================  ==========================  ==============================  ===================
shape                  n = 1,000                   n = 1,500 (analysis)            beyond
=====================  ==========================  ==============================  ===================
``a + a + ...``        0.10 s, 28 MB               0.42 s                          n=4,000: 3.9 s parse; 80 KB: > 300 s
``a.b.b.b...``         0.17 s, 28 MB               0.48 s                          n=4,000: 4.9 s
``f()()()...``         0.31 s, 27 MB               0.96 s                          n=4,000: 7.2 s
``lambda: lambda:..``  0.27 s, 211 MB              0.71 s, 446 MB                  n=3,000: 3.4 s, 1.7 GB
``a if a else ...``    0.2 s, 200 MB               0.87 s, 414 MB                  n=3,200: 7.8 s, 1.8 GB
``not not ...``        0.09 s, 78 MB               0.25 s, 150 MB                  n=8,000: 12 s, 3.5 GB
``a and a and ...``    0.02 s, 27 MB               n=8,000: 0.20 s                 n=8,000: SIGSEGV on an 8 MB stack
``((((1))))``          SIGSEGV from n=1,300 on an 8 MB stack (Python refuses n > 200)
=====================  ==========================  ==============================  ===================

Time grows with about the 2.5th power of the depth and memory with its square, so the
limit sits where the worst shape still takes about a second and half a gigabyte.
Python's tree does not nest a boolean chain (``a and b and c`` is one node) but LibCST's
does, one level an operand, so each operand counts as a level here.
"""

from __future__ import annotations

import ast
import re
import threading
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple, TypeVar

# The deepest statement analysed (about 1 s and 450 MB at worst, see above; the deepest
# code in the standard library and common packages nests under 100).
MAX_DEPTH = 1500
# Deeper files are analysed in a child process: on an 8 MB stack LibCST crashes from
# about 1,300 nested brackets, so everything near that is isolated.
ISOLATE_DEPTH = 400
# Many deep statements add up: the sum of the squares of the depths of the statements
# nested deeper than DEEP_STATEMENT is bounded by that of a few statements at the limit
# (a few seconds).
DEEP_STATEMENT = 200
MAX_DEEP_WORK = 4 * MAX_DEPTH**2

# Syntax errors that are Python's own nesting limits: its tokenizer refuses more than 200
# nested brackets in every version, and 3.12 calls a parser stack overflow "too complex".
# LibCST would recurse into such input and may crash, so it never sees it.
_NESTING_LIMITS = ("too many nested parentheses", "too complex")

_LINE_END = re.compile(rb"\r\n|\r|\n")

# Python's own parser recurses too; on a thread of its own with a large stack it fails
# cleanly (RecursionError, MemoryError) rather than overflowing the caller's stack.
_COMPILE_STACK_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Verdict:
    """What the screen found: at most one of ``syntax_error`` and ``refusal`` is set."""

    # Python rejects the file (a SyntaxError or ValueError), or None when it accepts it.
    syntax_error: Optional[Exception] = None
    # The syntax error is one LibCST must not be given (it could crash on it).
    syntax_error_is_final: bool = False
    # Why the file is not analysed, or None.
    refusal: Optional[str] = None
    # Analyse it in a child process.
    isolate: bool = False
    depth: int = 0

    @property
    def python_accepts(self) -> bool:
        return self.syntax_error is None and self.refusal is None


T = TypeVar("T")


def on_large_stack(function: Callable[[], T], stack_bytes: int = _COMPILE_STACK_BYTES) -> T:
    """``function()`` on a thread with a large stack; its exception is raised here."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = function()
        except BaseException as error:  # handed to the calling thread
            outcome["error"] = error

    with _stack_lock:
        previous = threading.stack_size(stack_bytes)
        try:
            thread = threading.Thread(target=target, name="walint-screen", daemon=True)
            thread.start()
        finally:
            threading.stack_size(previous)
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


_stack_lock = threading.Lock()


def screen(data: bytes) -> Verdict:
    """Compile ``data`` with Python's parser and measure how deeply its code nests."""

    def parse() -> ast.AST:
        return compile(data, "<walint>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)  # type: ignore[no-any-return]

    try:
        tree = on_large_stack(parse)
    except (SyntaxError, ValueError) as error:
        final = isinstance(error, SyntaxError) and any(limit in str(error.msg) for limit in _NESTING_LIMITS)
        return Verdict(syntax_error=error, syntax_error_is_final=final)
    except (RecursionError, MemoryError) as error:
        # CPython 3.11 reports a parser stack overflow as MemoryError, and a tree deeper
        # than it builds as RecursionError: the interpreter could not import it either.
        detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        return Verdict(refusal=f"nested too deeply for Python's own parser ({detail})", depth=MAX_DEPTH + 1)
    depth, line, work = measure(tree, data)
    if depth > MAX_DEPTH:
        return Verdict(
            refusal=f"code nested {depth} levels deep (line {line}), over the limit of {MAX_DEPTH}: "
            "LibCST's time and memory grow with the square of the nesting",
            depth=depth,
        )
    if work > MAX_DEEP_WORK:
        return Verdict(
            refusal=f"too much deeply nested code (from line {line}): analysing it would take LibCST minutes",
            depth=depth,
        )
    return Verdict(isolate=depth > ISOLATE_DEPTH, depth=depth)


def _line_starts(data: bytes) -> List[int]:
    starts = [0]
    starts.extend(match.end() for match in _LINE_END.finditer(data))
    return starts


# Nodes that hold statements: their expression parts are measured from them.
_BLOCKS = (ast.mod, ast.stmt, ast.excepthandler) + ((ast.match_case,) if hasattr(ast, "match_case") else ())


def measure(tree: ast.AST, data: bytes) -> Tuple[int, int, int]:
    """The deepest statement's nesting (as LibCST would nest it), its line, and the sum of
    the squares of the depths of the statements nested deeper than :data:`DEEP_STATEMENT`.

    Only what could be deeper than DEEP_STATEMENT is walked: a statement or subtree
    spanning fewer bytes than that (a level takes at least one byte) is skipped, so
    ordinary code costs a look at each long statement.
    """
    starts = _line_starts(data)
    last = len(starts) - 1

    def span(node: ast.AST) -> Optional[int]:
        line = getattr(node, "lineno", None)
        end_line = getattr(node, "end_lineno", None)
        if line is None or end_line is None:
            return None
        start = starts[min(line - 1, last)] + node.col_offset  # type: ignore[attr-defined]
        end = starts[min(end_line - 1, last)] + (node.end_col_offset or 0)  # type: ignore[attr-defined]
        return max(end - start, 0)

    deepest, deepest_line, work = 0, 1, 0
    blocks: List[ast.AST] = [tree]
    while blocks:
        block = blocks.pop()
        size = span(block)
        if size is not None and 2 * size <= DEEP_STATEMENT and not getattr(block, "decorator_list", None):
            # A statement this short holds nothing deep, nor do those inside it (a
            # definition's span starts at `def`, after its decorators).
            continue
        depth = 0
        for child in ast.iter_child_nodes(block):
            if isinstance(child, _BLOCKS):
                blocks.append(child)
                continue
            size = span(child)
            if size is not None and 2 * size <= DEEP_STATEMENT:
                continue
            depth = max(depth, _depth(child, span))
        if depth > DEEP_STATEMENT:
            work += depth * depth
        if depth > deepest:
            deepest, deepest_line = depth, getattr(block, "lineno", 1)
    return deepest, deepest_line, work


def _depth(root: ast.AST, span: Callable[[ast.AST], Optional[int]]) -> int:
    """How deeply LibCST would nest ``root``: exact when over DEEP_STATEMENT."""
    best = 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, ast.BoolOp):
            depth += len(node.values) - 1  # LibCST nests a chain one operand a level
        if depth > best:
            best = depth
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop)):
                continue
            size = span(child)
            # A level takes at least one byte; a node and its only child may share theirs.
            if size is not None and depth + 2 * size <= DEEP_STATEMENT:
                continue
            stack.append((child, depth + 1))
    return best
