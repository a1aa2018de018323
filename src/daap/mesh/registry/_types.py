"""What the schema formats share: a parsed schema, an incompatibility, a parse failure.

Each format module (``avro``, ``jsonschema``) offers the same three pure functions::

    parse(text: str, references: Mapping[str, str] = {}) -> Parsed     # raises InvalidSchema
    canonical(parsed: Parsed) -> str                                   # identity of a schema
    can_read(reader: Parsed, writer: Parsed) -> list[Incompatibility]  # [] when compatible

``can_read(reader, writer)`` answers: can data written with ``writer`` be read
with ``reader``? The compatibility levels are built from it in ``compat``:
BACKWARD is ``can_read(new, old)``, FORWARD ``can_read(old, new)``, FULL both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class InvalidSchema(ValueError):
    """The text is not a valid schema of its type; the message says what and where."""


@dataclass(frozen=True)
class Parsed:
    """A parsed, valid schema: its type, the JSON value, and format-specific state."""

    schema_type: str  # "AVRO" | "JSON"
    value: Any  # the schema as JSON (dict, list or str), references resolved by the format
    text: str  # the text as given


@dataclass(frozen=True)
class Incompatibility:
    """One reason data written with one schema cannot be read with another.

    ``kind`` is a stable rule name (Avro: the names Confluent's registry reports,
    e.g. ``READER_FIELD_MISSING_DEFAULT_VALUE``; JSON Schema: e.g.
    ``PROPERTY_ADDED_TO_CLOSED_CONTENT_MODEL``). ``path`` is a JSON pointer into
    the reader schema (``/fields/2/type``), ``message`` a sentence naming the
    field and the rule, for people.
    """

    kind: str
    path: str
    message: str

    def describe(self) -> str:
        return f"{self.kind} at {self.path or '/'}: {self.message}"
