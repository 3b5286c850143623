"""Fold string-building expressions into the SQL text they produce.

Code rarely passes a plain literal to ``execute``: it builds the statement with f-strings,
``%``, ``.format``, ``+``, implicit concatenation or a named constant. ``StringFolder``
evaluates such an expression to the set of strings it can produce. A part it cannot know
becomes ``HOLE``; a part that comes straight from a function parameter becomes a named
hole, so a caller can later substitute the argument it passes.
"""

from __future__ import annotations

import itertools
import re
from typing import Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import libcst as cst

HOLE = "\x00"
# A parameter, or an item of a loop over one (`steps.iter.0`: the first name of the
# target of `for key, value in steps`; `pragmas.items.1`: the value of `.items()`).
_PARAM_HOLE_RE = re.compile("\x01([A-Za-z_][A-Za-z_0-9]*(?:\\.(?:iter|items|keys|values)\\.[0-9]*)?)\x02")
LOOP_VIEWS = ("iter", "items", "keys", "values")
# Enough alternatives for `"wal" if x else "delete"` chains, few enough to stay cheap.
MAX_VALUES = 16
_MAX_DEPTH = 24

Values = Tuple[str, ...]
UNKNOWN: Values = (HOLE,)


def param_hole(name: str) -> str:
    """The placeholder standing for the value of parameter ``name``."""
    return f"\x01{name}\x02"


def loop_hole(parameter: str, view: str, index: Optional[int]) -> str:
    """The name of the placeholder for an item of a loop over ``parameter`` (through
    ``view``: iter, items, keys, values), or for one part of it (``index``)."""
    return f"{parameter}.{view}.{'' if index is None else index}"


def loop_hole_parts(name: str) -> Optional[Tuple[str, str, Optional[int]]]:
    """(parameter, view, index) of a :func:`loop_hole` name; None for a plain parameter."""
    parts = name.split(".")
    if len(parts) != 3:
        return None
    return parts[0], parts[1], int(parts[2]) if parts[2] else None


def param_of(value: str) -> Optional[str]:
    """The parameter name if ``value`` is exactly one parameter placeholder."""
    match = _PARAM_HOLE_RE.fullmatch(value)
    return match.group(1) if match else None


def parameters_in(text: str) -> List[str]:
    """The names of the parameter placeholders in ``text``."""
    return _PARAM_HOLE_RE.findall(text)


def substitute(template: str, values: Mapping[str, Values]) -> Values:
    """``template`` with each parameter placeholder replaced by the values a caller passes
    for that parameter (``HOLE`` for one it does not)."""
    parts: List[Values] = []
    last = 0
    for match in _PARAM_HOLE_RE.finditer(template):
        parts.append((template[last : match.start()],))
        parts.append(values.get(match.group(1), UNKNOWN))
        last = match.end()
    parts.append((template[last:],))
    return _product(parts)


def is_known(value: str) -> bool:
    return HOLE not in value and "\x01" not in value


def _product(parts: Sequence[Values]) -> Values:
    out: List[str] = []
    for combo in itertools.product(*parts):
        out.append("".join(combo))
        if len(out) >= MAX_VALUES:
            break
    return tuple(dict.fromkeys(out))


def _union(groups: Iterable[Values]) -> Values:
    out: Dict[str, None] = {}
    for group in groups:
        for value in group:
            out[value] = None
            if len(out) >= MAX_VALUES:
                return tuple(out)
    return tuple(out) or UNKNOWN


def _fill(
    templates: Values,
    fields: "re.Pattern[str]",
    field_values: Callable[["re.Match[str]", Iterator[int]], Values],
) -> Values:
    """Every string the ``templates`` (of ``.format`` or ``%``) produce, each match of
    ``fields`` replaced by ``field_values(match, automatic)``; ``automatic`` numbers the
    fields that take the next positional argument, from 0 in each template."""
    out: List[str] = []
    for template in templates:
        pieces: List[Values] = []
        automatic = itertools.count()
        last = 0
        for match in fields.finditer(template):
            pieces.append((template[last : match.start()],))
            pieces.append(field_values(match, automatic))
            last = match.end()
        pieces.append((template[last:],))
        out.extend(_product(pieces))
    return tuple(dict.fromkeys(out[:MAX_VALUES])) or UNKNOWN


