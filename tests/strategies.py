"""Hypothesis strategies that write Python modules with known journal-mode hazards.

A generated module is realistic WAL setup code (the shapes of DESIGN.md §1/§2 and
fixtures/check/*.py) spliced at random positions between ordinary statements, and wrapped
in random contexts: if/else, for, while, with, try/finally, try/except, def, async def,
class bodies and methods, an ``except`` handler, a swallowing ``try``, ``async with``.
Each hazard line carries its ``# expect: CODE`` mark, so :func:`tests.expectations.expected_marks`
reads the expected findings from the text, the way the fixture harness does.

Strategies (all draw a :class:`GeneratedModule` unless said otherwise):

- :func:`modules`: hazards, near misses and noise in any context. Every mark is a finding
  walint must report; it may report more (hazards interact, a near miss inside an
  ``except`` handler is a real hazard).
- :func:`single_hazard_modules`: exactly one hazard among noise, in contexts that change
  nothing about it: walint reports exactly the marks.
- :func:`clean_modules`: near misses and noise in those same contexts: no findings.
- :func:`projects`: a few such modules as files of one package, one of which holds a
  helper that the others import and call from their ``except`` handlers (a list of
  (relative path, source) pairs, and the expected marks per path).
- :func:`hypothesmith_programs`: arbitrary valid programs from the Python grammar, and
  :func:`hypothesmith_with_hazard`: one with a hazard appended at the top level.

The fix properties can reuse them as they are: ``clean_modules()`` for "a module without
findings is byte-identical after fix", ``modules()`` and ``single_hazard_modules()`` for
"every fix re-parses" and "fix is idempotent" (the module's ``source`` is the input; its
``expected`` tells which lines a fix should touch), ``projects()`` for fixes across files.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from hypothesis import strategies as st

from expectations import expected_marks

# ----- the building blocks --------------------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    """Statements spliced as one unit; ``# expect:`` marks stand on the reported lines."""

    name: str
    text: str
    # Uses `await`: only inside an `async def`.
    needs_async: bool = False

    @property
    def lines(self) -> List[str]:
        return self.text.strip("\n").split("\n")


HAZARDS: Tuple[Snippet, ...] = (
    Snippet(
        "execute-delete",
        """
try:
    conn.execute("PRAGMA journal_mode=WAL")
except sqlite3.OperationalError:
    conn.execute("PRAGMA journal_mode=DELETE")  # expect: WAL001
""",
    ),
    Snippet(
        "permanent-marker-then-truncate",
        """
try:
    conn.execute("PRAGMA journal_mode=WAL")
except sqlite3.OperationalError as exc:
    if "locking protocol" not in str(exc).lower():
        raise
    log.warning("WAL unavailable (%s); using the rollback journal", exc)
    conn.execute("PRAGMA journal_mode=TRUNCATE")  # expect: WAL001
""",
    ),
    Snippet(
        "transient-marker-inline",
        """
try:
    conn.execute("PRAGMA journal_mode=WAL")
except sqlite3.OperationalError as exc:
    if "database is locked" in str(exc).lower():  # expect: WAL002
        conn.execute("PRAGMA journal_mode=DELETE")  # expect: WAL001
""",
    ),
    Snippet(
        "flag-form",
        """
wal_ok = True
try:
    conn.execute("PRAGMA journal_mode=WAL")
except sqlite3.OperationalError:
    wal_ok = False
if not wal_ok:
    conn.execute("PRAGMA journal_mode=DELETE")  # expect: WAL001
""",
    ),
    Snippet(
        "swallowed-with-log",
        """
try:
    conn.execute("PRAGMA journal_mode=WAL")  # expect: WAL004
except sqlite3.OperationalError as exc:
    log.warning("WAL unavailable: %s", exc)
""",
    ),
    Snippet(
        "swallowed-by-suppress",
        """
with contextlib.suppress(sqlite3.OperationalError):
    conn.execute("PRAGMA journal_mode=WAL")  # expect: WAL004
""",
    ),
    Snippet(
        "peewee-pragma",
        """
try:
    database.pragma("journal_mode", "wal")
except OperationalError:
    database.pragma("journal_mode", "delete")  # expect: WAL001
""",
    ),
    Snippet(
        "sqlite-utils-disable-wal",
        """
try:
    db.enable_wal()
except sqlite3.OperationalError:
    db.disable_wal()  # expect: WAL001
""",
    ),
    Snippet(
        "sqlalchemy-text",
        """
try:
    connection.execute(text("PRAGMA journal_mode=WAL"))
except OperationalError:
    connection.execute(text("PRAGMA journal_mode = truncate"))  # expect: WAL001
""",
    ),
    Snippet(
        "executescript-percent",
        """
try:
    conn.execute("PRAGMA journal_mode=WAL")
except Exception:
    conn.executescript("PRAGMA journal_mode=%s; VACUUM;" % "PERSIST")  # expect: WAL001
""",
    ),
    Snippet(
        "marker-collection",
        """
_WAL_INCOMPAT_MARKERS = (
    "locking protocol",
    "disk i/o error",  # expect: WAL002
)
""",
    ),
    Snippet(
        "aiosqlite-memory",
        """
try:
    await db.execute("PRAGMA journal_mode=WAL")
except Exception:
    await db.execute("PRAGMA journal_mode=MEMORY")  # expect: WAL001
""",
        needs_async=True,
    ),
)

