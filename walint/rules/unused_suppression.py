"""WAL100: a suppression comment that suppresses nothing (off unless selected).

Its detection, message and fix are all here: the engine runs it after the other rules,
handing it which codes each line's suppression comment suppressed.
"""

from __future__ import annotations

from typing import AbstractSet, Callable, Dict, Iterator, List, Mapping, Optional, Tuple, Union

import libcst as cst

from walint.codes import SPECS_BY_CODE, UNUSED_SUPPRESSION
from walint.fixes import SAFE, FixPlan
from walint.rules.base import Invalid, Report, Rule, Valid
from walint.settings import Settings
from walint.suppressions import IGNORE_RE, NOQA_RE, Suppression, parse_suppression

# Codes of other tools (E501, B008, ...) may share a `# noqa` with ours; only these are ours.
WALINT_PREFIX = "WAL"


class UnusedSuppression(Rule):
    """
    ## What it does
    Checks for a `# noqa: WAL001` or `# walint: ignore[WAL001]` comment that names a
    walint code nothing on its line is reported for. It is off by default: turn it on
    with `--report-unused-noqa`, or select `WAL100`.

    Only walint's own codes are checked, so `# noqa: E501, WAL001` reports `WAL001`
    alone, and a bare `# noqa` is never reported (it may be there for another linter).
    A bare `# walint: ignore` (or `# walint: ignore[]`) is walint's alone, and is reported
    when nothing on its line is. As ruff's RUF100 does, the message says why each code is
    there for nothing: `unused` (its rule is on and reported nothing on the line),
    `non-enabled` (its rule is not selected in this run) or `unknown` (no walint rule has
    that code).

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
    The fix is safe: it removes the codes that suppress nothing from the comment, and
    the whole directive when none is left (text after it in the comment stays). Codes of
    other tools are kept. A code reported as `non-enabled` is removed too, as ruff
    does; select its rule (or keep the comment with `# noqa: WAL100`) if another run
    enables it.
    """

    spec = SPECS_BY_CODE[UNUSED_SUPPRESSION]

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
        Invalid(
            'conn.execute("PRAGMA journal_mode=WAL")  # noqa: WAL001  # expect: WAL100\n',
            fixed='conn.execute("PRAGMA journal_mode=WAL")  # expect: WAL100\n',
        ),
        Invalid(
            'conn.execute("PRAGMA journal_mode=WAL")  # noqa: E501, WAL001  # expect: WAL100\n',
            fixed='conn.execute("PRAGMA journal_mode=WAL")  # noqa: E501  # expect: WAL100\n',
        ),
        Invalid(
            """
try:
    conn.execute("PRAGMA journal_mode=WAL")
except sqlite3.OperationalError:
    conn.execute("PRAGMA journal_mode=DELETE")  # walint: ignore[WAL001, WAL002]  # expect: WAL100
""",
            fixed="""
try:
    conn.execute("PRAGMA journal_mode=WAL")
except sqlite3.OperationalError:
    conn.execute("PRAGMA journal_mode=DELETE")  # expect: WAL100
""",
        ),
    )

    def __init__(self, settings: Settings, module: cst.Module) -> None:
        """Find ``module``'s suppression comments; :meth:`check` says which suppressed nothing."""
        self.settings = settings
        finder = _CommentFinder()
        module.visit(finder)
        # Each comment that holds a suppression: the node holding it, and the node a fix rewrites.
        self.comments: List[Tuple[_Holder, cst.CSTNode]] = finder.found

    def check(
        self,
        row_of: Callable[[cst.CSTNode], int],
        suppression_on: Callable[[int], Optional[Suppression]],
        used: Mapping[int, AbstractSet[str]],
    ) -> Iterator[Report]:
        """A report at each comment that names codes nothing on its line was reported for.

        ``row_of`` gives a node's line, ``suppression_on`` the suppression comment the
        tokenizer sees on a line, and ``used`` the codes each line's comment suppressed.
        """
        for holder, owner in self.comments:
            assert holder.comment is not None
            row = row_of(holder.comment)
            suppression = suppression_on(row)
            # Only naming WAL100 itself silences it: a blanket comment cannot hide its own staleness.
            if suppression is None or self.code in suppression.codes:
                continue
            unused = unused_codes(suppression, used.get(row, frozenset()))
            if unused:
                plan = fix_plan(holder, owner, suppression, unused)
                yield Report(holder.comment, message(suppression, unused, self.settings), plan)


_Holder = Union[cst.TrailingWhitespace, cst.EmptyLine]
# The nearest node a fix can rewrite around a comment (comments and whitespace are below
# what the renderer walks): the comment's line, its block, or the module.
_OWNERS = (cst.SimpleStatementLine, cst.SimpleStatementSuite, cst.BaseCompoundStatement, cst.IndentedBlock, cst.Module)