def _argument(positional: Sequence[Values], index: int) -> Values:
    return positional[index] if index < len(positional) else UNKNOWN


# The name resolver answers "what can this name hold here": a sequence of expressions
# (with the resolver to evaluate each in), a parameter name, or nothing known.
NameResolver = Callable[[cst.BaseExpression], Optional["Resolution"]]


class Resolution:
    """What a name or attribute refers to, as far as the current module can tell."""

    __slots__ = ("expressions", "parameter", "values", "default")

    def __init__(
        self,
        expressions: Sequence[Tuple[cst.BaseExpression, object]] = (),
        parameter: Optional[str] = None,
        values: Tuple[str, ...] = (),
        default: Optional[Tuple[cst.BaseExpression, object]] = None,
    ) -> None:
        # (expression, scope to evaluate it in); an entry of (None, None) is an unknown binding.
        self.expressions = expressions
        self.parameter = parameter
        # Values known without an expression: a constant imported from another module.
        self.values = values
        # For a parameter, its default (``cfg: dict = DB_CONFIG``): what a lookup in it
        # finds when the caller passes nothing.
        self.default = default


_STRING_METHODS: Dict[str, Callable[[str], str]] = {
    "lower": str.lower,
    "upper": str.upper,
    "strip": str.strip,
    "lstrip": str.lstrip,
    "rstrip": str.rstrip,
    "casefold": str.casefold,
}
_FORMAT_FIELD_RE = re.compile(r"\{\{|\}\}|\{([^{}!:]*)(?:![rsa])?(?::[^{}]*)?\}")
_PERCENT_FIELD_RE = re.compile(r"%%|%(?:\(([^)]*)\))?[-#0 +]*\d*(?:\.\d+)?[sdirfgeExXcuo]")


