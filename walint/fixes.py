"""Fix plans: the LibCST rewrites rules attach to findings, and turning them into edits.

A rule describes its fix as node replacements plus imports to add. A plan costs nothing
until someone asks for its edits (``walint fix``, or a report format that carries them):
then ``render_plans`` applies all of a file's plans in one transform, adds their imports
once with ``AddImportsVisitor``, refuses output that does not parse, and cuts the result
into column-precise edits, one set per plan, so a finding's fix is plain data and bytes it
did not mean to change are kept.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union, cast

import libcst as cst

from walint.findings import Edit, Location
from walint.text import LINE_BREAK_RE

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


class _Replace(cst.CSTTransformer):
    """Puts the replacements in; descends only into the nodes that hold one, so the rest
    of the tree is neither walked nor rebuilt."""

    def __init__(self, replacements: Mapping[cst.CSTNode, Replacement], holders: Set[cst.CSTNode]) -> None:
        self.replacements = replacements
        self.holders = holders

    def on_visit(self, node: cst.CSTNode) -> bool:
        return node in self.holders

    def on_leave(self, original_node, updated_node):  # type: ignore[override]
        return self.replacements.get(original_node, updated_node)


def _holders(module: cst.Module, targets: Set[cst.CSTNode]) -> Set[cst.CSTNode]:
    """The nodes of ``module`` that are, or hold, one of ``targets``."""
    from walint.tree import children

    parents: Dict[cst.CSTNode, cst.CSTNode] = {}
    stack: List[cst.CSTNode] = [module]
    found = 0
    while stack and found < len(targets):
        node = stack.pop()
        if node in targets:
            found += 1
        for child in children(node):
            parents[child] = node
            stack.append(child)
    holders: Set[cst.CSTNode] = set()
    for target in targets:
        node: Optional[cst.CSTNode] = target
        while node is not None and node not in holders:
            holders.add(node)
            node = parents.get(node)
    return holders


@dataclass(frozen=True)
class Rendered:
    """One plan, rendered: its edits against the module's text, or why it has none."""

    edits: Tuple[Edit, ...] = ()
    reason: Optional[str] = None


NO_FIX_INVALID = "the rewrite would not produce valid Python; fix this one by hand"
NO_FIX_NO_CHANGE = "the rewrite would change nothing here"


def render_plans(module: cst.Module, plans: Sequence[FixPlan]) -> List[Rendered]:
    """Every plan's edits against ``module.code``, rendered together.

    The plans are applied in one transform, the imports they need are added once
    (``AddImportsVisitor``), and the result must parse and compile. Each plan's edits
    are column-precise: the text it replaces, trimmed to what changes, plus the import
    edit when it needs one (the same edit for every plan of the file that needs one,
    adding all their imports). A plan whose nodes overlap an earlier plan's is rendered
    in a second transform (its edits overlap, so ``walint fix`` applies it a round later);
    when the whole does not parse, each plan is tried alone to find the one to blame.
    """
    if not plans:
        return []
    old = module.code
    interest = {node for plan in plans for node in plan.replacements}
    old_spans = _inclusive_spans(module, interest)
    layers: List[List[int]] = []
    layer_regions: List[List[Tuple[int, int]]] = []
    results: List[Rendered] = [Rendered(reason=NO_FIX_INVALID)] * len(plans)
    regions: Dict[int, Tuple[int, int]] = {}
    for index, plan in enumerate(plans):
        found = [old_spans[node] for node in plan.replacements if node in old_spans]
        if not found or len(found) != len(plan.replacements):
            continue  # the plan names a node that is not in this module: nothing to render
        region = (min(s for s, _ in found), max(e for _, e in found))
        regions[index] = region
        for taken, spans in zip(layers, layer_regions):
            if not any(region[0] < end and start < region[1] for start, end in spans):
                taken.append(index)
                spans.append(region)
                break
        else:
            layers.append([index])
            layer_regions.append([region])
    for layer in layers:
        rendered = _render_layer(module, old, [plans[i] for i in layer], [regions[i] for i in layer])
        if rendered is None and len(layer) > 1:
            # Together they do not parse: each alone says which one is to blame.
            for index in layer:
                alone = _render_layer(module, old, [plans[index]], [regions[index]])
                results[index] = alone[0] if alone is not None else Rendered(reason=NO_FIX_INVALID)
            continue
        for index, result in zip(layer, rendered or [Rendered(reason=NO_FIX_INVALID)]):
            results[index] = result
    return results


