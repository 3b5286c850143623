"""Turning a file's fix plans into edits: all of a file's plans in one transform, their
imports added once with ``AddImportsVisitor``, output that does not parse refused, and
the result cut into column-precise edits, one set per plan, so a finding's fix is plain
data and bytes it did not mean to change are kept.
"""

from __future__ import annotations

import bisect
import itertools
import sys
from dataclasses import dataclass
from typing import AbstractSet, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, cast

import libcst as cst

from walint.findings import Edit, Location
from walint.fixes import FixPlan, Replacement
from walint.text import LINE_BREAK_RE, quiet_about_the_source


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
    interest = {node for plan in plans for node in plan.replacements}
    old, old_spans = _code_and_spans(module, interest)
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
    mid, middle_spans = _code_and_spans(middle, set(new_nodes))
    imports = [item for plan in plans for item in plan.imports]
    final = middle
    if imports:
        final = _isort_added_imports(middle, _with_imports(middle, dict.fromkeys(imports)), plans)
    code = final.code if final is not middle else mid
    try:
        cst.parse_module(code)
        with quiet_about_the_source():
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


def _is_import_line(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and isinstance(statement.body[0], (cst.Import, cst.ImportFrom))


def _with_imports(module: cst.Module, imports: Iterable[Tuple[str, str]]) -> cst.Module:
    """``module`` with ``from module import name`` (or ``import module``) for each of
    ``imports`` it lacks, added by ``AddImportsVisitor``.

    The visitor reads and rewrites only the module's first statement (a docstring stays
    first), the import block after it, and the blank line above the statement that ends
    the block; it walks the whole tree, and wraps it in metadata first. So it runs on a
    module of those statements alone, the block's end standing in for its statement, and
    the rest of the body is put back unchanged: the same result, at the cost of the head.
    """
    from libcst.codemod import CodemodContext
    from libcst.codemod.visitors import AddImportsVisitor

    context = CodemodContext()
    for import_module, name in imports:
        AddImportsVisitor.add_needed_import(context, import_module, name or None)
    body = list(module.body)
    cut = 1 if body and isinstance(body[0], cst.SimpleStatementLine) else 0
    while cut < len(body) and _is_import_line(body[cut]):
        cut += 1
    rest = body[cut:]
    head = body[:cut]
    if rest:
        head.append(cst.SimpleStatementLine([cst.Pass()], leading_lines=rest[0].leading_lines))
    added = AddImportsVisitor(context).transform_module_impl(module.with_changes(body=head))
    new_body = list(added.body)
    if rest:
        stand_in = new_body.pop()
        rest[0] = rest[0].with_changes(leading_lines=stand_in.leading_lines)
    return module.with_changes(body=[*new_body, *rest])


def _isort_added_imports(before: cst.Module, after: cst.Module, plans: Sequence[FixPlan]) -> cst.Module:
    """``after`` with the imports ``AddImportsVisitor`` added placed and sorted as isort
    (ruff's I001, default settings) would: the helper is third-party to the code it fixes,
    so it goes in the third-party group after the standard library's, in module order,
    and the names of a ``from`` import it added to are sorted."""
    wanted = {module for plan in plans for module, _ in plan.imports}
    had_from = set(_top_level_from_imports(before))
    had_plain = {module for statement in before.body for module in _plain_imports(statement)}
    body = list(after.body)
    for position, statement in enumerate(body):
        found = _from_import(statement)
        if found is not None and found[0] in wanted and not isinstance(found[1].names, cst.ImportStar):
            body[position] = _with_sorted_names(cast(cst.SimpleStatementLine, statement), found[1])
    new = [
        position
        for position, statement in enumerate(body)
        if (_from_import(statement) or ("", None))[0] in wanted - had_from
        or any(module in wanted - had_plain for module in _plain_imports(statement))
    ]
    if not new:
        return after.with_changes(body=body)
    added = [cast(cst.SimpleStatementLine, body[position]) for position in new]
    for position in reversed(new):
        del body[position]
    # The standard library's first, so that the helper's group lands after it.
    added.sort(key=lambda line: (_SECTIONS.index(_section([_module_of(line)])), _sort_key(line)))
    for line in added:
        body = _insert_sorted(body, new[0], line)
    return after.with_changes(body=body)


def _with_sorted_names(line: cst.SimpleStatementLine, node: cst.ImportFrom) -> cst.SimpleStatementLine:
    aliases = list(node.names)  # type: ignore[arg-type]
    ordered = sorted(aliases, key=lambda alias: _name_key(alias.evaluated_name))
    if [a.evaluated_name for a in ordered] == [a.evaluated_name for a in aliases]:
        return line
    names = [alias.with_changes(comma=aliases[i].comma) for i, alias in enumerate(ordered)]
    return line.with_changes(body=[node.with_changes(names=names)] + list(line.body[1:]))


def _name_key(name: str) -> Tuple[int, str]:
    """isort's order-by-type: CONSTANTS, then Classes, then everything else."""
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return kind, name.lower()


def _plain_imports(statement: cst.CSTNode) -> List[str]:
    if not isinstance(statement, cst.SimpleStatementLine) or not statement.body:
        return []
    node = statement.body[0]
    if not isinstance(node, cst.Import):
        return []
    from libcst.helpers import get_full_name_for_node

    return [get_full_name_for_node(alias.name) or "" for alias in node.names]


def _import_module(statement: cst.CSTNode) -> Optional[Tuple[int, str]]:
    """(0 for ``import x``, 1 for ``from x import``; the module), for a top-level import."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    node = statement.body[0]
    if isinstance(node, cst.Import):
        return 0, _plain_imports(statement)[0]
    if isinstance(node, cst.ImportFrom):
        from libcst.helpers import get_full_name_for_node

        module = get_full_name_for_node(node.module) if node.module is not None else ""
        return 1, "." * len(node.relative) + (module or "")
    return None


def _section(modules: Sequence[str]) -> str:
    tops = [module.split(".")[0] for module in modules]
    if any(module.startswith(".") for module in modules):
        return "local"
    if tops and all(top == "__future__" for top in tops):
        return "future"
    if any(top in _stdlib_modules() for top in tops):
        return "stdlib"
    return "other"


def _stdlib_modules() -> AbstractSet[str]:
    names = getattr(sys, "stdlib_module_names", None)
    if names is not None:
        return names  # type: ignore[no-any-return]
    return _STDLIB_FALLBACK  # Python 3.9


_STDLIB_FALLBACK = frozenset(
    "abc argparse array ast asyncio base64 binascii bisect builtins bz2 calendar collections "
    "concurrent configparser contextlib contextvars copy csv ctypes dataclasses datetime decimal "
    "difflib enum errno fcntl fnmatch fractions functools gc getpass glob gzip hashlib heapq hmac "
    "html http importlib inspect io ipaddress itertools json logging lzma math mimetypes "
    "multiprocessing numbers operator os pathlib pickle platform pprint queue random re sched "
    "secrets select shelve shlex shutil signal socket sqlite3 ssl stat statistics string struct "
    "subprocess sys sysconfig tarfile tempfile textwrap threading time timeit traceback types "
    "typing unicodedata unittest urllib uuid warnings weakref xml zipfile zlib".split()
)


_SECTIONS = ("future", "stdlib", "other", "local")


def _module_of(statement: cst.CSTNode) -> str:
    return cast(Tuple[int, str], _import_module(statement))[1]


def _sort_key(statement: cst.CSTNode) -> Tuple[int, str]:
    kind, module = cast(Tuple[int, str], _import_module(statement))
    return kind, module.lower()


def _insert_sorted(body: List[cst.BaseStatement], position: int, line: cst.SimpleStatementLine) -> List[cst.BaseStatement]:
    """``body`` with ``line`` put where isort wants it in the import block around
    ``position`` (groups are separated by blank lines): into its section's group, in
    module order, else in a group of its own after the sections that come before it.
    Anything not from the standard library is third-party here: the helper is."""
    start = position
    while start > 0 and _import_module(body[start - 1]) is not None:
        start -= 1
    end = position
    while end < len(body) and _import_module(body[end]) is not None:
        end += 1
    line = line.with_changes(leading_lines=())
    if start == end:
        return body[:position] + [line] + body[position:]
    groups: List[List[int]] = []
    for index in range(start, end):
        if not groups or any(empty.comment is None for empty in body[index].leading_lines):
            groups.append([])
        groups[-1].append(index)
    sections = [_section([_module_of(body[i]) for i in group]) for group in groups]
    rank = _SECTIONS.index(_section([_module_of(line)]))
    before = max((n for n, section in enumerate(sections) if _SECTIONS.index(section) < rank), default=-1)
    target = next(
        (n for n, section in enumerate(sections) if _SECTIONS.index(section) == rank and n > before), None
    )
    if target is None:
        # A group of its own, after the sections that sort before it.
        at = groups[before][-1] + 1 if before >= 0 else start
        if before >= 0:
            # The next group, if any, already starts with a blank line.
            line = line.with_changes(leading_lines=(cst.EmptyLine(),))
        else:
            line = line.with_changes(leading_lines=body[at].leading_lines)
            body = body[:at] + [body[at].with_changes(leading_lines=(cst.EmptyLine(),))] + body[at + 1 :]
        return body[:at] + [line] + body[at:]
    group = groups[target]
    for index in group:
        if _sort_key(body[index]) > _sort_key(line):
            if index == group[0]:
                line = line.with_changes(leading_lines=body[index].leading_lines)
                body = body[:index] + [body[index].with_changes(leading_lines=())] + body[index + 1 :]
            return body[:index] + [line] + body[index:]
    return body[: group[-1] + 1] + [line] + body[group[-1] + 1 :]


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


def _code_and_spans(module: cst.Module, nodes: Set[cst.CSTNode]) -> Tuple[str, Dict[cst.CSTNode, Tuple[int, int]]]:
    """``module.code``, and the character offsets in it of everything each of ``nodes``
    generates (comments and indentation above a statement included): one code generation."""
    from walint.tree import inclusive_token_spans

    tokens, spans = inclusive_token_spans(module, nodes)
    offsets = [0]
    offsets.extend(itertools.accumulate(len(token) for token in tokens))
    return "".join(tokens), {node: (offsets[start], offsets[end]) for node, (start, end) in spans.items()}


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
