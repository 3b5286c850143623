"""WAL002: a transient error listed among the markers that decide a WAL downgrade."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Sequence, Set

import libcst as cst

from walint.codes import SPECS_BY_CODE
from walint.sql import ROLLBACK_MODES, normalise_mode
from walint.constants import is_known
from walint.semantic.scopes import Collection
from walint.semantic.nodes import code_constant_name, collection_items, dotted_name, iter_subexpressions, unwrap_collection
from walint.fixes import SAFE, UNSAFE, FixPlan, remove_element
from walint.markers import (
    PERMANENT,
    TRANSIENT,
    classify_code_numbers,
    classify_text,
    code_number_name,
    is_fragment,
)
from walint.journal.marker_uses import UNKNOWN_USE
from walint.rules.base import Invalid, ModelRule, Report, Valid

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel
    from walint.semantic.scopes import Scope

# Names that say a collection decides a downgrade...
_MARKER_NAME_RE = re.compile(
    r"marker|incompat|fallback|no_?wal|unsupported|not_?supported|downgrade|wal_?(?:error|fail|block)|cannot_?wal",
    re.I,
)
# Names that say a collection holds result codes (`FALLBACK_ERRCODES`).
_CODES_NAME_RE = re.compile(r"codes?(?:$|_)|errno", re.I)
# ...names that say it decides a retry or advises a person...
_RETRY_OR_HINT_NAME_RE = re.compile(
    r"retr(?:y|ies|iable)|transient|temporar|recoverable|backoff|busy|flaky|hint|help|explain|advice", re.I
)
# ...and endings that say it holds text, which a marker name before them outweighs
# (`INCOMPAT_MESSAGES`).
_TEXT_NAME_RE = re.compile(r"messages?$|_?text$", re.I)

# How a collection's use is known (see TransientMarker._marker_use).
ESTABLISHED, PRESUMED = "established", "presumed"

NO_FIX_SINGLE = "the message is tested on its own: delete the test, or re-raise, by hand"
NO_FIX_ROW = "the message is a row of a verdict table: delete the row by hand"
NO_FIX_ADDED = "the message is added to the markers by a call: delete that call by hand"


class TransientMarker(ModelRule):
    """
    ## What it does
    Checks for transient SQLite errors ("disk I/O error", "database is locked",
    "database table is locked", "database is busy", `SQLITE_IOERR*`, `SQLITE_BUSY*`,
    `SQLITE_LOCKED*`) among the markers that decide whether to give up on WAL.

    A collection counts as markers by how it is used, not by what it holds: when a
    membership test on it (directly, through a name, `self.X`, a class attribute, a
    parameter's default, or a predicate function, also one handed the collection as
    in `matches(exc, NO_WAL)`) leads to a rollback journal mode, whatever it is
    called. The test may be in a module that imports the collection or the predicate:
    the project pass hands the use back to the module that defines it. A loop over a
    table of `(message, mode)` rows tests each row's message. A classifier compared
    with one constant (`classify(exc) is Verdict.NO_WAL`) decides by what each branch,
    or each row of a `(message, verdict)` table, answers. Without such a use in sight a
    collection counts when its name says so (`_WAL_INCOMPAT_MARKERS`, `NO_WAL_ERRORS`,
    a dict key or dataclass field named so), or when it is tested somewhere and lists
    a permanent marker ("locking protocol", "not authorized") too. Enum classes of
    messages, strings a module appends to such a collection, and result codes (by
    number or by `getattr(sqlite3, "SQLITE_BUSY", 5)`) count as its items. The same
    strings deciding a retry, worded for a person, or merely listed as data are left
    alone.

    ## Why is this bad?
    A transient error says nothing about whether the filesystem supports WAL. Treating
    it as a reason to downgrade switches one process to a rollback journal during a
    storage hiccup or lock contention while its siblings keep using WAL, which corrupts
    the database. This is the exact cause of a real incident: "disk i/o error" in a
    helper's marker tuple downgraded one process of a multi-process agent, repeatedly.
    Transient errors should be retried and then re-raised.

    ## Example
    ```python
    _WAL_INCOMPAT_MARKERS = (
        "locking protocol",
        "disk i/o error",
    )
    ```

    Use instead:
    ```python
    _WAL_INCOMPAT_MARKERS = (
        "locking protocol",
    )
    ```

    ## Fix safety
    The fix removes the transient element from the marker collection, with its trailing
    comment, and keeps the commas valid (and a one-element tuple a tuple). When walint
    sees the membership test that leads to the downgrade, it changes nothing but the
    hazard, so it is safe. When the collection is only presumed to be markers (by its
    name or its company, with the deciding test out of sight, perhaps in another
    module), the fix is unsafe: the same collection may serve something else too.
    A transient message tested on its own
    (`if "database is locked" in msg:`) has no automatic fix: which branch should run
    instead is a decision for a person.

    ## Known problems
    A marker fragment that is not a full message (such as `"locked"`) is only seen in a
    file that also sets or reads the journal mode, since other files are not parsed.
    """

    spec = SPECS_BY_CODE["WAL002"]

    VALID = (
        Valid(
            """
