"""Fixtures for daap.spec tests: valid product folders in ``tmp_path``."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.spec_folders import (
    DAILY_CONTRACT,
    DERIVED_DESCRIPTOR,
    RAW_DESCRIPTOR,
    TITLES_CONTRACT,
    ProductFolder,
)


@pytest.fixture
def raw(tmp_path: Path) -> ProductFolder:
    """A complete, valid raw product ``titles`` reading a CSV file."""
    folder = ProductFolder(tmp_path / "titles")
    folder.write("dataproduct.yaml", RAW_DESCRIPTOR)
    folder.write("contracts/titles.odcs.yaml", TITLES_CONTRACT)
    return folder


@pytest.fixture
def derived(tmp_path: Path) -> ProductFolder:
    """A valid derived product reading two other products' ports through Python."""
    folder = ProductFolder(tmp_path / "title_popularity")
    folder.write("dataproduct.yaml", DERIVED_DESCRIPTOR)
    folder.write("contracts/daily.odcs.yaml", DAILY_CONTRACT)
    folder.write("build.py", "def popularity(titles, plays):\n    return titles\n")
    return folder
