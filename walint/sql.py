"""Recognise code that sets or reads SQLite's journal mode.

Two layers: ``modes_set_by_sql``/``reads_journal_mode`` read SQL text (any case and
spacing, schema prefix, quoted or bare values, the function form, several statements in
one script); ``classify_call`` reads a call site (the execute family, SQLAlchemy ``text``,
peewee ``pragma``/``pragmas=``, sqlite-utils ``disable_wal``) and folds the text it passes
with :class:`walint.constants.StringFolder`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator, List, Optional, Tuple

import libcst as cst

from walint.constants import HOLE, StringFolder, is_known, param_of

ROLLBACK_MODES = frozenset({"delete", "truncate", "persist", "memory", "off"})
WAL = "wal"

# Methods and functions that run SQL text. `execute_void`-style wrappers share the prefix.
_EXECUTE_NAME_RE = re.compile(r"^(?:execute|exec)(?:_\w+|script|many)?$|^(?:run_sql|sql|query)$")
# Keyword names under which the execute family takes its SQL.
_SQL_KEYWORDS = frozenset({"sql", "statement", "stmt", "query", "script", "sql_script", "operation"})

_COMMENT_RE = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_IDENT = r"(?:\"[^\"]*\"|`[^`]*`|\[[^\]]*\]|[A-Za-z_\x00\x01\x02][\w\x00\x01\x02]*)"
_VALUE = r"(?:'[^']*'|\"[^\"]*\"|[^\s;()'\"]+)"
_PRAGMA_SET_RE = re.compile(
    rf"^pragma\s+(?:{_IDENT}\s*\.\s*)?journal_mode\s*(?:=\s*(?P<eq>{_VALUE})|\(\s*(?P<fn>{_VALUE})\s*\))$",
    re.I,
)
_PRAGMA_READ_RE = re.compile(rf"^pragma\s+(?:{_IDENT}\s*\.\s*)?journal_mode(?:\s*\(\s*\))?$", re.I)
_TABLE_VALUED_READ_RE = re.compile(r"\bpragma_journal_mode\b", re.I)


def sql_statements(text: str) -> Iterable[str]:
    """The statements of an SQL script, comments dropped and spacing normalised."""
    for statement in _COMMENT_RE.sub(" ", text).split(";"):
        statement = " ".join(statement.split())
        if statement:
            yield statement


def normalise_mode(value: str) -> str:
    """Lower-case a pragma value and strip its quotes; holes pass through untouched."""
    value = value.strip()
    if "\x01" in value:  # a parameter placeholder keeps its name's case
        return value
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"`":
        value = value[1:-1]
    return value.strip().lower()


def modes_set_by_sql(text: str) -> List[str]:
    """The journal modes each ``PRAGMA journal_mode=...`` statement in ``text`` sets."""
    if "journal_mode" not in text.lower():
        return []
    modes = []
    for statement in sql_statements(text):
        match = _PRAGMA_SET_RE.match(statement)
        if match:
            modes.append(normalise_mode(match.group("eq") or match.group("fn")))
    return modes


def reads_journal_mode(text: str) -> bool:
    """True when ``text`` reads the current mode without setting it."""
    lowered = text.lower()
    if "journal_mode" not in lowered:
        return False
    for statement in sql_statements(text):
        if _PRAGMA_READ_RE.match(statement) or (
            statement.lower().startswith("select") and _TABLE_VALUED_READ_RE.search(statement)
        ):
            return True
    return False


@dataclass(frozen=True)
class ModeEffect:
    """What one call does to the journal mode: the modes it may set, or that it reads it."""

    sets: Tuple[str, ...] = ()
    reads: bool = False
    # Modes in `sets` only because a parameter's default holds them (`fallback="delete"`):
    # what the function does when its caller passes nothing, not what every call does.
    from_defaults: Tuple[str, ...] = ()

    @property
    def rollback_modes(self) -> Tuple[str, ...]:
        return tuple(m for m in self.sets if m in ROLLBACK_MODES)

    @property
    def parameter_modes(self) -> Tuple[str, ...]:
        """Parameters whose value becomes the mode (``f"PRAGMA journal_mode={mode}"``)."""
        return tuple(p for p in (param_of(m) for m in self.sets) if p)

    @property
    def sets_wal(self) -> bool:
        return WAL in self.sets


def callee_name(call: cst.Call) -> str:
    """The last dotted component of what is called: ``execute`` for ``conn.cursor().execute``."""
    func = call.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    if isinstance(func, cst.Name):
        return func.value
    if isinstance(func, cst.Subscript):  # `STRATEGIES["delete"](conn)`
        return cst.Module([]).code_for_node(func)
    return ""


def _positional(call: cst.Call) -> List[cst.BaseExpression]:
    return [arg.value for arg in call.args if arg.keyword is None and not arg.star]


def _sql_arguments(call: cst.Call) -> Iterable[cst.BaseExpression]:
    yield from _positional(call)
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in _SQL_KEYWORDS:
            yield arg.value


def runs_sql(call: cst.Call) -> bool:
    """Is ``call`` one of the execute family (``execute``, ``executescript``,
    ``execute_void``-style wrappers, ``exec_driver_sql``, ...)? Python's own ``exec(code)``
    runs Python, not SQL."""
    if isinstance(call.func, cst.Name) and call.func.value == "exec":
        return False
    return _EXECUTE_NAME_RE.match(callee_name(call)) is not None


def sql_texts(call: cst.Call, folder: StringFolder, scope: object) -> Iterator[List[str]]:
    """For a call of the execute family, the texts each SQL argument can hold (one list
    per argument, in order); nothing for any other call."""
    if runs_sql(call):
        for argument in _sql_arguments(call):
            yield [text for text in folder.values(argument, scope) if text != HOLE]


def runs_only_the_wal_switch(call: cst.Call, folder: StringFolder, scope: object) -> bool:
    """Does ``call`` run nothing but ``PRAGMA journal_mode=WAL``, whatever text its SQL
    holds? A script, or a loop over several pragmas, runs more."""
    if not runs_sql(call):
        return True  # `db.pragma("journal_mode", "wal")`, `db.enable_wal()`: the switch alone
    sql = next(iter(_sql_arguments(call)), None)
    return sql is not None and all(_is_the_wal_switch(text) for text in folder.values(sql, scope))


def _is_the_wal_switch(text: str) -> bool:
    """``text`` is known and every statement in it switches to WAL."""
    statements = list(sql_statements(text)) if is_known(text) else []
    return bool(statements) and all(modes_set_by_sql(statement) == [WAL] for statement in statements)


def effect_of_sql(texts: Iterable[str]) -> Optional[ModeEffect]:
    """What running any of ``texts`` does to the journal mode, or None when nothing."""
    sets: List[str] = []
    reads = False
    for text in texts:
        sets.extend(modes_set_by_sql(text))
        reads = reads or reads_journal_mode(text)
    return ModeEffect(tuple(dict.fromkeys(sets)), reads) if sets or reads else None


def classify_call(call: cst.Call, folder: StringFolder, scope: object) -> Optional[ModeEffect]:
    """How ``call`` touches the journal mode, or None when it does not."""
    name = callee_name(call)
    if runs_sql(call):
        for texts in sql_texts(call, folder, scope):
            effect = effect_of_sql(texts)
            if effect is not None:
                return effect
        return None
    if name == "pragma":
        positional = _positional(call)
        if positional and "journal_mode" in {v.lower() for v in folder.values(positional[0], scope)}:
            if len(positional) >= 2:
                return ModeEffect(tuple(dict.fromkeys(normalise_mode(v) for v in folder.values(positional[1], scope))))
            return ModeEffect(reads=True)
        return None
    if name == "disable_wal":
        return ModeEffect(("delete",))
    if name == "enable_wal":
        return ModeEffect((WAL,))
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "pragmas":
            modes = pragmas_journal_modes(arg.value, folder, scope)
            if modes:
                return ModeEffect(modes)
    return None


def pragmas_journal_modes(value: cst.BaseExpression, folder: StringFolder, scope: object) -> Tuple[str, ...]:
    """Modes a peewee-style ``pragmas={...}`` or ``pragmas=[(k, v), ...]`` value sets."""
    for expr, expr_scope in folder.expressions(value, scope):
        pairs: List[Tuple[cst.BaseExpression, cst.BaseExpression]] = []
        if isinstance(expr, cst.Dict):
            pairs = [(e.key, e.value) for e in expr.elements if isinstance(e, cst.DictElement)]
        elif isinstance(expr, (cst.List, cst.Tuple)):
            for element in expr.elements:
                item = element.value
                if isinstance(item, (cst.Tuple, cst.List)) and len(item.elements) == 2:
                    pairs.append((item.elements[0].value, item.elements[1].value))
        modes: List[str] = []
        for key, mode in pairs:
            if "journal_mode" in {k.lower() for k in folder.values(key, expr_scope)}:
                modes.extend(normalise_mode(v) for v in folder.values(mode, expr_scope))
        if modes:
            return tuple(dict.fromkeys(modes))
    return ()
