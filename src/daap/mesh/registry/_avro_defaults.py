"""Does a JSON value fit an Avro type? The check of field defaults (spec, "Records").

:func:`default_error` answers ``None`` when the value fits, else the innermost
problem, e.g. ``"x" at lines[1].qty is not a valid int``. A union's default must
fit the union's *first* branch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from daap.mesh.registry._avro_nodes import (
    NO_DEFAULT,
    Array,
    Enum,
    Fixed,
    Map,
    Node,
    Primitive,
    Record,
    Union,
    describe,
    show,
)


def _is_int(value: Any, bits: int) -> bool:
    limit = 1 << (bits - 1)
    return isinstance(value, int) and not isinstance(value, bool) and -limit <= value < limit


def _is_bytes(value: Any) -> bool:
    # bytes and fixed defaults are strings whose code points 0-255 are the byte values
    return isinstance(value, str) and all(ord(c) < 256 for c in value)


#: primitive type -> does this JSON value fit it?
PRIMITIVE_FITS: Final[dict[str, Callable[[Any], bool]]] = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "int": lambda v: _is_int(v, 32),
    "long": lambda v: _is_int(v, 64),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "double": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "bytes": _is_bytes,
    "string": lambda v: isinstance(v, str),
}


def _not_valid(node: Node, value: Any, at: str) -> str:
    where = f" at {at}" if at else ""
    return f"{show(value)}{where} is not a valid {describe(node)}"


def default_error(node: Node, value: Any, at: str = "") -> str | None:
    """``None`` when ``value`` is a valid default for ``node``, else why not."""
    if isinstance(node, Union):
        return _union_error(node, value, at)
    if isinstance(node, Primitive):
        if PRIMITIVE_FITS[node.kind](value):
            return None
        return _not_valid(node, value, at) + (
            " (a string of characters 0-255)" if node.kind == "bytes" else ""
        )
    if isinstance(node, Enum):
        if isinstance(value, str) and value in node.symbol_set:
            return None
        return _not_valid(node, value, at) + f" (symbols: {', '.join(node.symbols)})"
    if isinstance(node, Fixed):
        if _is_bytes(value) and len(value) == node.size:
            return None
        return _not_valid(node, value, at) + f" (a string of {node.size} characters, each 0-255)"
    if isinstance(node, Array):
        if not isinstance(value, list):
            return _not_valid(node, value, at)
        return _first(default_error(node.items, item, f"{at}[{i}]") for i, item in enumerate(value))
    if isinstance(node, Map):
        if not isinstance(value, dict):
            return _not_valid(node, value, at)
        return _first(default_error(node.values, v, f"{at}[{show(k)}]") for k, v in value.items())
    return _record_error(node, value, at)


def _first(errors: Any) -> str | None:
    return next((e for e in errors if e is not None), None)


def _union_error(node: Union, value: Any, at: str) -> str | None:
    if not node.branches:
        return f"{show(value)}{f' at {at}' if at else ''} cannot be a value of an empty union"
    error = default_error(node.branches[0], value, at)
    if error is None:
        return None
    fitting = next((b for b in node.branches[1:] if default_error(b, value) is None), None)
    if fitting is not None:
        error += (
            f" (a union's default must fit its first branch, {describe(node.branches[0])};"
            f" list {describe(fitting)} first)"
        )
    return error


def _record_error(node: Record, value: Any, at: str) -> str | None:
    if not isinstance(value, dict):
        return _not_valid(node, value, at)
    for f in node.fields:
        inner = f"{at}.{f.name}" if at else f.name
        if f.name in value:
            error = default_error(f.type, value[f.name], inner)
            if error is not None:
                return error
        elif f.default is NO_DEFAULT:
            return f"{_not_valid(node, value, at)}: it lacks field {f.name!r}, which has no default"
    return None