def _render_layer(
    module: cst.Module, old: str, plans: Sequence[FixPlan], regions: Sequence[Tuple[int, int]]
) -> Optional[List[Rendered]]:
    """Plans whose regions do not overlap, in one transform; None if the result does not parse."""
    from libcst.codemod import CodemodContext
    from libcst.codemod.visitors import AddImportsVisitor

    replacements: Dict[cst.CSTNode, Replacement] = {}
    for plan in plans:
        replacements.update(plan.replacements)
    middle = module.visit(_Replace(replacements, _holders(module, set(replacements))))
    new_nodes: Dict[cst.CSTNode, int] = {}
    for index, plan in enumerate(plans):
        for replacement in plan.replacements.values():
            if isinstance(replacement, cst.FlattenSentinel):
                new_nodes.update((node, index) for node in replacement.nodes)
            elif isinstance(replacement, cst.CSTNode):
                new_nodes[replacement] = index
    middle_spans = _inclusive_spans(middle, set(new_nodes))
    mid = middle.code
    imports = [item for plan in plans for item in plan.imports]
    final = middle
    if imports:
        context = CodemodContext()
        for import_module, name in dict.fromkeys(imports):
            AddImportsVisitor.add_needed_import(context, import_module, name or None)
        final = _names_in_plan_order(middle, AddImportsVisitor(context).transform_module(middle), plans)
    code = final.code
    try:
        cst.parse_module(code)
        compile(code, "<fix>", "exec", dont_inherit=True)
    except (cst.ParserSyntaxError, SyntaxError, ValueError):
        return None
    except RecursionError:
        return None
    lines = _LineStarts(old)
    # Where each region's replacement landed in the transformed text.
    order = sorted(range(len(plans)), key=lambda i: regions[i])
    landed: Dict[int, Tuple[int, int]] = {}
    previous_old_end, previous_mid_end = 0, 0
    consistent = True
    for index in order:
        start, end = regions[index]
        spans = [span for node, span in middle_spans.items() if new_nodes.get(node) == index]
        mid_start = previous_mid_end + (start - previous_old_end)
        mid_end = max((e for _, e in spans), default=mid_start)
        if spans and min(s for s, _ in spans) != mid_start or mid_end < mid_start:
            consistent = False
            break
        if old[previous_old_end:start] != mid[previous_mid_end:mid_start]:
            consistent = False
            break
        landed[index] = (mid_start, mid_end)
        previous_old_end, previous_mid_end = end, mid_end
    if consistent and old[previous_old_end:] != mid[previous_mid_end:]:
        consistent = False
    import_edit: Optional[Edit] = None
    if consistent and code != mid:
        p, q, content = _trimmed(mid, 0, len(mid), code)
        # The import block lies between regions: shift it back to the original's offsets.
        shift = 0
        for index in order:
            mid_start, mid_end = landed[index]
            if q <= mid_start:
                break
            if p < mid_end:
                consistent = False  # the imports landed inside a rewrite: one edit for all
                break
            shift = mid_end - regions[index][1]
        if consistent:
            import_edit = lines.edit(content, p - shift, q - shift)
    if not consistent:
        start, end, content = _trimmed(old, 0, len(old), code)
        whole = (lines.edit(content, start, end),) if start != end or content else ()
        return [Rendered(whole) if whole else Rendered(reason=NO_FIX_NO_CHANGE) for _ in plans]
    results = []
    for index, plan in enumerate(plans):
        start, end = regions[index]
        mid_start, mid_end = landed[index]
        a, b, content = _trimmed(old, start, end, mid[mid_start:mid_end])
        if a == b and not content:
            results.append(Rendered(reason=NO_FIX_NO_CHANGE))
            continue
        edits = (lines.edit(content, a, b),)
        if plan.imports and import_edit is not None:
            edits = tuple(sorted(edits + (import_edit,), key=lambda e: (e.location, e.end_location)))
        results.append(Rendered(edits))
    return results