# Code that touches the journal mode safely: quiet in any context that does not put it on
# an error path (an `except` handler) or swallow its errors.
NEAR_MISSES: Tuple[Snippet, ...] = (
    Snippet("plain-wal", 'conn.execute("PRAGMA journal_mode=WAL")'),
    Snippet("read-mode", 'mode = conn.execute("PRAGMA journal_mode").fetchone()[0]'),
    Snippet(
        "checkpoint-fallback",
        """
try:
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
except sqlite3.OperationalError:
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
""",
    ),
    Snippet(
        "delete-before-vacuum",
        """
conn.execute("PRAGMA journal_mode=DELETE")
conn.execute("VACUUM INTO ?", (str(target),))
conn.execute("PRAGMA journal_mode=WAL")
""",
    ),
    Snippet(
        "guarded-fallback",
        """
try:
    conn.execute("PRAGMA journal_mode=WAL")
except sqlite3.OperationalError as exc:
    if "locking protocol" not in str(exc):
        raise
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    if mode in ("wal", None):
        raise
    conn.execute("PRAGMA journal_mode=DELETE")
""",
    ),
    Snippet(
        "suppressed-fallback",
        """
try:
    conn.execute("PRAGMA journal_mode=WAL")
except sqlite3.OperationalError:
    conn.execute("PRAGMA journal_mode=DELETE")  # noqa: WAL001
""",
    ),
    Snippet(
        "retry-hints",
        """
_RETRYABLE = ("database is locked", "disk i/o error")
ERROR_HINTS = {"disk i/o error": "Check the disk.", "locking protocol": "Network share."}
""",
    ),
)

NOISE: Tuple[str, ...] = (
    "total = 0",
    "total += 1",
    'log.info("store ready")',
    "items = [row for row in rows if row]",
    "import os",
    "from pathlib import Path",
    'path = Path(os.environ.get("STORE", "store.db"))',
    'conn.execute("SELECT 1")',
    "cur = conn.cursor()",
    "conn.commit()",
    "assert conn is not None",
    '"""A docstring-like string."""',
    "# a comment between statements",
    "",
    "pass",
    "result = {key: value for key, value in pairs}",
    'print("done", file=sys.stderr)',
)

HEADER = (
    "import contextlib",
    "import logging",
    "import sqlite3",
    "import sys",
    "",
    "log = logging.getLogger(__name__)",
)

# ----- contexts ---------------------------------------------------------------------------

Wrap = Callable[[List[str], str], List[str]]


