"""The metadata store written once in SQL; adapters supply a connection and a dialect.

An adapter subclasses :class:`SqlMetadataStore` and implements
``_transaction`` (a :class:`Tx` that commits on success, with the database's
write lock when ``write`` is set), ``_lock_schema`` and ``_disconnect``. The
build life cycle, version allocation and every query live here, so both
databases behave identically by construction; the contract suite checks it.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar

from daap.errors import MetadataError
from daap.mesh.metadata import BuildRecord, BuildState, PortState, ProductVersion, Publication
from daap.mesh.metadata._catalog import CatalogTables
from daap.mesh.metadata._control import ControlTables
from daap.mesh.metadata._dialect import Dialect, Tx
from daap.mesh.metadata._identity import IdentityTables
from daap.mesh.metadata._lineage import LineageTables
from daap.mesh.metadata._observe import ObservationTables
from daap.mesh.metadata._registry import RegistryTables
from daap.mesh.metadata._rows import (
    BUILD_COLUMNS,
    PUBLICATION_COLUMNS,
    VERSION_COLUMNS,
    build_from_row,
    ports_to_json,
    publication_from_row,
    version_from_row,
)
from daap.mesh.metadata._schema import migrate
from daap.mesh.metadata._urls import redact_url

T = TypeVar("T")

_PENDING: tuple[BuildState, ...] = ("running", "committing")
_SELECT_BUILD = f"SELECT {BUILD_COLUMNS} FROM daap_builds"
_SELECT_VERSION = f"SELECT {VERSION_COLUMNS} FROM daap_product_versions"
_SELECT_PUBLICATION = f"SELECT {PUBLICATION_COLUMNS} FROM daap_publications"


class SqlMetadataStore(
    RegistryTables, ObservationTables, IdentityTables, ControlTables, CatalogTables, LineageTables, ABC
):
    """:class:`~daap.mesh.metadata.MetadataStore` on a SQL database (see module docstring)."""

    dialect: ClassVar[Dialect]

    def __init__(self, url: str) -> None:
        self.url = redact_url(url)
        self._where = f"metadata store {self.url}"
        # One connection per store object; the lock lets threads share it.
        self._lock = threading.Lock()
        self._closed = False

    @abstractmethod
    def _transaction(self, *, write: bool) -> AbstractContextManager[Tx]:
        """One transaction; driver errors leave it as :class:`MetadataError`."""

    @abstractmethod
    def _lock_schema(self, tx: Tx) -> None:
        """Keep other processes from migrating until ``tx`` ends."""

    @abstractmethod
    def _disconnect(self) -> None:
        """Close the connection."""

    @contextmanager
    def _tx(self, *, write: bool = False) -> Iterator[Tx]:
        with self._lock:
            if self._closed:
                raise MetadataError(f"{self._where} is closed", hint="open a new store")
            with self._transaction(write=write) as tx:
                yield tx

    def _migrate(self) -> None:
        with self._tx(write=True) as tx:
            self._lock_schema(tx)
            migrate(tx, self.dialect, self._where)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._disconnect()

    # -- builds -------------------------------------------------------------------

    def start_build(self, build_id: str, product: str, fingerprint: str) -> BuildRecord:
        with self._tx(write=True) as tx:
            if tx.fetch_one("SELECT 1 FROM daap_builds WHERE build_id = ?", (build_id,)):
                raise MetadataError(
                    f"{self._where}: build {build_id!r} is already recorded",
                    hint="give every build a new id",
                )
            tx.execute(
                "INSERT INTO daap_builds (build_id, product, state, started_at, fingerprint, plan)"
                " VALUES (?, ?, 'running', ?, ?, ?)",
                (build_id, product, self._time(_now()), fingerprint, self._json({})),
            )
            return self._locked_build(tx, build_id)

    def mark_committing(self, build_id: str, plan: Mapping[str, Any]) -> None:
        with self._tx(write=True) as tx:
            self._require_pending(self._locked_build(tx, build_id), "mark committing")
            tx.execute(
                "UPDATE daap_builds SET state = 'committing', plan = ? WHERE build_id = ?",
                (self._json(dict(plan)), build_id),
            )

    def publish(
        self, build_id: str, ports: Mapping[str, PortState], inputs: Mapping[str, int]
    ) -> ProductVersion:
        with self._tx(write=True) as tx:
            build = self._locked_build(tx, build_id)
            if build.state != "published":
                self._require_pending(build, "publish")
                self._insert_version(tx, build, ports, inputs)
            # Read back, so the caller gets exactly what later reads return.
            row = tx.fetch_one(f"{_SELECT_VERSION} WHERE build_id = ?", (build_id,))
        if row is None:
            raise MetadataError(f"{self._where}: published build {build_id!r} has no version")
        return version_from_row(row, self.dialect)

    def _insert_version(
        self, tx: Tx, build: BuildRecord, ports: Mapping[str, PortState], inputs: Mapping[str, int]
    ) -> None:
        number = self._allocate(tx, build.product)
        published_at = max(_now(), self._last_published_at(tx, build.product))
        row = (build.product, number, build.build_id, self._time(published_at), build.fingerprint)
        tx.execute(
            f"INSERT INTO daap_product_versions ({VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (*row, self._json(ports_to_json(ports)), self._json(dict(inputs)), False),
        )
        tx.execute(
            "UPDATE daap_builds SET state = 'published', finished_at = ?, version = ? WHERE build_id = ?",
            (self._time(published_at), number, build.build_id),
        )
        tx.execute(
            f"INSERT INTO daap_publications ({PUBLICATION_COLUMNS})"
            " VALUES (?, ?, ?, 'pending', ?, 0, NULL, ?)",
            (build.product, number, build.build_id, self._json({}), self._time(published_at)),
        )

    @staticmethod
    def _allocate(tx: Tx, product: str) -> int:
        """The product's next version number; the counter row stays locked until commit."""
        row = tx.fetch_one(
            "INSERT INTO daap_version_counters (product, last_version) VALUES (?, 1)"
            " ON CONFLICT (product) DO UPDATE"
            " SET last_version = daap_version_counters.last_version + 1"
            " RETURNING last_version",
            (product,),
        )
        assert row is not None  # RETURNING always yields the row it wrote
        return int(row[0])

    def _last_published_at(self, tx: Tx, product: str) -> datetime:
        """When the product's newest version was published (the epoch if never).

        ``publish`` never goes back in time from there, so version order and
        ``published_at`` order agree and ``version_at`` has one answer even if
        two publishing machines' clocks disagree.
        """
        sql = "SELECT max(published_at) FROM daap_product_versions WHERE product = ?"
        row = tx.fetch_one(sql, (product,))
        if row is None or row[0] is None:
            return datetime.fromtimestamp(0, UTC)
        return self.dialect.decode_time(row[0])

    def finish_build(
        self, build_id: str, state: Literal["failed", "unchanged"], message: str | None = None
    ) -> None:
        if state not in ("failed", "unchanged"):
            raise MetadataError(f"{self._where}: cannot finish build {build_id!r} as {state!r}")
        with self._tx(write=True) as tx:
            build = self._locked_build(tx, build_id)
            if build.state == state:
                return
            self._require_pending(build, f"mark {state}")
            tx.execute(
                "UPDATE daap_builds SET state = ?, finished_at = ?, message = ? WHERE build_id = ?",
                (state, self._time(_now()), message, build_id),
            )

    def _locked_build(self, tx: Tx, build_id: str) -> BuildRecord:
        """The build, its row locked against concurrent changes until ``tx`` ends."""
        sql = f"{_SELECT_BUILD} WHERE build_id = ?{self.dialect.lock_row}"
        row = tx.fetch_one(sql, (build_id,))
        if row is None:
            raise MetadataError(
                f"{self._where}: unknown build id {build_id!r}",
                hint="start_build must record a build before it can change state",
            )
        return build_from_row(row, self.dialect)

    def _require_pending(self, build: BuildRecord, action: str) -> None:
        if build.state not in _PENDING:
            raise MetadataError(
                f"{self._where}: cannot {action} build {build.build_id!r} of {build.product}:"
                f" it is already {build.state}",
                hint="start a new build instead",
            )

    def get_build(self, build_id: str) -> BuildRecord | None:
        return _first(self._builds(f"{_SELECT_BUILD} WHERE build_id = ?", (build_id,)))

    def pending_builds(self, product: str | None = None) -> list[BuildRecord]:
        sql = f"{_SELECT_BUILD} WHERE state IN ('running', 'committing')"
        if product is None:
            return self._builds(f"{sql} ORDER BY seq", ())
        return self._builds(f"{sql} AND product = ? ORDER BY seq", (product,))

    def builds(self, product: str, limit: int = 50) -> list[BuildRecord]:
        sql = f"{_SELECT_BUILD} WHERE product = ? ORDER BY seq DESC LIMIT ?"
        return self._builds(sql, (product, limit))

    # -- versions -----------------------------------------------------------------

    def latest_version(self, product: str) -> ProductVersion | None:
        sql = f"{_SELECT_VERSION} WHERE product = ? AND NOT expired ORDER BY version DESC LIMIT 1"
        return _first(self._versions(sql, (product,)))

    def get_version(self, product: str, version: int) -> ProductVersion | None:
        sql = f"{_SELECT_VERSION} WHERE product = ? AND version = ?"
        return _first(self._versions(sql, (product, version)))

    def version_at(self, product: str, at: datetime) -> ProductVersion | None:
        if at.tzinfo is None or at.utcoffset() is None:
            raise MetadataError(
                f"version_at({product!r}, {at.isoformat()}) needs a timezone-aware moment",
                hint="pass e.g. datetime.now(UTC) or datetime(2025, 1, 31, tzinfo=UTC)",
            )
        sql = (
            f"{_SELECT_VERSION} WHERE product = ? AND NOT expired AND published_at <= ?"
            " ORDER BY version DESC LIMIT 1"
        )
        return _first(self._versions(sql, (product, self._time(at.astimezone(UTC)))))

    def list_versions(self, product: str, include_expired: bool = False) -> list[ProductVersion]:
        where = "product = ?" if include_expired else "product = ? AND NOT expired"
        return self._versions(f"{_SELECT_VERSION} WHERE {where} ORDER BY version", (product,))

    def products(self) -> list[str]:
        with self._tx() as tx:
            rows = tx.fetch_all("SELECT DISTINCT product FROM daap_product_versions ORDER BY 1")
        return [row[0] for row in rows]

    def expire_versions(self, product: str, versions: Iterable[int]) -> None:
        wanted = sorted(set(versions))
        if not wanted:
            return
        with self._tx(write=True) as tx:
            # Locking the counter also waits for a publish in flight: "latest" is final.
            sql = "SELECT last_version FROM daap_version_counters WHERE product = ?"
            counter = tx.fetch_one(sql + self.dialect.lock_row, (product,))
            rows = tx.fetch_all("SELECT version FROM daap_product_versions WHERE product = ?", (product,))
            latest = int(counter[0]) if counter else 0
            self._check_expirable(product, wanted, {int(r[0]) for r in rows}, latest)
            for version in wanted:
                tx.execute(
                    "UPDATE daap_product_versions SET expired = TRUE WHERE product = ? AND version = ?",
                    (product, version),
                )

    def _check_expirable(self, product: str, wanted: list[int], known: set[int], latest: int) -> None:
        unknown = [v for v in wanted if v not in known]
        if unknown:
            raise MetadataError(
                f"{self._where}: {product} has no version {', '.join(map(str, unknown))}",
                hint=f"list_versions({product!r}) shows the versions that exist",
            )
        if latest in wanted:
            raise MetadataError(
                f"{self._where}: cannot expire version {latest} of {product}: it is the latest",
                hint="the latest version always stays readable; publish a newer one first",
            )

    # -- publication outbox ---------------------------------------------------------

    def pending_publications(self, product: str | None = None) -> list[Publication]:
        sql = f"{_SELECT_PUBLICATION} WHERE state = 'pending'"
        if product is None:
            return self._publications(f"{sql} ORDER BY product, version", ())
        return self._publications(f"{sql} AND product = ? ORDER BY version", (product,))

    def get_publication(self, product: str, version: int) -> Publication | None:
        sql = f"{_SELECT_PUBLICATION} WHERE product = ? AND version = ?"
        return _first(self._publications(sql, (product, version)))

    def record_publication(
        self,
        build_id: str,
        progress: Mapping[str, Any],
        *,
        done: bool = False,
        error: str | None = None,
    ) -> Publication:
        where = f"{_SELECT_PUBLICATION} WHERE build_id = ?"
        with self._tx(write=True) as tx:
            row = tx.fetch_one(where + self.dialect.lock_row, (build_id,))
            if row is None:
                raise MetadataError(
                    f"{self._where}: build {build_id!r} has no publication outbox entry",
                    hint="only a published version has one",
                )
            current = publication_from_row(row, self.dialect)
            if current.state == "done":
                if dict(progress) != dict(current.progress):
                    raise MetadataError(
                        f"{self._where}: the change events of {current.product} version"
                        f" {current.version} are already published; the record is final"
                    )
                return current
            tx.execute(
                "UPDATE daap_publications SET state = ?, progress = ?, attempts = attempts + ?,"
                " error = ?, updated_at = ? WHERE build_id = ?",
                (
                    "done" if done else "pending",
                    self._json(dict(progress)),
                    1 if error is not None else 0,
                    error,
                    self._time(_now()),
                    build_id,
                ),
            )
            row = tx.fetch_one(where, (build_id,))
        assert row is not None
        return publication_from_row(row, self.dialect)

    # -- helpers ------------------------------------------------------------------

    def _builds(self, sql: str, params: tuple[object, ...]) -> list[BuildRecord]:
        with self._tx() as tx:
            rows = tx.fetch_all(sql, params)
        return [build_from_row(row, self.dialect) for row in rows]

    def _versions(self, sql: str, params: tuple[object, ...]) -> list[ProductVersion]:
        with self._tx() as tx:
            rows = tx.fetch_all(sql, params)
        return [version_from_row(row, self.dialect) for row in rows]

    def _publications(self, sql: str, params: tuple[object, ...]) -> list[Publication]:
        with self._tx() as tx:
            rows = tx.fetch_all(sql, params)
        return [publication_from_row(row, self.dialect) for row in rows]

    def _time(self, moment: datetime) -> object:
        return self.dialect.encode_time(moment)

    def _json(self, value: Any) -> object:
        return self.dialect.encode_json(value)


def _now() -> datetime:
    return datetime.now(UTC)


def _first(items: list[T]) -> T | None:
    return items[0] if items else None