def _names_in_plan_order(before: cst.Module, after: cst.Module, plans: Sequence[FixPlan]) -> cst.Module:
    """``after`` with the names ``AddImportsVisitor`` added to a ``from`` import in the
    order ``walint fix`` has always written them: as if each plan, in source order, had
    added its own names (sorted) in turn, each in front of the names already there."""
    groups: Dict[str, List[List[str]]] = {}
    seen: Dict[str, Set[str]] = {}
    for plan in plans:
        for module_name, names in itertools.groupby(sorted(n for n in plan.imports if n[1]), key=lambda n: n[0]):
            fresh = [name for _, name in names if name not in seen.setdefault(module_name, set())]
            seen[module_name].update(fresh)
            groups.setdefault(module_name, []).append(fresh)
    had = {module: set(names) for module, names in _top_level_from_imports(before).items()}
    body = list(after.body)
    changed = False
    for position, statement in enumerate(body):
        found = _from_import(statement)
        if found is None or found[0] not in groups or isinstance(found[1].names, cst.ImportStar):
            continue
        module_name, node = found
        aliases = list(node.names)  # type: ignore[arg-type]
        old = had.get(module_name, set())
        added = {a.evaluated_name: a for a in aliases if a.evaluated_name not in old}
        wanted = [name for group in reversed(groups[module_name]) for name in group]
        order = [added.pop(name) for name in wanted if name in added] + list(added.values())
        reordered = order + [a for a in aliases if a.evaluated_name in old]
        if [a.evaluated_name for a in reordered] == [a.evaluated_name for a in aliases]:
            continue
        names = [alias.with_changes(comma=aliases[i].comma) for i, alias in enumerate(reordered)]
        line = cast(cst.SimpleStatementLine, statement)
        body[position] = line.with_changes(body=[node.with_changes(names=names)] + list(line.body[1:]))
        changed = True
    return after.with_changes(body=body) if changed else after


def _from_import(statement: cst.CSTNode) -> Optional[Tuple[str, cst.ImportFrom]]:
    if not isinstance(statement, cst.SimpleStatementLine) or not statement.body:
        return None
    node = statement.body[0]
    if not isinstance(node, cst.ImportFrom) or node.module is None or node.relative:
        return None
    from libcst.helpers import get_full_name_for_node

    name = get_full_name_for_node(node.module)
    return (name, node) if name else None


def _top_level_from_imports(module: cst.Module) -> Dict[str, List[str]]:
    names: Dict[str, List[str]] = {}
    for statement in module.body:
        found = _from_import(statement)
        if found is not None and not isinstance(found[1].names, cst.ImportStar):
            names.setdefault(found[0], []).extend(a.evaluated_name for a in found[1].names)  # type: ignore[union-attr]
    return names


def _trimmed(text: str, start: int, end: int, new: str) -> Tuple[int, int, str]:
    """``text[start:end]`` becomes ``new``: the part of it that changes, as ``(start, end,
    content)``, cut where a person would cut: at the ends of the region, at a line's start
    or end, or after its indentation (a whole comparison, not its last few characters)."""
    a, b, _ = _changed(text[start:end], new)
    low, high = start + a, start + b
    while low > start and not _boundary(text, low):
        low -= 1
    while high < end and not _boundary(text, high):
        high += 1
    return low, high, new[low - start : len(new) - (end - high)]


def _boundary(text: str, index: int) -> bool:
    if index <= 0 or index >= len(text):
        return True
    if text[index] == "\n":
        return text[index - 1] != "\r"
    if text[index] == "\r":
        return True
    line_start = max(text.rfind("\n", 0, index), text.rfind("\r", 0, index)) + 1
    return not text[line_start:index].strip(" \t\f")


def _changed(old: str, new: str) -> Tuple[int, int, str]:
    """The smallest ``old[start:end]`` that, replaced by ``content``, gives ``new``."""
    limit = min(len(old), len(new))
    low, high = 0, limit  # the common prefix's length, by bisection over slices
    while low < high:
        middle = (low + high + 1) // 2
        if old[:middle] == new[:middle]:
            low = middle
        else:
            high = middle - 1
    prefix = low
    low, high = 0, limit - prefix
    while low < high:
        middle = (low + high + 1) // 2
        if old[len(old) - middle :] == new[len(new) - middle :]:
            low = middle
        else:
            high = middle - 1
    suffix = low
    return prefix, len(old) - suffix, new[prefix : len(new) - suffix]


class _LineStarts:
    """Offsets in a text <-> 1-based (row, column) locations, lines ended the way Python ends them."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [match.end() for match in LINE_BREAK_RE.finditer(text)]
        self.length = len(text)

    def location(self, offset: int) -> Location:
        row = bisect.bisect_right(self.starts, offset)
        return Location(row, offset - self.starts[row - 1] + 1)

    def offset(self, location: Location) -> int:
        if location.row - 1 >= len(self.starts):
            return self.length
        return min(self.starts[location.row - 1] + location.column - 1, self.length)

    def edit(self, content: str, start: int, end: int) -> Edit:
        return Edit(content, self.location(start), self.location(end))


def _inclusive_spans(module: cst.Module, nodes: Set[cst.CSTNode]) -> Dict[cst.CSTNode, Tuple[int, int]]:
    """Character offsets in ``module.code`` of everything each of ``nodes`` generates
    (comments and indentation above a statement included)."""
    from walint.tree import inclusive_token_spans

    tokens, spans = inclusive_token_spans(module, nodes)
    if not spans:
        return {}
    offsets = [0]
    offsets.extend(itertools.accumulate(len(token) for token in tokens))
    return {node: (offsets[start], offsets[end]) for node, (start, end) in spans.items()}


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Apply non-overlapping edits (sorted or not) to ``text``."""
    lines = _LineStarts(text)
    spans = sorted(((lines.offset(e.location), lines.offset(e.end_location), e.content) for e in edits), reverse=True)
    for start, end, content in spans:
        text = text[:start] + content + text[end:]
    return text