_RETRYABLE = ("database is locked", "disk i/o error")

def run(conn, sql):
    for attempt in range(5):
        try:
            return conn.execute(sql)
        except sqlite3.OperationalError as exc:
            if not any(m in str(exc).lower() for m in _RETRYABLE):
                raise
            time.sleep(0.1 * attempt)
"""
        ),
        Valid(
            """
HINTS = {
    "disk i/o error": "Check free space and the storage device.",
    "database is locked": "Another process holds a write lock.",
}
"""
        ),
        Valid(
            """
_WAL_INCOMPAT_MARKERS = ("locking protocol", "not authorized")
"""
        ),
        Valid(
            """
# Result-code names a syntax highlighter shows as builtins: data, never tested.
SQLITE_CONSTANTS = (
    "SQLITE_AUTH",
    "SQLITE_BUSY",
    "SQLITE_IOERR",
    "SQLITE_PROTOCOL",
)
"""
        ),
    )
    INVALID = (
        Invalid(
            """
_WAL_INCOMPAT_MARKERS = (
    "locking protocol",
    "disk i/o error",  # expect: WAL002
)
""",
            fixed="""
_WAL_INCOMPAT_MARKERS = (
    "locking protocol",
)
""",
        ),
        Invalid(
            """
def enable_wal(conn):
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        if "database is locked" in str(exc).lower():  # expect: WAL002
            conn.execute("PRAGMA journal_mode=DELETE")  # expect: WAL001
"""
        ),
        Invalid(
            """
_ERRORS = frozenset({"database is busy", "locking protocol"})  # expect: WAL002

def wal_unsupported(exc):
    return any(marker in str(exc).lower() for marker in _ERRORS)
""",
            fixed="""
_ERRORS = frozenset({"locking protocol"})  # expect: WAL002

def wal_unsupported(exc):
    return any(marker in str(exc).lower() for marker in _ERRORS)
""",
        ),
        Invalid(
            """
def _is_incompatible(exc):
    return exc.sqlite_errorname in ("SQLITE_PROTOCOL", "SQLITE_IOERR_SHORT_READ")  # expect: WAL002

def enable_wal(conn):
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        if not _is_incompatible(exc):
            raise
        conn.execute("PRAGMA journal_mode=DELETE")  # expect: WAL001
""",
            fixed="""
def _is_incompatible(exc):
    return exc.sqlite_errorname in ("SQLITE_PROTOCOL",)  # expect: WAL002

def enable_wal(conn):
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        if not _is_incompatible(exc):
            raise
        conn.execute("PRAGMA journal_mode=DELETE")  # expect: WAL001
