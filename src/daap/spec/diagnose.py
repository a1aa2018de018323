"""Turn schema validation into positioned, human diagnostics.

pydantic checks the shape of ODPS, ODCS and daap's own settings; this module
translates its errors into ``file:line:col: message`` a data engineer can act
on: ``'version' must be a string, got a list`` rather than
``Input should be a valid string [type=string_type]``.

Unknown fields are found by walking the data alongside the model, not from
pydantic's ``extra_forbidden`` errors: the ODCS package only forbids extras at
its top level, and the walk also yields the names allowed at that place, for
a "did you mean" suggestion.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from daap.spec.model import IDENTIFIER
from daap.spec.yamlpos import Loc, YamlDoc, has_step, kind

M = TypeVar("M", bound=BaseModel)

#: pydantic error types that mean "wrong kind of value", and the kind expected
EXPECTED: dict[str, str] = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def suggest(name: str, allowed: Iterable[str]) -> str:
    """``"; did you mean 'outputPorts'?"`` for a near miss, else ``""``."""
    choices = list(allowed)
    folded = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(name, choices, n=1)
    match = folded.get(name.lower()) or (close[0] if close else None)
    return f"; did you mean '{match}'?" if match else ""


def check_identifier(doc: YamlDoc, loc: Loc, what: str, name: str) -> bool:
    """Report ``name`` unless it is a plain SQL identifier; suggest a fixed form.

    Names become table and column names (``title_popularity.daily``), so
    ``title-popularity`` is refused with ``title_popularity`` offered instead.
    """
    if IDENTIFIER.match(name):
        return True
    fixed = re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", name.lower())).strip("_")
    hint = f"; use '{fixed}'" if IDENTIFIER.match(fixed) else ""
    doc.report(loc, f"{what} {name!r} is not a valid name: use lowercase letters, digits and _{hint}")
    return False


def validate(model: type[M], doc: YamlDoc, loc: Loc = (), label: str = "") -> M | None:
    """Validate the data at ``loc`` of ``doc`` against ``model``.

    Every problem is reported on ``doc``; returns the model instance, or
    ``None`` if anything was wrong. ``label`` names the value itself in
    messages when the whole value has the wrong type (e.g. ``'source'``).
    """
    data = doc.get(loc)
    unknown = list(unknown_fields(model, data, loc))
    for field_loc, allowed in unknown:
        key = str(field_loc[-1])
        doc.report(field_loc, f"unknown field '{key}'{suggest(key, allowed)}", at="key")
    try:
        instance = model.model_validate(data, strict=True)
    except ValidationError as exc:
        for error_loc, message in _messages(exc.errors(), data, loc, label):
            # a null value has no position of its own: point at its key
            doc.report(error_loc, message, at="key" if doc.get(error_loc) is None else "value")
        return None
    return None if unknown else instance


def unknown_fields(model: type[BaseModel], data: Any, loc: Loc) -> Iterator[tuple[Loc, list[str]]]:
    """Each key of ``data`` (recursively) that ``model`` has no field for."""
    if not isinstance(data, dict):
        return
    fields = {(info.alias or name): info for name, info in model.model_fields.items()}
    for key, value in data.items():
        info = fields.get(key)
        if info is None:
            yield (*loc, key), sorted(fields)
        else:
            yield from _walk(info.annotation, value, (*loc, key))


def _walk(annotation: Any, value: Any, loc: Loc) -> Iterator[tuple[Loc, list[str]]]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        branch = next((a for a in get_args(annotation) if _fits(a, value)), None)
        if branch is not None:
            yield from _walk(branch, value, loc)
    elif origin is list and isinstance(value, list):
        (item_type,) = get_args(annotation)
        for index, item in enumerate(value):
            yield from _walk(item_type, item, (*loc, index))
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from unknown_fields(annotation, value, loc)


def _fits(annotation: Any, value: Any) -> bool:
    """Whether a union branch is the one meant for this shape of value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return isinstance(value, dict)
    return get_origin(annotation) is list and isinstance(value, list)


def _messages(errors: Sequence[ErrorDetails], data: Any, root: Loc, label: str) -> Iterator[tuple[Loc, str]]:
    """One message per place, merging the alternatives of a union."""
    placed: dict[Loc, list[ErrorDetails]] = {}
    for error in errors:
        if error["type"] != "extra_forbidden":
            placed.setdefault(_data_loc(error, data), []).append(error)
    for rel, group in placed.items():
        deeper = any(other[: len(rel)] == rel and other != rel for other in placed)
        if deeper and all(e["type"] in EXPECTED for e in group):
            continue  # a union branch the value was not meant for
        yield (*root, *rel), _message(rel, group, label)


def _data_loc(error: ErrorDetails, data: Any) -> Loc:
    """The error's loc without pydantic's union tags (``'Team'``, ``'list[...]'``)."""
    loc = error["loc"]
    names_field = error["type"] == "missing"
    node, out = data, []
    for index, step in enumerate(loc):
        if has_step(node, step):
            node = node[step]
        elif not (names_field and index == len(loc) - 1):
            continue
        out.append(step)
    return tuple(out)


def _message(rel: Loc, group: Sequence[ErrorDetails], label: str) -> str:
    name = _name(rel, label)
    first = group[0]
    if first["type"] == "missing":
        return f"missing required field '{rel[-1]}'"
    expected = [EXPECTED[e["type"]] for e in group if e["type"] in EXPECTED]
    if expected:
        wanted = " or ".join(dict.fromkeys(expected))
        return f"{name} must be {wanted}, got {kind(first['input'])}{_quote_hint(first)}"
    if first["type"] == "literal_error":
        options = first.get("ctx", {}).get("expected", "")
        return f"{name} must be one of {options}, got {first['input']!r}"
    return first["msg"].replace("Input should", f"{name} should").replace("Value error, ", "")


def _quote_hint(error: ErrorDetails) -> str:
    """YAML reads ``version: 1.0`` as a number; say how to get a string."""
    if error["type"] == "string_type" and isinstance(error["input"], int | float):
        return f" (quote it: '{error['input']}')"
    return ""


def _name(rel: Loc, label: str) -> str:
    """``'tags[0]'`` for ``("tags", 0)``; the label for the value itself."""
    keys = [i for i, step in enumerate(rel) if isinstance(step, str)]
    if not keys:
        return f"'{label}'" if label else "the value"
    last = keys[-1]
    return "'" + str(rel[last]) + "".join(f"[{i}]" for i in rel[last + 1 :]) + "'"


def path_problem(path: str) -> str | None:
    """Why ``path`` cannot name something inside the product folder, if it cannot.

    Products are moved, copied and built elsewhere, so every file they use is
    addressed relative to their folder and may not climb out of it.
    """
    if not path.strip():
        return "the path is empty"
    if path.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", path):
        return f"path {path!r} must be relative to the product folder"
    if ".." in re.split(r"[\\/]", path):
        return f"path {path!r} must stay inside the product folder (no '..')"
    return None