def overlaps(a: Sequence[Edit], b: Sequence[Edit]) -> bool:
    """Do two fixes touch the same text (or insert at the same place)?"""
    for x in a:
        for y in b:
            if x == y:
                continue  # the same import added by two fixes is one edit
            if x.location < y.end_location and y.location < x.end_location:
                return True
            if x.location == y.location:
                return True
    return False


# ----- statements fixes are made of -------------------------------------------------------

_LOGGING_CALL_RE = re.compile(
    r"(?:^|\.)(?:log|logger|_log|_logger|logging|LOG|LOGGER|LOGGER_)\.\w+$|^warnings\.warn$|^print$|^logging\.\w+$"
)


def is_logging_call(node: cst.BaseExpression) -> bool:
    from walint.semantic.model import dotted_name

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
        raise_stmt = cst.Raise()
    else:
        raise_stmt = cst.Raise(
            cst.Call(
                cst.Attribute(cst.Name("sqlite3"), cst.Name("OperationalError")),
                [cst.Arg(cst.SimpleString('"refusing to leave WAL: the database is (or may be) in WAL on disk"'))],
            )
        )
    return cst.If(test=test, body=cst.IndentedBlock([cst.SimpleStatementLine([raise_stmt])]))


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


def remove_marker_fix(
    collection: cst.BaseExpression, element_value: cst.CSTNode, applicability: str = SAFE
) -> Optional[FixPlan]:
    """WAL002's fix: drop the transient message from the marker collection."""
    replacement = remove_element(collection, element_value)
    if replacement is None:
        return None
    return FixPlan("Remove the transient error from the markers", applicability, {collection: replacement})


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
            if not handler_only_decides(_block(statement.body), is_downgrade):
                return False
            orelse = statement.orelse
            while orelse is not None:
                if isinstance(orelse, cst.If):
                    if not handler_only_decides(_block(orelse.body), is_downgrade):
                        return False
                    orelse = orelse.orelse
                else:
                    if not handler_only_decides(_block(orelse.body), is_downgrade):
                        return False
                    orelse = None
        else:
            return False
    return True


# Calls with no effect beyond their value: what a handler uses to read an error message.
_PURE_CALLS = frozenset(
    {"str", "repr", "type", "getattr", "isinstance", "len", "any", "all", "lower", "upper", "casefold", "strip", "format"}
)


def _is_local_computation(small: cst.BaseSmallStatement) -> bool:
    """``msg = str(exc).lower()``: a local name computed for the decision, with no side effect."""
    from walint.semantic.model import iter_subexpressions

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
    from walint.semantic.model import iter_subexpressions

    return any(isinstance(n, cst.Await) and n.expression is call for n in iter_subexpressions(statement))


NO_FIX_TRY_ELSE = "the `try` has an `else` or `finally`: call the safe helper there by hand"
NO_FIX_MORE = "the block does more than set WAL: call the safe helper there by hand"
NO_FIX_SQL_TEXT = (
    "the pragma does not run through a DB-API `execute` the helper can take: "
    "call it on the DB-API connection by hand"
)
NO_FIX_CURSOR = "the code keeps the cursor the pragma returns, which the helper does not: rewrite it by hand"


def helper_call_fix(
    model, container: cst.CSTNode, wal_call: cst.Call, handlers: Sequence[cst.CSTNode], spec: HelperSpec
) -> Tuple[Optional[FixPlan], Optional[str]]:
    """Replace a WAL-setup ``try`` (or ``with suppress``) by one call of the safe helper.

    Returns the plan, or None and why the block has no such rewrite.
    """
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


def _wal_setting_calls(model, sites) -> List[cst.Call]:
    calls = []
    for site in sites:
        if isinstance(site.node, cst.Call):
            effect = model.direct_effect(site.node, site.scope)
            if effect is not None and effect.sets_wal:
                calls.append(site.node)
    return calls


