"""Choosing which versions a retention policy expires (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from daap.mesh.metadata import ProductVersion
from daap.mesh.retention import choose_expired
from daap.spec.model import RetentionPolicy

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def versions(*ages_days: float, expired: tuple[int, ...] = ()) -> list[ProductVersion]:
    return [
        ProductVersion("p", i, f"b{i}", NOW - timedelta(days=age), "f", {}, {}, expired=i in expired)
        for i, age in enumerate(ages_days, start=1)
    ]


def test_keep_last_n():
    assert choose_expired(versions(9, 8, 7, 6), RetentionPolicy(keep_versions=2), NOW) == [1, 2]


def test_max_age_alone_never_expires_the_latest():
    assert choose_expired(versions(40, 35, 31), RetentionPolicy(max_age_days=30), NOW) == [1, 2]


def test_max_age_and_keep_last_together_keep_either():
    policy = RetentionPolicy(keep_versions=3, max_age_days=5)
    assert choose_expired(versions(10, 9, 8, 7, 1), policy, NOW) == [1, 2]
    assert choose_expired(versions(10, 9, 4, 3, 1), policy, NOW) == [1, 2]
    assert choose_expired(versions(4, 3, 2, 1), policy, NOW) == []


def test_pinned_and_already_expired_versions_are_left_alone():
    listed = versions(9, 8, 7, 6, expired=(1,))
    assert choose_expired(listed, RetentionPolicy(keep_versions=1), NOW, pinned={2}) == [3]
