"""WAL002: a transient error listed among the markers that decide a WAL downgrade."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Set, Tuple

import libcst as cst

from walint.codes import SPECS_BY_CODE
from walint.semantic.model import Collection, Scope
from walint.semantic.nodes import collection_items, dotted_name, is_none, iter_subexpressions, small_statements, unwrap_collection
from walint.tree import preorder
from walint.fixes import SAFE, UNSAFE, FixPlan, remove_element
from walint.markers import PERMANENT, TRANSIENT, classify_code_name, classify_text
from walint.rules.base import Invalid, ModelRule, Report, Valid

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel

# Names that say a collection decides a downgrade...
_MARKER_NAME_RE = re.compile(
    r"marker|incompat|fallback|no_?wal|unsupported|not_?supported|downgrade|wal_?(?:error|fail|block)|cannot_?wal",
    re.I,
)
# ...and names that say it decides a retry or words a message for a person.
_RETRY_OR_HINT_NAME_RE = re.compile(
    r"retr(?:y|ies|iable)|transient|temporar|recoverable|backoff|hint|help|explain|advice|messages?$|_?text$",
    re.I,
)
_MATCH_METHODS = frozenset({"startswith", "endswith", "find", "index", "count", "__contains__", "search", "match", "fullmatch"})
_PASS_THROUGH = frozenset({"any", "all", "bool", "next"})
# Deep enough for a predicate method over an alias of a class attribute; `_seen` stops cycles.
_MAX_DEPTH = 24

# How a collection's use is known (see TransientMarker._marker_use); a membership test
# whose outcome leads to no rollback mode seen here is UNKNOWN_USE.
ESTABLISHED, PRESUMED = "established", "presumed"
UNKNOWN_USE = 0

NO_FIX_SINGLE = "the message is tested on its own: delete the test, or re-raise, by hand"


class TransientMarker(ModelRule):
    """
    ## What it does
    Checks for transient SQLite errors ("disk I/O error", "database is locked",
    "database table is locked", "database is busy", `SQLITE_IOERR*`, `SQLITE_BUSY*`,
    `SQLITE_LOCKED*`) among the markers that decide whether to give up on WAL.

    A collection counts as markers by how it is used, not by what it holds: when a
    membership test on it (directly, through a name, `self.X`, a class attribute or a
    predicate function) leads to a rollback journal mode, whatever it is called. Without
    such a use in sight it counts when its name says so (`_WAL_INCOMPAT_MARKERS`,
    `NO_WAL_ERRORS`, ...), or when it is tested somewhere and lists a permanent marker
    ("locking protocol", "not authorized") too. The same strings deciding a retry,
    worded for a person, or merely listed as data are left alone.

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
        self._model = model
        self._additions = _additions(model)
        self._polarity: Dict[int, Set[int]] = {}
        self._singles: Dict[int, cst.CSTNode] = {}
        self._seen: Set[Tuple[int, int]] = set()
        # Predicate functions already followed with a polarity: each is walked once, or
        # predicates calling predicates would be walked once per path through them.
        self._followed: Set[Tuple[int, int]] = set()
        for branch in model.all_branches():
            sites = model.facts(branch.unit).sites
            start, end = branch.when_true
            downgrades_when_true = any(model.is_rollback_site(s) for s in sites[start:end])
            downgrades_when_false = any(
                model.is_rollback_site(s) for rng in branch.when_false for s in sites[rng[0] : rng[1]]
            )
            if downgrades_when_true:
                self._membership(branch.node.test, +1, branch.scope, 0)
            if downgrades_when_false:
                self._membership(branch.node.test, -1, branch.scope, 0)
            if not (downgrades_when_true or downgrades_when_false):
                self._membership(branch.node.test, UNKNOWN_USE, branch.scope, 0)
        for unit in model.units:  # `return any(m in text for m in MARKERS)`: a tested use
            for value in model.facts(unit).returns:
                self._membership(value, UNKNOWN_USE, unit.scope, 0)
                self._mixed_predicate(unit.name, value)
        self._match_cases(model)
        reported: Set[int] = set()
        for node in self._singles.values():
            reported.add(id(node))
            yield Report(node, self._message(node), no_fix_reason=NO_FIX_SINGLE)
        for collection in model.collections:
            transient = [item for item in collection_items(collection.node) if self._kind(item) == TRANSIENT]
            if not transient:
                continue
            use = self._marker_use(collection)
            if use is None:
                continue
            applicability = SAFE if use == ESTABLISHED else UNSAFE
            for item in transient:
                if id(item) not in reported:
                    reported.add(id(item))
                    yield Report(item, self._message(item), remove_marker_fix(collection.node, item, applicability))

    def _mixed_predicate(self, name: str, value: cst.BaseExpression) -> None:
        """``return "locking protocol" in msg or "database is locked" in msg`` in a
        predicate its callers (here or in an importing module) gate a downgrade on: the
        messages it tests are markers when a permanent one is among them, as in a
        collection that mixes them."""
        if _RETRY_OR_HINT_NAME_RE.search(name):
            return
        tested = [
            comparison.left
            for comparison in iter_subexpressions(value, limit=400)
            if isinstance(comparison, cst.Comparison)
            and len(comparison.comparisons) == 1
            and isinstance(comparison.comparisons[0].operator, cst.In)
            and isinstance(comparison.left, (cst.SimpleString, cst.ConcatenatedString))
        ]
        kinds = [self._kind(node) for node in tested]
        if PERMANENT in kinds:
            for node, kind in zip(tested, kinds):
                if kind == TRANSIENT:
                    self._singles.setdefault(id(node), node)

    # ----- classification ------------------------------------------------------------

    def _kind(self, node: cst.CSTNode) -> Optional[str]:
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
            value = node.evaluated_value
            if isinstance(value, str):
                return classify_text(value, self.settings.transient_markers, self.settings.permanent_markers)
            return None
        if isinstance(node, cst.Attribute):
            return classify_code_name(node.attr.value)
        if isinstance(node, cst.Name):
            return classify_code_name(node.value)
        return None

    def _message(self, node: cst.CSTNode) -> str:
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
            shown = node.evaluated_value
        elif isinstance(node, cst.Attribute):
            shown = node.attr.value
        elif isinstance(node, cst.Name):
            shown = node.value
        else:
            shown = "?"
        return (
            f"Transient error `{shown}` decides a WAL downgrade; it says nothing about "
            "WAL support and should be retried or re-raised"
        )

    def _marker_use(self, collection: Collection) -> Optional[str]:
        """How a collection is known to decide a downgrade: ESTABLISHED (a membership test on
        it leads to a rollback mode), PRESUMED (named for it, or mixed with a permanent
        marker and tested somewhere), or None (not markers: data, a retry list, hints)."""
        polarities = self._polarity.get(id(collection.node), set())
        if +1 in polarities:
            return ESTABLISHED  # whatever it is called: a "message" list that gates a downgrade is markers
        if -1 in polarities:
            return None  # only ever used to keep the downgrade from happening
        if _RETRY_OR_HINT_NAME_RE.search(collection.name):
            return None
        if _MARKER_NAME_RE.search(collection.name):
            return PRESUMED
        if UNKNOWN_USE not in polarities:
            return None  # contents alone decide nothing: a list of SQLite names may be data
        if not any(self._kind(item) == PERMANENT for item in collection_items(collection.node)):
            return None
        if isinstance(collection.node, cst.Dict):
            # A map from error to advice is for people, not for deciding anything.
            values = [e.value for e in collection.node.elements if isinstance(e, cst.DictElement)]
            if values and all(isinstance(v, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)) for v in values):
                return None
        return PRESUMED

    # ----- how a test uses markers -----------------------------------------------------

    def _membership(self, expr: cst.BaseExpression, polarity: int, scope: Scope, depth: int) -> None:
        """Walk a test, following which operands make it true (+1) or false (-1)."""
        if depth > _MAX_DEPTH:
            return
        depth += 1
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
            self._membership(expr.expression, -polarity, scope, depth)
        elif isinstance(expr, cst.BooleanOperation):
            self._membership(expr.left, polarity, scope, depth)
            self._membership(expr.right, polarity, scope, depth)
        elif isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1 and is_none(expr.comparisons[0].comparator):
            # `reason is None` where `reason = _reason(exc)` answers None when no marker matched.
            negative = isinstance(expr.comparisons[0].operator, (cst.Is, cst.Equal))
            self._operand(expr.left, -polarity if negative else polarity, scope, depth)
        elif isinstance(expr, cst.Comparison):
            left = expr.left
            for target in expr.comparisons:
                sign = -polarity if isinstance(target.operator, (cst.NotIn, cst.NotEqual, cst.IsNot)) else polarity
                self._operand(left, sign, scope, depth)
                self._operand(target.comparator, sign, scope, depth)
                left = target.comparator
        elif isinstance(expr, (cst.GeneratorExp, cst.ListComp, cst.SetComp)):
            self._membership(expr.elt, polarity, scope, depth)
            for_in = expr.for_in
            while for_in is not None:
                for condition in for_in.ifs:
                    self._membership(condition.test, polarity, scope, depth)
                for_in = for_in.inner_for_in
        elif isinstance(expr, cst.Call):
            name = expr.func.value if isinstance(expr.func, cst.Name) else (
                expr.func.attr.value if isinstance(expr.func, cst.Attribute) else ""
            )
            if name in _PASS_THROUGH:
                for arg in expr.args:
                    self._membership(arg.value, polarity, scope, depth)
            elif name in _MATCH_METHODS:
                for arg in expr.args:
                    self._operand(arg.value, polarity, scope, depth)
                if isinstance(expr.func, cst.Attribute):  # `_NO_WAL.search(msg)`: the pattern
                    self._operand(expr.func.value, polarity, scope, depth)
            elif name == "get" and isinstance(expr.func, cst.Attribute) and expr.args:
                # `HANDLERS.get(exc.sqlite_errorname)`: whether the error is a key decides.
                self._operand(expr.func.value, polarity, scope, depth)
            elif name == "compile" and expr.args:  # `re.compile(r"locking protocol|database is locked")`
                self._operand(expr.args[0].value, polarity, scope, depth)
            else:
                self._predicate(expr, polarity, scope, depth)
        elif isinstance(expr, (cst.Name, cst.Attribute)):
            self._operand(expr, polarity, scope, depth)

    def _operand(self, node: cst.BaseExpression, polarity: int, scope: Scope, depth: int) -> None:
        key = (id(node), polarity)
        if key in self._seen or depth > _MAX_DEPTH:
            return
        self._seen.add(key)
        literal = unwrap_collection(node)
        if literal is not None:
            self._polarity.setdefault(id(literal), set()).add(polarity)
            return
        kind = self._kind(node)
        if kind == TRANSIENT and polarity > 0:
            self._singles.setdefault(id(node), node)
            return
        if isinstance(node, (cst.Name, cst.Attribute)):
            # `MARKERS.append("disk i/o error")` elsewhere adds to what the test sees.
            for added, added_scope in self._additions.get(dotted_name(node), ()):
                self._operand(added, polarity, added_scope, depth + 1)
            bindings, _ = self._model.bindings_of(node, scope)
            for binding in bindings:
                if binding.value is None or binding.scope is None:
                    continue
                if binding.kind == "iter" and _first_of_items(binding.target, node, binding.value):
                    # `for needle, reason in REASONS.items(): if needle in text`: the keys.
                    self._operand(binding.value.func.value, polarity, binding.scope, depth + 1)  # type: ignore[union-attr]
                    continue
                # A name unpacked from each item (`for code, text in ERRORS`) is not the collection.
                if binding.kind == "value" or (binding.kind == "iter" and isinstance(binding.target, cst.Name)):
                    value = binding.value
                    assert isinstance(value, cst.BaseExpression)
                    if (isinstance(value, cst.BinaryOperation) and isinstance(value.operator, (cst.Add, cst.BitOr))) or (
                        isinstance(value, cst.BooleanOperation) and isinstance(value.operator, cst.Or)
                    ):
                        # `PERMANENT + FLAKY`, `BASE | EXTRA`, `given or DEFAULTS`: both
                        # parts are (or may be) the markers.
                        self._operand(value.left, polarity, binding.scope, depth + 1)
                        self._operand(value.right, polarity, binding.scope, depth + 1)
                        continue
                    if isinstance(value, cst.IfExp):
                        self._operand(value.body, polarity, binding.scope, depth + 1)
                        self._operand(value.orelse, polarity, binding.scope, depth + 1)
                        continue
                    computed = (cst.Call, cst.Comparison, cst.UnaryOperation, cst.BooleanOperation)
                    if binding.kind == "value" and isinstance(value, computed) and unwrap_collection(value) is None:
                        self._membership(value, polarity, binding.scope, depth + 1)
                    else:
                        self._operand(value, polarity, binding.scope, depth + 1)
        elif isinstance(node, cst.Call):
            if isinstance(node.func, cst.Attribute) and node.func.attr.value in _NORMALISING_METHODS:
                self._operand(node.func.value, polarity, scope, depth + 1)  # `m.lower() in msg`
            elif isinstance(node.func, cst.Attribute) and node.func.attr.value == "join" and len(node.args) == 1:
                self._operand(node.args[0].value, polarity, scope, depth + 1)  # `"|".join(MARKERS)` as a pattern
            else:
                self._membership(node, polarity, scope, depth + 1)

    def _match_cases(self, model: "ModuleModel") -> None:
        """``match exc.sqlite_errorcode: case SQLITE_PROTOCOL | SQLITE_BUSY: <downgrade>``:
        the values of a case whose body downgrades are markers that decide it."""
        rollback = {id(site.node) for site in model.all_sites() if model.is_rollback_site(site)}
        if not rollback:
            return
        for node in preorder(model.module):
            if not isinstance(node, cst.Match):
                continue
            for case in node.cases:
                if any(id(inner) in rollback for inner in preorder(case.body)):
                    for value in _pattern_values(case.pattern):
                        self._operand(value, +1, model.module_scope, 0)

    def _predicate(self, call: cst.Call, polarity: int, scope: Scope, depth: int) -> None:
        """Follow a call of a function of this module that answers "is this a marker?"."""
        unit = self._model.resolve_unit(call, scope)
        if unit is None or (id(unit), polarity) in self._followed:
            return
        self._followed.add((id(unit), polarity))
        facts = self._model.facts(unit)
        for value in facts.returns:
            if not (isinstance(value, cst.Name) and value.value in ("True", "False", "None")):
                self._membership(value, polarity, unit.scope, depth + 1)
        answers_none = facts.returns_none
        for branch in facts.branches:
            if branch.returns is not None:
                self._membership(branch.node.test, polarity if branch.returns else -polarity, unit.scope, depth + 1)
            elif answers_none and _returns_a_value(branch.node.body):
                # `if needle in text: return reason` ... `return None`: a match answers something.
                self._membership(branch.node.test, polarity, unit.scope, depth + 1)


