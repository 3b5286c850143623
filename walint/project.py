"""The project pass: join per-file summaries so a finding can follow an import.

Each file is first analysed on its own. The index built here maps module names (by
package layout and by the roots given on the command line, so both package and src
layouts resolve) and file paths (for relative imports) to those summaries, and answers
what a dotted name a file imports stands for. Nothing is resolved by importing user code.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from walint.codes import ALL_SPECS
from walint.markers import says_unknown
from walint.runtime import TRANSIENT_MESSAGES
from walint.summary import IMPORTED_LITERAL, IMPORTERS_USES, FunctionFacts, ModuleSummary

# A name bound to a quoted rollback mode (`FALLBACK = "DELETE"`, a class's field, or
# `self.fallback_mode = "DELETE"` in a method): how a module hands a rollback mode to the
# modules that import it (summaries pass on constants alone). A bare `"off"` or
# `"memory"` elsewhere is far too common to make a file worth reading for.
# `FALLBACK = "delete"`, `self.mode: str = "off"`, `ROLLBACKS = ("truncate", ...)`, `"fallback": "delete"`.
_ROLLBACK_CONSTANT_RE = re.compile(
    rb"""(?mi)^[ \t]*(?:(?:self\.)?[A-Za-z_][A-Za-z0-9_]*[ \t]*(?::[^=\n]*)?=|[rub]?['"][A-Za-z0-9_ .-]+['"][ \t]*:)"""
    rb"""[ \t]*[(\[{]?[ \t]*[rub]?['"](?:delete|truncate|persist|memory|off)['"]"""
)


def module_names(path: str, roots: Sequence[str], packages: Optional[Dict[str, Tuple[str, ...]]] = None) -> Set[str]:
    """Every dotted name under which ``path`` can be imported (``packages``: a memo)."""
    return _module_names(os.path.abspath(path), _bases(roots), {} if packages is None else packages)


def _bases(roots: Sequence[str]) -> Tuple[str, ...]:
    """The directories modules are named relative to: each root (a file's directory for a
    file) and its ``src/``."""
    bases: List[str] = []
    for root in roots:
        base = os.path.abspath(root)
        if os.path.isfile(base):
            base = os.path.dirname(base)
        bases.extend((base, os.path.join(base, "src")))
    return tuple(bases)


def _module_names(file: str, bases: Sequence[str], packages: Dict[str, Tuple[str, ...]]) -> Set[str]:
    # Plain string operations: this runs for every file of the run, candidate or not.
    directory, name = os.path.split(file)
    parts: List[str] = [] if name == "__init__.py" else [os.path.splitext(name)[0]]
    names: Set[str] = set()
    chain = list(_packages_above(directory, packages)) + parts
    if chain:
        names.add(".".join(chain))
    for base in bases:
        if directory == base:
            dotted = list(parts)
        elif directory.startswith(base.rstrip(os.sep) + os.sep):
            dotted = directory[len(base.rstrip(os.sep)) + 1 :].split(os.sep) + parts
        else:
            continue
        if dotted and all(p.isidentifier() for p in dotted):
            names.add(".".join(dotted))
    return names


def _packages_above(directory: str, known: Dict[str, Tuple[str, ...]]) -> Tuple[str, ...]:
    """The package names from the outermost package down to ``directory`` (if it is one).

    ``known`` memoises the answers for one run: every file of a directory asks, and each
    answer costs a stat per level.
    """
    found = known.get(directory)
    if found is None:
        if not os.path.exists(os.path.join(directory, "__init__.py")):
            found = ()
        else:
            parent = os.path.dirname(directory)
            above = _packages_above(parent, known) if parent != directory else ()
            found = above + (os.path.basename(directory),)
        known[directory] = found
    return found


class ModuleRef:
    """An imported name that is a whole module of the project."""

    __slots__ = ("summary",)

    def __init__(self, summary: ModuleSummary) -> None:
        self.summary = summary


class ProjectIndex:
    """Module names and paths of the run, mapped to their summaries."""

    def __init__(self, roots: Sequence[str], bases: Optional[Sequence[str]] = None) -> None:
        self.roots = list(roots)
        self._by_name: Dict[str, str] = {}
        self._by_path: Dict[str, ModuleSummary] = {}
        self._names_of: Dict[str, Set[str]] = {}
        self._packages: Dict[str, Tuple[str, ...]] = {}
        self._bases = tuple(bases) if bases is not None else _bases(self.roots)
        # The summaries that use names imported from other modules in their marker tests.
        self._marker_users: Dict[str, Tuple[Tuple[object, ...], ...]] = {}
        # target()'s answers: the project pass asks the same imports again and again, and
        # they change only when a module is registered.
        self._targets: Dict[Tuple[str, str], Optional[Tuple[str, str]]] = {}

    def register(self, path: str) -> None:
        """Know the module names of a file, before or without its summary."""
        key = os.path.abspath(path)
        if key not in self._names_of:
            names = _module_names(key, self._bases, self._packages)
            self._names_of[key] = names
            self._targets.clear()
            for name in names:
                self._by_name.setdefault(name, key)

    def add(self, path: str, summary: ModuleSummary) -> None:
        self.register(path)
        key = os.path.abspath(path)
        self._by_path[key] = summary
        uses = summary.marker_uses + tuple((name, polarity, compared) for name, compared, polarity in summary.marker_comparisons)
        if uses:
            self._marker_users[key] = uses  # type: ignore[assignment]
        else:
            self._marker_users.pop(key, None)

    def path_of_module(self, dotted: str) -> Optional[str]:
        return self._by_name.get(dotted)

    def summary_at(self, path: str) -> Optional[ModuleSummary]:
        return self._by_path.get(os.path.abspath(path))

    # ----- resolution --------------------------------------------------------------

    def target(self, origin: str, importer: str) -> Optional[Tuple[str, str]]:
        """(path of the module, qualified name inside it, "" for the module) for an import."""
        asked = (origin, importer)
        if asked not in self._targets:
            self._targets[asked] = self._find_target(origin, importer)
        return self._targets[asked]

    def _find_target(self, origin: str, importer: str) -> Optional[Tuple[str, str]]:
        if origin.startswith("."):
            level = len(origin) - len(origin.lstrip("."))
            parts = [p for p in origin[level:].split(".") if p]
            base = Path(os.path.abspath(importer)).parent
            for _ in range(level - 1):
                base = base.parent
            found = self._beside(base, parts)
            if found is None and str(base / "__init__.py") in self._names_of:
                found = str(base / "__init__.py"), ".".join(parts)  # `from . import helpers`
            return found
        parts = origin.split(".")
        for split in range(len(parts), 0, -1):
            path = self._by_name.get(".".join(parts[:split]))
            if path is not None:
                return path, ".".join(parts[split:])
        # `from journal_policy import POLICY` beside journal_policy.py: a script's own
        # directory is the first place Python looks.
        return self._beside(Path(os.path.abspath(importer)).parent, parts)

    def _beside(self, base: Path, parts: List[str]) -> Optional[Tuple[str, str]]:
        """The module ``parts`` names, looked for from ``base`` (longest prefix first)."""
        for split in range(len(parts), 0, -1):
            folder = base.joinpath(*parts[:split])
            for file in (folder.with_suffix(".py"), folder / "__init__.py"):
                if str(file) in self._names_of:
                    return str(file), ".".join(parts[split:])
        return None

    def resolve(self, origin: str, importer: str) -> object:
        """FunctionFacts, a tuple of constant values, a ModuleRef, or None."""
        found = self.target(origin, importer)
        if found is None:
            return None
        path, qualname = found
        summary = self._by_path.get(path)
        if summary is None:
            return None
        if not qualname:
            return ModuleRef(summary)
        function = summary.function(qualname)
        if function is not None:
            return function
        return summary.constant(qualname)

    def external_for(self, path: str, summary: ModuleSummary) -> Dict[str, object]:
        """What the names ``summary``'s file imports stand for, keyed as the file writes them;
        and, under IMPORTERS_USES, what its importers' marker tests do with its names."""
        external: Dict[str, object] = {}
        used = self._uses_by_importers(path)
        if used:
            external[IMPORTERS_USES] = used
        for origin in summary.imports:
            found = self.resolve(origin, path)
            if isinstance(found, ModuleRef):
                for facts in found.summary.functions:
                    if facts.tells_importers_something():
                        external[f"{origin}.{facts.qualname}"] = facts
                for name, values in found.summary.constants:
                    if _may_matter(values):
                        external[f"{origin}.{name}"] = values
                for name, source in found.summary.literals:
                    if _may_matter((source,)):
                        external[f"{IMPORTED_LITERAL}{origin}.{name}"] = source
            elif isinstance(found, FunctionFacts):
                if found.tells_importers_something():
                    external[origin] = found
            elif isinstance(found, tuple) and _may_matter(found):
                external[origin] = found
            elif found is None:
                source = self._literal(origin, path)
                if source is not None and _may_matter((source,)):
                    external[IMPORTED_LITERAL + origin] = source  # `from .markers import FALLBACKS`
                # `from .modes import JournalMode`: its members (`JournalMode.DELETE`), and a
                # class's methods (`CatalogStore._on_wal_unavailable`, which a subclass overrides).
                for member, values in self._member_constants(origin, path):
                    if _may_matter(values):
                        external[origin + member] = values
                for entry, entry_source in self._entry_literals(origin, path):
                    if _may_matter((entry_source,)):
                        external[IMPORTED_LITERAL + origin + entry] = entry_source  # `STORAGE["fallback"]`
                for name, facts in self._class_methods(origin, path):
                    if facts.tells_importers_something():
                        external[f"{origin}.{name}"] = facts
        return external

    def _uses_by_importers(self, path: str) -> Tuple[Tuple[object, ...], ...]:
        """(name in ``path``'s module, polarity[, the constant it is compared with]) for
        each use its importers' tests make."""
        key = os.path.abspath(path)
        found = set()
        for importer, uses in self._marker_users.items():
            for origin, *rest in uses:
                target = self.target(origin, importer)  # type: ignore[arg-type]
                if target is not None and target[0] == key and target[1]:
                    found.add((target[1], *rest))
        return tuple(sorted(found, key=repr))

    def _literal(self, origin: str, importer: str) -> Optional[str]:
        found = self.target(origin, importer)
        summary = self._by_path.get(found[0]) if found is not None and found[1] else None
        return summary.literal(found[1]) if summary is not None else None  # type: ignore[index]

    def _member_constants(self, origin: str, importer: str) -> Iterable[Tuple[str, Tuple[str, ...]]]:
        """The constants an imported class or dict holds, each as the suffix an importer
        writes after the name: ``.DELETE`` of an enum, ``['fallback']`` of a dict."""
        found = self.target(origin, importer)
        summary = self._by_path.get(found[0]) if found is not None and found[1] else None
        if summary is None:
            return
        owner = found[1]  # type: ignore[index]
        for name, values in summary.constants:
            if name.startswith(owner + ".") or name.startswith(owner + "["):
                yield name[len(owner):], values

    def _entry_literals(self, origin: str, importer: str) -> Iterable[Tuple[str, str]]:
        """The literals an imported dict holds under constant keys, each with the suffix an
        importer writes after the name (``['fallback']``)."""
        found = self.target(origin, importer)
        summary = self._by_path.get(found[0]) if found is not None and found[1] else None
        if summary is None:
            return
        owner = found[1]  # type: ignore[index]
        for name, source in summary.literals:
            if name.startswith(owner + "["):
                yield name[len(owner):], source

    def _class_methods(self, origin: str, importer: str) -> Iterable[Tuple[str, FunctionFacts]]:
        found = self.target(origin, importer)
        summary = self._by_path.get(found[0]) if found is not None and found[1] else None
        if summary is None:
            return
        prefix = found[1] + "."  # type: ignore[index]
        for facts in summary.functions:
            if facts.qualname.startswith(prefix) and "." not in facts.qualname[len(prefix) :]:
                yield facts.qualname[len(prefix) :], facts

    def unparsed_targets(self, path: str, summary: ModuleSummary) -> Iterable[str]:
        """Project files this one imports from that have not been analysed yet."""
        for origin in summary.imports:
            found = self.target(origin, path)
            if found is not None and found[0] not in self._by_path:
                yield found[0]

    def marker_sources(self, path: str, summary: ModuleSummary) -> Set[str]:
        """Project files defining names this one tests on the way to a downgrade: whatever
        their text, their collections are judged by that use (``{c.value for c in Codes}``)."""
        found = set()
        for name, polarity in summary.marker_uses:
            target = self.target(name, path) if polarity > 0 else None
            if target is not None:
                found.add(target[0])
        return found


# A constant can change a finding only as (part of) a journal mode, a pragma, a "wal"
# comparison or a transient error message; `os.name` or a URL cannot, and passing them
# would only make the project pass analyse the importing file again for nothing.
# (walint.sql.ROLLBACK_MODES, spelt out: importing walint.sql imports LibCST.)
_RELEVANT_WORDS = ("delete", "truncate", "persist", "memory", "off", "wal", "journal", "pragma") + tuple(
    token.decode() for spec in ALL_SPECS for token in spec.tokens
)


def _may_matter(values: Tuple[str, ...]) -> bool:
    # A probe's word for "could not read" (`PROBE_FAILED = "?"`) matters to a guard too;
    # a blank one (`NEWLINE = "\n"`) is far too common to count.
    return any(word in value.lower() for value in values for word in _RELEVANT_WORDS) or any(
        value.strip() and says_unknown(value) for value in values
    )


# Names too common to tell a call of a project helper from anything else: a file that
# mentions `open` or `setUp` is not thereby a caller of the project's `open`. Names a
# connection's setup is commonly given (`configure`, `setup`, `apply`) are not here: a
# file must also import the helper's module, and missing the caller misses a WAL003.
_COMMON_NAMES = frozenset(
    {
        "open", "close", "connect", "conn", "connection", "cursor", "execute", "run", "main",
        "setUp", "tearDown", "init", "start", "stop", "get", "set",
        "update", "reset", "load", "save", "create", "call", "handle", "process",
        "test", "db", "database", "commit", "rollback", "wrapper", "inner",
    }
)


@dataclass(frozen=True)
class Helper:
    """A function another file can call to downgrade the journal mode, without a token."""

    name: bytes
    # The defining module's own name (its stem, or its package's for `__init__.py`).
    module: bytes
    # The directory of the defining module's top-level package, for relative imports.
    package_root: str


def downgrade_helpers(summaries: Iterable[Tuple[str, ModuleSummary]]) -> List[Helper]:
    """Functions whose facts say a call can downgrade, as a caller would have to name them."""
    helpers: Dict[Tuple[bytes, bytes, str], Helper] = {}
    for path, summary in summaries:
        file = Path(os.path.abspath(path))
        module = file.parent.name if file.name == "__init__.py" else file.stem
        root = file.parent
        while (root.parent / "__init__.py").exists() and root.parent != root:
            root = root.parent
        for facts in summary.functions:
            if not (facts.downgrades or facts.sql_templates or facts.unguarded_downgrade):
                continue
            if "<locals>" in facts.qualname:
                continue
            name = facts.qualname.rsplit(".", 1)[-1]
            if name.startswith("__") or name in _COMMON_NAMES or len(name) < 4:
                continue
            # A file name need not be UTF-8 (bytes a POSIX name holds arrive as surrogates):
            # compare it with the source bytes as the file system spells it.
            helper = Helper(name.encode(), module.encode("utf-8", "surrogateescape"), str(root))
            helpers[(helper.name, helper.module, helper.package_root)] = helper
    return sorted(helpers.values(), key=lambda h: (h.name, h.module, h.package_root))


def _word(token: bytes) -> "re.Pattern[bytes]":
    return re.compile(rb"(?<![A-Za-z0-9_])" + re.escape(token) + rb"(?![A-Za-z0-9_])")


def calls_helper(path: str, data: bytes, helpers: Sequence[Helper]) -> bool:
    """Can the file at ``path`` call one of ``helpers``: does it name one and import its module?

    Plain substring tests come first, so most files are dismissed without a regex; the
    module names, rarer than the function names and fewer, are looked for first.
    """
    absent: Set[bytes] = set()
    for helper in helpers:
        if helper.module in absent:
            continue
        if helper.module not in data:
            absent.add(helper.module)
            continue
        if helper.name not in data or not _word(helper.name).search(data):
            continue
        module = re.escape(helper.module)
        imports = re.compile(
            rb"(?m)^[ \t]*(?:from|import)[ \t][^\n]*(?<![A-Za-z0-9_])" + module + rb"(?![A-Za-z0-9_])"
            + rb"|import[ \t]*\([^)]*(?<![A-Za-z0-9_])" + module + rb"(?![A-Za-z0-9_])"
        )
        match = imports.search(data)
        if match is None:
            continue
        relative = re.search(rb"(?m)^[ \t]*from[ \t]+\.", data) is not None
        absolute = re.search(rb"(?m)^[ \t]*(?:from|import)[ \t]+[A-Za-z_]", data) is not None
        inside = os.path.abspath(path).startswith(helper.package_root + os.sep)
        if (relative and inside) or absolute:
            return True
    return False


# ----- the project: its root, its files, and which of them a run needs ------------------

# The lines and parenthesised spans an import can name a module in: the same spans
# `calls_helper` looks for a helper's module in, so the words found here are a superset.
_IMPORT_SPAN_RE = re.compile(rb"(?m)^[ \t]*(?:from|import)[ \t][^\n]*(?:\\\r?\n[^\n]*)*|import[ \t]*\([^)]*")
_WORD_RE = re.compile(rb"[A-Za-z0-9_]+")
_ROLLBACK_QUOTED = tuple(
    quote + mode + quote for mode in (b"delete", b"truncate", b"persist", b"memory", b"off") for quote in (b"'", b'"')
)


def import_words(data: bytes) -> Tuple[bytes, ...]:
    """Every word on the file's import lines (and in ``import (...)`` spans): the module a
    file can import or call a helper from is among them."""
    if b"import" not in data:
        return ()
    spans = _IMPORT_SPAN_RE.findall(data)
    return tuple(set(_WORD_RE.findall(b"\n".join(spans)))) if spans else ()


# What a module that answers "is it WAL?" without naming the pragma holds: a "wal"
# literal, or the header's version bytes (offsets 18/19, b"\x02\x02").
_MODE_KNOWLEDGE_RE = re.compile(rb"""(?i)['"]wal['"]|\[\s*1[89]\s*[]:]|\\x02\\x02""")


# A module that opens SQLite connections for its importers (`def open_db(path): return
# sqlite3.connect(path, ...)`): what it opens is where a connect path starts (WAL003).
_SQLITE_DRIVER_RE = re.compile(rb"\b(?:sqlite3|aiosqlite|apsw|pysqlite3|sqlcipher3|sqlean)\b")
_OPENS_RE = re.compile(rb"\b(?:connect|Connection)\(")


# A context manager or decorator that may catch the errors of what it wraps.
_WRAPS_RE = re.compile(rb"\byield\b|\bwraps\(")


def may_answer_for_the_mode(data: bytes) -> bool:
    """Could an imported module tell its importers something about journal modes: a
    rollback constant, a probe of the mode on disk (a header read, a "wal" test), a
    function that opens the connections they configure, or a context manager or
    decorator that swallows the database errors of what it wraps?"""
    driver = _SQLITE_DRIVER_RE.search(data) is not None
    return (
        exports_rollback_constant(data)
        or _MODE_KNOWLEDGE_RE.search(data) is not None
        or (driver and _OPENS_RE.search(data) is not None)
        or (driver and b"except" in data and _WRAPS_RE.search(data) is not None)
    )


def exports_rollback_constant(data: bytes) -> bool:
    """Does the module bind a module-level name to a quoted rollback mode? A cheap byte
    test first, so most files never meet the regex."""
    lowered = data.lower()
    if not any(literal in lowered for literal in _ROLLBACK_QUOTED):
        return False
    return _ROLLBACK_CONSTANT_RE.search(data) is not None


# Transient error text or names (walint.runtime's one list): a module holding them may
# define markers whose use (the test that decides a downgrade) is in a module importing it.
_TRANSIENT_TEXT_RE = re.compile(
    b"(?i)" + b"|".join(re.escape(m.encode()) for m in TRANSIENT_MESSAGES) + rb"|sqlite_(?:busy|locked|ioerr)"
)


def holds_transient_text(data: bytes) -> bool:
    return _TRANSIENT_TEXT_RE.search(data) is not None


def module_stem(path: str) -> str:
    """The last part of the dotted name ``path`` is imported under: its stem, or its
    package's name for ``__init__``."""
    directory, name = os.path.split(path)
    stem = name.rsplit(".", 1)[0]
    return os.path.basename(directory) if stem == "__init__" else stem


def project_root(paths: Sequence[str], config: Optional[str]) -> Optional[str]:
    """The folder of the configuration file in use, else the repository root (the nearest
    trusted folder holding ``.git``) above the first path, else None: no project beyond
    the paths given."""
    from walint.discovery import repository_root

    if config is not None:
        return os.path.dirname(os.path.abspath(config))
    return repository_root(paths[0] if paths else ".")


def naming_bases(root: str, src: Sequence[str] = ()) -> Tuple[str, ...]:
    """What modules are named relative to: the root, its ``src/``, and ``src`` entries."""
    bases = list(_bases([root]))
    for entry in src:
        base = os.path.abspath(os.path.join(root, entry))
        if base not in bases:
            bases.append(base)
    return tuple(bases)
