"""WAL100: a suppression comment that suppresses nothing (off unless selected)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import libcst as cst

from walint.rules.base import Invalid, Report, Rule, Valid
from walint.suppressions import parse_suppression

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel


class UnusedSuppression(Rule):
    """
    ## What it does
    Checks for a `# noqa: WAL001` or `# walint: ignore[WAL001]` comment that names a
    walint code nothing on its line is reported for. It is off by default: turn it on
    with `--report-unused-noqa`, or select `WAL100`.

    Only walint's own codes are checked, so `# noqa: E501, WAL001` reports `WAL001`
    alone, and a bare `# noqa` is never reported (it may be there for another linter).
    A bare `# walint: ignore` (or `# walint: ignore[]`) is walint's alone, and is reported
    when nothing on its line is. A code whose rule is not selected suppresses nothing, so it is reported
    too.

    ## Why is this bad?
    A suppression outlives the code it was written for. Once the fallback under it is
    fixed or moved, the comment silently hides the next real finding on that line, and
    readers keep believing the line needs an exception. Deleting stale suppressions
    keeps every remaining one meaningful.

    ## Example
    ```python
    conn.execute("PRAGMA journal_mode=WAL")  # noqa: WAL001
    ```

    Use instead:
    ```python
    conn.execute("PRAGMA journal_mode=WAL")
    ```

    ## Fix safety
    There is no fix yet; delete the code from the comment, or the comment.
    """

    code = "WAL100"
    name = "unused-suppression"
    tokens = (b"noqa", b"walint")
    default_enabled = False

    VALID = (
        Valid(
            """
try:
    conn.execute("PRAGMA journal_mode=WAL")
except sqlite3.OperationalError:
    conn.execute("PRAGMA journal_mode=DELETE")  # noqa: WAL001
"""
        ),
        Valid('conn.execute("PRAGMA journal_mode=WAL")  # noqa: E501\n'),
        Valid('conn.execute("PRAGMA journal_mode=WAL")  # noqa\n'),
    )
    INVALID = (
        Invalid('conn.execute("PRAGMA journal_mode=WAL")  # noqa: WAL001  # expect: WAL100\n'),
        Invalid(
            """
try:
    conn.execute("PRAGMA journal_mode=WAL")
except sqlite3.OperationalError:
    conn.execute("PRAGMA journal_mode=DELETE")  # walint: ignore[WAL001, WAL002]  # expect: WAL100
"""
        ),
    )

    def check(self, model: "ModuleModel") -> Iterator[Report]:
        # Every walint suppression comment is a candidate; the engine keeps the ones that
        # suppressed nothing once it knows what the other rules reported on each line.
        import libcst.matchers as m  # 0.3 s to import: only when this rule is selected

        for comment in m.findall(model.module, m.Comment()):
            assert isinstance(comment, cst.Comment)
            if parse_suppression(comment.value) is not None:
                yield Report(comment, "Unused suppression")

