"""WAL000: a candidate file that cannot be parsed, reported by the engine when its parse fails.

There is no check to run on a module, so this is a :class:`Rule` for its docs and examples,
and the findings the engine reports for it are made here.
"""

from __future__ import annotations

from walint.codes import PARSE_ERROR, SPECS_BY_CODE
from walint.findings import Finding, Location
from walint.rules.base import Invalid, Rule, Valid


class ParseError(Rule):
    """
    ## What it does
    Reports a file that mentions the journal mode but cannot be parsed, at the position
    of the syntax error (or the line that cannot be decoded).

    ## Why is this bad?
    walint cannot see into a file it cannot parse, so any fallback hiding in it goes
    unchecked. The run goes on with the other files; this finding says which one was
    skipped and why.

    ## Example
    ```python
    def connect(path:
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
    ```

    Use instead:
    ```python
    def connect(path):
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
    ```

    ## Fix safety
    There is no fix: only a person can say what the broken code meant.
    """

    spec = SPECS_BY_CODE[PARSE_ERROR]
    VALID = (Valid('conn.execute("PRAGMA journal_mode=WAL")\n'),)
    INVALID = (Invalid('conn.execute("PRAGMA journal_mode=WAL"  # expect: WAL000\n'),)


def parse_error_finding(path: str, data: bytes, error: Exception) -> Finding:
    """The finding for ``error``, at the best position Python or LibCST can give."""
    row, column, message = 1, 1, str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, UnicodeError):
        message = f"cannot decode file: {error}"
        start = getattr(error, "start", None)
        if isinstance(start, int):
            row = data.count(b"\n", 0, start) + 1
    else:
        try:
            compile(data, path, "exec", dont_inherit=True)
        except SyntaxError as syntax:
            row = syntax.lineno or 1
            column = max(syntax.offset or 1, 1)
            message = syntax.msg
        except (ValueError, RecursionError, MemoryError) as other:
            message = str(other) or message
        else:
            row = getattr(error, "editor_line", 1) or 1
            column = getattr(error, "editor_column", 1) or 1
    location = Location(row, column)
    return Finding(path, PARSE_ERROR, f"Cannot parse: {message}", location, location)


def too_deeply_nested_finding(path: str) -> Finding:
    """The finding for a file nested too deeply to analyse even on a large stack."""
    location = Location(1, 1)
    return Finding(path, PARSE_ERROR, "Skipped: too deeply nested to analyse", location, location)
