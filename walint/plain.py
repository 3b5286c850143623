"""Plain-data encoding of walint's frozen dataclasses, for the cache: to JSON values and
back, every value checked against the field's type hint on the way in.

Decoding never runs code and never builds anything but the dataclasses it is asked for,
their builtins and tuples of them; anything else raises :class:`PlainDataError`.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import typing
from typing import Any, Dict, Type, TypeVar, Union

T = TypeVar("T")


class PlainDataError(ValueError):
    """The data does not have the shape the type asks for."""


def to_plain(value: Any) -> Any:
    """``value`` as JSON-ready lists, dicts, strings, numbers, booleans and None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [to_plain(item) for item in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    raise PlainDataError(f"cannot encode a {type(value).__name__}")


def from_plain(kind: Type[T], data: Any) -> T:
    """Rebuild a value of type ``kind`` from :func:`to_plain`'s output, checking every field."""
    return _decode(kind, data)  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> Dict[str, Any]:
    module = sys.modules[cls.__module__]
    return typing.get_type_hints(cls, vars(module))


def _decode(kind: Any, data: Any) -> Any:
    if dataclasses.is_dataclass(kind):
        if not isinstance(data, dict):
            raise PlainDataError(f"{kind.__name__}: expected an object")
        hints = _hints(kind)
        fields = {field.name for field in dataclasses.fields(kind)}
        if set(data) - fields:
            raise PlainDataError(f"{kind.__name__}: unknown fields {sorted(set(data) - fields)}")
        return kind(**{name: _decode(hints[name], value) for name, value in data.items()})
    origin = typing.get_origin(kind)
    arguments = typing.get_args(kind)
    if origin is Union:
        for option in arguments:
            try:
                return _decode(option, data)
            except PlainDataError:
                continue
        raise PlainDataError(f"no option of {kind} fits")
    if origin is tuple:
        if not isinstance(data, list):
            raise PlainDataError(f"{kind}: expected a list")
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return tuple(_decode(arguments[0], item) for item in data)
        if len(arguments) != len(data):
            raise PlainDataError(f"{kind}: expected {len(arguments)} items")
        return tuple(_decode(argument, item) for argument, item in zip(arguments, data))
    if kind is type(None):
        if data is not None:
            raise PlainDataError("expected null")
        return None
    if kind in (str, bool):
        if type(data) is not kind:
            raise PlainDataError(f"expected a {kind.__name__}")
        return data
    if kind is int:
        if type(data) is not int:  # bool is an int subclass; JSON true is not a number
            raise PlainDataError("expected an integer")
        return data
    raise PlainDataError(f"cannot decode {kind!r}")