class _CommentFinder(cst.CSTVisitor):
    """Each comment that holds a suppression, with the node that holds it and its owner."""

    def __init__(self) -> None:
        self.owners: List[cst.CSTNode] = []
        self.found: List[Tuple[_Holder, cst.CSTNode]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, _OWNERS):
            self.owners.append(node)
        elif isinstance(node, (cst.TrailingWhitespace, cst.EmptyLine)) and node.comment is not None:
            if self.owners and parse_suppression(node.comment.value) is not None:
                self.found.append((node, self.owners[-1]))
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if isinstance(original_node, _OWNERS):
            self.owners.pop()


# ----- which codes are unused, why, and the fix ---------------------------------------------

UNUSED, NON_ENABLED, UNKNOWN = "unused", "non-enabled", "unknown"


def unused_codes(suppression: Suppression, used: AbstractSet[str]) -> Tuple[str, ...]:
    """The walint codes ``suppression`` names that suppressed none of ``used``.

    A bare ``# noqa`` is never reported: it may be there for another linter. A bare
    ``# walint: ignore[]`` is ours alone, so it is unused when it suppressed nothing.
    """
    if not suppression.codes:
        return ("*",) if suppression.form == "walint: ignore" and not used else ()
    return tuple(
        code
        for code in dict.fromkeys(suppression.codes)
        if code.startswith(WALINT_PREFIX) and code not in used
    )


def classify(codes: Tuple[str, ...], settings: Settings) -> Dict[str, List[str]]:
    """ruff's RUF100 reasons for the codes a comment names that suppressed nothing."""
    reasons: Dict[str, List[str]] = {UNUSED: [], NON_ENABLED: [], UNKNOWN: []}
    for code in codes:
        if code not in SPECS_BY_CODE:
            reasons[UNKNOWN].append(code)
        elif not settings.enabled(code, SPECS_BY_CODE[code].default_enabled):
            reasons[NON_ENABLED].append(code)
        else:
            reasons[UNUSED].append(code)
    return reasons


def message(suppression: Suppression, unused: Tuple[str, ...], settings: Settings) -> str:
    """``Unused `noqa` directive (unused: `WAL001`; non-enabled: `WAL005`)``, as RUF100 says it."""
    if unused == ("*",):
        return f"Unused blanket `{suppression.form}` directive"
    reasons = classify(unused, settings)
    parts = [
        f"{reason}: {', '.join(f'`{code}`' for code in codes)}"
        for reason, codes in reasons.items()
        if codes
    ]
    return f"Unused `{suppression.form}` directive ({'; '.join(parts)})"


def rewritten_comment(comment: str, suppression: Suppression, unused: AbstractSet[str]) -> str:
    """``comment`` without the ``unused`` codes; without the directive when none is left
    (a bare ``walint: ignore[]`` that suppressed nothing has ``unused == {"*"}``)."""
    pattern = IGNORE_RE if suppression.form == "walint: ignore" else NOQA_RE
    match = pattern.search(comment)
    if match is None:
        return comment
    kept = [code for code in suppression.codes if code not in unused]
    if not kept or "*" in unused:
        replacement = ""
    elif suppression.form == "walint: ignore":
        replacement = f"# walint: ignore[{', '.join(kept)}]"
    else:
        replacement = f"# noqa: {', '.join(kept)}"
    if replacement:
        return comment[: match.start()] + replacement + comment[match.end() :]
    before, after = comment[: match.start()].rstrip(), comment[match.end() :].strip()
    if before.strip("# "):
        return f"{before}  {after}" if after else before
    if not after:
        return ""
    return after if after.startswith("#") else f"# {after}"


def fix_plan(holder: _Holder, owner: cst.CSTNode, suppression: Suppression, unused: Tuple[str, ...]) -> Optional[FixPlan]:
    """The safe fix: the comment without the codes that suppress nothing, or no comment."""
    if holder.comment is None:
        return None
    title = f"Remove unused `{suppression.form}` directive"
    ours = {code for code in unused if code == "*" or code.startswith(WALINT_PREFIX)}
    text = rewritten_comment(holder.comment.value, suppression, ours)
    if text:
        rewritten = owner.deep_replace(holder, holder.with_changes(comment=cst.Comment(text)))
    elif isinstance(holder, cst.TrailingWhitespace):
        rewritten = owner.deep_replace(holder, holder.with_changes(whitespace=cst.SimpleWhitespace(""), comment=None))
    else:
        rewritten = owner.deep_remove(holder)
    if not isinstance(rewritten, cst.CSTNode):
        return None
    return FixPlan(title, SAFE, {owner: rewritten})