def _first_of_items(target: object, name: cst.BaseExpression, iterable: object) -> bool:
    """Is ``name`` the key of ``for key, value in mapping.items()``?"""
    return (
        isinstance(target, (cst.Tuple, cst.List))
        and bool(target.elements)
        and isinstance(target.elements[0].value, cst.Name)
        and isinstance(name, cst.Name)
        and target.elements[0].value.value == name.value
        and isinstance(iterable, cst.Call)
        and isinstance(iterable.func, cst.Attribute)
        and iterable.func.attr.value == "items"
        and not iterable.args
    )


def _returns_a_value(block: cst.BaseSuite) -> bool:
    """Does the block return something other than None or False?"""
    for statement in small_statements(block):
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Return) and small.value is not None:
                    value = small.value
                    return not (isinstance(value, cst.Name) and value.value in ("None", "False"))
    return False


def remove_marker_fix(
    collection: cst.BaseExpression, element_value: cst.CSTNode, applicability: str = SAFE
) -> Optional[FixPlan]:
    """WAL002's fix: drop the transient message from the marker collection."""
    replacement = remove_element(collection, element_value)
    if replacement is None:
        return None
    return FixPlan("Remove the transient error from the markers", applicability, {collection: replacement})


_NORMALISING_METHODS = frozenset({"lower", "casefold", "strip", "upper"})
_ADDING_METHODS = frozenset({"append", "add", "extend", "update", "insert"})


def _additions(model: "ModuleModel") -> Dict[str, List[Tuple[cst.BaseExpression, Scope]]]:
    """Per collection name, what ``NAME.append(x)`` / ``.add`` / ``.extend`` calls add to it."""
    found: Dict[str, List[Tuple[cst.BaseExpression, Scope]]] = {}
    for site in model.all_sites():
        call = site.node
        if isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value in _ADDING_METHODS:
            receiver = dotted_name(call.func.value)
            if receiver:
                found.setdefault(receiver, []).extend((arg.value, site.scope) for arg in call.args)
    return found


def _pattern_values(pattern: cst.MatchPattern) -> List[cst.BaseExpression]:
    if isinstance(pattern, cst.MatchOr):
        return [value for element in pattern.patterns for value in _pattern_values(element.pattern)]
    if isinstance(pattern, cst.MatchValue):
        return [pattern.value]
    return []