def _indent(lines: Sequence[str], unit: str) -> List[str]:
    return [unit + line if line else line for line in lines]


@dataclass(frozen=True)
class Context:
    """A statement that holds a block: ``wrap(block, indent_unit)`` returns its lines."""

    name: str
    wrap: Wrap
    # Puts the block on an error path or swallows its errors: a near miss there may be
    # a real hazard, and extra findings may appear (only the marks are then promised).
    error_path: bool = False
    # Decides the downgrade on the mode read from disk: the marks inside are not promised.
    guards: bool = False
    # Makes its block async (async def), or needs to be inside one (async with).
    makes_async: bool = False
    needs_async: bool = False
    # A function or class body: `await` from outside does not carry into it.
    new_scope: bool = False


def _simple(header: str) -> Wrap:
    return lambda block, unit: [header] + _indent(block, unit)


def _if_else(block: List[str], unit: str) -> List[str]:
    return ["if settings.use_wal:"] + _indent(block, unit) + ["else:"] + _indent(['log.info("WAL off")'], unit)


def _else_branch(block: List[str], unit: str) -> List[str]:
    return ["if settings.read_only:"] + _indent(["pass"], unit) + ["else:"] + _indent(block, unit)


def _try_finally(block: List[str], unit: str) -> List[str]:
    return ["try:"] + _indent(block, unit) + ["finally:"] + _indent(["lock.release()"], unit)


def _try_reraise(block: List[str], unit: str) -> List[str]:
    return ["try:"] + _indent(block, unit) + ["except KeyError:"] + _indent(["raise"], unit)


def _try_else(block: List[str], unit: str) -> List[str]:
    return (
        ["try:"] + _indent(["settings.load()"], unit)
        + ["except ValueError:"] + _indent(["raise"], unit)
        + ["else:"] + _indent(block, unit)
    )


def _method(block: List[str], unit: str) -> List[str]:
    return ["class Store:"] + _indent(["def open(self, conn, db, database, connection):"] + _indent(block, unit), unit)


def _in_handler(block: List[str], unit: str) -> List[str]:
    return ["try:"] + _indent(["settings.load()"], unit) + ["except OSError:"] + _indent(block, unit)


def _swallowing(block: List[str], unit: str) -> List[str]:
    return ["try:"] + _indent(block, unit) + ["except Exception:"] + _indent(["pass"], unit)


def _guarded(block: List[str], unit: str) -> List[str]:
    return ['if conn.execute("PRAGMA journal_mode").fetchone()[0] not in ("wal", None):'] + _indent(block, unit)


NEUTRAL_CONTEXTS: Tuple[Context, ...] = (
    Context("if", _simple("if settings.use_wal:")),
    Context("if-else", _if_else),
    Context("else-branch", _else_branch),
    Context("for", _simple("for attempt in range(3):")),
    Context("while", _simple("while pending:")),
    Context("with", _simple("with lock:")),
    Context("try-finally", _try_finally),
    Context("try-reraise", _try_reraise),
    Context("try-else", _try_else),
    Context("def", _simple("def connect(conn, db, database, connection, target):"), new_scope=True),
    Context("async-def", _simple("async def connect(conn, db, database, connection, target):"), makes_async=True, new_scope=True),
    Context("class-body", _simple("class Settings:"), new_scope=True),
    Context("method", _method, new_scope=True),
    Context("async-with", _simple("async with lock:"), needs_async=True),
    Context("async-for", _simple("async for row in cursor:"), needs_async=True),
)

ERROR_CONTEXTS: Tuple[Context, ...] = (
    Context("except-handler", _in_handler, error_path=True),
    Context("swallowing-try", _swallowing, error_path=True),
    Context("suppress", _simple("with contextlib.suppress(Exception):"), error_path=True),
)

GUARD_CONTEXTS: Tuple[Context, ...] = (Context("mode-read-guard", _guarded, guards=True),)

# ----- assembling a module ----------------------------------------------------------------


