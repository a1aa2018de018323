"""The result cache's bounds and the binding of named-query arguments (pure)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from daap.errors import QueryError
from daap.query.cache import ResultCache
from daap.query.named import bind_arguments
from daap.spec.model import NamedQuery, QueryParameter


def table(rows: int) -> pa.Table:
    return pa.table({"x": list(range(rows))})


def test_cache_evicts_least_recently_used_by_bytes():
    one = table(100).nbytes
    cache = ResultCache(capacity=one * 2, max_entry=one)
    cache.put("a", table(100))
    cache.put("b", table(100))
    assert cache.get("a") is not None  # a is now more recent than b
    cache.put("c", table(100))
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None
    stats = cache.stats()
    assert (stats.entries, stats.bytes, stats.hits, stats.misses) == (2, one * 2, 3, 1)


def test_cache_refuses_entries_over_the_limit_and_can_be_off():
    cache = ResultCache(capacity=10_000, max_entry=100)
    assert cache.put("big", table(1000)) is False and cache.get("big") is None
    off = ResultCache(capacity=0)
    assert off.put("a", table(1)) is False


QUERY = NamedQuery(
    "q",
    "SELECT 1",
    parameters=(
        QueryParameter("n", "integer", "BIGINT"),
        QueryParameter("when", "date", "DATE"),
        QueryParameter("at", "timestamp", "TIMESTAMP", required=False),
        QueryParameter("price", "number", "DOUBLE", required=False, default="1.5"),
        QueryParameter("flag", "boolean", "BOOLEAN", required=False),
    ),
)


def test_arguments_are_converted_from_strings_and_json():
    bound = bind_arguments(
        QUERY, {"n": "7", "when": "2026-11-01", "at": "2026-11-01T10:00:00", "flag": "yes"}
    )
    assert bound == {
        "n": 7,
        "when": date(2026, 11, 1),
        "at": datetime(2026, 11, 1, 10),
        "price": Decimal("1.5"),
        "flag": True,
    }
    assert bind_arguments(QUERY, {"n": 7, "when": "2026-11-01", "flag": False})["flag"] is False


def test_every_bad_argument_is_named_at_once():
    with pytest.raises(QueryError) as info:
        bind_arguments(QUERY, {"n": "seven", "nope": 1, "flag": "maybe"})
    message = str(info.value)
    assert "unknown parameter 'nope'" in message
    assert "parameter 'n' must be integer, got 'seven'" in message
    assert "missing parameter 'when' (date)" in message
    assert "parameter 'flag' must be boolean" in message
    assert "its parameters are n: integer, when: date" in message


def test_a_fractional_number_is_not_an_integer():
    with pytest.raises(QueryError, match=r"must be integer, got 1\.5"):
        bind_arguments(QUERY, {"n": 1.5, "when": "2026-01-01"})
