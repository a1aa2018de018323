"""The one error the audit log raises, with the first sequence number that is wrong and how."""

from __future__ import annotations

from typing import Literal

from daap.errors import DaapError

#: what was found wrong, in the order a verifier can find it
Kind = Literal[
    "altered",  # an entry's fields do not match its hashes, or the hashes the signed root covers
    "removed",  # a sequence number is missing
    "reordered",  # a sequence number comes before one that precedes it
    "inserted",  # a line that is not part of the log (duplicate or foreign sequence number)
    "truncated",  # the log ends before a signed checkpoint covers all of it
    "malformed",  # a line, checkpoint or proof that cannot be read
    "signature",  # a checkpoint not signed by the given key, or with a bad signature
    "conflict",  # an append reuses an event id with different content
]


class AuditError(DaapError):
    """The audit log or a copy of it does not verify, or cannot be appended to as asked.

    Attributes:
        kind: one of :data:`Kind`.
        seq: the first sequence number affected (for a checkpoint: its size), or None.
        product: the product whose log it is, when known.
    """

    exit_code = 8

    def __init__(
        self,
        kind: Kind,
        message: str,
        *,
        seq: int | None = None,
        product: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.kind: Kind = kind
        self.seq = seq
        self.product = product
        where = f"seq {seq}: " if seq is not None else ""
        log = f"audit log of {product}" if product else "audit log"
        super().__init__(f"{log}: {kind}: {where}{message}", hint=hint)
