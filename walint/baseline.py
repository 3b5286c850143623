"""Baselines, for adopting walint in code that already has findings.

``--write-baseline FILE`` records today's findings; ``--baseline FILE`` then reports only
the ones that are not in it. A finding is known when the baseline holds one with the same
path, code and fingerprint (the reported statement, whitespace normalised), so moving
code or editing lines around it keeps it known. Each key carries a count: a second copy
of a known problem is new. Paths are stored relative to the baseline file, so any working
directory gives the same answer.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Tuple

from walint.discovery import Unreadable, read_named
from walint.findings import Finding
from walint.writing import UnsafeWrite, write_output

FORMAT_VERSION = 1

Key = Tuple[str, str, str]  # (path relative to the baseline, code, fingerprint)


class BaselineError(Exception):
    """A baseline file that cannot be read or written."""


@dataclass(frozen=True)
class Baseline:
    """Known findings, counted by key, with the directory their paths are relative to."""

    root: Path
    known: "Counter[Key]"

    @classmethod
    def of(cls, findings: Iterable[Finding], file: Path) -> "Baseline":
        root = _root(file)
        return cls(root, Counter(_key(finding, root) for finding in findings))

    @classmethod
    def load(cls, file: Path) -> "Baseline":
        """The baseline in ``file``; :class:`BaselineError` for anything walint did not write."""
        try:
            data = read_named(file)
        except Unreadable as error:
            raise BaselineError(f"{file}: cannot read the baseline: {error}") from None
        try:
            document = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise BaselineError(f"{file}: not a walint baseline (not UTF-8: {error})") from None
        except ValueError as error:
            raise BaselineError(f"{file}: not a walint baseline (invalid JSON: {error})") from None
        except RecursionError:
            raise BaselineError(f"{file}: not a walint baseline (JSON nested too deeply)") from None
        try:
            if document["version"] != FORMAT_VERSION:
                raise BaselineError(f"{file}: baseline version {document['version']!r} is not {FORMAT_VERSION}")
            known: Counter[Key] = Counter()
            for entry in document["findings"]:
                key = (entry["path"], entry["code"], entry["fingerprint"])
                count = entry["count"]
                if not all(isinstance(part, str) for part in key):
                    raise TypeError("path, code and fingerprint must be strings")
                # bool is an int; 1e309 is a float (infinity) that int() cannot take.
                if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                    raise ValueError(f"count {count!r} is not a positive whole number")
                known[key] += count
        except (KeyError, TypeError, ValueError) as error:
            raise BaselineError(f"{file}: not a walint baseline (bad entry: {error})") from None
        return cls(_root(file), known)

    def save(self, file: Path) -> None:
        entries = [
            {"path": path, "code": code, "fingerprint": fingerprint, "count": count}
            for (path, code, fingerprint), count in sorted(self.known.items())
        ]
        text = json.dumps({"version": FORMAT_VERSION, "findings": entries}, indent=2) + "\n"
        try:
            write_output(str(file), text.encode("utf-8"))
        except UnsafeWrite as error:
            raise BaselineError(f"{file}: {error}") from None
        except OSError as error:
            raise BaselineError(f"{file}: cannot write the baseline: {error.strerror or error}") from None

    def new_findings(self, findings: Iterable[Finding]) -> List[Finding]:
        """The findings the baseline does not account for, in their original order."""
        remaining = Counter(self.known)
        new = []
        for finding in findings:
            key = _key(finding, self.root)
            if remaining[key] > 0:
                remaining[key] -= 1
            else:
                new.append(finding)
        return new


def _root(file: Path) -> Path:
    return Path(os.path.abspath(file)).parent


def _key(finding: Finding, root: Path) -> Key:
    path = os.path.relpath(os.path.abspath(finding.path), root).replace(os.sep, "/")
    return (path, finding.code, finding.fingerprint)
