"""YAML loading that remembers where every key and value came from.

Validation works on plain Python data (dicts, lists, scalars), but a useful
error names the line and column of the offending key. We load with ruamel's
round-trip loader, which records ``.lc`` positions on every mapping and
sequence, convert to plain data and keep a table ``loc -> position``, where a
*loc* is the path of keys and indexes from the root, e.g.
``("outputPorts", 0, "name")``.

Problems found in a file are collected on its :class:`YamlDoc` with
:meth:`YamlDoc.report`, so a caller can validate everything and raise once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from daap.errors import Diagnostic, SpecError

Loc = tuple[str | int, ...]
Pos = tuple[int, int]
At = Literal["key", "value"]


class YamlDoc:
    """A loaded YAML file: its plain data, positions, and the problems found in it."""

    def __init__(self, path: str, data: Any, keys: dict[Loc, Pos], values: dict[Loc, Pos]):
        self.path = path
        self.data = data
        self._keys = keys
        self._values = values
        self.diagnostics: list[Diagnostic] = []

    def position(self, loc: Loc, at: At = "value") -> Pos:
        """1-based (line, col) of ``loc``, or of its nearest existing ancestor.

        ``at="key"`` points at the key of a mapping entry (the start of a list
        item); ``at="value"`` at what follows the colon. A loc that does not
        exist — a missing field — falls back to the key of its nearest parent,
        so "missing 'name'" points at the port that lacks it.
        """
        table = self._keys if at == "key" else self._values
        if loc in table:
            return table[loc]
        for end in range(len(loc) - 1, -1, -1):
            if loc[:end] in self._keys:
                return self._keys[loc[:end]]
        return (1, 1)

    def report(self, loc: Loc, message: str, at: At = "value") -> None:
        line, col = self.position(loc, at)
        self.diagnostics.append(Diagnostic(self.path, line, col, message))

    def get(self, loc: Loc, default: Any = None) -> Any:
        """The plain value at ``loc``, or ``default`` if any step is missing."""
        node = self.data
        for step in loc:
            if not has_step(node, step):
                return default
            node = node[step]
        return node


def has_step(node: Any, step: str | int) -> bool:
    """Whether ``node[step]`` exists: a key of a mapping or an index of a list."""
    if isinstance(node, dict):
        return step in node
    return isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)


def load_yaml(path: Path, shown: str | None = None) -> YamlDoc:
    """Read ``path`` into a :class:`YamlDoc` whose top level is a mapping.

    Raises:
        SpecError: the file is missing or unreadable, is not valid YAML (with
            the parser's position), is empty, or its top level is not a mapping.
            Duplicate keys do not raise: they are reported on the document and
            the first value wins, so the rest of the file is still checked.
    """
    name = shown or str(path)
    text = _read(path, name)
    root = _parse(text, name)
    keys: dict[Loc, Pos] = {(): (1, 1)}
    values: dict[Loc, Pos] = {(): (1, 1)}
    if root is not None and hasattr(root, "lc"):
        keys[()] = values[()] = (root.lc.line + 1, root.lc.col + 1)
    data = _plain(root, (), keys, values)
    if not isinstance(data, dict):
        what = "empty" if data is None else f"{kind(data)}, not a mapping of fields"
        raise SpecError.single(name, f"the file is {what}", 1, 1)
    doc = YamlDoc(name, data, keys, values)
    doc.diagnostics.extend(_duplicates(text, name))
    return doc


def _read(path: Path, name: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError.single(name, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError.single(name, f"cannot read the file: {exc}") from None


def _parse(text: str, name: str) -> Any:
    loader = YAML(typ="rt")
    loader.allow_duplicate_keys = True
    try:
        return loader.load(text)
    except MarkedYAMLError as exc:
        raise _syntax_error(exc, name) from None
    except YAMLError as exc:
        raise SpecError.single(name, f"invalid YAML: {exc}") from None


def _syntax_error(exc: MarkedYAMLError, name: str) -> SpecError:
    """Turn a ruamel error into one diagnostic at the parser's position."""
    mark = exc.problem_mark or exc.context_mark
    message = f"invalid YAML: {exc.problem or exc.context}"
    if exc.context and exc.problem and exc.context_mark is not None:
        where = f"line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
        message += f" ({exc.context} at {where})"
    if mark is None:
        return SpecError.single(name, message)
    return SpecError.single(name, message, mark.line + 1, mark.column + 1)


def _plain(node: Any, loc: Loc, keys: dict[Loc, Pos], values: dict[Loc, Pos]) -> Any:
    """Convert ruamel's round-trip objects to plain data, recording positions."""
    lines: Any = getattr(node, "lc", None)  # CommentedMap / CommentedSeq positions
    if isinstance(node, dict):
        out: dict[Any, Any] = {}
        for raw_key, value in node.items():
            key = _scalar(raw_key)
            keys[(*loc, key)] = _at(lines.key(raw_key))
            values[(*loc, key)] = _at(lines.value(raw_key))
            out[key] = _plain(value, (*loc, key), keys, values)
        return out
    if isinstance(node, list):
        for index in range(len(node)):
            keys[(*loc, index)] = values[(*loc, index)] = _at(lines.item(index))
        return [_plain(item, (*loc, i), keys, values) for i, item in enumerate(node)]
    return _scalar(node)


def _scalar(value: Any) -> Any:
    """ruamel subclasses (ScalarFloat, TimeStamp, ...) become builtins.

    Dates and timestamps become ISO strings: every date field in ODPS and
    ODCS is typed as a string, and an unquoted ``2024-01-01`` should not fail.
    """
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    for base in (int, float, str):
        if isinstance(value, base):
            return base(value)
    return value


def _at(pair: tuple[int, int]) -> Pos:
    return (pair[0] + 1, pair[1] + 1)


def _duplicates(text: str, name: str) -> list[Diagnostic]:
    """Every repeated key in every mapping (the loader itself keeps the first)."""
    root = YAML(typ="rt").compose(text)
    found = []
    for key_node in _repeated_keys(root, set()):
        mark = key_node.start_mark
        message = f"duplicate key '{key_node.value}' (only its first value is used)"
        found.append(Diagnostic(name, mark.line + 1, mark.column + 1, message))
    return found


def _repeated_keys(node: Node | None, seen: set[int]) -> Iterator[Node]:
    if node is None or id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        names: set[Any] = set()
        for key_node, value_node in node.value:
            if key_node.value in names and key_node.value != "<<":
                yield key_node
            names.add(key_node.value)
            yield from _repeated_keys(value_node, seen)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            yield from _repeated_keys(item, seen)


def kind(value: Any) -> str:
    """How a value reads in a message: ``got a list``, ``got an integer``."""
    if value is None:
        return "nothing (null)"
    for types, label in _KINDS:
        if isinstance(value, types):
            return label
    return f"a {type(value).__name__}"


_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (dict, "a mapping"),
    (list, "a list"),
)
