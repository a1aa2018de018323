"""Known-good product folders as text, and a helper to edit and load them.

Each test starts from a known-good folder and edits one piece of text, so
the line numbers of what it breaks are predictable.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from daap.errors import Diagnostic, SpecError
from daap.spec import ProductSpec, load_product

RAW_DESCRIPTOR = """\
apiVersion: v1.1.0
kind: DataProduct
id: 0b6c-titles
name: titles
version: 1.0.0
status: active
domain: content
tags: [catalogue, content]
description:
  purpose: Every title we can stream.
team:
  name: content-team
inputPorts:
  - name: raw_titles
    customProperties:
      - property: source
        value:
          path: data/titles.csv
          delimiter: ";"
          nullString: NA
        description: nightly export of the legacy catalogue
outputPorts:
  - name: titles
    version: "1"
    description: one row per title
    contractId: titles-v1
customProperties:
  - property: productType
    value: raw
  - property: businessObjective
    value: Know what we can stream.
  - property: consumerPersonas
    value:
      - name: analyst
        description: answers questions with SQL
        skills: [sql, bi]
  - property: com.example.costCentre
    value: 4711
"""

TITLES_CONTRACT = """\
apiVersion: v3.2.0
kind: DataContract
id: titles-v1
version: 1.0.0
status: active
schema:
  - name: titles
    properties:
      - name: title_id
        logicalType: integer
        primaryKey: true
      - name: region
        logicalType: string
        primaryKey: true
        primaryKeyPosition: 1
        classification: public
      - name: title
        logicalType: string
        required: true
        description: display title
      - name: price
        logicalType: number
        physicalType: decimal(10,2)
      - name: released_at
        logicalType: timestamp
        logicalTypeOptions: {timezone: true}
"""

DERIVED_DESCRIPTOR = """\
apiVersion: v1.1.0
kind: DataProduct
id: 77aa-popularity
name: title_popularity
status: draft
inputPorts:
  - name: titles
    customProperties:
      - property: source
        value: titles.titles@3
  - name: plays
    customProperties:
      - property: source
        value: {product: playback, port: plays}
outputPorts:
  - name: daily
customProperties:
  - property: productType
    value: derived
  - property: transformation
    value: {python: build.py, function: popularity}
"""

DAILY_CONTRACT = """\
apiVersion: v3.2.0
kind: DataContract
id: popularity-daily
version: 2.0.0
schema:
  - name: daily
    properties:
      - {name: title_id, logicalType: integer, primaryKey: true}
      - {name: plays, logicalType: integer, physicalType: int}
"""


class ProductFolder:
    """A product folder under test: write or edit its files, then load it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, relative: str, text: str) -> Path:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def edit(self, relative: str, old: str, new: str) -> None:
        """Replace the one occurrence of ``old`` (fails loudly if it is not unique)."""
        text = (self.path / relative).read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {relative}"
        self.write(relative, text.replace(old, new))

    def load(self) -> ProductSpec:
        return load_product(self.path)

    def problems(self) -> list[Diagnostic]:
        with pytest.raises(SpecError) as info:
            load_product(self.path)
        return info.value.diagnostics

    def problem(self, fragment: str) -> Diagnostic:
        """The one problem whose message contains ``fragment``."""
        found = [d for d in self.problems() if fragment in d.message]
        assert len(found) == 1, f"{fragment!r} in {[str(d) for d in self.problems()]}"
        return found[0]


def line_of(text: str, fragment: str) -> int:
    """1-based line of the only line of ``text`` containing ``fragment``."""
    lines = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(lines) == 1, f"{fragment!r} is on lines {lines}"
    return lines[0]
