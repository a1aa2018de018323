"""Every error daap raises, rooted at :class:`DaapError`.

Each error says *what* went wrong, *where* (a file position, a product, a
port, a column) and, where we know it, *what to do next*. The CLI and the
servers translate them at their boundary (exit code, HTTP status, SQLSTATE);
the core never formats for a particular protocol.

Hierarchy::

    DaapError
    ├── SpecError              descriptor, contract or mesh.yaml is invalid (all problems at once)
    ├── ConfigError            a setting or backend URL cannot be used
    ├── UsageError             the command was asked something it cannot do as given
    ├── InputError             an input port cannot be read (missing file, unparsable cell)
    ├── TransformError         the onboarding SQL or Python function failed
    ├── ContractViolation      the built data does not match its ODCS contract
    ├── BuildError             a mesh build cannot proceed (cycle, failed dependency, lock)
    │   └── DependencyCycleError
    ├── StorageError           the table store failed to read or commit
    ├── MetadataError          the mesh metadata store failed
    ├── BackboneError          the event backbone refused or failed an operation
    │   ├── BackboneUnavailable  the server or file cannot be reached
    │   └── OffsetOutOfRange     the asked offset was removed by retention
    ├── AuditError             the audit log (or an export of it) does not verify
    ├── GovernanceRefused      a global governance rule of severity error failed: nothing published
    └── QueryError             a query is invalid or refers to something unknown
        ├── QueryRefused       a statement that is not a read-only query
        ├── ArgumentError      a named query's arguments are unknown, missing or mistyped
        └── NotFound           unknown product, port or version
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem at one position of a file, printed as ``path:line:col: message``.

    ``line`` and ``col`` are 1-based; 0 means "the whole file" (for example a
    file that is missing).
    """

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class DaapError(Exception):
    """Root of every error daap raises on purpose.

    Args:
        message: what went wrong, naming the thing and where it is.
        hint: what the user can do about it, if we know.
    """

    #: process exit code the CLI uses for this family of errors
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class SpecError(DaapError):
    """A product folder, descriptor, contract or mesh.yaml is invalid.

    Carries every problem found, not only the first, as :class:`Diagnostic`.
    """

    exit_code = 3

    def __init__(self, diagnostics: Sequence[Diagnostic], *, hint: str | None = None) -> None:
        self.diagnostics = sorted(diagnostics)
        count = len(self.diagnostics)
        head = f"{count} problem{'s' if count != 1 else ''} found:"
        body = "\n".join(f"  {d}" for d in self.diagnostics)
        super().__init__(f"{head}\n{body}", hint=hint)

    @classmethod
    def single(cls, path: str | Path, message: str, line: int = 0, col: int = 0) -> SpecError:
        return cls([Diagnostic(str(path), line, col, message)])


class ConfigError(DaapError):
    """A setting, environment variable or backend URL cannot be used."""

    exit_code = 3


class UsageError(DaapError):
    """A command was asked for something it cannot do as given (like click's usage errors)."""

    exit_code = 2


class InputError(DaapError):
    """An input port cannot be read: missing file, unreadable format, bad cell."""

    exit_code = 4

    def __init__(self, message: str, *, product: str, port: str, hint: str | None = None) -> None:
        self.product = product
        self.port = port
        super().__init__(f"input port {product}.{port}: {message}", hint=hint)


class TransformError(DaapError):
    """The onboarding transformation (SQL or Python) failed."""

    exit_code = 4

    def __init__(
        self, message: str, *, product: str, location: str | None = None, hint: str | None = None
    ) -> None:
        self.product = product
        self.location = location
        where = f"{location}: " if location else ""
        super().__init__(f"{where}transformation of {product} failed: {message}", hint=hint)


@dataclass(frozen=True)
class Violation:
    """One way the data breaks its contract: a column and what is wrong with it."""

    column: str | None
    message: str
    samples: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        where = f"column {self.column!r}: " if self.column else ""
        tail = f" (e.g. {', '.join(self.samples)})" if self.samples else ""
        return f"{where}{self.message}{tail}"


class IncompatibleContract(DaapError):
    """A port's contract changed in a way its consumers cannot follow, at the subject's
    compatibility level: the build stops before anything is written."""

    exit_code = 3

    def __init__(self, product: str, port: str, subject: str, level: str, reasons: Sequence[str]):
        self.product = product
        self.port = port
        self.subject = subject
        self.reasons = tuple(reasons)
        listed = "".join(f"\n  - {r}" for r in reasons)
        super().__init__(
            f"the contract of output port {port!r} is not {level}-compatible with what its "
            f"consumers have (subject {subject}):{listed}",
            hint="give the new column a default or make it optional (not required), keep the old type, "
            "or publish the change as a new port; `daap registry check` shows the verdict without building",
        )