class StringFolder:
    """Evaluates expressions to the strings they can produce, within one module."""

    def __init__(
        self,
        resolve: Callable[[cst.BaseExpression, object], Optional[Resolution]],
        returns: Optional[Callable[[cst.Call, object], Values]] = None,
    ) -> None:
        self._resolve = resolve
        # The strings a call of a project function returns (empty when not all known).
        self._returns = returns
        # Every answer, keyed by the node (kept alive by the key, so ids are never reused) and
        # the scope. Without it a name bound many times, each binding built from the name
        # itself (`sql = sql + ...`), costs the number of bindings to the power of the depth.
        self._memo: Dict[Tuple[cst.CSTNode, object], Values] = {}

    def expressions(self, expr: cst.BaseExpression, scope: object) -> List[Tuple[cst.BaseExpression, object]]:
        """The expressions a name stands for (itself when it is not a known name)."""
        if isinstance(expr, (cst.Name, cst.Attribute)):
            resolution = self._resolve(expr, scope)
            if resolution is not None:
                return [(e, s) for e, s in resolution.expressions if e is not None]
        return [(expr, scope)]

    def values(self, expr: cst.BaseExpression, scope: object, _depth: int = 0) -> Values:
        """Every string ``expr`` can evaluate to; unknown parts are ``HOLE``."""
        if _depth > _MAX_DEPTH:
            return UNKNOWN
        key = (expr, scope)
        known = self._memo.get(key)
        if known is not None:
            return known
        # A cycle (`x = x + "a"`) meets its own key while it is being computed: unknown there.
        self._memo[key] = UNKNOWN
        result = self._values(expr, scope, _depth + 1)
        self._memo[key] = result
        return result

    def _values(self, expr: cst.BaseExpression, scope: object, depth: int) -> Values:
        if isinstance(expr, cst.SimpleString):
            value = expr.evaluated_value
            return (value,) if isinstance(value, str) else UNKNOWN
        if isinstance(expr, cst.ConcatenatedString):
            return _product([self.values(expr.left, scope, depth), self.values(expr.right, scope, depth)])
        if isinstance(expr, cst.FormattedString):
            parts: List[Values] = []
            for part in expr.parts:
                if isinstance(part, cst.FormattedStringText):
                    parts.append((part.value.replace("{{", "{").replace("}}", "}"),))
                else:
                    parts.append(self.values(part.expression, scope, depth))
            return _product(parts)
        if isinstance(expr, cst.BinaryOperation):
            if isinstance(expr.operator, cst.Add):
                return _product([self.values(expr.left, scope, depth), self.values(expr.right, scope, depth)])
            if isinstance(expr.operator, cst.Modulo):
                return self._percent(expr, scope, depth)
            return UNKNOWN
        if isinstance(expr, cst.IfExp):
            return _union([self.values(expr.body, scope, depth), self.values(expr.orelse, scope, depth)])
        if isinstance(expr, cst.BooleanOperation) and isinstance(expr.operator, cst.Or):
            # `mode_for(exc) or "DELETE"`: the first part when it is set, else the second.
            return _union([self.values(expr.left, scope, depth), self.values(expr.right, scope, depth)])
        if isinstance(expr, cst.Call):
            return self._call(expr, scope, depth)
        if isinstance(expr, cst.Subscript):
            return self._subscript(expr, scope, depth)
        if isinstance(expr, (cst.Name, cst.Attribute)):
            resolution = self._resolve(expr, scope)
            if resolution is None and isinstance(expr, cst.Attribute) and expr.attr.value == "value":
                return self.values(expr.value, scope, depth)  # `Journal.DELETE.value`: the member's value
            if resolution is None:
                return UNKNOWN
            if resolution.parameter is not None and not resolution.expressions:
                return (param_hole(resolution.parameter),)
            groups = [resolution.values] if resolution.values else []
            for value, value_scope in resolution.expressions:
                groups.append(UNKNOWN if value is None else self.values(value, value_scope, depth))
            if resolution.parameter is not None:
                groups.append((param_hole(resolution.parameter),))
            return _union(groups)
        return UNKNOWN

    def _subscript(self, expr: cst.Subscript, scope: object, depth: int) -> Values:
        """``MODES["fallback"]``: the value of a constant key of a dict literal the name is
        bound to, and whatever ``MODES["fallback"] = ...`` assigns it anywhere. Any other
        subscript is unknown (a key chosen at run time could be any)."""
        if len(expr.slice) != 1 or not isinstance(expr.slice[0].slice, cst.Index):
            return UNKNOWN
        position = _position(expr.slice[0].slice.value)
        if position is not None:  # `FALLBACK_PRAGMAS[0]`: that item of a tuple or list literal
            items: List[Values] = []
            for sequence, sequence_scope in self._containers(expr.value, scope, depth):
                elements = sequence.elements if isinstance(sequence, (cst.Tuple, cst.List)) else None
                if elements is None or any(isinstance(e, cst.StarredElement) for e in elements) or not -len(elements) <= position < len(elements):
                    return UNKNOWN
                items.append(self.values(elements[position].value, sequence_scope, depth))
            return _union(items) if items else UNKNOWN
        keys = self.values(expr.slice[0].slice.value, scope, depth)
        if not keys or not all(is_known(k) for k in keys):
            return self._any_entry(expr, scope, depth)
        groups: List[Values] = []
        assigned = self._resolve(expr, scope)
        if assigned is not None:
            if assigned.values:
                groups.append(assigned.values)  # an entry of a dict another module defines
            groups.extend(self.values(value, where, depth) for value, where in assigned.expressions if value is not None)
        for mapping, mapping_scope in self._containers(expr.value, scope, depth):
            if not isinstance(mapping, cst.Dict):
                return _union(groups) if groups else UNKNOWN
            entries = [e for e in mapping.elements if isinstance(e, cst.DictElement)]
            for key in keys:
                matching = [e.value for e in entries if key in self.values(e.key, mapping_scope, depth)]
                if not matching and not groups:
                    return UNKNOWN
                groups.extend(self.values(value, mapping_scope, depth) for value in matching)
        return _union(groups) if groups else UNKNOWN

    def _containers(self, expr: cst.BaseExpression, scope: object, depth: int) -> List[Tuple[Optional[cst.BaseExpression], object]]:
        """The literals ``expr`` may be: what a name is bound to, or for a nested lookup
        (``DEFAULTS["journal"]["fallback"]``) the entries of the outer dict under that key."""
        if isinstance(expr, cst.BooleanOperation) and isinstance(expr.operator, cst.Or) and depth <= 8:
            # `(config or DEFAULTS)["journal"]`: the caller's table, or else the default one.
            return self._containers(expr.left, scope, depth + 1) + self._containers(expr.right, scope, depth + 1)
        if not isinstance(expr, cst.Subscript):
            found_for_name: List[Tuple[Optional[cst.BaseExpression], object]] = []
            resolution = self._resolve(expr, scope) if isinstance(expr, cst.Name) else None
            if resolution is not None and resolution.default is not None and not resolution.expressions:
                return self._containers(resolution.default[0], resolution.default[1], depth + 1)
            for value, value_scope in self.expressions(expr, scope):
                if isinstance(value, cst.Subscript) and depth <= 8:  # `jcfg = CONFIG["journal"]`
                    found_for_name.extend(self._containers(value, value_scope, depth + 1))
                else:
                    found_for_name.append((value, value_scope))
            return found_for_name
        if len(expr.slice) != 1 or not isinstance(expr.slice[0].slice, cst.Index) or depth > 8:
            return [(None, None)]
        keys = self.values(expr.slice[0].slice.value, scope, depth)
        if not keys or not all(is_known(k) for k in keys):
            return [(None, None)]
        found: List[Tuple[Optional[cst.BaseExpression], object]] = []
        for mapping, mapping_scope in self._containers(expr.value, scope, depth + 1):
            if not isinstance(mapping, cst.Dict):
                return [(None, None)]
            for element in mapping.elements:
                if isinstance(element, cst.DictElement) and any(key in self.values(element.key, mapping_scope, depth) for key in keys):
                    found.append((element.value, mapping_scope))
        return found or [(None, None)]

    def _any_entry(self, expr: cst.Subscript, scope: object, depth: int) -> Values:
        """``JOURNAL_FOR[wal_ok]`` with ``JOURNAL_FOR = {True: "wal", False: "delete"}``:
        a key this folding cannot tell picks one of the literal's values, when every one
        is a known string (the paths may still tell which). A key that is a parameter or
        an attribute (``MODES[profile]``, ``MODES[cfg.mode]``) is configuration: unknown."""
        key = expr.slice[0].slice.value  # type: ignore[attr-defined]
        literal = key.value if isinstance(key, cst.Name) and key.value in ("True", "False", "None") else None
        configured = False
        if literal is None:
            resolution = self._resolve(key, scope) if isinstance(key, (cst.Name, cst.Attribute)) else None
            configured = resolution is None or resolution.parameter is not None or not resolution.expressions
        found = self.expressions(expr.value, scope)
        if len(found) != 1 or not isinstance(found[0][0], cst.Dict):
            return UNKNOWN
        mapping, mapping_scope = found[0]
        entries = [e for e in mapping.elements if isinstance(e, cst.DictElement)]
        if literal is not None:  # `JOURNAL_FOR[False]`
            entries = [e for e in entries if isinstance(e.key, cst.Name) and e.key.value == literal]
        groups = [self.values(e.value, mapping_scope, depth) for e in entries]
        if not groups or not all(group and all(is_known(v) for v in group) for group in groups):
            return UNKNOWN
        if configured and any(_says_wal(v) for group in groups for v in group):
            return UNKNOWN  # configuration choosing WAL or not: the caller's choice, not known here
        return _union(groups)

    def _call(self, call: cst.Call, scope: object, depth: int) -> Values:
        func = call.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in _STRING_METHODS and not call.args:
                apply = _STRING_METHODS[method]
                return tuple(
                    dict.fromkeys(v if not is_known(v) else apply(v) for v in self.values(func.value, scope, depth))
                )
            if method == "format":
                return self._format(call, scope, depth)
            if method == "get" and call.args:
                return self._dict_get(call, scope, depth)
            if method == "join" and len(call.args) == 1:
                items = call.args[0].value
                if isinstance(items, (cst.List, cst.Tuple)):
                    separators = self.values(func.value, scope, depth)
                    elements = [self.values(el.value, scope, depth) for el in items.elements]
                    out = []
                    for sep in separators:
                        out.extend(sep.join(combo) for combo in itertools.islice(itertools.product(*elements), MAX_VALUES))
                    return tuple(dict.fromkeys(out[:MAX_VALUES])) or UNKNOWN
        name = func.value if isinstance(func, cst.Name) else (func.attr.value if isinstance(func, cst.Attribute) else "")
        if name in ("str", "text") and len(call.args) == 1 and not call.args[0].keyword:
            return self.values(call.args[0].value, scope, depth)
        if self._returns is not None:
            return self._returns(call, scope) or UNKNOWN
        return UNKNOWN

    def _dict_get(self, call: cst.Call, scope: object, depth: int) -> Values:
        """``MODES.get(key, default)`` on a dict literal: the entry a constant key names, or
        any entry (or the default) when the key is chosen at run time; on any other
        mapping, an unknown value or the default."""
        assert isinstance(call.func, cst.Attribute)
        mappings = self.expressions(call.func.value, scope)
        groups: List[Values] = [self.values(call.args[1].value, scope, depth)] if len(call.args) > 1 else []
        if not mappings or not all(isinstance(m, cst.Dict) for m, _ in mappings):
            # A mapping from elsewhere (an imported table, the config): any value, or the
            # default when the key is missing.
            return _union([UNKNOWN, *groups]) if groups else UNKNOWN
        keys = self.values(call.args[0].value, scope, depth)
        for mapping, mapping_scope in mappings:
            for element in mapping.elements:  # type: ignore[attr-defined]
                if not isinstance(element, cst.DictElement):
                    return UNKNOWN
                if not all(is_known(k) for k in keys) or set(keys) & set(self.values(element.key, mapping_scope, depth)):
                    groups.append(self.values(element.value, mapping_scope, depth))
        return _union(groups) if groups else UNKNOWN

    def _format(self, call: cst.Call, scope: object, depth: int) -> Values:
        assert isinstance(call.func, cst.Attribute)
        templates = self.values(call.func.value, scope, depth)
        positional = [self.values(a.value, scope, depth) for a in call.args if a.keyword is None and not a.star]
        keywords = {a.keyword.value: self.values(a.value, scope, depth) for a in call.args if a.keyword is not None}

        def field_values(match: "re.Match[str]", automatic: Iterator[int]) -> Values:
            token = match.group(0)
            if token in ("{{", "}}"):
                return (token[0],)
            key = (match.group(1) or "").split(".")[0].split("[")[0]
            if key == "":
                return _argument(positional, next(automatic))
            if key.isdigit():
                return _argument(positional, int(key))
            return keywords.get(key, UNKNOWN)

        return _fill(templates, _FORMAT_FIELD_RE, field_values)

    def _percent(self, expr: cst.BinaryOperation, scope: object, depth: int) -> Values:
        templates = self.values(expr.left, scope, depth)
        right = expr.right
        positional: List[Values] = []
        named: Dict[str, Values] = {}
        if isinstance(right, (cst.Name, cst.Attribute)):
            # `"...%(fallback)s" % SHED_MODES`: a dict literal the name holds.
            held = self.expressions(right, scope)
            if len(held) == 1 and isinstance(held[0][0], (cst.Dict, cst.Tuple)):
                right, scope = held[0]
        if isinstance(right, cst.Tuple):
            positional = [self.values(el.value, scope, depth) for el in right.elements]
        elif isinstance(right, cst.Dict):
            for element in right.elements:
                if isinstance(element, cst.DictElement):
                    for key in self.values(element.key, scope, depth):
                        named[key] = self.values(element.value, scope, depth)
        else:
            positional = [self.values(right, scope, depth)]

        def field_values(match: "re.Match[str]", automatic: Iterator[int]) -> Values:
            if match.group(0) == "%%":
                return ("%",)
            if match.group(1) is not None:
                return named.get(match.group(1), UNKNOWN)
            return _argument(positional, next(automatic))

        return _fill(templates, _PERCENT_FIELD_RE, field_values)


def _position(index: cst.BaseExpression) -> Optional[int]:
    """The constant position ``0`` or ``-1`` of a subscript, else None."""
    sign = 1
    if isinstance(index, cst.UnaryOperation) and isinstance(index.operator, cst.Minus):
        sign, index = -1, index.expression
    if isinstance(index, cst.Integer):
        try:
            return sign * int(index.value, 0)
        except ValueError:
            return None
    return None


def _says_wal(text: str) -> bool:
    """``"wal"`` or SQL that sets it: a table entry a configuration key may pick."""
    lowered = text.strip().strip("'\"").lower()
    parts = lowered.replace(" ", "").split("journal_mode=", 1)
    return lowered == "wal" or (len(parts) == 2 and parts[1].lstrip("'\"`").startswith("wal"))
