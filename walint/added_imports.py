"""The imports a fix needs, added as ``AddImportsVisitor`` adds them and then placed and
sorted as isort would (ruff's I001, default settings), so fixed code passes the import
linters it passed before."""

from __future__ import annotations

import sys
from typing import AbstractSet, Dict, Iterable, List, Optional, Sequence, Tuple, cast

import libcst as cst

from walint.fixes import FixPlan


def with_imports_added(module: cst.Module, imports: Iterable[Tuple[str, str]], plans: Sequence[FixPlan]) -> cst.Module:
    """``module`` with the ``(module, name)`` imports the ``plans`` need that it lacks."""
    return _isort_added_imports(module, _with_imports(module, imports), plans)


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
