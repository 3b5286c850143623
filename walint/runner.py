"""Run the engine over many files: read each once, prefilter, check, and gather the results."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from walint.cache import Results
from walint.codes import prefilter_tokens_for
from walint.discovery import Candidate, read_bytes
from walint.findings import Finding
from walint.project import ProjectIndex
from walint.project_pass import project_pass, select_files
from walint.settings import RENDER_ALL, RENDER_NONE, RENDER_SAFE, Settings

if TYPE_CHECKING:
    from walint.findings import FileResult


@dataclass
class RunResult:
    """Everything one run found, in a stable order."""

    findings: List[Finding] = field(default_factory=list)
    # (path, message) for files that could not be read or a rule that crashed on them.
    errors: List[tuple] = field(default_factory=list)
    files_checked: int = 0
    files_parsed: int = 0
    # Project files outside the paths given that the run read or analysed for context.
    context_read: int = 0
    context_parsed: int = 0


# Reads a file: its bytes, or None and why not. `walint fix` passes one that serves its edits.
Reader = Callable[[Path], Tuple[Optional[bytes], Optional[str]]]

# A process pool pays for its start-up (a fresh interpreter importing LibCST, about half a
# second) only when there is enough to parse: LibCST parses roughly half a megabyte a
# second per core.
POOL_MIN_FILES = 2
POOL_MIN_BYTES = 1_000_000


@dataclass(frozen=True)
class Project:
    """The project the checked files belong to: its root, the folders modules are named
    from (the root, its ``src/`` and the ``src`` setting), and every Python file in it."""

    root: str
    bases: Tuple[str, ...]
    files: Sequence[Candidate] = ()


class Observer:
    """Hears how a run goes: the time each phase took, and progress through the files.

    The command line's shows a progress bar and, with ``--verbose``, the timings; this one
    only keeps the timings.
    """

    def __init__(self) -> None:
        self.timings: Dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started

    def expect(self, files: int) -> None:
        """``files`` more units of work are coming (a read, or an analysis)."""

    def advance(self, files: int = 1) -> None:
        """``files`` units of work are done."""


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _key(candidate: Candidate) -> str:
    """One file's identity in a run: its absolute path, or its real path where folding a
    ``..`` would name another file (``d/../x.py`` with ``d`` a symlink elsewhere)."""
    path = str(candidate.path)
    absolute = os.path.abspath(path)
    if ".." in Path(path).parts and os.path.realpath(path) != os.path.realpath(absolute):
        return os.path.realpath(path)
    return absolute


def check_files(
    candidates: Sequence[Candidate],
    settings: Settings,
    roots: Sequence[str] = (),
    *,
    jobs: int = 1,
    cache: Optional[Results] = None,
    read: Reader = read_bytes,
    project: Optional[Project] = None,
    observer: Optional[Observer] = None,
) -> RunResult:
    """Check every file, then let findings follow imports between the files of the project.

    With a ``project``, modules are named from its root, and the project's other files
    that the files given can import from, call into or be imported by are read (and, when
    they matter, analysed) too, but only the findings of ``candidates`` are reported: a
    file's findings do not depend on which files were named. Without one, the project is
    the files given, named relative to ``roots`` (and their ``src/``). With ``jobs``
    above 1 the candidate files are analysed in a process pool when there are enough of
    them; with a ``cache``, a file whose result is cached is not parsed at all. Neither
    changes the findings.
    """
    observer = observer if observer is not None else Observer()
    tokens = prefilter_tokens_for(settings)
    result = RunResult()
    named: Dict[str, Candidate] = {}
    for candidate in candidates:
        named.setdefault(_key(candidate), candidate)
    universe: Dict[str, Candidate] = dict(named)
    if project is not None:
        for candidate in project.files:
            universe.setdefault(_key(candidate), candidate)
        index = ProjectIndex([project.root], project.bases)
    else:
        index = ProjectIndex(roots or [os.path.dirname(c.display) or "." for c in candidates[:1]])
    analyser = Analyser(settings, cache, jobs, read, observer)
    observer.expect(len(named))
    with observer.phase("prefilter"):
        selected = select_files(named, universe, tokens, read, result, observer)
    to_check = [key for key, is_candidate_ in selected.items() if is_candidate_]
    skipped = {key: universe[key] for key, is_candidate_ in selected.items() if not is_candidate_}
    result.context_read = len(selected) - result.files_checked
    observer.expect(len(to_check))
    with observer.phase("analyse"):
        analysed = analyser.check_many([(universe[key].display, universe[key].path) for key in to_check])
    with observer.phase("project"):
        if analysed:  # naming every module costs a stat per folder: only when imports can be followed
            for key in universe:
                index.register(key)
            project_pass(index, analysed, skipped, analyser)
    reported = {candidate.display for candidate in named.values()}
    for display, file_result in analysed.items():
        if display not in reported:
            result.context_parsed += 1
            continue
        result.files_parsed += 1
        result.findings.extend(file_result.findings)
        result.errors.extend((display, error) for error in file_result.errors)
    result.findings.sort(key=lambda f: f.sort_key)
    result.errors.sort()
    return result


def check_source(
    path: str, data: bytes, settings: Settings, external: Optional[Mapping[str, object]] = None
) -> "FileResult":
    """:func:`walint.engine.check_source`, imported (with LibCST) only once a file needs it."""
    from walint import engine

    return engine.check_source(path, data, settings, external)


def _check_in_worker(item: Tuple[str, bytes, Settings]) -> "FileResult":
    display, data, settings = item
    return check_source(display, data, settings)


class Analyser:
    """Runs ``check_source`` for the run: through the cache, in a pool or in-process.

    It holds no file's bytes longer than its analysis: the project pass reads a file again
    on the rare occasion it must analyse it again."""

    def __init__(
        self, settings: Settings, cache: Optional[Results], jobs: int, read: Reader = read_bytes, observer: Optional[Observer] = None
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.jobs = max(1, jobs)
        self.read = read
        self.observer = observer if observer is not None else Observer()
        self.paths: Dict[str, Path] = {}

    def check(self, display: str, data: bytes, external: Optional[Mapping[str, object]] = None) -> "FileResult":
        key = self.cache.key(display, data, self.settings, external) if self.cache is not None else ""
        cached = self._cached(key, display, data, external)
        if cached is not None:
            return cached  # type: ignore[return-value]
        if external is None:
            file_result = check_source(display, data, self.settings)
        else:
            file_result = check_source(display, data, self.settings, external)
        if self.cache is not None:
            self.cache.put(key, file_result)
        return file_result

    def _cached(self, key: str, display: str, data: bytes, external: Optional[Mapping[str, object]] = None) -> Optional[object]:
        """The result cached under ``key``; or, for a run that renders fixes, one cached
        by a run that rendered them otherwise (``walint check``, then ``walint fix``) for
        a file with no finding, which no way of rendering changes."""
        if self.cache is None:
            return None
        cached = self.cache.get(key)
        if cached is not None or self.settings.render_fixes == RENDER_NONE:
            return cached  # a plain check asks nothing more: the usual order is check, then fix
        for mode in (RENDER_NONE, RENDER_SAFE, RENDER_ALL):
            if mode != self.settings.render_fixes:
                other = self.cache.get(self.cache.key(display, data, replace(self.settings, render_fixes=mode), external))
                if other is not None and not other.findings and not other.errors:  # type: ignore[attr-defined]
                    return other
        return None

    def check_again(self, display: str, external: Mapping[str, object]) -> Optional["FileResult"]:
        data, _ = self.read(self.paths[display])
        return None if data is None else self.check(display, data, external)

    def check_many(self, items: Sequence[Tuple[str, Path]]) -> Dict[str, "FileResult"]:
        """Results in the order of ``items``, whatever order they were computed in.

        Files are read one at a time; in-process, each is analysed before the next is
        read, so one file's bytes and one syntax tree are alive at a time. Only the files
        a pool will analyse are held together.
        """
        results: Dict[str, "FileResult"] = {}
        missing: List[Tuple[str, Path, str]] = []
        for display, path in items:
            self.paths[display] = path
            data, problem = self.read(path)
            if data is None:
                from walint.findings import FileResult

                results[display] = FileResult(display, errors=(f"cannot read: {problem}",))
                continue
            key = self.cache.key(display, data, self.settings) if self.cache is not None else ""
            cached = self._cached(key, display, data)
            if cached is not None:
                results[display] = cached  # type: ignore[assignment]
                self.observer.advance()
            else:
                missing.append((display, path, key))
        workers = min(self.jobs, len(missing))
        pooled = workers > 1 and len(missing) >= POOL_MIN_FILES
        if pooled:
            loaded = [(display, self.read(path)[0] or b"", key) for display, path, key in missing]
            pooled = sum(len(data) for _, data, _ in loaded) >= POOL_MIN_BYTES
            if pooled:
                for display, file_result in self._in_pool(loaded, workers).items():
                    results[display] = file_result
                    self.observer.advance()
                del loaded
        for display, path, key in missing:
            if pooled:
                file_result = results[display]
            else:
                data, problem = self.read(path)
                if data is None:
                    from walint.findings import FileResult

                    results[display] = FileResult(display, errors=(f"cannot read: {problem}",))
                    continue
                file_result = results[display] = _check_in_worker((display, data, self.settings))
                del data
                self.observer.advance()
            if self.cache is not None:
                self.cache.put(key, file_result)
        return {display: results[display] for display, _ in items}

    def _in_pool(self, missing: Sequence[Tuple[str, bytes, str]], workers: int) -> Dict[str, "FileResult"]:
        # Largest first, so that no worker is left with a big file at the end.
        order = [(display, data) for display, data, _ in sorted(missing, key=lambda item: -len(item[1]))]
        results, crashed = _run_pool(order, self.settings, workers)
        # A worker that died (LibCST's native parser can crash on pathological input) takes
        # the files it had not finished with it: each is tried again alone, so only the one
        # that crashes is reported, as an internal error, and the run goes on.
        for display, data in crashed:
            alone, still = _run_pool([(display, data)], self.settings, 1)
            results.update(alone)
            if still:
                from walint.findings import FileResult

                results[display] = FileResult(display, errors=("the parser crashed on this file (its worker process died)",))
        return results


def _run_pool(
    items: Sequence[Tuple[str, bytes]], settings: Settings, workers: int
) -> Tuple[Dict[str, "FileResult"], List[Tuple[str, bytes]]]:
    """Results by path, and the items whose worker died before answering."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # spawn: no inherited state, the same on every platform.
    context = multiprocessing.get_context("spawn")
    results: Dict[str, "FileResult"] = {}
    crashed: List[Tuple[str, bytes]] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [(item, pool.submit(_check_in_worker, (item[0], item[1], settings))) for item in items]
        for item, future in futures:
            try:
                results[item[0]] = future.result()
            except BrokenProcessPool:
                crashed.append(item)
    return results, crashed


def serving(display: str, data: bytes, fallback: Reader = read_bytes) -> Reader:
    """A reader that serves ``data`` (standard input) as the file ``display`` names, and
    reads every other file with ``fallback``: stdin is one more candidate, not a second
    pipeline."""
    served = Path(display)

    def read(path: Path) -> Tuple[Optional[bytes], Optional[str]]:
        return (data, None) if path == served else fallback(path)

    return read
