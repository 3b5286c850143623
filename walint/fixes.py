"""Fix plans and the pieces rules build them from: a plan is node replacements plus
imports to add, with an applicability (ruff's safe/unsafe). Plans cost nothing until
someone asks for their edits; :mod:`walint.render` turns them into edits then.

Rules keep their own fix builders; what more than one rule needs lives here: the on-disk
guard statement, the helper-call rewrite of a WAL-setup block, removing an element from
a collection literal, and telling what an ``except`` handler does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Sequence, Tuple, Union, cast

import libcst as cst

if TYPE_CHECKING:
    from walint.flow.unit_facts import Site

SAFE = "safe"
UNSAFE = "unsafe"

Replacement = Union[cst.CSTNode, cst.RemovalSentinel, cst.FlattenSentinel]


@dataclass(frozen=True)
class FixPlan:
    """What a rule wants changed; lives only inside the engine, next to its tree."""

    title: str
    applicability: str
    replacements: Mapping[cst.CSTNode, Replacement] = field(default_factory=dict)
    # (module, name) to import; an empty name imports the module itself.
    imports: Tuple[Tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HelperSpec:
    """Where fixed code imports the safe helper and the on-disk probe from."""

    module: str
    function: str
    guard: str = "journal_mode_on_disk"

    @classmethod
    def from_setting(cls, setting: str) -> "HelperSpec":
        module, _, function = setting.partition(":")
        return cls(module or "walint.runtime", function or "apply_wal_with_fallback")

    @property
    def async_function(self) -> str:
        return self.function + "_async"


# ----- statements fixes are made of -------------------------------------------------------

_LOGGING_CALL_RE = re.compile(
    r"(?:^|\.)(?:log|logger|_log|_logger|logging|LOG|LOGGER|LOGGER_)\.\w+$|^warnings\.warn$|^print$|^logging\.\w+$"
)


def is_logging_call(node: cst.BaseExpression) -> bool:
    from walint.semantic.nodes import dotted_name

    if isinstance(node, cst.Await):
        node = node.expression
    return isinstance(node, cst.Call) and bool(_LOGGING_CALL_RE.search(dotted_name(node.func)))


def guard_statement(receiver: cst.BaseExpression, spec: HelperSpec, in_handler: bool) -> cst.BaseStatement:
    """``if journal_mode_on_disk(conn) in ("wal", None): raise`` (or an explicit error)."""
    probe = cst.Call(cst.Name(spec.guard), [cst.Arg(receiver)])
    test = cst.Comparison(
        probe,
        [
            cst.ComparisonTarget(
                cst.In(),
                cst.Tuple([cst.Element(cst.SimpleString('"wal"')), cst.Element(cst.Name("None"))]),
            )
        ],
    )
    if in_handler:
        raise_stmt: cst.BaseSmallStatement = cst.Raise()
    else:
        raise_stmt = _REFUSAL
    return cst.If(test=test, body=cst.IndentedBlock([cst.SimpleStatementLine([raise_stmt])]))


# The guard's error outside a handler, wrapped so that the fixed line stays within the
# 88 columns ruff's E501 (and black) allow, however deep the guard is indented.
_REFUSAL = cast(
    cst.SimpleStatementLine,
    cst.parse_statement(
        "raise sqlite3.OperationalError(\n"
        '    "refusing to leave WAL: the database is"\n'
        '    " (or may be) in WAL on disk"\n'
        ")\n"
    ),
).body[0]


def insert_before(line: cst.SimpleStatementLine, statement: cst.BaseStatement) -> cst.FlattenSentinel:
    """``statement`` then ``line``, with the comments that sat above ``line`` above both."""
    return cst.FlattenSentinel(
        [statement.with_changes(leading_lines=line.leading_lines), line.with_changes(leading_lines=())]
    )


# ----- removing an element from a collection literal ----------------------------------------

_CLOSERS = {cst.List: "rbracket", cst.Set: "rbrace", cst.Dict: "rbrace"}
_OPENERS = {cst.List: "lbracket", cst.Set: "lbrace", cst.Dict: "lbrace"}


def _pw(node: object) -> Optional[cst.ParenthesizedWhitespace]:
    return node if isinstance(node, cst.ParenthesizedWhitespace) else None


def remove_element(collection: cst.BaseExpression, element_value: cst.CSTNode) -> Optional[cst.BaseExpression]:
    """The collection without the element whose value (or dict key) is ``element_value``.

    Its trailing comment and the comment lines above it go with it; commas and the
    closing bracket stay where a person would put them.
    """
    elements = list(collection.elements)  # type: ignore[attr-defined]
    index = next(
        (i for i, e in enumerate(elements) if (e.key if isinstance(e, cst.DictElement) else e.value) is element_value),
        None,
    )
    if index is None:
        return None
    removed = elements[index]
    rest = elements[:index] + elements[index + 1 :]
    changes: Dict[str, object] = {}
    removed_after = _pw(removed.comma.whitespace_after) if isinstance(removed.comma, cst.Comma) else None
    if not rest:
        if isinstance(collection, cst.Set):
            return cst.Call(cst.Name("set"), lpar=collection.lpar, rpar=collection.rpar)
        if isinstance(collection, cst.Tuple) and not collection.lpar:
            return cst.Tuple([])
        return collection.with_changes(elements=[])
    if index == len(elements) - 1:
        previous = rest[-1]
        closer_name = _CLOSERS.get(type(collection))
        if closer_name is not None:
            closer = getattr(collection, closer_name)
            closer_ws = _pw(closer.whitespace_before)
        elif collection.rpar:  # type: ignore[attr-defined]
            closer = collection.rpar[0]  # type: ignore[attr-defined]
            closer_ws = _pw(closer.whitespace_before)
        else:
            closer, closer_ws = None, None
        previous_ws = _pw(previous.comma.whitespace_after) if isinstance(previous.comma, cst.Comma) else None
        if closer is not None and closer_ws is not None and previous_ws is not None:
            closer = closer.with_changes(whitespace_before=closer_ws.with_changes(first_line=previous_ws.first_line))
            previous = previous.with_changes(comma=previous.comma.with_changes(whitespace_after=cst.SimpleWhitespace("")))
            if closer_name is not None:
                changes[closer_name] = closer
            else:
                changes["rpar"] = [closer] + list(collection.rpar[1:])  # type: ignore[attr-defined]
        elif not isinstance(removed.comma, cst.Comma):
            previous = previous.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        elif isinstance(previous.comma, cst.Comma):
            # `["a", "b",]` -> `["a",]`: the trailing comma keeps the removed one's spacing.
            previous = previous.with_changes(
                comma=previous.comma.with_changes(whitespace_after=removed.comma.whitespace_after)
            )
        rest[-1] = previous
    elif index > 0:
        previous = rest[index - 1]
        previous_ws = _pw(previous.comma.whitespace_after) if isinstance(previous.comma, cst.Comma) else None
        if previous_ws is not None and removed_after is not None:
            rest[index - 1] = previous.with_changes(
                comma=previous.comma.with_changes(whitespace_after=removed_after.with_changes(first_line=previous_ws.first_line))
            )
    else:
        opener_name = _OPENERS.get(type(collection))
        opener = getattr(collection, opener_name) if opener_name else (collection.lpar[-1] if collection.lpar else None)  # type: ignore[attr-defined]
        opener_ws = _pw(opener.whitespace_after) if opener is not None else None
        if opener is not None and opener_ws is not None and removed_after is not None:
            opener = opener.with_changes(whitespace_after=removed_after.with_changes(first_line=opener_ws.first_line))
            if opener_name:
                changes[opener_name] = opener
            else:
                changes["lpar"] = list(collection.lpar[:-1]) + [opener]  # type: ignore[attr-defined]
    if isinstance(collection, cst.Tuple) and len(rest) == 1 and not isinstance(rest[0].comma, cst.Comma):
        rest[0] = rest[0].with_changes(comma=cst.Comma())  # `("a",)` stays a tuple
    return collection.with_changes(elements=rest, **changes)


# ----- classifying what a handler does ---------------------------------------------------------


def handler_only_decides(statements: Sequence[cst.CSTNode], is_downgrade) -> bool:
    """Does a handler hold nothing but the decision, logging, the downgrade, raise, return, pass?"""
    for statement in statements:
        if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for small in statement.body:
                if isinstance(small, (cst.Pass, cst.Raise, cst.Return)):
                    continue
                if isinstance(small, cst.Expr) and (is_logging_call(small.value) or is_downgrade(small)):
                    continue
                if _is_local_computation(small):
                    continue
                return False
        elif isinstance(statement, cst.If):
            # The `if`, each `elif` and the `else`: every branch only decides.
            branch: Union[cst.If, cst.Else, None] = statement
            while branch is not None:
                if not handler_only_decides(_block(branch.body), is_downgrade):
                    return False
                branch = branch.orelse if isinstance(branch, cst.If) else None
        else:
            return False
    return True


# Calls with no effect beyond their value: what a handler uses to read an error message.
_PURE_CALLS = frozenset(
    {"str", "repr", "type", "getattr", "isinstance", "len", "any", "all", "lower", "upper", "casefold", "strip", "format"}
)


def _is_local_computation(small: cst.BaseSmallStatement) -> bool:
    """``msg = str(exc).lower()``: a local name computed for the decision, with no side effect."""
    from walint.semantic.nodes import iter_subexpressions

    if not isinstance(small, cst.Assign) or not all(isinstance(t.target, cst.Name) for t in small.targets):
        return False
    for node in iter_subexpressions(small.value):
        if isinstance(node, cst.Call):
            func = node.func
            name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
            if name not in _PURE_CALLS:
                return False
        elif isinstance(node, (cst.Await, cst.Yield, cst.NamedExpr)):
            return False
    return True


def _block(suite: cst.BaseSuite) -> List[cst.CSTNode]:
    return list(suite.body) if isinstance(suite, cst.IndentedBlock) else [suite]


# ----- the fixes rules offer --------------------------------------------------------------------

_RAW_EXECUTE = frozenset({"execute", "executescript"})
NO_FIX_ASYNC_GUARD = "no automatic guard for async code: call the async helper instead"
NO_FIX_RECEIVER = "cannot tell which connection to check: add the on-disk guard by hand"


def _raw_sql_receiver(call: cst.Call) -> Optional[cst.BaseExpression]:
    """``conn`` in ``conn.execute("...")``: a receiver the helper can run raw SQL on."""
    if not isinstance(call.func, cst.Attribute) or call.func.attr.value not in _RAW_EXECUTE:
        return None
    for arg in call.args:
        value = arg.value
        if isinstance(value, cst.Call):
            return None  # SQLAlchemy `text(...)`: the connection does not take raw strings
    return call.func.value


def _wal_receiver(call: cst.Call) -> Optional[cst.BaseExpression]:
    """``conn`` in ``conn.execute("PRAGMA journal_mode=WAL")``, ``db`` in ``db.enable_wal()``."""
    if isinstance(call.func, cst.Attribute) and call.func.attr.value == "enable_wal" and not call.args:
        return call.func.value  # sqlite-utils: its Database runs raw SQL through execute()
    return _raw_sql_receiver(call)


def downgrade_receiver(model, site) -> Optional[cst.BaseExpression]:
    """The connection a direct downgrade runs on, when the on-disk probe can take it.

    A DB-API connection or cursor (``conn.execute``) and sqlite-utils (``db.disable_wal``)
    qualify; peewee's ``Database`` and SQLAlchemy connections do not run raw SQL strings
    through ``execute``, so a guard there would always refuse.
    """
    node = site.node
    if not isinstance(node, cst.Call):
        return None
    if isinstance(node.func, cst.Attribute) and node.func.attr.value == "disable_wal":
        return node.func.value
    return _raw_sql_receiver(node)


def guard_fix(model, site, spec: HelperSpec) -> Tuple[Optional[FixPlan], Optional[str]]:
    """Insert the on-disk guard before a downgrade; a handler re-raises, other code raises."""
    if site.unit.is_async:
        return None, NO_FIX_ASYNC_GUARD
    line = site.line
    if not isinstance(line, cst.SimpleStatementLine):
        return None, "the downgrade shares a line with its block header: move it to its own line first"
    node = site.node
    if isinstance(node, cst.Call) and model.direct_effect(node, site.scope) is None:
        # A guard before the call would also refuse when the function would not have
        # downgraded at all: the guard belongs inside it, next to the downgrade.
        from walint.sql import callee_name

        return None, f"the downgrade happens inside `{callee_name(node)}()`: guard it there, or call the safe helper"
    receiver = downgrade_receiver(model, site)
    if receiver is None:
        return None, NO_FIX_RECEIVER
    in_handler = site.handler is not None
    guard = guard_statement(receiver, spec, in_handler)
    imports = ((spec.module, spec.guard),) + (() if in_handler else (("sqlite3", ""),))
    plan = FixPlan(
        f"Refuse the downgrade when the database is (or may be) in WAL: `{spec.guard}(...)`",
        SAFE,
        {line: insert_before(line, guard)},
        imports,
    )
    return plan, None


def _awaited(statement: cst.CSTNode, call: cst.Call) -> bool:
    from walint.semantic.nodes import iter_subexpressions

    return any(isinstance(n, cst.Await) and n.expression is call for n in iter_subexpressions(statement))


NO_FIX_TRY_ELSE = "the `try` has an `else` or `finally`: call the safe helper there by hand"
NO_FIX_MORE = "the block does more than set WAL: call the safe helper there by hand"
NO_FIX_SQL_TEXT = (
    "the pragma does not run through a DB-API `execute` the helper can take: "
    "call it on the DB-API connection by hand"
)
NO_FIX_CURSOR = "the code keeps the cursor the pragma returns, which the helper does not: rewrite it by hand"
NO_FIX_OTHER_SQL = (
    "the statement runs more than the WAL switch (a script, or a loop over several pragmas), "
    "which the helper call would drop: call the helper beside it by hand"
)


def helper_call_fix(
    model, container: cst.CSTNode, wal_site: Site, handlers: Sequence[cst.CSTNode], spec: HelperSpec
) -> Tuple[Optional[FixPlan], Optional[str]]:
    """Replace a WAL-setup ``try`` (or ``with suppress``) by one call of the safe helper.

    Returns the plan, or None and why the block has no such rewrite.
    """
    from walint.sql import runs_only_the_wal_switch

    wal_call: cst.Call = wal_site.node
    if isinstance(container, cst.Try):
        if container.orelse is not None or container.finalbody is not None:
            return None, NO_FIX_TRY_ELSE
    elif not isinstance(container, cst.With):
        return None, NO_FIX_MORE
    body = container.body
    if not isinstance(body, cst.IndentedBlock) or len(body.body) != 1:
        return None, NO_FIX_MORE
    line = body.body[0]
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
        return None, NO_FIX_MORE
    small = line.body[0]
    receiver = _wal_receiver(wal_call)
    if receiver is None:
        return None, NO_FIX_SQL_TEXT
    if not runs_only_the_wal_switch(wal_call, model.folder, wal_site.scope):
        return None, NO_FIX_OTHER_SQL
    awaited = _awaited(small, wal_call)
    function = spec.async_function if awaited else spec.function
    call: cst.BaseExpression = cst.Call(cst.Name(function), [cst.Arg(receiver)])
    if awaited:
        call = cst.Await(call)
    if isinstance(small, cst.Expr):
        # `conn.execute(...)` or `conn.execute(...).fetchone()`: the result is dropped either way.
        new_small: cst.BaseSmallStatement = small.with_changes(value=call)
    elif isinstance(small, (cst.Assign, cst.AnnAssign, cst.Return)):
        value = small.value
        # Only where the mode was fetched: `mode = conn.execute(...).fetchone()[0]`.
        if value is None or value is wal_call or (isinstance(value, cst.Await) and value.expression is wal_call):
            return None, NO_FIX_CURSOR
        new_small = small.with_changes(value=call)
    else:
        return None, NO_FIX_MORE
    rollback_statements = {id(s.statement) for s in model.all_sites() if model.is_rollback_site(s)}
    downgrade = lambda statement: id(statement) in rollback_statements  # noqa: E731
    safe = all(handler_only_decides(_block(h.body), downgrade) for h in handlers)  # type: ignore[attr-defined]
    replacement = cst.SimpleStatementLine([new_small], leading_lines=_leading_lines_keeping_comments(container))
    plan = FixPlan(
        f"Replace the WAL setup with `{function}(...)`",
        SAFE if safe else UNSAFE,
        {container: replacement},
        ((spec.module, function),),
    )
    return plan, None


def _leading_lines_keeping_comments(statement: cst.BaseCompoundStatement) -> List[cst.EmptyLine]:
    """The statement's own leading lines, then every comment inside it, one per line:
    a rewrite that drops code still keeps what people wrote about it."""
    comments = []
    stack: List[cst.CSTNode] = [statement]
    while stack:  # a full walk: the analysis' own walks skip whitespace, and comments with it
        node = stack.pop()
        if isinstance(node, cst.Comment):
            comments.append(node)
        stack.extend(reversed(node.children))
    own = list(statement.leading_lines)
    own_comments = {id(line.comment) for line in own if line.comment is not None}
    return own + [cst.EmptyLine(comment=c) for c in comments if id(c) not in own_comments]


def try_fix(model, unit, try_facts, spec: HelperSpec) -> Tuple[Optional[FixPlan], Optional[str]]:
    """The helper-call rewrite of a ``try`` whose body is one WAL pragma, or why there is none."""
    sites = model.facts(unit).sites
    body = [s for s in sites[try_facts.body[0] : try_facts.body[1]] if s.try_node is try_facts.node]
    wal_sites = [site for site in body if model.switches_to_wal(site)]
    if len(wal_sites) != 1:
        return None, NO_FIX_MORE
    return helper_call_fix(model, try_facts.node, wal_sites[0], [h for h, _ in try_facts.handlers], spec)
