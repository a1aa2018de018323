"""Principals and tokens in the metadata store, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from daap.mesh.metadata import MetadataStore, StoredPrincipal, StoredToken

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_principals_round_trip_and_names_are_unique(store: MetadataStore) -> None:
    bot = StoredPrincipal("etl-bot", "service", ("writer",), "ops", ("billing",), {"region": "US"}, T0)
    assert store.add_principal(bot)
    assert not store.add_principal(StoredPrincipal("etl-bot", "person"))  # the first one stays

    assert store.stored_principals() == [bot]
    assert store.remove_principal("etl-bot") and not store.remove_principal("etl-bot")
    assert store.stored_principals() == []


def test_tokens_by_id_and_principal_and_revoked_once(store: MetadataStore) -> None:
    first = StoredToken("aaaaaaaaaaaa", "ana", "h1", "psql", T0, T0 + timedelta(days=1), None)
    second = StoredToken("bbbbbbbbbbbb", "gov", "h2", None, T0 + timedelta(seconds=1), None, None)
    store.add_token(first)
    store.add_token(second)

    assert store.get_token("aaaaaaaaaaaa") == first and store.get_token("cccccccccccc") is None
    assert store.tokens() == [first, second] and store.tokens("gov") == [second]
    assert store.revoke_token("aaaaaaaaaaaa", T0 + timedelta(hours=1))
    assert store.revoke_token("aaaaaaaaaaaa", T0 + timedelta(hours=2))  # already: keeps the first time
    assert not store.revoke_token("cccccccccccc", T0)
    revoked = store.get_token("aaaaaaaaaaaa")
    assert revoked is not None and revoked.revoked_at == T0 + timedelta(hours=1)
