"""Run the engine over many files: read each once, prefilter, check, and gather the results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Sequence

from walint.discovery import Candidate, is_candidate, read_bytes
from walint.engine import FileResult, active_rules, check_source
from walint.findings import Finding
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


def check_files(candidates: Sequence[Candidate], settings: Settings) -> RunResult:
    tokens = prefilter_tokens(active_rules(settings))
    result = RunResult()
    for candidate in candidates:
        data, problem = read_bytes(candidate.path)
        if data is None:
            result.errors.append((candidate.display, problem))
            continue
        result.files_checked += 1
        if not is_candidate(data, tokens):
            continue
        result.files_parsed += 1
        file_result: FileResult = check_source(candidate.display, data, settings)
        result.findings.extend(file_result.findings)
        result.errors.extend((candidate.display, error) for error in file_result.errors)
    result.findings.sort(key=lambda f: f.sort_key)
    return result
