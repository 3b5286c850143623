"""How code checks the journal mode before a downgrade: the probes that read it, the
comparisons with "wal" (or a rollback mode) that make a guard, and the flags a handler
sets. A mixin of :class:`walint.journal.model.ModuleModel`."""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Set, Tuple

import libcst as cst

from walint.flow.conditions import boolean_atoms, not_wal_when, refuses_none
from walint.semantic.scopes import Binding, Scope
from walint.semantic.nodes import (
    NORMALISING_METHODS,
    collection_items,
    dotted_name,
    grown_collection,
    is_none,
    iter_subexpressions,
    subscript_path,
    tests_existence_of,
)
from walint.journal.calls import call_arguments
from walint.journal.guard_reading import startswith_wal
from walint.constants import is_known
from walint.sql import ROLLBACK_MODES, ModeEffect
from walint.flow.path_state import NOT_NONE, UNKNOWN, PathState, constant, names_enum_member
from walint.journal.header_versions import is_or_holds_wal_version, HeaderQueries, is_wal_header_bytes, is_wal_version

_FLAG_CONSTANTS = frozenset({"False", "None", "True"})


class GuardQueries(HeaderQueries):
    """Probes, guards and failure flags, asked of a :class:`ModuleModel`."""

    def _answers_wal(self, value: cst.BaseExpression, scope: Scope) -> bool:
        if isinstance(value, cst.IfExp):
            return self._answers_wal(value.body, scope) or self._answers_wal(value.orelse, scope)
        return self.mentions_wal(value, scope) or self._mode_by_header_version(value, scope)

    def _mode_by_header_version(self, value: cst.BaseExpression, scope: Scope) -> bool:
        """``MODES.get(header[18])`` (or ``MODES[header[18]]``) of ``{1: "rollback", 2:
        "wal"}``: the mode a table names for the header's version."""
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "get" and value.args:
            table, key = value.func.value, value.args[0].value
        elif isinstance(value, cst.Subscript) and len(value.slice) == 1 and isinstance(value.slice[0].slice, cst.Index):
            table, key = value.value, value.slice[0].slice.value
        else:
            return False
        if not isinstance(table, (cst.Name, cst.Attribute)) or not self.holds_header_versions(key, scope):
            return False
        bindings, _ = self.bindings_of(table, scope)
        literal = bindings[0].value if len(bindings) == 1 and bindings[0].kind == "value" else None
        return isinstance(literal, cst.Dict) and any(
            isinstance(element, cst.DictElement) and self.mentions_wal(element.value, bindings[0].scope or scope) for element in literal.elements
        )

    def _normalised(self, value: cst.BaseExpression, scope: Scope) -> bool:
        """Is a returned mode certainly lower-case: ``.lower()``, a pragma read, or a literal?"""
        if is_none(value):
            return True
        if isinstance(value, (cst.SimpleString, cst.ConcatenatedString)):
            text = value.evaluated_value
            return isinstance(text, bytes) or (isinstance(text, str) and text == text.lower())
        if self.holds_header_versions(value, scope):
            return True  # version bytes have no case
        if isinstance(value, cst.IfExp):
            return self._normalised(value.body, scope) and self._normalised(value.orelse, scope)
        if isinstance(value, (cst.Name, cst.Attribute)) and not self.probe_calls(value, scope):
            # `return PROBE_FAILED`: a constant's spelling, whatever the case, is its own.
            words = self.folder.values(value, scope)
            if words and all(is_known(word) for word in words):
                return all(word == word.lower() for word in words)
        methods = {
            node.func.attr.value
            for node in iter_subexpressions(value, limit=200)
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
        }
        if methods & {"upper", "capitalize", "title"}:
            return False
        if methods & {"lower", "casefold"}:
            return True
        # SQLite answers the journal mode in lower case: a value that carries only what
        # pragma reads answered (`row[0]` of `row = conn.execute(...).fetchone()`) is.
        reads = self.probe_calls(value, scope)
        return bool(reads) and all(isinstance(node, cst.Call) and self._answers_lower_case(node, where) for node, where in reads)

    def _answers_lower_case(self, call: cst.Call, scope: Scope) -> bool:
        """A pragma read, or a probe of the project whose every answer is lower-case."""
        executed = self.fetched_by(call, scope)
        if executed is not None:  # `cur.execute("PRAGMA journal_mode")` ... `cur.fetchone()`
            call = executed
        if (self.direct_effect(call, scope) or ModeEffect()).reads:
            return True
        callee = self.callee(call, scope)
        return callee is not None and callee.probe and callee.probe_normalises

    def is_probe_node(self, node: cst.CSTNode, scope: Scope) -> bool:
        """A call whose result is the journal mode: a read, the WAL pragma's own answer,
        the configured guard, or a probe function of the project."""
        if isinstance(node, cst.Attribute):
            if node.attr.value == "journal_mode":
                return True
            prop = self.property_facts(node, scope)
            return prop is not None and prop.probe
        if not isinstance(node, cst.Call):
            return False
        if dotted_name(node.func).rsplit(".", 1)[-1] in self.guard_names:
            return True
        executed = self.fetched_by(node, scope)
        if executed is not None:  # `cur.execute("PRAGMA journal_mode")` ... `cur.fetchone()`
            node = executed
        effect = self.direct_effect(node, scope)
        if effect is not None:
            return effect.reads or effect.sets_wal
        callee = self.callee(node, scope)
        return callee is not None and callee.probe

    def probe_calls(self, expr: cst.BaseExpression, scope: Scope) -> List[Tuple[cst.CSTNode, Scope]]:
        """The probe calls whose answer ``expr`` carries, directly or through names."""
        key = (expr, scope)
        known = self._probe_calls.get(key)
        if known is None:
            self._probe_calls[key] = []  # a name bound to itself (`mode = mode.lower()`) adds nothing
            known = self._probe_calls[key] = self._probe_calls_uncached(expr, scope)
        return known

    def _probe_calls_uncached(self, expr: cst.BaseExpression, scope: Scope) -> List[Tuple[cst.CSTNode, Scope]]:
        found: List[Tuple[cst.CSTNode, Scope]] = []
        # What a probe is handed (`journal_mode(self.open())`) is the connection it reads,
        # not the answer: another probe-like call in there says nothing of the mode.
        inside_a_probe: Set[int] = set()
        for node in iter_subexpressions(expr):
            if id(node) in inside_a_probe:
                continue
            if isinstance(node, cst.Call):
                node = self.handed_call(node) or node  # `await loop.run_in_executor(None, probe, path)`
            if isinstance(node, (cst.Call, cst.Attribute)) and self.is_probe_node(node, scope):
                found.append((node, scope))
                if isinstance(node, cst.Call):
                    inside_a_probe.update(id(arg) for arg in iter_subexpressions(node) if arg is not node)
            elif isinstance(node, (cst.Name, cst.Attribute)):
                bindings, _ = self.bindings_of(node, scope)
                unknown = isinstance(node, cst.Name) and bindings and all(b.kind == "unknown" for b in bindings)
                unpacked = self.unpacked_from(node, scope) if unknown else None
                if unpacked is not None:  # `write_version, _ = header_versions(path)`
                    bindings = [Binding("value", unpacked, scope)]
                for binding in bindings:
                    if binding.kind == "value" and binding.value is not None and binding.scope is not None:
                        for probe in self.probe_calls(binding.value, binding.scope):  # type: ignore[arg-type]
                            if not any(probe[0] is seen for seen, _ in found):
                                found.append(probe)
        return found

    # ----- guards and flags --------------------------------------------------------

    def mentions_wal(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        key = (expr, scope)
        known = self._mentions_wal.get(key)
        if known is None:
            known = self._mentions_wal[key] = self._mentions_wal_uncached(expr, scope)
        return known

    def _mentions_wal_uncached(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        if isinstance(expr, (cst.Tuple, cst.List, cst.Set)):
            return any(self.mentions_wal(e.value, scope) for e in expr.elements)
        if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString, cst.Name, cst.Attribute)):
            values = self.folder.values(expr, scope)
            # A name that also holds a reading (`mode = <read>`, or "wal" where it failed)
            # is the mode compared, not the word it is compared with.
            return all(is_known(v) for v in values) and any(v.lower() == "wal" for v in values)
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value in NORMALISING_METHODS and not expr.args:
            return self.mentions_wal(expr.func.value, scope)  # `WAL_MODE.casefold()`
        return False

    def handler_flags(self, expr: cst.BaseExpression, scope: Scope) -> Set[str]:
        """Names in ``expr`` that an ``except`` handler sets to a constant (a failure flag)."""
        flags: Set[str] = set()
        for node in iter_subexpressions(expr, limit=400):
            if isinstance(node, (cst.Name, cst.Attribute, cst.Subscript)):
                bindings, _ = self.bindings_of(node, scope)
                if any(self.records_failure(b) for b in bindings):
                    flags.add(dotted_name(node) or subscript_path(node))
        return flags

    def records_failure(self, binding: Binding) -> bool:
        """Does this binding, made in an ``except`` handler, record that something failed: a
        constant flag (``wal_ok = False``), a collection grown (``broken.add(path)``), or the
        caught exception itself (``error = exc``)?"""
        return binding.in_handler and (is_flag_value(binding.value) or self._holds_the_caught_exception(binding))

    def _holds_the_caught_exception(self, binding: Binding) -> bool:
        """``error = exc`` in ``except Error as exc:``, or a value made from it
        (``failure = describe(exc)``, ``reason = str(exc)``): set only where it failed."""
        value, scope = binding.value, binding.scope
        if scope is None or value is None or isinstance(value, cst.Lambda):
            return False
        return self.names_caught_exception(value, scope) or any(
            isinstance(node, cst.Name) and self.names_caught_exception(node, scope)
            for node in iter_subexpressions(value, limit=50)
        )

    def handler_flag_values(self, expr: cst.BaseExpression, scope: Scope) -> Dict[str, object]:
        """The flags in ``expr`` (:meth:`handler_flags`) with the constant a handler gives them."""
        values: Dict[str, object] = {}
        for node in iter_subexpressions(expr, limit=400):
            if isinstance(node, (cst.Name, cst.Attribute, cst.Subscript)):
                bindings, _ = self.bindings_of(node, scope)
                for binding in bindings:
                    if self.records_failure(binding):
                        caught = self._holds_the_caught_exception(binding)
                        value = NOT_NONE if caught else constant(binding.value, PathState(True))  # type: ignore[arg-type]
                        if value is not UNKNOWN:
                            values.setdefault(dotted_name(node) or subscript_path(node), value)
        return values

    def wal_check_comparisons(self, test: cst.BaseExpression, scope: Scope) -> List[cst.Comparison]:
        """Comparisons in ``test`` of the mode read from the database with "wal".

        A name that a handler sets to a sentinel (``actual = None``) when the *WAL switch
        itself* failed marks the error path, which such a comparison does not guard
        unless it refuses None too. When a *read* of the mode failed, the comparison is
        still a guard, and WAL005 judges whether None can get past it.
        """
        found = []
        for node in iter_subexpressions(test, limit=400):
            if not isinstance(node, cst.Comparison):
                continue
            operands = [node.left] + [c.comparator for c in node.comparisons]
            if not any(self.mentions_wal(o, scope) for o in operands):
                continue
            probed = [o for o in operands if not self.mentions_wal(o, scope) and self.probe_calls(o, scope)]
            if not probed:
                continue
            if (
                not refuses_none(node, test)
                and any(self.handler_flags(o, scope) for o in probed)
                and self.holds_wal_attempt(probed, scope)
            ):
                continue
            found.append(node)
        return found

    def in_memory_checks(self, test: cst.BaseExpression, scope: Scope) -> List[Tuple[cst.BaseExpression, bool]]:
        """Comparisons in ``test`` of a database name with ``":memory:"``, each with the
        value that says the database is in memory: a private database no other
        connection shares, where a rollback journal can corrupt nothing."""
        found = []
        for atom in boolean_atoms(test):
            if isinstance(atom, cst.Comparison) and len(atom.comparisons) == 1:
                operands = (atom.left, atom.comparisons[0].comparator)
                if any(is_in_memory_name(v) for o in operands for v in self.folder.values(o, scope) if is_known(v)):
                    found.append((atom, not_wal_when(atom, False)))
        return found

    def rollback_mode_checks(self, test: cst.BaseExpression, scope: Scope) -> List[cst.Comparison]:
        """Comparisons in ``test`` of the mode read from the database with a rollback mode
        (``journal_mode_on_disk(conn) != "delete"``): fail-closed by construction, since
        None and "wal" both differ from "delete"."""
        found = []
        for node in iter_subexpressions(test, limit=400):
            if not isinstance(node, cst.Comparison) or len(node.comparisons) != 1:
                continue
            mode, modes = node.left, node.comparisons[0].comparator
            if not self._names_rollback_modes(modes, scope) and isinstance(node.comparisons[0].operator, (cst.Equal, cst.NotEqual)):
                mode, modes = modes, mode
            if self._names_rollback_modes(modes, scope) and self.probe_calls(mode, scope) and not self._answers_a_wal_attempt(mode, scope):
                found.append(node)
        return found

    def _answers_a_wal_attempt(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        """Does ``expr`` carry what a function that tries WAL answers on failure
        (``Outcome.UNSUPPORTED``), rather than a reading of the mode?"""
        for call, call_scope in self.probe_calls(expr, scope):
            callee = self.callee(call, call_scope) if isinstance(call, cst.Call) else None
            if callee is not None and callee.wal_failure_returns:
                return True
        return False

    def _names_rollback_modes(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        """``"delete"``, or a collection of rollback modes (``ROLLBACK_MODES``), spelt out
        or through a name."""
        if isinstance(expr, cst.SimpleString):
            # A probe's own word for "not WAL" (`header_journal(path) != "rollback"`) is
            # as good as a mode's name, unless it is how the probe says it does not know.
            value = expr.evaluated_value
            return isinstance(value, str) and (
                value.lower() in ROLLBACK_MODES or value.lower() not in _NOT_A_MODE and value.isidentifier()
            )
        literal = self.collection_literal(expr, scope) if isinstance(expr, (cst.Name, cst.Attribute, cst.Tuple, cst.List, cst.Set, cst.Call)) else None
        if literal is None:
            # `JournalState.ROLLBACK`: an enum member (or a constant) holding such a word.
            words = self.folder.values(expr, scope) if isinstance(expr, cst.Attribute) else ()
            return len(words) == 1 and is_known(words[0]) and self._names_rollback_modes(cst.SimpleString(repr(words[0])), scope)
        items = collection_items(literal[0])
        return bool(items) and all(
            isinstance(item, cst.SimpleString) and str(item.evaluated_value).lower() in ROLLBACK_MODES for item in items
        )

    def holds_wal_attempt(self, operands: Sequence[cst.BaseExpression], scope: Scope) -> bool:
        """Do these operands carry the answer of ``PRAGMA journal_mode=WAL`` itself?"""
        for operand in operands:
            for call, call_scope in self.probe_calls(operand, scope):
                effect = self.direct_effect(call, call_scope)
                if effect is not None and effect.sets_wal:
                    return True
        return False


    def wal_predicate_checks(self, test: cst.BaseExpression, scope: Scope) -> List[Tuple[cst.BaseExpression, bool]]:
        """The parts of ``test`` that are answers to "is the database in WAL?" (a call of a
        predicate such as ``header_says_wal(path)``, or a name holding one), each with the
        value it takes when the mode is not WAL."""
        found = []
        for atom in boolean_atoms(test):
            compared_with_bool = isinstance(atom, cst.Comparison) and any(
                isinstance(o, cst.Name) and o.value in ("True", "False") for o in (atom.left, *(c.comparator for c in atom.comparisons))
            )
            if (isinstance(atom, (cst.Call, cst.Name, cst.Attribute)) and not is_none(atom)) or compared_with_bool or self._reads_header_versions(atom, scope):
                answer = self.wal_answer(atom, scope)
                if answer is not None:
                    found.append((atom, not answer))
        return found

    def wal_answer(self, expr: cst.BaseExpression, scope: Scope, depth: int = 0) -> Optional[bool]:
        """Is ``expr`` a test of whether the database is in WAL: True when its being true
        means WAL, False when it means "not WAL", None when it is no such test."""
        if depth > 6:
            return None
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
            inner = self.wal_answer(expr.expression, scope, depth + 1)
            return None if inner is None else not inner
        if isinstance(expr, cst.BooleanOperation):
            left, right = self.wal_answer(expr.left, scope, depth + 1), self.wal_answer(expr.right, scope, depth + 1)
            # `not row or row[0] == "wal"`: a test of whether the row is there at all leaves
            # the answer to the other side (an absent row counts as WAL, or as not).
            # So does `path.exists() and <header says WAL>`: a file that is not there is not in WAL.
            if left is None and (_tests_presence(expr.left) or tests_existence_of(expr.left)):
                return right
            if right is None and (_tests_presence(expr.right) or tests_existence_of(expr.right)):
                return left
            return left if left is not None and left == right else None
        if isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1:
            operands = [expr.left, expr.comparisons[0].comparator]
            if any(self.mentions_wal(o, scope) for o in operands) and any(self.probe_calls(o, scope) for o in operands):
                return not not_wal_when(expr, True)
            if self.rollback_mode_checks(expr, scope) == [expr]:
                # `mode != "delete"`: true for WAL and for anything unknown, false only
                # where the mode is known to be the rollback one.
                return not not_wal_when(expr, False)
            operands = [self.version_literal(o, scope) for o in operands]
            if any(is_wal_header_bytes(o) for o in operands) or (
                any(self.holds_header_versions(o, scope) for o in operands)
                and any(is_or_holds_wal_version(o) for o in operands)
            ):
                return not not_wal_when(expr, True)
            if any(is_wal_version(o, 1) for o in operands) and any(self.holds_header_versions(o, scope) for o in operands):
                # `version == 1`: known to be a rollback journal; anything else, WAL or
                # unreadable, is not known to be one.
                return not not_wal_when(expr, False)
            # `header_says_wal(path) is False`: the predicate's answer compared with a bool.
            for answer, other in ((operands[0], operands[1]), (operands[1], operands[0])):
                if isinstance(other, cst.Name) and other.value in ("True", "False"):
                    inner = self.wal_answer(answer, scope, depth + 1)
                    if inner is not None:
                        same = (other.value == "True") != not_wal_when(expr, True)
                        return inner if same else not inner
            return None
        if isinstance(expr, cst.Call):
            tested = startswith_wal(expr)
            if tested is not None:
                return True if self.probe_calls(tested, scope) else None
            unit = self.resolve_unit(expr, scope)
            if unit is not None and unit in self._in_progress:
                return None
            callee = self.callee(expr, scope)
            if callee is not None and callee.wal_answer_param is not None:
                # `is_wal(read_mode(conn))`: an answer only about a mode read from the database.
                argument = call_arguments(expr, callee).get(callee.wal_answer_param)
                return callee.wal_answer if argument is not None and self.probe_calls(argument, scope) else None
            return callee.wal_answer if callee is not None else None
        if isinstance(expr, (cst.Name, cst.Attribute)):
            bindings, parameter = self.bindings_of(expr, scope)
            answers = {
                self.wal_answer(b.value, b.scope, depth + 1)  # type: ignore[arg-type]
                for b in bindings
                if b.kind == "value" and b.scope is not None and not is_none(b.value)
            }
            return answers.pop() if len(answers) == 1 and parameter is None and bindings else None
        return None

    def is_guard_call(self, statement: cst.CSTNode, scope: Scope) -> bool:
        """A bare call of a function that raises when the database is in WAL."""
        if isinstance(statement, cst.Expr):
            value = statement.value
            if isinstance(value, cst.Await):
                value = value.expression
            if isinstance(value, cst.Call):
                unit = self.resolve_unit(value, scope)
                if unit is not None:
                    return unit not in self._in_progress and self.facts(unit).refuses_wal
                callee = self.callee(value, scope)
                return callee is not None and callee.refuses_wal
        return False


def _tests_presence(expr: cst.BaseExpression) -> bool:
    """``row``, ``not row``, ``row is None``, ``row is not None``: a test of a name alone;
    ``len(header) == 20``: a test that there is enough of it to read."""
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
        expr = expr.expression
    if isinstance(expr, cst.NamedExpr):
        expr = expr.target  # `(row := cur.fetchone()) and row[0] == "wal"`
    if isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1:
        other = expr.comparisons[0].comparator
        if is_none(other):
            expr = expr.left
        elif isinstance(other, cst.Integer) and _is_length(expr.left):
            return True
    return isinstance(expr, cst.Name)


def _is_length(expr: cst.BaseExpression) -> bool:
    """``len(name)``."""
    return (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Name)
        and expr.func.value == "len"
        and len(expr.args) == 1
        and isinstance(expr.args[0].value, cst.Name)
    )


# Words a probe may answer when it could not read the mode; comparing with one decides nothing.
_NOT_A_MODE = frozenset({"wal", "unknown", "none", "null", "error", "unset", "missing", "undefined", "unreadable"})


_READ_ONLY_QUERY_RE = re.compile(r"[?&](?:mode=ro|immutable=(?:1|true|yes|on))(?:&|$)", re.I)


def is_read_only_uri(name: str) -> bool:
    """``file:...?mode=ro`` or ``?immutable=1``: a database this connection cannot write.
    The query must be known text; the path before it may be anything."""
    engine_url = _SQLALCHEMY_PREFIX_RE.match(name)
    if engine_url is not None:
        # `create_engine("sqlite:///file:x.db?mode=ro&uri=true")`: a URI only with `uri=true`.
        name = name[engine_url.end():]
        if "uri=true" not in name.lower():
            return False
    if not name.lower().startswith("file:") or "?" not in name:
        return False
    query = name[name.rindex("?"):]
    return is_known(query) and bool(_READ_ONLY_QUERY_RE.search(query))


_SQLALCHEMY_PREFIX_RE = re.compile(r"sqlite(?:\+\w+)?:///", re.I)


_SQLALCHEMY_URL = re.compile(r"sqlite(?:\+\w+)?://(?:/(?P<path>.*))?\Z", re.S)


def is_in_memory_name(name: str) -> bool:
    """``":memory:"``, a ``file::memory:`` URI or ``mode=memory``: a database that lives
    in one connection's memory; as a SQLAlchemy URL too (``sqlite://``,
    ``sqlite+pysqlite:///:memory:``)."""
    lowered = name.lower()
    url = _SQLALCHEMY_URL.match(lowered)
    if url is not None:
        path = url.group("path") or ""
        return path == "" or path.split("?")[0] == ":memory:" or is_in_memory_name(path)
    return lowered == ":memory:" or lowered.startswith("file::memory:") or "mode=memory" in lowered


def is_flag_value(value: Optional[cst.CSTNode]) -> bool:
    if grown_collection(value) is not None:  # `broken.add(path)`: a failure recorded
        return True
    if isinstance(value, cst.Name):
        # `fallback = ROLLBACK`: a module constant, named as one, is as constant as its value.
        return value.value in _FLAG_CONSTANTS or (value.value.isupper() and len(value.value) > 1)
    if isinstance(value, cst.Attribute):
        return names_enum_member(value)  # `self.journal = JournalState.UNSUPPORTED`
    return isinstance(value, (cst.Integer, cst.SimpleString))
