"""Rows <-> dataclasses, written once for every adapter.

Queries select :data:`BUILD_COLUMNS` or :data:`VERSION_COLUMNS` in this order;
the functions here turn such a row into the port's dataclasses, using the
dialect only for the values that databases store differently (times, JSON).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from daap.mesh.metadata import (
    BuildRecord,
    BuildState,
    PortState,
    ProductVersion,
    Publication,
    PublicationState,
)
from daap.mesh.metadata._dialect import Dialect, Row

BUILD_COLUMNS = "build_id, product, state, started_at, finished_at, fingerprint, message, plan, version"
VERSION_COLUMNS = "product, version, build_id, published_at, fingerprint, ports, inputs, expired"
PUBLICATION_COLUMNS = "product, version, build_id, state, progress, attempts, error, updated_at"


def build_from_row(row: Row, dialect: Dialect) -> BuildRecord:
    """A ``daap_builds`` row (selected as :data:`BUILD_COLUMNS`) as a record."""
    build_id, product, state, started, finished, fingerprint, message, plan, version = row
    return BuildRecord(
        build_id=build_id,
        product=product,
        state=cast(BuildState, state),
        started_at=dialect.decode_time(started),
        finished_at=None if finished is None else dialect.decode_time(finished),
        fingerprint=fingerprint,
        message=message,
        plan=dialect.decode_json(plan),
        version=None if version is None else int(version),
    )


def version_from_row(row: Row, dialect: Dialect) -> ProductVersion:
    """A ``daap_product_versions`` row (selected as :data:`VERSION_COLUMNS`) as a version."""
    product, version, build_id, published, fingerprint, ports, inputs, expired = row
    return ProductVersion(
        product=product,
        version=int(version),
        build_id=build_id,
        published_at=dialect.decode_time(published),
        fingerprint=fingerprint,
        ports=ports_from_json(dialect.decode_json(ports)),
        inputs={key: int(value) for key, value in dialect.decode_json(inputs).items()},
        expired=bool(expired),
    )


def publication_from_row(row: Row, dialect: Dialect) -> Publication:
    """A ``daap_publications`` row (selected as :data:`PUBLICATION_COLUMNS`) as a record."""
    product, version, build_id, state, progress, attempts, error, updated = row
    return Publication(
        product=product,
        version=int(version),
        build_id=build_id,
        state=cast(PublicationState, state),
        progress=dialect.decode_json(progress),
        attempts=int(attempts),
        error=error,
        updated_at=dialect.decode_time(updated),
    )


def ports_to_json(ports: Mapping[str, PortState]) -> dict[str, Any]:
    """Port states as JSON-able objects: ``{"port": {"table", "snapshot_ids", "row_count"}}``."""
    return {
        name: {
            "table": state.table,
            "snapshot_ids": [int(snapshot) for snapshot in state.snapshot_ids],
            "row_count": int(state.row_count),
        }
        for name, state in ports.items()
    }


def ports_from_json(data: Mapping[str, Any]) -> dict[str, PortState]:
    """The inverse of :func:`ports_to_json`."""
    return {
        name: PortState(
            table=state["table"],
            snapshot_ids=tuple(int(snapshot) for snapshot in state["snapshot_ids"]),
            row_count=int(state["row_count"]),
        )
        for name, state in data.items()
    }
