"""Product access policies: where they live and what a decision is asked about. Pure, no Cedar.

A product folder may hold ``access.cedar`` (Cedar policy text) beside its
``dataproduct.yaml``; no file means no product policies, so only the built-in
ones apply (the owner team and the governance role, see
:mod:`daap.mesh.policy.cedar`, which evaluates them). This module reads what a
decision needs from the folder and the product, and splits policy text into
statements so that problems can be put on a line (cedarpy reports none)::

    // sales/access.cedar
    @id("eu-analysts")
    permit(principal, action == Daap::Action::"read", resource)
    when { principal.attributes.region == "EU" };

The owner team is the descriptor's ``team.members[].username`` (minus members
whose ``dateOut`` has passed) together with the principals whose role
``owner`` is in the product's domain.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from daap.errors import SpecError, UsageError
from daap.spec.model import ColumnSpec, ProductSpec
from daap.spec.yamlpos import load_yaml

POLICY_FILE = "access.cedar"
#: what a principal may be allowed to do with a product, as ``Daap::Action::"<name>"``
ACTIONS: tuple[str, ...] = ("discover", "read", "read_unmasked", "write_input", "administer")
#: the action asked once per ODCS classification, given as ``context.classification``
PER_CLASSIFICATION = "read_unmasked"


@dataclass(frozen=True)
class Statement:
    """One policy of a policy text (``@id(...)`` annotations included), where it starts.

    Cedar numbers the policies of a text ``policy0``, ``policy1``, ... in this
    order, which is how a problem cedarpy reports by policy id gets its line.
    """

    index: int
    line: int
    col: int
    offset: int
    text: str

    def position(self, fragment: str, source: str) -> tuple[int, int]:
        """1-based (line, col) of ``fragment`` in this statement of ``source``, else of the statement."""
        found = self.text.find(fragment)
        if found < 0:
            return self.line, self.col
        return line_col(source, self.offset + found)


def statements(text: str) -> list[Statement]:
    """The policies of ``text``, split on the ``;`` that end them (not those in strings or comments).

    A last statement without its ``;`` is kept, so that a parse error in it
    still gets a line.
    """
    found: list[Statement] = []
    start: int | None = None
    for offset, char in _code(text):
        if start is None and not char.isspace():
            start = offset
        if char == ";" and start is not None:
            found.append(_statement(text, len(found), start, offset + 1))
            start = None
    if start is not None:
        found.append(_statement(text, len(found), start, len(text)))
    return found


def _statement(text: str, index: int, start: int, end: int) -> Statement:
    line, col = line_col(text, start)
    return Statement(index, line, col, start, text[start:end])


def _code(text: str) -> Iterator[tuple[int, str]]:
    """Each character outside ``//`` comments, with its offset; a string literal counts as one
    character (its opening quote), so nothing in it can end a statement."""
    i, size = 0, len(text)
    while i < size:
        char = text[i]
        if text.startswith("//", i):
            newline = text.find("\n", i)
            i = size if newline < 0 else newline
            continue
        yield i, char
        if char == '"':
            i += 1
            while i < size and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        i += 1


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, col) of ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def policy_path(folder: Path) -> Path:
    return folder / POLICY_FILE


def read_policy_text(path: Path) -> str:
    """The policy text at ``path``; empty when there is no such file.

    Raises:
        SpecError: the file exists but cannot be read as UTF-8.
    """
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError.single(path, f"cannot read the policy file: {exc}") from None


@dataclass(frozen=True)
class OwnerTeam:
    """The descriptor's team: its name and the usernames of its current members."""

    name: str
    members: tuple[str, ...]
    #: the first day a member's ``dateOut`` removes it; None if no member is leaving
    changes_on: dt.date | None = None


def owner_team(product: ProductSpec, today: dt.date | None = None) -> OwnerTeam:
    """The team in the product's descriptor (``team.name``, ``team.members[].username``).

    A member counts until its ``dateOut``; one whose ``dateOut`` cannot be read
    as a date does not count (an unclear departure grants nothing).

    Raises:
        SpecError: the descriptor cannot be read.
    """
    day = today or dt.datetime.now(dt.UTC).date()
    team = load_yaml(product.descriptor_path).get(("team",))
    team = team if isinstance(team, dict) else {}
    members, leaving = [], []
    for member in team.get("members") or ():
        name = member.get("username") if isinstance(member, dict) else None
        if not isinstance(name, str) or not name:
            continue
        out = _date(member.get("dateOut"))
        if member.get("dateOut") is None or (out is not None and out > day):
            members.append(name)
        if out is not None and out > day:
            leaving.append(out)
    name = team.get("name") if isinstance(team.get("name"), str) else product.team
    return OwnerTeam(name or "", tuple(sorted(set(members))), min(leaving, default=None))


def _date(value: object) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def classifications(product: ProductSpec) -> tuple[str, ...]:
    """Every ODCS ``classification`` on the product's output ports' columns, nested ones too."""
    found: set[str] = set()
    for port in product.output_ports:
        for column in port.contract.columns:
            found.update(column_classifications(column))
    return tuple(sorted(found))


def column_classifications(column: ColumnSpec) -> Iterator[str]:
    if column.classification:
        yield column.classification
    for child in (*column.fields, *((column.items,) if column.items else ())):
        yield from column_classifications(child)


def check_request(action: str, classification: str | None) -> str | None:
    """The classification that goes with ``action``: required for ``read_unmasked``, dropped otherwise.

    Raises:
        UsageError: an unknown action, or ``read_unmasked`` without a classification.
    """
    if action not in ACTIONS:
        raise UsageError(f"unknown action {action!r}", hint=f"the actions are {', '.join(ACTIONS)}")
    if action != PER_CLASSIFICATION:
        return None
    if not classification:
        raise UsageError(
            f"{PER_CLASSIFICATION} is asked per classification",
            hint="pass the ODCS classification of the column, e.g. 'pii'",
        )
    return classification


__all__ = [
    "ACTIONS",
    "PER_CLASSIFICATION",
    "POLICY_FILE",
    "OwnerTeam",
    "Statement",
    "check_request",
    "classifications",
    "column_classifications",
    "line_col",
    "owner_team",
    "policy_path",
    "read_policy_text",
    "statements",
]
