"""The file header's word on the journal: bytes 18 and 19 hold the write and read
versions, 2 for a database in WAL and 1 for a rollback journal. Readers of them are
guards (and probes) like reads of the pragma."""

from __future__ import annotations

from typing import Callable, List, Optional, Tuple

import libcst as cst

from walint.flow.conditions import boolean_atoms
from walint.semantic.nodes import dotted_name, iter_subexpressions
from walint.semantic.scopes import Scope
from walint.tree import own_nodes

# A read of the header that SQLite's checks take (20 bytes or more) holds at least the
# bytes up to the versions: a length test asking no more is true of every WAL file.
_VERSIONS_END = 20


class HeaderQueries:
    """Header-version readers, asked of a :class:`ModuleModel` (mixed in)."""

    def holds_header_versions(self, expr: cst.BaseExpression, scope: Scope, depth: int = 0) -> bool:
        """Is ``expr`` the header's write and read versions (bytes 18-19 of the file)?
        ``header[18:20]``; ``versions`` of ``fh.seek(18); versions = fh.read(2)``;
        ``struct.unpack(">BB", raw[18:20])``; a call of a project function that returns
        them; or a name bound to one of those, alone or unpacked (``w, r = versions_of(p)``)."""
        if is_header_version(expr):
            return True
        if depth > 3:
            return False
        if isinstance(expr, cst.IfExp):  # `header[18] if len(header) >= 20 else 0`
            return any(self.holds_header_versions(side, scope, depth + 1) for side in (expr.body, expr.orelse))
        if isinstance(expr, (cst.Tuple, cst.List)) and expr.elements:  # `return write_version, read_version`
            return all(self.holds_header_versions(element.value, scope, depth + 1) for element in expr.elements)
        if isinstance(expr, cst.Subscript) and len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Index):
            index = expr.slice[0].slice.value  # `versions[0]`, one of the two
            return isinstance(index, cst.Integer) and index.value in ("0", "1") and self.holds_header_versions(expr.value, scope, depth + 1)
        if isinstance(expr, cst.Call):
            if isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "read":
                # `fh.seek(18); return fh.read(1)[0]`, or the whole header: `return fh.read(100)`
                return self._read_after_seek_18(expr, scope) or _reads_the_header_block(expr, scope)
            callee = self.callee(expr, scope)
            return callee is not None and callee.returns_header_versions
        if not isinstance(expr, cst.Name):
            return False
        bindings, _ = self.bindings_of(expr, scope)
        if len(bindings) != 1:
            return False
        if bindings[0].kind == "value" and bindings[0].scope is not None:
            value, where = bindings[0].value, bindings[0].scope
        else:
            unpacked = self.unpacked_from(expr, scope)
            if unpacked is None:
                return False
            value, where = unpacked, scope
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "read":
            return self._read_after_seek_18(value, where) or _reads_the_header_block(value, where)
        return isinstance(value, cst.BaseExpression) and self.holds_header_versions(value, where, depth + 1)

    def header_length_checks(self, test: cst.BaseExpression, scope: Scope) -> List[Tuple[cst.BaseExpression, bool]]:
        """``len(header) > 19`` in ``len(header) > 19 and header[18] == 2``: a WAL file's
        header is all there, so the check being false proves the mode is not WAL (each
        with False, the value that proves it, as :func:`walint.flow.conditions.guarded_sides`
        takes its checks). A header made up on a failed read is judged by WAL005."""
        found: List[Tuple[cst.BaseExpression, bool]] = []
        for atom in boolean_atoms(test):
            if not isinstance(atom, cst.Comparison) or len(atom.comparisons) != 1:
                continue
            length, operator, bound = atom.left, atom.comparisons[0].operator, atom.comparisons[0].comparator
            if not (isinstance(length, cst.Call) and isinstance(length.func, cst.Name) and length.func.value == "len"):
                continue
            if len(length.args) != 1 or not isinstance(bound, cst.Integer):
                continue
            try:
                needed = int(bound.value, 0) + (1 if isinstance(operator, cst.GreaterThan) else 0)
            except ValueError:
                continue
            if not isinstance(operator, (cst.GreaterThan, cst.GreaterThanEqual)) or needed > _VERSIONS_END:
                continue
            header = length.args[0].value
            if self.holds_header_versions(header, scope) or self.header_made_up_on_error(header, scope):
                found.append((atom, False))
        return found

    def header_made_up_on_error(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        """``header`` of ``header[18:20] == b"\x02\x02"`` where ``try: header = fh.read(100)
        / except OSError: header = b""``: when the file cannot be read, a header that says
        "not WAL" is made up, and the guard lets the downgrade through."""
        while isinstance(expr, cst.Subscript):
            expr = expr.value
        unit = scope.unit
        if not isinstance(expr, cst.Name) or unit is None:
            return False
        bindings, _ = self.bindings_of(expr, scope)
        read = [b.value for b in bindings if b.kind == "value" and b.value is not None and not made_up_version(b.value)]
        made_up = [b.value for b in bindings if b.kind == "value" and b.value is not None and made_up_version(b.value)]
        if not read or not made_up:
            return False
        for node in own_nodes(unit.node):
            if not isinstance(node, cst.Try):
                continue
            in_body = {id(n) for n in iter_subexpressions(node.body, limit=2000)}
            in_handlers = {id(n) for handler in node.handlers for n in iter_subexpressions(handler, limit=2000)}
            if any(id(value) in in_body for value in read) and any(id(value) in in_handlers for value in made_up):
                return True
        return False

    def version_literal(self, expr: cst.BaseExpression, scope: Scope) -> cst.BaseExpression:
        """``WAL_HEADER`` bound once to ``b"\\x02\\x02"`` (or to ``2``, ``(2, 2)``): that
        literal; any other expression is itself."""
        if isinstance(expr, cst.Name):
            bindings, parameter = self.bindings_of(expr, scope)
            if parameter is None and len(bindings) == 1 and bindings[0].kind == "value":
                value = bindings[0].value
                if isinstance(value, (cst.SimpleString, cst.Integer, cst.Tuple)) and (is_wal_version(value) or is_wal_version(value, 1)):
                    return value
        elif isinstance(expr, (cst.Tuple, cst.List)) and any(isinstance(element.value, cst.Name) for element in expr.elements):
            # `(WAL_VERSION, WAL_VERSION)`: the literals its names are bound to.
            elements = [element.with_changes(value=self.version_literal(element.value, scope)) for element in expr.elements]
            return expr.with_changes(elements=elements)
        return expr

    def _reads_header_versions(self, atom: cst.BaseExpression, scope: Scope) -> bool:
        """``header[18:20] == b"\\x02\\x02"``, ``write_version == 2``: a comparison of the
        file's own word on whether it is in WAL."""
        if not isinstance(atom, cst.Comparison) or len(atom.comparisons) != 1:
            return False
        operands = [self.version_literal(o, scope) for o in (atom.left, atom.comparisons[0].comparator)]
        return any(is_wal_header_bytes(o) for o in operands) or (
            any(is_or_holds_wal_version(o) or is_wal_version(o, 1) for o in operands)
            and any(self.holds_header_versions(o, scope) for o in operands)
        )

    def unpacked_from(self, name: cst.Name, scope: Scope) -> Optional[cst.BaseExpression]:
        """The value ``w, r = <value>`` unpacks into ``name`` in the function ``scope`` is."""
        unit = scope.unit
        if unit is None:
            return None
        for node in own_nodes(unit.node):
            if isinstance(node, cst.Assign) and len(node.targets) == 1:
                target = node.targets[0].target
                if isinstance(target, (cst.Tuple, cst.List)) and any(
                    isinstance(element.value, cst.Name) and element.value.value == name.value for element in target.elements
                ):
                    return node.value
        return None

    def _read_after_seek_18(self, read: cst.Call, scope: Scope) -> bool:
        """``fh.read(2)`` where the same function ran ``fh.seek(18)``."""
        return "18" in _seek_offsets(read, scope)


# A read of the file's first bytes long enough to hold the versions (bytes 18-19) and short
# enough to be the header (SQLite's is 100 bytes; a page is at least 512).
_HEADER_BLOCK_BYTES = range(20, 513)


def may_read_header_bytes(call: cst.Call) -> bool:
    """By its text alone, can ``call`` read the versions: ``fh.seek(18)`` (or 19), or a read
    of a header block's length (``fh.read(100)``)? What the readers above go on to check."""
    func = call.func
    if not isinstance(func, cst.Attribute) or len(call.args) != 1 or not isinstance(call.args[0].value, cst.Integer):
        return False
    written = call.args[0].value.value
    if func.attr.value == "seek":
        return written in ("18", "19")
    try:
        return func.attr.value == "read" and int(written, 0) in _HEADER_BLOCK_BYTES
    except ValueError:
        return False


def _reads_the_header_block(read: cst.Call, scope: Scope) -> bool:
    """``fh.read(100)`` in a function that seeks nowhere but the start: the header, whose
    bytes 18 and 19 its callers compare (``header[18] == 2``)."""
    if len(read.args) != 1 or not isinstance(read.args[0].value, cst.Integer):
        return False
    if int(read.args[0].value.value, 0) not in _HEADER_BLOCK_BYTES:
        return False
    return all(offset == "0" for offset in _seek_offsets(read, scope))


def _seek_offsets(read: cst.Call, scope: Scope) -> List[str]:
    """The offsets (as written; "" when not a literal) the function ``scope`` is in seeks
    the handle of ``fh.read(...)`` to; ["?"] when the handle or the function is unknown."""
    reader = dotted_name(read.func.value)  # type: ignore[attr-defined]
    unit = scope.unit
    if not reader or unit is None:
        return ["?"]
    return [
        node.args[0].value.value if node.args and isinstance(node.args[0].value, cst.Integer) else ""
        for node in iter_subexpressions(unit.node, limit=5000)
        if isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "seek"
        and dotted_name(node.func.value) == reader
    ]


def made_up_version(value: cst.CSTNode) -> bool:
    """``b""``, ``b"\\x00\\x00"``, ``None``, ``0``, ``bytes(100)`` or ``(0, 0)``: a header, or
    its versions, invented where none were read."""
    if isinstance(value, (cst.Tuple, cst.List)):
        return bool(value.elements) and all(made_up_version(element.value) for element in value.elements)
    if isinstance(value, cst.SimpleString):
        text = value.evaluated_value
        return not text.strip(b"\0" if isinstance(text, bytes) else "\0")
    if isinstance(value, cst.Integer):
        return value.evaluated_value == 0
    if isinstance(value, cst.Name):
        return value.value == "None"
    return isinstance(value, cst.Call) and dotted_name(value.func) == "bytes"


def is_header_version(expr: cst.BaseExpression) -> bool:
    """``header[18]``, ``header[19]``, ``header[18:20]``, ``(header[18], header[19])`` or
    ``max(header[18], header[19])``: the file format's read and write versions, which are
    2 for a database in WAL."""
    if isinstance(expr, (cst.Tuple, cst.List)) and expr.elements:
        return all(is_header_version(element.value) for element in expr.elements)
    if isinstance(expr, cst.Call) and dotted_name(expr.func) in ("max", "min") and expr.args and not any(a.star or a.keyword for a in expr.args):
        return all(is_header_version(arg.value) for arg in expr.args)  # `max(header[18], header[19])`
    if isinstance(expr, cst.Call) and dotted_name(expr.func) in ("struct.unpack", "unpack") and len(expr.args) == 2:
        return is_header_version(expr.args[1].value)  # `struct.unpack(">BB", raw[18:20])`
    if isinstance(expr, cst.Call) and dotted_name(expr.func) in ("struct.unpack_from", "unpack_from") and len(expr.args) == 3:
        offset = expr.args[2].value  # `struct.unpack_from(">BB", header, 18)`
        return isinstance(offset, cst.Integer) and offset.value in ("18", "19")
    if not isinstance(expr, cst.Subscript) or len(expr.slice) != 1:
        return False
    index = expr.slice[0].slice
    if isinstance(index, cst.Index):
        return isinstance(index.value, cst.Integer) and index.value.value in ("18", "19")
    if isinstance(index, cst.Slice):
        return isinstance(index.lower, cst.Integer) and index.lower.value in ("18", "19")
    return False


def is_wal_version(expr: cst.BaseExpression, version: int = 2) -> bool:
    """``2``, ``(2, 2)``, or the bytes ``b"\\x02\\x02"`` (or ``b"\\x02"``); with ``version=1``,
    the versions of a database in a rollback journal."""
    if isinstance(expr, (cst.Tuple, cst.List)) and expr.elements:
        return all(is_wal_version(element.value, version) for element in expr.elements)
    if isinstance(expr, cst.Integer):
        return expr.value == str(version)
    if isinstance(expr, cst.SimpleString):
        value = expr.evaluated_value
        return isinstance(value, bytes) and bool(value) and set(value) == {version}
    return False


def compares_with_wal_versions(atom: cst.BaseExpression, literal: Callable[[cst.BaseExpression], cst.BaseExpression]) -> bool:
    """``<versions> == 2``, ``== b"\\x02\\x02"`` or ``in (2, None)`` (``literal`` reads a name
    bound to one): a test that says WAL when it holds."""
    return isinstance(atom, cst.Comparison) and any(
        is_or_holds_wal_version(literal(o)) for o in (atom.left, *(c.comparator for c in atom.comparisons))
    )


def is_or_holds_wal_version(expr: cst.BaseExpression) -> bool:
    """A WAL version (:func:`is_wal_version`), or a collection tested for membership that
    holds one (``version in (2, None)``: WAL, or not known)."""
    return is_wal_version(expr) or (
        isinstance(expr, (cst.Tuple, cst.List, cst.Set)) and any(is_wal_version(element.value) for element in expr.elements)
    )


def is_wal_header_bytes(expr: cst.BaseExpression) -> bool:
    """``b"\\x02\\x02"``: the two version bytes of a WAL database's header, however read."""
    return isinstance(expr, cst.SimpleString) and expr.evaluated_value == b"\x02\x02"
