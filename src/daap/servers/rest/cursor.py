"""The opaque ``_cursor`` of keyset pagination.

A cursor is base64url of compact JSON::

    {"v": 3, "k": ["-price", "id"], "a": ["12.50", 17], "s": 0}

``v`` pins the product version the first page read, so every page of one
walk reads the same snapshot even if a build publishes in between; ``k`` are
the sort keys the walk uses (a cursor from another sort is refused rather than
silently skipping rows); ``a`` the last row's values of those keys (encoded as
in JSON responses); ``s`` how many rows equal to that last row were already
returned, needed only when the keys are not unique (a port without a primary
key whose rows repeat).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from daap.servers.rest.errors import InvalidRequest
from daap.servers.rest.jsonrows import dumps

PARAMETER = "_cursor"


@dataclass(frozen=True)
class Cursor:
    version: int
    keys: tuple[str, ...]
    after: tuple[Any, ...]
    skip: int = 0

    def encode(self) -> str:
        doc = {"v": self.version, "k": list(self.keys), "a": list(self.after), "s": self.skip}
        return base64.urlsafe_b64encode(dumps(doc).encode()).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Read a cursor this server wrote.

        Raises:
            InvalidRequest: it is not one (truncated, edited, or from something else).
        """
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            doc = json.loads(raw)
            cursor = cls(int(doc["v"]), tuple(map(str, doc["k"])), tuple(doc["a"]), int(doc.get("s", 0)))
        except (binascii.Error, ValueError, TypeError, KeyError, AttributeError):
            raise InvalidRequest(
                PARAMETER,
                "not a cursor this server issued",
                hint="follow the next link of the previous page as given, or drop _cursor to start over",
            ) from None
        if len(cursor.keys) != len(cursor.after) or cursor.skip < 0:
            raise InvalidRequest(PARAMETER, "the cursor is damaged (its keys and values do not match)")
        return cursor
