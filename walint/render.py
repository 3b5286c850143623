"""Turning a file's fix plans into edits: all of a file's plans in one transform, their
imports added once with ``AddImportsVisitor``, output that does not parse refused, and
the result cut into column-precise edits, one set per plan, so a finding's fix is plain
data and bytes it did not mean to change are kept.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

import libcst as cst

from walint.findings import Edit, Location
from walint.added_imports import with_imports_added
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
        final = with_imports_added(middle, dict.fromkeys(imports), plans)
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