@dataclass(frozen=True)
class GeneratedModule:
    """A generated module: its text, and the (line, code) findings walint must report."""

    source: str
    # (row, code) -> count, as expectations.expected_marks reads them.
    expected: Counter = field(compare=False)
    # Names of the hazard snippets in it, in order (for failure messages).
    hazards: Tuple[str, ...] = ()
    # True when no context or mix can add a finding beyond ``expected``.
    exact: bool = False

    @property
    def data(self) -> bytes:
        return self.source.encode("utf-8")


@dataclass
class _Build:
    hazards: List[str] = field(default_factory=list)
    # How many snippets the module may still take (None: any number).
    budget: Optional[int] = None

    def can_take(self) -> bool:
        return self.budget is None or len(self.hazards) < self.budget


_MARK = "# expect:"


def _strip_marks(lines: Sequence[str]) -> List[str]:
    return [line.split("  " + _MARK)[0] if _MARK in line else line for line in lines]


@st.composite
def _block(
    draw,
    depth: int,
    in_async: bool,
    build: _Build,
    snippets: Tuple[Snippet, ...],
    contexts: Tuple[Context, ...],
    max_items: int,
    guarded: bool = False,
) -> List[str]:
    """A list of statements: noise, snippets, and nested contexts holding blocks."""
    count = draw(st.integers(min_value=1, max_value=max_items))
    lines: List[str] = []
    unit = "    "  # re-indented by the caller; contexts indent with this and get replaced
    for _ in range(count):
        kinds = ["noise"]
        usable = [s for s in snippets if in_async or not s.needs_async] if build.can_take() else []
        if usable:
            kinds += ["snippet", "snippet"]
        allowed = [c for c in contexts if in_async or not c.needs_async]
        if depth > 0 and allowed:
            kinds.append("context")
        kind = draw(st.sampled_from(kinds))
        if kind == "noise":
            lines.append(draw(st.sampled_from(NOISE)))
        elif kind == "snippet":
            snippet = draw(st.sampled_from(usable))
            build.hazards.append(snippet.name)
            lines.extend(_strip_marks(snippet.lines) if guarded else snippet.lines)
        else:
            context = draw(st.sampled_from(allowed))
            inner_async = context.makes_async or (in_async and not context.new_scope)
            inner = draw(
                _block(depth - 1, inner_async, build, snippets, contexts, max_items, guarded or context.guards)
            )
            lines.extend(context.wrap(inner, unit))
    if all(not line.strip() or line.lstrip().startswith("#") for line in lines):
        lines.append("pass")  # a block needs a statement
    return lines


_CONTINUATIONS = ("else:", "elif ", "except", "finally:", ")", "]", "}")


def _statement_starts(body: Sequence[str]) -> List[int]:
    """Indices in ``body`` where a top-level statement may be inserted."""
    return [
        index
        for index, line in enumerate(body)
        if line and not line[0].isspace() and not line.startswith(_CONTINUATIONS)
    ] + [len(body)]


def _render(lines: Sequence[str], indent: str, newline: str) -> str:
    out = []
    for line in lines:
        stripped = line.lstrip(" ")
        levels = (len(line) - len(stripped)) // 4
        out.append(indent * levels + stripped if stripped else "")
    return newline.join(out) + newline


