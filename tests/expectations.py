"""The `# expect: CODE` convention shared by rule examples and fixture files."""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, List, Tuple

from walint.findings import Finding

_EXPECT_RE = re.compile(r"#\s*expect:\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)")


def expected_marks(source: str) -> Counter:
    """(line, code) pairs marked in ``source``."""
    marks: Counter = Counter()
    # Lines as Python counts them: a form feed or \x1c..\x1e inside a line does not end it.
    for row, line in enumerate(re.split(r"\r\n|\r|\n", source), start=1):
        match = _EXPECT_RE.search(line)
        if match:
            for code in match.group("codes").split(","):
                marks[(row, code.strip())] += 1
    return marks


def actual_marks(findings: Iterable[Finding]) -> Counter:
    return Counter((f.location.row, f.code) for f in findings)


def describe_mismatch(source_name: str, expected: Counter, actual: Counter) -> str:
    missed: List[Tuple[int, str]] = sorted((expected - actual).elements())
    extra: List[Tuple[int, str]] = sorted((actual - expected).elements())
    lines = []
    lines += [f"{source_name}:{row}: expected {code}, walint did not report it" for row, code in missed]
    lines += [f"{source_name}:{row}: walint reported {code}, not marked as expected" for row, code in extra]
    return "\n".join(lines)