class ContractViolation(DaapError):
    """The built data does not match the ODCS contract of an output port."""

    exit_code = 4

    def __init__(self, product: str, port: str, contract: str, violations: Sequence[Violation]):
        self.product = product
        self.port = port
        self.violations = list(violations)
        lines = "\n".join(f"  - {v}" for v in self.violations)
        super().__init__(
            f"output port {product}.{port} breaks its contract {contract}:\n{lines}",
            hint="fix the transformation or the input data, or change the contract; nothing was published",
        )


class BuildError(DaapError):
    """A build cannot proceed (a dependency failed, a lock is held, ...)."""

    exit_code = 5


class DependencyCycleError(BuildError):
    """Products depend on each other in a cycle."""

    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = list(cycle)
        super().__init__(
            "dependency cycle between products: " + " -> ".join(self.cycle),
            hint="an input port may not (even indirectly) read the product it belongs to",
        )


class StorageError(DaapError):
    """The table store failed to read or commit."""

    exit_code = 6


class MetadataError(DaapError):
    """The mesh metadata store failed or holds inconsistent data."""

    exit_code = 6


class BackboneError(DaapError):
    """The event backbone refused or failed an operation."""

    exit_code = 6


class BackboneUnavailable(BackboneError):
    """The backbone at ``url`` cannot be reached or opened."""

    def __init__(self, url: str, why: str, *, hint: str) -> None:
        self.url = url
        super().__init__(f"event backbone {url} is unavailable: {why}", hint=hint)


class OffsetOutOfRange(BackboneError):
    """A reader asked for an offset that retention has already removed.

    A consumer that falls behind retention has lost events it can never read,
    so carrying on would silently skip changes. It must rebuild its state from
    a full load of the upstream product (``op: r`` events of its latest version,
    :func:`daap.mesh.feed.full_load`), then read on from the offset that gives.
    """

    def __init__(self, topic: str, offset: int, earliest: int) -> None:
        self.topic = topic
        self.offset = offset
        self.earliest = earliest
        super().__init__(
            f"topic {topic}: offset {offset} was removed by retention; the earliest available is {earliest}",
            hint="resubscribe from a full load: `daap events tail --full-load` (in code: "
            "daap.mesh.feed.full_load) gives the latest version's rows as op r events, "
            "then the events after them",
        )


#: what an audit verification found wrong, in the order a verifier can find it
AuditKind = Literal[
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
        kind: one of :data:`AuditKind`.
        seq: the first sequence number affected (for a checkpoint: its size), or None.
        product: the product whose log it is, when known.
    """

    exit_code = 8

    def __init__(
        self,
        kind: AuditKind,
        message: str,
        *,
        seq: int | None = None,
        product: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.kind: AuditKind = kind
        self.seq = seq
        self.product = product
        self.detail = message
        where = f"seq {seq}: " if seq is not None else ""
        log = f"audit log of {product}" if product else "audit log"
        super().__init__(f"{log}: {kind}: {where}{message}", hint=hint)


class GovernanceRefused(DaapError):
    """A product breaks a global governance rule of severity ``error`` (``mesh.yaml``
    ``governance:``): the build is refused before anything is committed or published, and
    consumers keep the last published version.

    Attributes:
        product: the product refused.
        findings: each error finding, as ``rule: what is wrong: how to fix it``.
    """

    exit_code = 11

    def __init__(self, product: str, findings: Sequence[str], *, hint: str | None = None) -> None:
        self.product = product
        self.findings = tuple(findings)
        count = f"{len(self.findings)} governance error{'' if len(self.findings) == 1 else 's'}"
        listed = "".join(f"\n  - {f}" for f in self.findings)
        super().__init__(
            f"not published, {count}; consumers keep the last published version:{listed}",
            hint=hint
            or f"fix each finding, then build again; `daap govern check` shows every rule for {product}",
        )


class QueryError(DaapError):
    """A query is invalid (syntax, unknown column, ...)."""

    exit_code = 7


class QueryRefused(QueryError):
    """The statement is not a read-only query (write, DDL, file access, settings)."""


class ArgumentError(QueryError):
    """A named query was called with unknown, missing or mistyped arguments."""


class NotFound(QueryError):
    """An unknown product, port or version was asked for."""


class AuthenticationError(DaapError):
    """A credential is missing, malformed, unknown, expired or revoked (HTTP 401)."""

    exit_code = 10


class PermissionDenied(DaapError):
    """An authenticated principal may not do what it asked (HTTP 403, SQLSTATE 42501)."""

    exit_code = 10