""",
        ),
    )

    def check(self, model: "ModuleModel") -> Iterator[Report]:
        uses = model.marker_uses()
        for unit in model.hot_units:
            for value in model.facts(unit).returns:
                self._mixed_predicate(model, unit.name, value, uses.singles)
        reported: Set[int] = set()
        for node in uses.singles.values():
            reported.add(id(node))
            reason = NO_FIX_ROW if id(node) in uses.table_needles else NO_FIX_SINGLE
            yield Report(node, self._message(node), no_fix_reason=reason)
        joined_into = _joined_into(model)
        for collection in model.collections:
            # How it is used first: that is a lookup or two, and most collections are data.
            use = self._marker_use(model, collection, uses.polarity, joined_into.get(collection.name, ()))
            if use is None:
                continue
            items = collection_items(collection.node)
            kinds = self._item_kinds(model, collection)
            transient = [
                item
                for item, kind in zip(items, kinds)
                if kind == TRANSIENT
                and id(item) not in uses.filtered_out
                and (id(collection.node) in uses.answered_by_presence or not _answers_otherwise(model, collection, item, items, kinds))
            ]
            # `NO_WAL_ERRORS.append("database is busy")` on some platform: one of its items.
            added = [node for node in uses.added_to(collection.name) if model.marker_kind(node) == TRANSIENT]
            if not transient and not added:
                continue
            if use != ESTABLISHED and any(isinstance(item, cst.Integer) for item in items) and not _names_result_codes(collection.name):
                continue  # numbers are result codes only where a test on them gates a downgrade
            for node in added:
                if id(node) not in reported:
                    reported.add(id(node))
                    yield Report(node, self._message(node), no_fix_reason=NO_FIX_ADDED)
            if use == PRESUMED:
                # Known by its name or company alone: a bare "busy" may be a key of the
                # program's own (`{"protocol": _use_delete, "busy": _retry}`).
                transient = [item for item in transient if not _fragment(item)]
            applicability = SAFE if use == ESTABLISHED else UNSAFE
            for item in transient:
                if id(item) not in reported:
                    reported.add(id(item))
                    yield Report(item, self._message(item), remove_marker_fix(collection.node, item, applicability))

    def _mixed_predicate(self, model: "ModuleModel", name: str, value: cst.BaseExpression, singles: Dict[int, cst.CSTNode]) -> None:
        """``return "locking protocol" in msg or "database is locked" in msg`` in a
        predicate its callers (here or in an importing module) gate a downgrade on: the
        messages it tests are markers when a permanent one is among them, as in a
        collection that mixes them."""
        if _RETRY_OR_HINT_NAME_RE.search(name) or _TEXT_NAME_RE.search(name):
            return
        tested = [
            comparison.left
            for comparison in iter_subexpressions(value, limit=400)
            if isinstance(comparison, cst.Comparison)
            and len(comparison.comparisons) == 1
            and isinstance(comparison.comparisons[0].operator, cst.In)
            and isinstance(comparison.left, (cst.SimpleString, cst.ConcatenatedString))
        ]
        kinds = [model.marker_kind(node) for node in tested]
        if PERMANENT in kinds:
            for node, kind in zip(tested, kinds):
                if kind == TRANSIENT:
                    singles.setdefault(id(node), node)

    # ----- classification ------------------------------------------------------------

    def _item_kinds(self, model: "ModuleModel", collection: Collection) -> List[Optional[str]]:
        """The kind of each item of a collection; result codes written as numbers count
        only in a collection of numbers (``(15, 23, 5)``), and a name holding a message
        (``DISK_IO`` imported from the errors module) counts as the message."""
        items = collection_items(collection.node)
        numbers = [_number(item) if isinstance(item, cst.Integer) else _number_held(model, item, collection.scope) for item in items]
        if items and all(n is not None for n in numbers):
            return classify_code_numbers(numbers)  # type: ignore[arg-type]
        return [model.marker_kind(item) or self._kind_of_held_text(model, item, collection.scope) for item in items]

    def _kind_of_held_text(self, model: "ModuleModel", item: cst.BaseExpression, scope: "Scope") -> Optional[str]:
        if not isinstance(item, (cst.Name, cst.Attribute)):
            return None
        values = model.folder.values(item, scope)
        kinds = {classify_text(v, self.settings.transient_markers, self.settings.permanent_markers) for v in values if is_known(v)}
        return kinds.pop() if len(kinds) == 1 and len(values) > 0 and all(is_known(v) for v in values) else None

    def _message(self, node: cst.CSTNode) -> str:
        if isinstance(node, cst.Integer):
            shown = f"{node.value} ({code_number_name(int(node.value, 0))})"
        elif isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
            shown = node.evaluated_value
        elif isinstance(node, cst.Attribute):
            shown = node.attr.value
        elif isinstance(node, cst.Name):
            shown = node.value
        elif code_constant_name(node) is not None:
            shown = code_constant_name(node)
        else:
            shown = "?"
        return (
            f"Transient error `{shown}` decides a WAL downgrade; it says nothing about "
            "WAL support and should be retried or re-raised"
        )

    def _marker_use(self, model: "ModuleModel", collection: Collection, polarity: Dict[int, Set[int]], joined_into: Sequence[str] = ()) -> Optional[str]:
        """How a collection is known to decide a downgrade: ESTABLISHED (a membership test on
        it leads to a rollback mode), PRESUMED (named for it, or part of a collection named
        for it, or mixed with a permanent marker and tested somewhere), or None (not
        markers: data, a retry list, hints)."""
        polarities = polarity.get(id(collection.node), set())
        if +1 in polarities:
            return ESTABLISHED  # whatever it is called: a "message" list that gates a downgrade is markers
        if -1 in polarities:
            return None  # only ever used to keep the downgrade from happening
        owner = collection.scope.name if collection.scope.kind == "class" else ""
        if _RETRY_OR_HINT_NAME_RE.search(collection.name) or _RETRY_OR_HINT_NAME_RE.search(owner) or _TEXT_NAME_RE.search(owner):
            return None  # `RETRY_ON`, `markers` of `class RetryPolicy`, `by_marker` of `class Messages`
        if any(_MARKER_NAME_RE.search(name) for name in (collection.name, *joined_into)):
            return PRESUMED  # `NO_WAL_MARKERS = _PERMANENT + _IO_FAILURES`: both parts are markers
        if _TEXT_NAME_RE.search(collection.name):
            return None
        if UNKNOWN_USE not in polarities:
            return None  # contents alone decide nothing: a list of SQLite names may be data
        if PERMANENT not in self._item_kinds(model, collection):
            return None
        if isinstance(collection.node, cst.Dict):
            # A map from error to advice is for people, and one to an HTTP status or an
            # exit code is a lookup: neither decides anything about WAL by itself.
            values = [e.value for e in collection.node.elements if isinstance(e, cst.DictElement)]
            if values and all(isinstance(v, _LOOKUP_VALUES) for v in values):
                return None
        return PRESUMED


# What a dict maps errors to when it is a lookup table rather than a verdict on WAL.
_LOOKUP_VALUES = (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString, cst.Integer, cst.Float)


def _names_result_codes(name: str) -> bool:
    """``NO_WAL_RESULT_CODES``: a marker name that says its numbers are result codes."""
    return bool(_MARKER_NAME_RE.search(name) and _CODES_NAME_RE.search(name))


def _joined_into(model: "ModuleModel") -> Dict[str, List[str]]:
    """For each name, the module-level names bound to a sum or union with it as a part
    (``NO_WAL_MARKERS = _PERMANENT + _IO_FAILURES``: ``_IO_FAILURES`` is joined into
    ``NO_WAL_MARKERS``)."""
    joined: Dict[str, List[str]] = {}
    for other, bindings in model.module_scope.bindings.items():
        for binding in bindings:
            value = binding.value
            parts: Set[str] = set()
            while isinstance(value, cst.BinaryOperation) and isinstance(value.operator, (cst.Add, cst.BitOr)):
                for part in (value.right, value.left):
                    if isinstance(part, cst.Name):
                        parts.add(part.value)
                value = value.left
            literal = unwrap_collection(value) if isinstance(value, cst.BaseExpression) else None
            for element in getattr(literal, "elements", ()):
                if isinstance(element, cst.StarredElement) and isinstance(element.value, cst.Name):
                    parts.add(element.value.value)  # `NO_WAL = frozenset([*_PERMANENT, *_IO_ERRORS])`
            for part in parts:
                joined.setdefault(part, []).append(other)
    return joined


def remove_marker_fix(
    collection: cst.BaseExpression, element_value: cst.CSTNode, applicability: str = SAFE
) -> Optional[FixPlan]:
    """WAL002's fix: drop the transient message from the marker collection (a literal;
    an enum's member is deleted by hand, with its uses)."""
    if isinstance(collection, cst.ClassDef):
        return None
    replacement = remove_element(collection, element_value)
    if replacement is None:
        return None
    return FixPlan("Remove the transient error from the markers", applicability, {collection: replacement})


