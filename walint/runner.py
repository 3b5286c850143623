"""Run the engine over many files: read each once, prefilter, check, and gather the results."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from walint.discovery import Candidate, is_candidate, read_bytes
from walint.engine import FileResult, active_rules, check_source
from walint.findings import Finding
from walint.project import ROLLBACK_LITERAL_RE, Helper, ProjectIndex, calls_helper, downgrade_helpers
from walint.rules import prefilter_tokens
from walint.settings import Settings


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


def check_files(
    candidates: Sequence[Candidate], settings: Settings, roots: Sequence[str] = (), read: Reader = read_bytes
) -> RunResult:
    """Check every file, then let findings follow imports between the files of the run.

    ``roots`` are the paths given on the command line; modules are named relative to
    them (and to their ``src/``) as well as by their package layout.
    """
    tokens = prefilter_tokens(active_rules(settings))
    result = RunResult()
    index = ProjectIndex(roots or [os.path.dirname(c.display) or "." for c in candidates[:1]])
    analysed: Dict[str, FileResult] = {}
    skipped: Dict[str, Candidate] = {}
    for candidate in candidates:
        data, problem = read(candidate.path) if candidate.problem is None else (None, candidate.problem)
        if data is None:
            result.errors.append((candidate.display, problem))
            continue
        result.files_checked += 1
        index.register(candidate.display)
        if is_candidate(data, tokens):
            analysed[candidate.display] = check_source(candidate.display, data, settings)
        else:
            skipped[os.path.abspath(candidate.display)] = candidate
    _project_pass(index, analysed, skipped, settings, read)
    result.files_parsed = len(analysed)
    for display, file_result in analysed.items():
        result.findings.extend(file_result.findings)
        result.errors.extend((display, error) for error in file_result.errors)
    result.findings.sort(key=lambda f: f.sort_key)
    result.errors.sort()
    return result


_MAX_PROJECT_ROUNDS = 6


def _reanalyse(display: str, settings: Settings, external: Dict[str, object], read: Reader) -> Optional[FileResult]:
    data, _ = read(Path(display))
    return None if data is None else check_source(display, data, settings, external)


def _project_pass(
    index: ProjectIndex,
    analysed: Dict[str, FileResult],
    skipped: Dict[str, Candidate],
    settings: Settings,
    read: Reader = read_bytes,
) -> None:
    """Join the summaries until no file learns anything new from the files it imports."""
    for display, file_result in analysed.items():
        if file_result.summary is not None:
            index.add(display, file_result.summary)

    def adopt(candidate: Candidate, data: bytes) -> None:
        file_result = check_source(candidate.display, data, settings)
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
                data, _ = read(candidate.path)
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
            data, _ = read(candidate.path)
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
            updated = _reanalyse(display, settings, external, read)
            if updated is None:
                continue
            analysed[display] = updated
            if updated.summary is not None and updated.summary != file_result.summary:
                index.add(display, updated.summary)
                changed = True
        if not changed:
            break


def check_stdin(display: str, data: bytes, settings: Settings) -> RunResult:
    """Check source that arrived on standard input as if it were the file ``display``.

    It is checked on its own: findings that follow imports need the files on disk.
    """
    result = RunResult(files_checked=1)
    if is_candidate(data, prefilter_tokens(active_rules(settings))):
        file_result = check_source(display, data, settings)
        result.files_parsed = 1
        result.findings.extend(file_result.findings)
        result.errors.extend((display, error) for error in file_result.errors)
    return result


def drop_per_file_ignores(result: RunResult, settings: Settings) -> RunResult:
    """``result`` without the findings a ``per-file-ignores`` entry turns off for their file."""
    if not settings.per_file_ignores:
        return result
    kept = [f for f in result.findings if not settings.ignored_in_file(f.code, f.path)]
    return replace(result, findings=kept)
