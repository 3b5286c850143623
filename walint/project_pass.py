"""The project side of a run: which of the project's files can change the findings of the
files named (read for context), and the pass that joins the files' summaries across imports."""

from __future__ import annotations

import os
import re
from collections import deque
from typing import TYPE_CHECKING, Dict, Iterable, List, Mapping, Optional, Sequence, Set

from walint.discovery import Candidate, is_candidate
from walint.project import (
    Helper,
    ProjectIndex,
    calls_helper,
    downgrade_helpers,
    exports_rollback_constant,
    holds_transient_text,
    import_words,
    may_answer_for_the_mode,
    module_stem,
)
from walint.summary import IMPORTED_LITERAL, IMPORTERS_USES, ModuleSummary
from walint.text import IDENTIFIER_RE

if TYPE_CHECKING:
    from walint.findings import FileResult
    from walint.runner import Analyser, Observer, Reader, RunResult


def select_files(
    named: Mapping[str, Candidate],
    universe: Mapping[str, Candidate],
    tokens: Sequence[bytes],
    read: Reader,
    result: RunResult,
    observer: Observer,
) -> Dict[str, bool]:
    """The files the run needs, each with whether it passed the prefilter (an unreadable
    one is left out): the files named, and, when the project holds more, every project
    file that can change their findings.

    That is the closure of the files named under: the modules a file's import lines can
    name (words on them that are a project module's last name part) and the packages
    holding it (relative imports), since their facts reach it; and, for a file that only
    becomes a candidate when an analysed module imports it (it holds a quoted rollback
    mode), the files that can import it. The textual tests over-approximate what the
    project pass resolves, so the pass over these files finds for the named ones what a
    pass over the whole project would.
    """
    full = len(universe) == len(named)
    selected: Dict[str, bool] = {}
    seen: Set[str] = set()
    queue = deque(named)
    stems: Optional[Dict[bytes, List[str]]] = None
    importers: Optional[Dict[bytes, List[str]]] = None
    while queue:
        key = queue.popleft()
        if key in seen:
            continue
        seen.add(key)
        candidate = universe[key]
        data, problem = read(candidate.path) if candidate.problem is None else (None, candidate.problem)
        if key in named:
            observer.advance()
        if data is None:
            if key in named:
                result.errors.append((candidate.display, problem))
            continue
        if key in named:
            result.files_checked += 1
        passed = is_candidate(data, tokens)
        selected[key] = passed
        if full:
            continue
        if stems is None:
            stems = _by_stem(universe)
        for word in import_words(data):
            queue.extend(stems.get(word, ()))
        queue.extend(_package_inits(key, universe))
        # A named file's markers may be judged by how the modules importing it test them;
        # a rollback constant makes a file a candidate once a module importing it is.
        exports_constant = not passed and exports_rollback_constant(data)
        if exports_constant or (key in named and passed and holds_transient_text(data)):
            if importers is None:
                importers = _by_imported_word(universe, read)
            stem = module_stem(key)
            queue.extend(importers.get(stem.encode("utf-8", "surrogateescape"), ()))
        if exports_constant:
            if os.path.basename(key).startswith("__init__."):
                package = os.path.dirname(key) + os.sep
                queue.extend(other for other in universe if other.startswith(package))
    return selected


def _by_stem(universe: Iterable[str]) -> Dict[bytes, List[str]]:
    stems: Dict[bytes, List[str]] = {}
    for key in universe:
        stems.setdefault(module_stem(key).encode("utf-8", "surrogateescape"), []).append(key)
    return stems


def _package_inits(key: str, universe: Mapping[str, Candidate]) -> List[str]:
    """The ``__init__`` files of the packages holding ``key``, innermost first."""
    found: List[str] = []
    directory = os.path.dirname(key)
    while True:
        inits = [os.path.join(directory, name) for name in ("__init__.py", "__init__.pyi")]
        present = [init for init in inits if init in universe]
        if not present:
            return found
        found.extend(present)
        parent = os.path.dirname(directory)
        if parent == directory:
            return found
        directory = parent


def _by_imported_word(universe: Mapping[str, Candidate], read: Reader) -> Dict[bytes, List[str]]:
    """Each word on the import lines of the project's files, and the files it is on."""
    found: Dict[bytes, List[str]] = {}
    for key, candidate in universe.items():
        data, _ = read(candidate.path) if candidate.problem is None else (None, None)
        for word in import_words(data) if data is not None else ():
            found.setdefault(word, []).append(key)
    return found

_MAX_PROJECT_ROUNDS = 6


