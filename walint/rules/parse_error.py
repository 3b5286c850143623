"""WAL000: a candidate file that LibCST cannot parse."""

from __future__ import annotations

from typing import Iterator

from walint.codes import PARSE_ERROR, SPECS_BY_CODE
from walint.rules.base import Invalid, Report, Rule, Valid


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

    def check(self, model: object) -> Iterator[Report]:
        # Parse errors are raised by the engine before there is a model to check.
        return iter(())
