"""The mesh metadata store: which product versions are published, and how builds went.

A build is one attempt to produce a new version of a product. Its life::

    start_build ─► running ─► mark_committing ─► committing ─► publish ─► published
                      │                              │
                      └──────── finish_build ────────┴──► failed | unchanged

``publish`` is the single point at which a version becomes visible: it allocates
the product's next version number, records the version and marks the build
published in one transaction. A crash before it leaves the build pending
(:meth:`MetadataStore.pending_builds`), which is what reconciliation looks at.

Adapters, chosen by URL in :func:`open_metadata_store` and imported lazily:

- ``sqlite:///abs/path/metadata.db``: embedded default (``daap.mesh.metadata.sqlite``)
- ``postgresql://user@host:port/db``: shared by many processes and machines
  (``daap.mesh.metadata.postgres``, needs ``pip install 'daap[postgres]'``)

Both pass the same contract suite, ``tests/contract/test_metadata_store.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from daap.errors import ConfigError
from daap.mesh.metadata._catalog import (
    CatalogColumn,
    CatalogEntry,
    CatalogHit,
    CatalogPage,
    CatalogPersona,
    CatalogPort,
    CatalogSnippet,
    CatalogStore,
)
from daap.mesh.metadata._control import (
    ACCESS_PROTOCOLS,
    AccessEntry,
    AccessLogStore,
    ControlStore,
    ControlVersion,
    GovernanceRecord,
    GovernanceStore,
)
from daap.mesh.metadata._identity import IdentityStore, StoredPrincipal, StoredToken
from daap.mesh.metadata._lineage import ColumnLink, LineageEvent, LineageStore
from daap.mesh.metadata._observe import (
    ObservationStore,
    PortProfile,
    QualityRun,
    Quarantined,
    RuleOutcome,
    check_run_id,
)
from daap.mesh.metadata._registry import RegistryStore, SchemaReference, StoredSchema, SubjectVersion
from daap.mesh.metadata._urls import redact_url

__all__ = [
    "ACCESS_PROTOCOLS",
    "AccessEntry",
    "AccessLogStore",
    "BuildRecord",
    "BuildState",
    "CatalogColumn",
    "CatalogEntry",
    "CatalogHit",
    "CatalogPage",
    "CatalogPersona",
    "CatalogPort",
    "CatalogSnippet",
    "CatalogStore",
    "ColumnLink",
    "ControlStore",
    "ControlVersion",
    "GovernanceRecord",
    "GovernanceStore",
    "IdentityStore",
    "LineageEvent",
    "LineageStore",
    "MetadataStore",
    "ObservationStore",
    "PortProfile",
    "PortState",
    "ProductVersion",
    "Publication",
    "PublicationState",
    "QualityRun",
    "Quarantined",
    "RegistryStore",
    "RuleOutcome",
    "SchemaReference",
    "StoredPrincipal",
    "StoredSchema",
    "StoredToken",
    "SubjectVersion",
    "check_run_id",
    "open_metadata_store",
]

BuildState = Literal["running", "committing", "published", "failed", "unchanged"]
PublicationState = Literal["pending", "done"]


@dataclass(frozen=True)
class PortState:
    """What one output port looks like in one product version."""

    table: str  # storage identifier of the port's table, e.g. "title_popularity.popularity"
    snapshot_ids: tuple[int, ...]  # snapshots this build created; readers read the last one
    row_count: int


@dataclass(frozen=True)
class ProductVersion:
    """One published, readable version of a product (versions count 1, 2, 3 … per product)."""

    product: str
    version: int
    build_id: str
    published_at: datetime  # timezone-aware UTC
    fingerprint: str
    ports: Mapping[str, PortState]
    inputs: Mapping[str, int]  # "product.port" -> version that was read
    expired: bool = False


@dataclass(frozen=True)
class BuildRecord:
    """One build attempt and how far it got."""

    build_id: str
    product: str
    state: BuildState
    started_at: datetime
    finished_at: datetime | None
    fingerprint: str
    message: str | None
    plan: Mapping[str, Any]  # JSON-able: what the commit step intends to do
    version: int | None  # set once published


@dataclass(frozen=True)
class Publication:
    """The outbox entry of one published version: are its change events out yet?

    Written by :meth:`MetadataStore.publish` in the same transaction as the
    version, so no published version can lack one. ``progress`` is JSON-able
    and belongs to the publisher (per port: events, audit entries, offsets).
    """

    product: str
    version: int
    build_id: str
    state: PublicationState
    progress: Mapping[str, Any]
    attempts: int  # how many times publishing was tried and failed
    error: str | None  # why the last attempt failed
    updated_at: datetime


class MetadataStore(
    RegistryStore,
    ObservationStore,
    IdentityStore,
    AccessLogStore,
    ControlStore,
    GovernanceStore,
    CatalogStore,
    LineageStore,
    Protocol,
):
    """Port for recording builds and published product versions (and the schema registry's tables).

    Every method is safe to call from several threads on one store object and
    from several processes on one URL.
    """

    def start_build(self, build_id: str, product: str, fingerprint: str) -> BuildRecord:
        """Record that a build of ``product`` has started.

        Args:
            build_id: unique id; every artefact of the build carries it.
            product: the product being built.
            fingerprint: hash of everything the build reads (code, inputs, contracts).

        Returns:
            The new record, state ``running``.

        Raises:
            MetadataError: ``build_id`` is already recorded, or the store failed.
        """
        ...

    def mark_committing(self, build_id: str, plan: Mapping[str, Any]) -> None:
        """Record what the commit step is about to do, before it writes anything.

        Reconciliation reads the plan after a crash to finish or undo the commit.

        Args:
            build_id: a running or committing build.
            plan: JSON-able description of the commit (replaces any earlier plan).

        Raises:
            MetadataError: unknown build, or the build is already finished.
        """
        ...

    def publish(
        self, build_id: str, ports: Mapping[str, PortState], inputs: Mapping[str, int]
    ) -> ProductVersion:
        """Atomically allocate the product's next version, record it, mark the build published.

        Idempotent: publishing an already-published build returns the version it
        got and changes nothing, so a retried commit step cannot publish twice.
        The same transaction records the version's outbox entry, ``pending``.

        Args:
            build_id: a running or committing build.
            ports: state of every output port in the new version.
            inputs: ``"product.port"`` -> version that the build read.

        Returns:
            The published version.

        Raises:
            MetadataError: unknown build, the build failed or was unchanged, or the store failed.
        """
        ...

    def finish_build(
        self, build_id: str, state: Literal["failed", "unchanged"], message: str | None = None
    ) -> None:
        """End a build without publishing: it failed, or its output equals the latest version.

        Args:
            build_id: a running or committing build (finishing twice in the same state is a no-op).
            state: ``failed`` or ``unchanged``.
            message: why, shown to users.

        Raises:
            MetadataError: unknown build, or the build already ended differently.
        """
        ...

    def get_build(self, build_id: str) -> BuildRecord | None:
        """Returns: the build, or None when the id is unknown."""
        ...

    def pending_builds(self, product: str | None = None) -> list[BuildRecord]:
        """Builds still ``running`` or ``committing``, oldest first: the ones to reconcile.

        Args:
            product: only this product's builds; all products when None.
        """
        ...

    def builds(self, product: str, limit: int = 50) -> list[BuildRecord]:
        """Returns: the product's most recent ``limit`` builds, newest first."""
        ...

    def latest_version(self, product: str) -> ProductVersion | None:
        """Returns: the newest non-expired version, or None when nothing is published."""
        ...

    def get_version(self, product: str, version: int) -> ProductVersion | None:
        """Returns: that version (expired ones too, with ``expired=True``), or None."""
        ...

    def version_at(self, product: str, at: datetime) -> ProductVersion | None:
        """The version a reader saw at a moment (time travel).

        Args:
            at: a timezone-aware moment.

        Returns:
            The newest non-expired version published at or before ``at``, or None.

        Raises:
            MetadataError: ``at`` is naive (its time zone would be a guess).
        """
        ...

    def list_versions(self, product: str, include_expired: bool = False) -> list[ProductVersion]:
        """Returns: the product's versions, ascending by number."""
        ...

    def products(self) -> list[str]:
        """Returns: products with at least one published version, sorted."""
        ...

    def expire_versions(self, product: str, versions: Iterable[int]) -> None:
        """Mark versions expired (their snapshots may be removed); all or none.

        Raises:
            MetadataError: a version is unknown, or is the product's latest version
                (the latest always stays readable).
        """
        ...

    def pending_publications(self, product: str | None = None) -> list[Publication]:
        """Outbox entries whose change events are not all out yet, oldest version first.

        Args:
            product: only this product's; every product's when None.
        """
        ...

    def get_publication(self, product: str, version: int) -> Publication | None:
        """Returns: the outbox entry of that version, or None (versions published before
        the outbox existed have none)."""
        ...

    def record_publication(
        self,
        build_id: str,
        progress: Mapping[str, Any],
        *,
        done: bool = False,
        error: str | None = None,
    ) -> Publication:
        """Save the publisher's progress on a version; ``done`` closes the entry for good.

        Args:
            build_id: the build that published the version.
            progress: replaces the stored progress.
            done: all change events are out; the entry is never pending again.
            error: why this attempt failed (counts an attempt); None clears it.

        Raises:
            MetadataError: no outbox entry for ``build_id``, or it is already done and
                ``progress`` differs (a finished publication is final).
        """
        ...

    def close(self) -> None:
        """Release the connection; the object cannot be used afterwards."""
        ...


def _open_sqlite(url: str) -> MetadataStore:
    from daap.mesh.metadata.sqlite import SqliteMetadataStore

    return SqliteMetadataStore.from_url(url)


def _open_postgres(url: str) -> MetadataStore:
    try:
        from daap.mesh.metadata.postgres import PostgresMetadataStore
    except ImportError as exc:
        if not (exc.name or "").startswith("psycopg"):
            raise
        raise ConfigError(
            f"metadata store {redact_url(url)} needs the PostgreSQL driver psycopg, which is not installed",
            hint="pip install 'daap[postgres]'",
        ) from exc
    return PostgresMetadataStore.from_url(url)


#: URL scheme -> adapter; a new backend adds a line here (and its contract-suite param).
_OPENERS: Mapping[str, Callable[[str], MetadataStore]] = {
    "sqlite": _open_sqlite,
    "postgresql": _open_postgres,
    "postgres": _open_postgres,
}

_ACCEPTED = "'sqlite:///abs/path/metadata.db' or 'postgresql://user@host:port/db'"


def open_metadata_store(url: str) -> MetadataStore:
    """Open (and create or migrate, if needed) the metadata store at ``url``.

    Args:
        url: ``sqlite:///abs/path/metadata.db`` (parent folders are created) or
            ``postgresql://user[:password]@host:port/db`` (tables ``daap_*`` in that database).

    Returns:
        A ready store; call ``close()`` when done.

    Raises:
        ConfigError: unknown scheme, missing driver, or a URL that cannot be used.
        MetadataError: the database cannot be reached or holds a newer schema.
    """
    scheme = url.partition(":")[0].lower() if "://" in url else ""
    opener = _OPENERS.get(scheme)
    if opener is None:
        raise ConfigError(
            f"metadata store URL {redact_url(url)!r} is not supported",
            hint=f"use {_ACCEPTED}",
        )
    return opener(url)