def try_fix(model, unit, try_facts, spec: HelperSpec) -> Tuple[Optional[FixPlan], Optional[str]]:
    """The helper-call rewrite of a ``try`` whose body is one WAL pragma, or why there is none."""
    sites = model.facts(unit).sites
    body = [s for s in sites[try_facts.body[0] : try_facts.body[1]] if s.try_node is try_facts.node]
    calls = _wal_setting_calls(model, body)
    if len(calls) != 1:
        return None, NO_FIX_MORE
    return helper_call_fix(model, try_facts.node, calls[0], [h for h, _ in try_facts.handlers], spec)


def suppress_fix(model, suppression, sites, spec: HelperSpec) -> Tuple[Optional[FixPlan], Optional[str]]:
    """The helper-call rewrite of ``with suppress(...): <WAL pragma>``, or why there is none."""
    if len(suppression.node.items) != 1:
        return None, NO_FIX_MORE
    calls = _wal_setting_calls(model, sites[suppression.body[0] : suppression.body[1]])
    if len(calls) != 1:
        return None, NO_FIX_MORE
    return helper_call_fix(model, suppression.node, calls[0], (), spec)


def fallback_fix(model, site, spec: HelperSpec) -> Tuple[Optional[FixPlan], Optional[str]]:
    """WAL001's fix: the helper call where the whole ``try`` is WAL setup, else a guard."""
    if site.handler is not None:
        try_facts = model.try_of_handler(site.handler, site.unit)
        if try_facts is not None:
            plan, _ = try_fix(model, site.unit, try_facts, spec)
            if plan is not None:
                return plan, None
    return guard_fix(model, site, spec)


def _is_wal_literal(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.SimpleString) and str(node.evaluated_value).lower() == "wal"


def _with_none(collection: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    if not isinstance(collection, (cst.Tuple, cst.List, cst.Set)) or not collection.elements:
        return None
    elements = list(collection.elements)
    last = elements[-1]
    if not isinstance(last.comma, cst.Comma):
        elements[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    elif isinstance(last.comma.whitespace_after, cst.SimpleWhitespace) and not last.comma.whitespace_after.value:
        elements[-1] = last.with_changes(comma=last.comma.with_changes(whitespace_after=cst.SimpleWhitespace(" ")))
    elements.append(cst.Element(cst.Name("None")))
    return collection.with_changes(elements=elements)


def fail_closed_fix(comparison: cst.Comparison) -> Optional[FixPlan]:
    """WAL005's fix: ``mode == "wal"`` -> ``mode in ("wal", None)`` (and ``!=`` -> ``not in``)."""
    if len(comparison.comparisons) != 1:
        return None
    target = comparison.comparisons[0]
    left, right, operator = comparison.left, target.comparator, target.operator
    if isinstance(operator, (cst.Equal, cst.NotEqual)):
        if _is_wal_literal(left) and not _is_wal_literal(right):
            left, right = right, left
        if not _is_wal_literal(right):
            return None
        membership: cst.BaseCompOp = (
            cst.In() if isinstance(operator, cst.Equal) else cst.NotIn(whitespace_between=cst.SimpleWhitespace(" "))
        )
        comparator: Optional[cst.BaseExpression] = cst.Tuple(
            [cst.Element(right, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))), cst.Element(cst.Name("None"))]
        )
    elif isinstance(operator, (cst.In, cst.NotIn)):
        membership, comparator = operator, _with_none(right)
        if comparator is None:
            return None
    else:
        return None
    fixed = comparison.with_changes(left=left, comparisons=[target.with_changes(operator=membership, comparator=comparator)])
    return FixPlan('Refuse an unknown mode too: `in ("wal", None)`', SAFE, {comparison: fixed})


def lowercase_literal_fix(literal: cst.SimpleString) -> FixPlan:
    """WAL005's fix for a guard comparing with ``"WAL"``: compare with ``"wal"``."""
    lowered = literal.with_changes(value=literal.prefix + literal.quote + "wal" + literal.quote)
    return FixPlan('Compare with "wal", the way SQLite answers', SAFE, {literal: lowered})


def lowercase_fix(comparison: cst.Comparison, operand: cst.BaseExpression) -> Optional[FixPlan]:
    """WAL005's fix for a case-sensitive guard: compare ``operand.lower()``."""
    if not isinstance(operand, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)) or operand.lpar:
        return None
    lowered = cst.Call(cst.Attribute(operand, cst.Name("lower")))
    return FixPlan("Normalise the mode with `.lower()` before comparing", SAFE, {operand: lowered})