def _fragment(node: cst.CSTNode) -> bool:
    value = node.evaluated_value if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)) else None
    return isinstance(value, str) and is_fragment(value)


def _answers_otherwise(
    model: "ModuleModel", collection: Collection, item: cst.BaseExpression, items: Sequence[cst.BaseExpression], kinds: Sequence[Optional[str]]
) -> bool:
    """In ``{"locking protocol": "rollback", "disk I/O error": "retry"}`` (or ``True`` and
    ``False``), does this message map to another answer than every permanent marker does? Then the table
    gives it its own verdict (a retry), not the downgrade the permanent ones get."""
    table = collection.node
    if not isinstance(table, cst.Dict):
        return False
    # A verdict is a word ("retry", or `RETRY` bound to it), a bool, or an enum member
    # (`FailureKind.TRANSIENT`); not a function (`_rollback_journal` and `_memory_journal`
    # both leave WAL).
    answers = {}
    for e in table.elements:
        if not isinstance(e, cst.DictElement):
            continue
        if isinstance(e.value, cst.SimpleString):
            answers[id(e.key)] = e.value.evaluated_value
        elif _is_verdict_name(e.value):
            answers[id(e.key)] = dotted_name(e.value)
        elif isinstance(e.value, cst.Name):
            words = model.folder.values(e.value, collection.scope)
            if len(words) == 1 and is_known(words[0]):
                answers[id(e.key)] = words[0]
    if len(answers) != len(table.elements) or not all(
        isinstance(a, str) and a.replace(".", "_").replace("-", "_").isidentifier() for a in answers.values()
    ):
        return False  # reasons worded for a person ("network share"), not verdicts ("retry")
    permanent = {answers.get(id(other)) for other, kind in zip(items, kinds) if kind == PERMANENT}
    if not permanent or None in permanent or id(item) not in answers:
        return False
    answer = answers[id(item)]
    # Another rollback mode ("truncate" beside "delete") is the same verdict: a downgrade.
    return answer not in permanent and not (isinstance(answer, str) and normalise_mode(answer) in ROLLBACK_MODES)


def _is_verdict_name(value: cst.BaseExpression) -> bool:
    """``True``/``False``, or a member of an enum (``FailureKind.TRANSIENT``)."""
    if isinstance(value, cst.Name):
        return value.value in ("True", "False")
    return isinstance(value, cst.Attribute) and isinstance(value.value, cst.Name) and value.attr.value.isupper()


def _number_held(model: "ModuleModel", node: cst.BaseExpression, scope: "Scope") -> Optional[int]:
    """The integer a name or an enum member is bound to once (``SqliteCode.IOERR = 10``)."""
    if not isinstance(node, (cst.Name, cst.Attribute)):
        return None
    bindings, _ = model.bindings_of(node, scope)
    if len(bindings) != 1 or bindings[0].kind != "value" or bindings[0].value is None:
        return None
    return _number(bindings[0].value)  # type: ignore[arg-type]


def _number(node: cst.BaseExpression) -> Optional[int]:
    """The value of an integer literal, or None."""
    if isinstance(node, cst.Integer):
        try:
            return int(node.value, 0)
        except ValueError:
            return None
    return None
