"""Run the engine over many files: read each once, prefilter, check, and gather the results."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from walint.cache import Cache
from walint.catalogue import prefilter_tokens_for
from walint.discovery import Candidate, is_candidate, read_bytes
from walint.findings import Finding
from walint.project import ROLLBACK_LITERAL_RE, Helper, ProjectIndex, calls_helper, downgrade_helpers
from walint.settings import Settings

if TYPE_CHECKING:
    from walint.engine import FileResult


@dataclass
class RunResult:
    """Everything one run found, in a stable order."""

    findings: List[Finding] = field(default_factory=list)
    # (path, message) for files that could not be read or a rule that crashed on them.
    errors: List[tuple] = field(default_factory=list)
    files_checked: int = 0
    files_parsed: int = 0


# Reads a file: its bytes, or None and why not. `walint fix` passes one that serves its edits.
Reader = Callable[[Path], Tuple[Optional[bytes], Optional[str]]]

# A process pool pays for its start-up (a fresh interpreter importing LibCST, about half a
# second) only when there is enough to parse: LibCST parses roughly half a megabyte a
# second per core.
POOL_MIN_FILES = 2
POOL_MIN_BYTES = 1_000_000


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_files(
    candidates: Sequence[Candidate],
    settings: Settings,
    roots: Sequence[str] = (),
    *,
    jobs: int = 1,
    cache: Optional[Cache] = None,
    read: Reader = read_bytes,
) -> RunResult:
    """Check every file, then let findings follow imports between the files of the run.

    ``roots`` are the paths given on the command line; modules are named relative to
    them (and to their ``src/``) as well as by their package layout. With ``jobs`` above
    1 the candidate files are analysed in a process pool when there are enough of them;
    with a ``cache``, a file whose result is cached is not parsed at all. Neither changes
    the findings.
    """
    tokens = prefilter_tokens_for(settings)
    result = RunResult()
    index = ProjectIndex(roots or [os.path.dirname(c.display) or "." for c in candidates[:1]])
    analyser = _Analyser(settings, cache, jobs, read)
    to_check: List[Tuple[str, bytes]] = []
    skipped: Dict[str, Candidate] = {}
    for candidate in candidates:
        data, problem = read(candidate.path) if candidate.problem is None else (None, candidate.problem)
        if data is None:
            result.errors.append((candidate.display, problem))
            continue
        result.files_checked += 1
        index.register(candidate.display)
        if is_candidate(data, tokens):
            to_check.append((candidate.display, data))
        else:
            skipped[os.path.abspath(candidate.display)] = candidate
    analysed = analyser.check_many(to_check)
    _project_pass(index, analysed, skipped, analyser)
    result.files_parsed = len(analysed)
    for display, file_result in analysed.items():
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


class _Analyser:
    """Runs ``check_source`` for the run: through the cache, in a pool or in-process, and
    keeps each analysed file's bytes so the project pass never reads a file twice."""

    def __init__(self, settings: Settings, cache: Optional[Cache], jobs: int, read: Reader = read_bytes) -> None:
        self.settings = settings
        self.cache = cache
        self.jobs = max(1, jobs)
        self.read = read
        self.sources: Dict[str, bytes] = {}

    def check(self, display: str, data: bytes, external: Optional[Mapping[str, object]] = None) -> "FileResult":
        self.sources[display] = data
        key = self.cache.key(display, data, self.settings, external) if self.cache is not None else ""
        cached = self.cache.get(key) if self.cache is not None else None
        if cached is not None:
            return cached  # type: ignore[return-value]
        if external is None:
            file_result = check_source(display, data, self.settings)
        else:
            file_result = check_source(display, data, self.settings, external)
        if self.cache is not None:
            self.cache.put(key, file_result)
        return file_result

    def check_many(self, items: Sequence[Tuple[str, bytes]]) -> Dict[str, "FileResult"]:
        """Results in the order of ``items``, whatever order they were computed in."""
        results: Dict[str, "FileResult"] = {}
        missing: List[Tuple[str, bytes, str]] = []
        for display, data in items:
            self.sources[display] = data
            key = self.cache.key(display, data, self.settings) if self.cache is not None else ""
            cached = self.cache.get(key) if self.cache is not None else None
            if cached is not None:
                results[display] = cached  # type: ignore[assignment]
            else:
                missing.append((display, data, key))
        workers = min(self.jobs, len(missing))
        if workers > 1 and len(missing) >= POOL_MIN_FILES and sum(len(d) for _, d, _ in missing) >= POOL_MIN_BYTES:
            computed = self._in_pool(missing, workers)
        else:
            computed = {display: _check_in_worker((display, data, self.settings)) for display, data, _ in missing}
        for display, data, key in missing:
            if self.cache is not None and display in computed:
                self.cache.put(key, computed[display])
        return {display: results.get(display) or computed[display] for display, _ in items}

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
                from walint.engine import FileResult

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


_MAX_PROJECT_ROUNDS = 6


def _project_pass(
    index: ProjectIndex, analysed: Dict[str, "FileResult"], skipped: Dict[str, Candidate], analyser: _Analyser
) -> None:
    """Join the summaries until no file learns anything new from the files it imports."""
    for display, file_result in analysed.items():
        if file_result.summary is not None:
            index.add(display, file_result.summary)

    def adopt(candidate: Candidate, data: bytes) -> None:
        file_result = analyser.check(candidate.display, data)
        analysed[candidate.display] = file_result
        if file_result.summary is not None:
            index.add(candidate.display, file_result.summary)

    # Modules imported by analysed files that may export a fallback-mode constant.
    for display, file_result in list(analysed.items()):
        if file_result.summary is None:
            continue
        for target in set(index.unparsed_targets(display, file_result.summary)):
            candidate = skipped.pop(target, None)
            if candidate is not None:
                data, _ = analyser.read(candidate.path)
                if data is not None and ROLLBACK_LITERAL_RE.search(data):
                    adopt(candidate, data)
    # Files that call an exported downgrading helper can hold a finding without holding a
    # token. A helper's facts may only show once its own imports are known, and an adopted
    # file may export a helper in turn, so the scan runs again each round for new helpers.
    scanned: Set[Helper] = set()

    def adopt_callers() -> bool:
        helpers = [
            h
            for h in downgrade_helpers((d, r.summary) for d, r in analysed.items() if r.summary is not None)
            if h not in scanned
        ]
        scanned.update(helpers)
        adopted = False
        for key, candidate in sorted(skipped.items()) if helpers else ():
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
            if external == externals.get(display, {}):
                continue
            externals[display] = external
            updated = analyser.check(display, analyser.sources[display], external)
            analysed[display] = updated
            if updated.summary is not None and updated.summary != file_result.summary:
                index.add(display, updated.summary)
                changed = True
        if not changed:
            break


def serving(display: str, data: bytes, fallback: Reader = read_bytes) -> Reader:
    """A reader that serves ``data`` (standard input) as the file ``display`` names, and
    reads every other file with ``fallback``: stdin is one more candidate, not a second
    pipeline."""
    served = Path(display)

    def read(path: Path) -> Tuple[Optional[bytes], Optional[str]]:
        return (data, None) if path == served else fallback(path)

    return read