def project_pass(
    index: ProjectIndex, analysed: Dict[str, "FileResult"], skipped: Dict[str, Candidate], analyser: Analyser
) -> None:
    """Join the summaries until no file learns anything new from the files it imports.

    Linear in the files: a skipped file is read at most once to index the words on its
    import lines (and only once some helper downgrades), then again only if it names the
    module of a helper that downgrades.
    """
    for display, file_result in analysed.items():
        if file_result.summary is not None:
            index.add(display, file_result.summary)

    def adopt(candidate: Candidate, data: bytes) -> None:
        analyser.paths[candidate.display] = candidate.path
        file_result = analyser.check(candidate.display, data)
        analysed[candidate.display] = file_result
        if file_result.summary is not None:
            index.add(candidate.display, file_result.summary)
            adopt_constant_sources(candidate.display, file_result.summary)

    def adopt_constant_sources(display: str, summary: ModuleSummary) -> None:
        """The modules ``display`` imports that may export a fallback-mode constant or a
        probe of the mode on disk, or that define what its tests deciding a downgrade use."""
        tested = index.marker_sources(display, summary)
        for target in sorted(set(index.unparsed_targets(display, summary))):
            candidate = skipped.pop(target, None)
            if candidate is not None:
                data, _ = analyser.read(candidate.path)
                if data is not None and (target in tested or may_answer_for_the_mode(data)):
                    adopt(candidate, data)

    for display, file_result in list(analysed.items()):
        if file_result.summary is not None:
            adopt_constant_sources(display, file_result.summary)
    # Files that call an exported downgrading helper can hold a finding without holding a
    # token. A helper's facts may only show once its own imports are known, and an adopted
    # file may export a helper in turn, so the scan runs again each round for new helpers.
    scanned: Set[Helper] = set()
    by_word: Dict[bytes, List[str]] = {}
    indexed: List[bool] = []

    def callers_of(helpers: Sequence[Helper]) -> List[str]:
        """The skipped files whose import lines name a helper's module."""
        if not indexed:
            for key, candidate in skipped.items():
                data, _ = analyser.read(candidate.path)
                for word in import_words(data) if data is not None else ():
                    by_word.setdefault(word, []).append(key)
            indexed.append(True)
        found: Set[str] = set()
        for helper in helpers:
            if _WORD_RE.fullmatch(helper.module):
                found.update(by_word.get(helper.module, ()))
            else:
                found.update(skipped)
        return sorted(key for key in found if key in skipped)

    def adopt_callers() -> bool:
        helpers = [
            h
            for h in downgrade_helpers((d, r.summary) for d, r in analysed.items() if r.summary is not None)
            if h not in scanned
        ]
        scanned.update(helpers)
        adopted = False
        for key in callers_of(helpers) if helpers else ():
            candidate = skipped.get(key)
            if candidate is None:
                continue  # adopted meanwhile, as a module an adopted caller imports
            data, _ = analyser.read(candidate.path)
            if data is not None and calls_helper(candidate.display, data, helpers):
                del skipped[key]
                adopt(candidate, data)
                adopted = True
        return adopted

    externals: Dict[str, Dict[str, object]] = {}
    for _ in range(_MAX_PROJECT_ROUNDS):
        changed = adopt_callers()
        for display, file_result in list(analysed.items()):
            if file_result.summary is None:
                continue
            external = index.external_for(display, file_result.summary)
            previous = externals.get(display, {})
            if external == previous:
                continue
            externals[display] = external
            changed_keys = [key for key in {*external, *previous} if external.get(key) != previous.get(key)]
            if not _may_look_up(analyser, display, file_result.summary, changed_keys):
                continue  # the analysis never asks for what changed: its result stands
            updated = analyser.check_again(display, external)
            if updated is None:
                continue
            analysed[display] = updated
            if updated.summary is not None and updated.summary != file_result.summary:
                index.add(display, updated.summary)
                changed = True
        if not changed:
            break


_WORD_RE = re.compile(rb"[A-Za-z0-9_]+")


def _may_look_up(analyser: Analyser, display: str, summary: ModuleSummary, keys: Iterable[str]) -> bool:
    """Could the analysis of ``display`` ask for any of ``keys`` of what the project pass
    hands it? It asks by the names the file writes: for ``inspect.getmembers`` (a name of
    a module it imports) only where ``getmembers`` is written, for a method only where the
    method's name is (its class's, for ``__init__`` and the other dunders Python calls).
    A key whose name the file never writes, but to define its own (``NAME = ...`` at the
    start of a line), is never asked for, and a change to it changes nothing. What the
    file imports by name, and the uses its importers make of it, always may."""
    data, _ = analyser.read(analyser.paths[display])
    if data is None:
        return True
    for key in keys:
        if key == IMPORTERS_USES:
            return True
        name = key[len(IMPORTED_LITERAL) :] if key.startswith(IMPORTED_LITERAL) else key
        origin = max((o for o in summary.imports if name.startswith(o + ".")), key=len, default="")
        written = IDENTIFIER_RE.findall(name[len(origin) + 1 :]) if origin else []
        if not written:
            return True  # `from .store import reset_journal`: the import itself
        if written[-1].startswith("__") and written[-1].endswith("__"):
            if len(written) == 1:
                return True  # `from .errors import best_effort`, then `with best_effort():`
            written = written[:-1]  # `Store(path)` calls `Store.__init__`
        word = re.escape(written[-1].encode())
        uses = len(re.findall(rb"\b" + word + rb"\b", data))
        own = len(re.findall(rb"(?m)^" + word + rb"\s*[:=]", data))
        if uses > own:
            return True
    return False