@st.composite
def _module(
    draw,
    snippets: Tuple[Snippet, ...],
    contexts: Tuple[Context, ...],
    exact: bool,
    min_snippets: int,
    max_snippets: Optional[int],
    max_depth: int = 3,
    max_items: int = 4,
) -> GeneratedModule:
    build = _Build(budget=max_snippets)
    body = draw(_block(max_depth, False, build, snippets, contexts, max_items))
    usable = [s for s in snippets if not s.needs_async]
    if len(build.hazards) < min_snippets and usable:
        # None was drawn: splice one at a random top-level position.
        snippet = draw(st.sampled_from(usable))
        at = draw(st.sampled_from(_statement_starts(body)))
        body = body[:at] + snippet.lines + body[at:]
        build.hazards.append(snippet.name)
    indent = draw(st.sampled_from(["    ", "  ", "\t"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    source = _render(list(HEADER) + [""] + body, indent, newline)
    return GeneratedModule(source, expected_marks(source), tuple(build.hazards), exact)


def modules(max_depth: int = 3) -> st.SearchStrategy[GeneratedModule]:
    """Hazards, near misses and noise anywhere: the marks are findings, others may be too."""
    return _module(
        HAZARDS + NEAR_MISSES,
        NEUTRAL_CONTEXTS + ERROR_CONTEXTS + GUARD_CONTEXTS,
        exact=False,
        min_snippets=1,
        max_snippets=None,
        max_depth=max_depth,
    )


def single_hazard_modules(max_depth: int = 3) -> st.SearchStrategy[GeneratedModule]:
    """One hazard among noise, in contexts that leave it as it is: exactly its marks."""
    return _module(HAZARDS, NEUTRAL_CONTEXTS, exact=True, min_snippets=1, max_snippets=1, max_depth=max_depth)


def clean_modules(max_depth: int = 3) -> st.SearchStrategy[GeneratedModule]:
    """Near misses and noise in neutral contexts: no findings at all."""
    return _module(NEAR_MISSES, NEUTRAL_CONTEXTS, exact=True, min_snippets=0, max_snippets=None, max_depth=max_depth)


# ----- several files ------------------------------------------------------------------------

HELPER_MODULE = (
    '"""Rollback-journal helper shared by the stores."""\n'
    "\n"
    "def use_rollback(conn):\n"
    '    conn.execute("PRAGMA journal_mode=DELETE")\n'
)

CALLER = """
try:
    conn.execute("PRAGMA journal_mode=WAL")
except sqlite3.OperationalError:
    use_rollback(conn)  # expect: WAL001
"""

IMPORTS = ("from app.fallback import use_rollback", "from .fallback import use_rollback")


@dataclass(frozen=True)
class GeneratedProject:
    """Files of one package ``app/``: (relative path, source), and marks per path."""

    files: Tuple[Tuple[str, str], ...]
    expected: Dict[str, Counter] = field(compare=False)


@st.composite
def projects(draw, max_files: int = 4) -> GeneratedProject:
    """A package whose modules call a rollback helper defined in another of its modules."""
    files: List[Tuple[str, str]] = [("app/__init__.py", ""), ("app/fallback.py", HELPER_MODULE)]
    count = draw(st.integers(min_value=1, max_value=max_files))
    caller = Snippet("imported-helper", CALLER)
    for number in range(count):
        module = draw(
            _module(HAZARDS + (caller, caller), NEUTRAL_CONTEXTS, exact=False, min_snippets=1,
                    max_snippets=None, max_depth=2, max_items=3)
        )
        imports = draw(st.sampled_from(IMPORTS)) + "\n"
        files.append((f"app/store_{number}.py", imports + module.source.replace("\r\n", "\n")))
    return GeneratedProject(tuple(files), {path: expected_marks(text) for path, text in files})


# ----- hypothesmith -------------------------------------------------------------------------


def hypothesmith_programs() -> st.SearchStrategy[str]:
    """Valid programs from the Python grammar, mentioning the journal mode so no
    prefilter skips them."""
    import hypothesmith

    return hypothesmith.from_grammar().map(lambda program: "# journal_mode\n" + program)


def hypothesmith_with_hazard() -> st.SearchStrategy[Tuple[str, Snippet]]:
    """A grammar-generated program with a sync hazard appended at the top level."""
    import hypothesmith

    def splice(args: Tuple[str, Snippet]) -> Tuple[str, Snippet]:
        program, snippet = args
        if program and not program.endswith("\n"):
            program += "\n"
        return program + snippet.text.strip("\n") + "\n", snippet

    sync = [s for s in HAZARDS if not s.needs_async]
    return st.tuples(hypothesmith.from_grammar(), st.sampled_from(sync)).map(splice)
