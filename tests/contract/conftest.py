"""The metadata store every contract suite of it runs against: SQLite, and PostgreSQL where it runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from daap.mesh.metadata import MetadataStore, open_metadata_store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store; nothing has opened it yet."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/state/metadata.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[MetadataStore]:
    opened = open_metadata_store(store_url)
    yield opened
    opened.close()
