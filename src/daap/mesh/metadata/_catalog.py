"""The central catalog's entries and their search, written once in SQL for every adapter (a store mixin).

One row per product in ``daap_catalog`` (the entry as JSON, plus its searchable text),
one row per facet value in ``daap_catalog_facets`` (domain, type, owner, status, each
tag and each classification), kept in step by :meth:`CatalogTables.upsert_catalog` in
one transaction. Only matching and ranking differ between the databases (see
:data:`_FULL_TEXT`): SQLite searches an FTS5 index (external content, kept by
triggers) ranked by ``bm25``; PostgreSQL a generated ``tsvector`` column (weights A-D,
GIN index) ranked by ``ts_rank_cd``.

Words are cut here, in Python, for both: text is case-folded, stripped of accents and
split on anything that is not a letter or digit (``title_popularity`` is the words
``title popularity``), and the databases index those words as they are. A query is
cut the same way and each word is quoted, so user text is never FTS syntax: ``"title"
OR (*`` searches for the word ``title`` (operators typed in capitals, ``AND OR NOT NEAR``,
are dropped: they are not supported, and requiring them as words would find nothing).
Words are ANDed; the last one also matches as a prefix (``popul`` finds ``popularity``).
When no product has every word (a question, "which titles do viewers finish"), they are
ORed instead, and bm25 ranks first the products with the most and rarest of them.
A plural word is also searched as its singular (``viewers`` finds ``viewer_id``; see
:func:`word_forms`), the same way in both databases.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from daap.mesh.metadata._catalog_words import (
    WORD,
    Query,
    fts5_query,
    search_words,
    tsquery,
)
from daap.mesh.metadata._dialect import Dialect, Row, Tx

#: what a product's catalog entry can be marked as; retired and deleted ones stay findable
CATALOG_STATUSES = ("active", "retired", "deleted")
#: what search results can be narrowed by, and counted by
CATALOG_FACETS = ("domain", "product_type", "owner", "tag", "classification", "status")


@dataclass(frozen=True)
class CatalogColumn:
    name: str
    type: str | None = None
    description: str | None = None
    classification: str | None = None


@dataclass(frozen=True)
class CatalogPort:
    """An output port as the catalog shows it: what it is, and its columns."""

    name: str
    description: str | None = None
    columns: tuple[CatalogColumn, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))


@dataclass(frozen=True)
class CatalogPersona:
    """Who consumes the product, and with what skills (``["SQL", "Python"]``)."""

    name: str
    description: str | None = None
    skills: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "skills", tuple(self.skills))


@dataclass(frozen=True)
class CatalogEntry:
    """Everything the catalog knows about one product; ``document`` (JSON-able) holds the rest.

    Lists may be given as any sequence; they are kept as tuples. ``tags`` keep their first
    occurrence only; ``classifications`` are the distinct ones given plus those of the
    columns, in order of appearance.

    Raises:
        ValueError: an unknown ``status`` (see :data:`CATALOG_STATUSES`), or a naive time.
    """

    name: str
    domain: str | None = None
    product_type: str | None = None  # raw, derived, decision-support, ml-model, hybrid, composite
    owner: str | None = None  # the owning team
    status: str = "active"
    business_objective: str | None = None
    purpose: str | None = None
    description: str | None = None
    usage: str | None = None
    limitations: str | None = None
    personas: tuple[CatalogPersona, ...] = ()
    tags: tuple[str, ...] = ()
    classifications: tuple[str, ...] = ()
    ports: tuple[CatalogPort, ...] = ()
    latest_version: int | None = None
    published_at: datetime | None = None
    quality_status: str | None = None
    governance_errors: int | None = None
    governance_warnings: int | None = None
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    document: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in CATALOG_STATUSES:
            raise ValueError(f"unknown catalog status {self.status!r}; one of {list(CATALOG_STATUSES)}")
        for name in ("published_at", "updated_at"):
            moment = getattr(self, name)
            if moment is not None and moment.utcoffset() is None:
                raise ValueError(f"{name} of catalog entry {self.name!r} must be timezone-aware")
        columns = [c.classification for p in self.ports for c in p.columns if c.classification]
        set_ = object.__setattr__
        set_(self, "personas", tuple(self.personas))
        set_(self, "ports", tuple(self.ports))
        set_(self, "tags", tuple(dict.fromkeys(self.tags)))
        set_(self, "classifications", tuple(dict.fromkeys([*self.classifications, *columns])))

    def facet_values(self) -> list[tuple[str, str]]:
        """``(facet, value)`` pairs this entry is found by (see :data:`CATALOG_FACETS`)."""
        single = [("domain", self.domain), ("product_type", self.product_type), ("owner", self.owner)]
        return [
            *((facet, value) for facet, value in single if value),
            ("status", self.status),
            *(("tag", tag) for tag in self.tags),
            *(("classification", c) for c in self.classifications),
        ]

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON-able data (times in ISO 8601); :meth:`from_json` reads it back."""
        return {
            **{name: getattr(self, name) for name in _SCALARS},
            "personas": [
                {"name": p.name, "description": p.description, "skills": list(p.skills)}
                for p in self.personas
            ],
            "tags": list(self.tags),
            "classifications": list(self.classifications),
            "ports": [
                {
                    "name": port.name,
                    "description": port.description,
                    "columns": [asdict(column) for column in port.columns],
                }
                for port in self.ports
            ],
            "published_at": None if self.published_at is None else self.published_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "document": dict(self.document),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CatalogEntry:
        """An entry from :meth:`to_json`'s data; keys it lacks take their defaults."""
        published, updated = data.get("published_at"), data.get("updated_at")
        scalars: dict[str, Any] = {name: data[name] for name in _SCALARS if name in data}
        if updated:
            scalars["updated_at"] = datetime.fromisoformat(updated)
        return cls(
            **scalars,
            personas=tuple(CatalogPersona(**p) for p in data.get("personas", ())),
            tags=tuple(data.get("tags", ())),
            classifications=tuple(data.get("classifications", ())),
            ports=tuple(
                CatalogPort(
                    p["name"], p.get("description"), tuple(CatalogColumn(**c) for c in p.get("columns", ()))
                )
                for p in data.get("ports", ())
            ),
            published_at=None if published is None else datetime.fromisoformat(published),
            document=dict(data.get("document", {})),
        )


_SCALARS = (
    "name", "domain", "product_type", "owner", "status", "business_objective", "purpose", "description",
    "usage", "limitations", "latest_version", "quality_status", "governance_errors", "governance_warnings",
)  # fmt: skip


@dataclass(frozen=True)
class CatalogSnippet:
    """Where a hit matched: a field's text, cut around the match, and the matched words in it.

    ``field`` is ``name``, ``business_objective``, ``tags``, ``domain`` … or ``port P``,
    ``column P.C``, ``persona N``; ``spans`` are ``(start, end)`` offsets into ``text``,
    for the caller to highlight (after escaping ``text`` for its medium).
    """

    field: str
    text: str
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class CatalogHit:
    entry: CatalogEntry
    score: float  # higher ranks first; 0.0 when the search had no words
    snippet: CatalogSnippet | None = None


@dataclass(frozen=True)
class CatalogPage:
    """One page of results, how many there are in all, and the facet counts.

    ``facets`` maps every facet of :data:`CATALOG_FACETS` to ``{value: count}``, most
    frequent first; a facet's counts are over the matches of the text and of the *other*
    facets' selections (so its own other values show what choosing them would give).
    Selected values are listed even when their count is 0. ``any_word`` is set when no
    product has every word of the text, so the products with any of them were ranked.
    """

    items: tuple[CatalogHit, ...]
    total: int
    facets: Mapping[str, Mapping[str, int]]
    any_word: bool = False


class CatalogStore(Protocol):
    """What the central catalog needs from the metadata store (both adapters have it)."""

    def upsert_catalog(self, entry: CatalogEntry) -> None:
        """Insert or replace the product's entry and its search index, in one transaction."""
        ...

    def catalog_entry(self, name: str) -> CatalogEntry | None:
        """Returns: the product's entry, or None when the catalog has none."""
        ...

    def catalog_entries(self) -> list[CatalogEntry]:
        """Returns: every entry (retired and deleted ones too), by name."""
        ...

    def mark_catalog_status(self, name: str, status: str, at: datetime) -> bool:
        """Mark the product ``active``, ``retired`` or ``deleted`` as of ``at``.

        Returns:
            False when the catalog has no such product (nothing is written).

        Raises:
            ValueError: unknown status, or a naive ``at``.
        """
        ...

    def search_catalog(
        self,
        text: str | None,
        *,
        facets: Mapping[str, Sequence[str]] | None = None,
        visible: Collection[str] | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> CatalogPage:
        """Search the catalog: full-text ranked, narrowed by facets, counted per facet.

        Args:
            text: words to look for (all of them; the last one also as a prefix), never
                FTS syntax; None, or text without words, finds everything, by name.
            facets: facet -> values; an entry qualifies with any of a facet's values and
                must qualify for every facet given (see :data:`CATALOG_FACETS`).
            visible: the products the caller may discover; None = all.
            limit, offset: the page (``total`` counts every match).

        Raises:
            ValueError: an unknown facet, or a negative limit or offset.
        """
        ...


def _total(rows: Sequence[Sequence[Any]]) -> int:
    """The ``_TOTAL`` part of a search's rows: how many products match."""
    return next(int(part[2]) for part in rows if part[0] == _TOTAL)


@dataclass(frozen=True)
class _FullText:
    """The part of a search that differs per database: matching and ranking, and name lists.

    ``matched`` selects ``id, score`` (the product id; higher scores rank first) of the
    documents matching the one ``?`` that ``query`` fills; ``names`` selects the names in
    the JSON array that its one ``?`` is given.
    """

    matched: str
    query: Callable[[Query], str]
    names: str
    by_name: str = "c.name"  # names in code point order (what SQLite's BINARY does)


_FULL_TEXT: Mapping[str, _FullText] = {
    # bm25 weights in column order: name, objective, tags, text, columns; bm25 is lower-better
    "sqlite": _FullText(
        "SELECT rowid AS id, -bm25(daap_catalog_fts, 10.0, 5.0, 5.0, 2.0, 1.0) AS score"
        " FROM daap_catalog_fts WHERE daap_catalog_fts MATCH ?",
        fts5_query,
        "SELECT value FROM json_each(?)",
    ),
    # weights {D, C, B, A}; normalization 1 divides by 1 + log(document length), as bm25 does
    "postgres": _FullText(
        "SELECT d.product_id AS id, ts_rank_cd('{0.05, 0.2, 0.5, 1.0}', d.search, q, 1) AS score"
        " FROM daap_catalog_documents d, to_tsquery('simple', ?) AS q WHERE d.search @@ q",
        tsquery,
        "SELECT jsonb_array_elements_text(CAST(? AS jsonb))",
        'c.name COLLATE "C"',
    ),
}

_EVERYTHING = "SELECT id, 0.0 AS score FROM daap_catalog"
_IN_VALUES = "m.id IN (SELECT product_id FROM daap_catalog_facets WHERE value_id IN ({}))"
_SEARCH_COLUMNS = "search_name, search_objective, search_tags, search_text, search_columns"
_SELECT_ENTRY = (
    "SELECT c.id, c.name, c.status, c.updated_at, d.body"
    " FROM daap_catalog c JOIN daap_catalog_documents d ON d.product_id = c.id"
)
_ROWS_PER_INSERT = 200  # facet rows: 3 parameters each
#: one statement answers a search; its rows are (part, number, number, facet, value)
_PAGE, _TOTAL, _COUNT, _CHOSEN = 0, 1, 2, 3
_NUMBER = "CAST({} AS DOUBLE PRECISION)"
_NO_TEXT = "CAST(NULL AS TEXT)"


def _search_text(entry: CatalogEntry) -> tuple[str, str, str, str, str]:
    """The entry's words per weighted search column: name, objective, tags, text, columns."""

    def words(*texts: str | None) -> str:
        return " ".join(word for text in texts if text for word in search_words(text))

    personas = [part for p in entry.personas for part in (p.name, p.description, *p.skills)]
    columns = [
        part
        for port in entry.ports
        for part in (
            port.name,
            port.description,
            *(x for c in port.columns for x in (c.name, c.description, c.classification)),
        )
    ]
    return (
        words(entry.name),
        words(entry.business_objective),
        words(*entry.tags, entry.domain, entry.owner, entry.product_type),
        words(entry.purpose, entry.description, entry.usage, entry.limitations, *personas),
        words(*columns, *entry.classifications),
    )


def _snippet(entry: CatalogEntry, query: Query, width: int = 160) -> CatalogSnippet | None:
    """The first field (heaviest first) holding a match, cut to ``width`` around it."""
    for name, text in _fields(entry):
        spans = [
            m.span() for m in WORD.finditer(text) if any(query.matches(w) for w in search_words(m.group()))
        ]
        if spans:
            start = max(0, min(spans[0][0] - width // 4, len(text) - width))
            lead = "…" if start else ""
            cut = lead + text[start : start + width] + ("…" if start + width < len(text) else "")
            shift = len(lead) - start
            inside = tuple((a + shift, b + shift) for a, b in spans if a >= start and b <= start + width)
            return CatalogSnippet(name, cut, inside)
    return None


def _fields(entry: CatalogEntry) -> list[tuple[str, str]]:
    """The entry's texts a snippet can come from, heaviest search column first."""
    fields: list[tuple[str, str | None]] = [
        ("name", entry.name),
        ("business_objective", entry.business_objective),
        ("tags", ", ".join(entry.tags)),
        *((name, getattr(entry, name)) for name in _TEXT_FIELDS),
        *((f"persona {p.name}", _joined(p.name, p.description, *p.skills)) for p in entry.personas),
    ]
    for port in entry.ports:
        fields.append((f"port {port.name}", _joined(port.name, port.description)))
        fields += [
            (f"column {port.name}.{c.name}", _joined(c.name, c.description, c.classification))
            for c in port.columns
        ]
    fields.append(("classifications", ", ".join(entry.classifications)))
    return [(name, text) for name, text in fields if text]


_TEXT_FIELDS = ("domain", "owner", "product_type", "purpose", "description", "usage", "limitations")


def _joined(*parts: str | None) -> str:
    return " — ".join(part for part in parts if part)


def _facet_filters(facets: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    """The selections that narrow anything: facet -> distinct values (a lone string is one value)."""
    chosen: dict[str, tuple[str, ...]] = {}
    for facet, values in (facets or {}).items():
        if facet not in CATALOG_FACETS:
            raise ValueError(f"unknown catalog facet {facet!r}; one of {list(CATALOG_FACETS)}")
        distinct = tuple(dict.fromkeys([values] if isinstance(values, str) else values))
        if distinct:
            chosen[facet] = distinct
    return chosen


# -- the mixin -------------------------------------------------------------------------------


class CatalogTables:
    """Catalog queries on the store's transactions (``_tx``, ``dialect``)."""

    dialect: ClassVar[Dialect]

    def _tx(self, *, write: bool = False) -> AbstractContextManager[Tx]:  # provided by the store
        raise NotImplementedError

    def upsert_catalog(self, entry: CatalogEntry) -> None:
        """Write the entry, its document and its facet rows; the search index follows the
        document (SQLite: triggers; PostgreSQL: a generated column)."""
        d = self.dialect
        body = {k: v for k, v in entry.to_json().items() if k not in ("name", "status", "updated_at")}
        with self._tx(write=True) as tx:
            row = tx.fetch_one(
                "INSERT INTO daap_catalog (name, status, updated_at) VALUES (?, ?, ?) ON CONFLICT (name)"
                " DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at RETURNING id",
                (entry.name, entry.status, d.encode_time(entry.updated_at)),
            )
            assert row is not None  # RETURNING always gives the row
            product_id = int(row[0])
            tx.execute(
                f"INSERT INTO daap_catalog_documents (product_id, body, {_SEARCH_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (product_id) DO UPDATE SET body = excluded.body,"
                " search_name = excluded.search_name, search_objective = excluded.search_objective,"
                " search_tags = excluded.search_tags, search_text = excluded.search_text,"
                " search_columns = excluded.search_columns",
                (product_id, d.encode_json(body), *_search_text(entry)),
            )
            tx.execute("DELETE FROM daap_catalog_facets WHERE product_id = ?", (product_id,))
            self._link_facets(tx, product_id, entry.facet_values())

    def catalog_entry(self, name: str) -> CatalogEntry | None:
        with self._tx() as tx:
            row = tx.fetch_one(f"{_SELECT_ENTRY} WHERE c.name = ?", (name,))
        return None if row is None else self._entry(row[1:])

    def catalog_entries(self) -> list[CatalogEntry]:
        with self._tx() as tx:
            rows = tx.fetch_all(f"{_SELECT_ENTRY} ORDER BY {_FULL_TEXT[self.dialect.name].by_name}")
        return [self._entry(row[1:]) for row in rows]

    def mark_catalog_status(self, name: str, status: str, at: datetime) -> bool:
        if status not in CATALOG_STATUSES:
            raise ValueError(f"unknown catalog status {status!r}; one of {list(CATALOG_STATUSES)}")
        if at.utcoffset() is None:
            raise ValueError(f"the time {name!r} is marked {status} at must be timezone-aware")
        with self._tx(write=True) as tx:
            row = tx.fetch_one(
                "UPDATE daap_catalog SET status = ?, updated_at = ? WHERE name = ? RETURNING id",
                (status, self.dialect.encode_time(at), name),
            )
            if row is None:
                return False
            tx.execute("DELETE FROM daap_catalog_facets WHERE product_id = ? AND facet = 'status'", (row[0],))
            self._link_facets(tx, int(row[0]), [("status", status)])
        return True

    def search_catalog(
        self,
        text: str | None,
        *,
        facets: Mapping[str, Sequence[str]] | None = None,
        visible: Collection[str] | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> CatalogPage:
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset must not be negative (got {limit}, {offset})")
        chosen = _facet_filters(facets)
        query = Query.parse(text)
        if visible is not None and not visible:
            return CatalogPage((), 0, _counted(chosen, {}))
        with self._tx() as tx:
            known = self._value_ids(tx, [(f, v) for f, values in chosen.items() for v in values])
            narrowing = {f: [known[f, v] for v in values if (f, v) in known] for f, values in chosen.items()}
            sql, params = self._search_sql(query, visible, narrowing)
            rows = tx.fetch_all(sql, (*params, limit, offset))
            if query is not None and len(query.words) > 1 and not _total(rows):
                # nobody has every word ("which titles do viewers finish"): rank those with any
                query = replace(query, any_word=True)
                sql, params = self._search_sql(query, visible, narrowing)
                rows = tx.fetch_all(sql, (*params, limit, offset))
            scores = {int(part[1]): float(part[2]) for part in rows if part[0] == _PAGE}
            marks = ", ".join("?" for _ in scores)
            found = tx.fetch_all(f"{_SELECT_ENTRY} WHERE c.id IN ({marks})", tuple(scores)) if scores else []
        entries = {int(row[0]): self._entry(row[1:]) for row in found}
        ranked = sorted(((scores[i], e) for i, e in entries.items()), key=lambda hit: (-hit[0], hit[1].name))
        hits = tuple(CatalogHit(e, s, None if query is None else _snippet(e, query)) for s, e in ranked)
        total = _total(rows)
        counts = {
            (part[3], part[4]): int(part[2])
            for part in rows
            if (part[0] == _COUNT and part[3] not in chosen) or part[0] == _CHOSEN
        }
        return CatalogPage(hits, total, _counted(chosen, counts), query is not None and query.any_word)

    # -- search, piece by piece ---------------------------------------------------------------

    def _search_sql(
        self, query: Query | None, visible: Collection[str] | None, chosen: Mapping[str, list[int]]
    ) -> tuple[str, list[object]]:
        """One statement for the page (ids, scores), the total and every facet value's count.

        ``m`` is what the text matches and the caller may see; ``h`` what the chosen facets
        keep of it. Every facet's values are counted over ``h`` (part ``_COUNT``); a chosen
        facet's again over ``m`` narrowed by the *other* chosen facets (part ``_CHOSEN``),
        which is the count the caller gets. Its last two parameters are limit and offset.
        Rows: ``(part, id or 0, score or count, facet, value)``.
        """
        full_text = _FULL_TEXT[self.dialect.name]
        params: list[object] = [] if query is None else [full_text.query(query)]
        sql = f"WITH m AS ({_EVERYTHING if query is None else full_text.matched})"
        if visible is not None:
            # matched first, then narrowed: as a rowid condition SQLite would re-run MATCH per name
            names = [visible] if isinstance(visible, str) else sorted(set(visible))
            params.append(self.dialect.encode_json(names))
            sql = (
                sql.replace("WITH m AS", "WITH t AS MATERIALIZED", 1)
                + ", m AS (SELECT t.id, t.score FROM t JOIN daap_catalog c ON c.id = t.id"
                f" WHERE c.name IN ({full_text.names}))"
            )
        where, args = _narrowed(chosen)
        sql += (
            f", h AS (SELECT m.id, m.score FROM m WHERE {where}) " if chosen else ", h AS (SELECT * FROM m) "
        )
        parts = [
            f"SELECT {_TOTAL}, 0, {_NUMBER.format('count(*)')}, {_NO_TEXT}, {_NO_TEXT} FROM h",
            _count_sql(_COUNT, "h", "", "TRUE"),
        ]
        for facet in chosen:
            narrowed, more = _narrowed(_without(chosen, facet))
            parts.append(_count_sql(_CHOSEN, "m", " AND f.facet = ?", narrowed))
            args += [facet, *more]
        parts.append(
            f"SELECT {_PAGE}, p.id, {_NUMBER.format('p.score')}, {_NO_TEXT}, {_NO_TEXT} FROM"
            " (SELECT h.id, h.score FROM h JOIN daap_catalog c ON c.id = h.id"
            f" ORDER BY h.score DESC, {full_text.by_name} LIMIT ? OFFSET ?) AS p"
        )
        return sql + " UNION ALL ".join(parts), [*params, *args]

    def _value_ids(self, tx: Tx, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The ids of the facet values that exist among ``pairs``."""
        if not pairs:
            return {}
        rows = tx.fetch_all(
            "SELECT facet, value, id FROM daap_catalog_facet_values WHERE "
            + " OR ".join("(facet = ? AND value = ?)" for _ in pairs),
            [x for pair in pairs for x in pair],
        )
        return {(facet, value): int(id_) for facet, value, id_ in rows}

    def _link_facets(self, tx: Tx, product_id: int, pairs: Sequence[tuple[str, str]]) -> None:
        """Link the product to its facet values, adding the values that are new.

        New values go in sorted, so two writers adding the same ones lock them in one order.
        """
        pairs = sorted(set(pairs))
        for start in range(0, len(pairs), _ROWS_PER_INSERT):
            chunk = pairs[start : start + _ROWS_PER_INSERT]
            ids = self._value_ids(tx, chunk)
            if new := [pair for pair in chunk if pair not in ids]:
                tx.execute(
                    "INSERT INTO daap_catalog_facet_values (facet, value) VALUES "
                    + ", ".join("(?, ?)" for _ in new)
                    + " ON CONFLICT (facet, value) DO NOTHING",
                    [x for pair in new for x in pair],
                )
                ids.update(self._value_ids(tx, new))
            tx.execute(
                "INSERT INTO daap_catalog_facets (product_id, facet, value_id) VALUES "
                + ", ".join("(?, ?, ?)" for _ in chunk),
                [x for facet, value in chunk for x in (product_id, facet, ids[facet, value])],
            )

    def _entry(self, row: Row) -> CatalogEntry:
        name, status, updated_at, body = row
        data = dict(self.dialect.decode_json(body))
        entry = CatalogEntry.from_json({**data, "name": name, "status": status})
        return replace(entry, updated_at=self.dialect.decode_time(updated_at))


def _count_sql(part: int, over: str, facet: str, narrowed: str) -> str:
    """Count the facet values of the products in CTE ``over`` (``facet``: a condition on ``f``).

    The facet rows are looked up per product (CROSS JOIN fixes that order in SQLite):
    cheaper than scanning every facet row when the text matched few products.
    """
    return (
        f"SELECT {part}, 0, {_NUMBER.format('x.n')}, v.facet, v.value FROM"
        f" (SELECT f.value_id, count(*) AS n FROM {over} AS m CROSS JOIN daap_catalog_facets f"
        f" WHERE f.product_id = m.id{facet} AND {narrowed} GROUP BY f.value_id) AS x"
        " JOIN daap_catalog_facet_values v ON v.id = x.value_id"
    )


def _narrowed(chosen: Mapping[str, list[int]]) -> tuple[str, list[object]]:
    """A condition on ``m.id`` for every chosen facet (any of its values), and its parameters."""
    clauses = [_IN_VALUES.format(", ".join("?" for _ in ids)) if ids else "FALSE" for ids in chosen.values()]
    return " AND ".join(clauses) or "TRUE", [x for ids in chosen.values() for x in ids]


def _without(chosen: Mapping[str, list[int]], facet: str) -> dict[str, list[int]]:
    return {f: ids for f, ids in chosen.items() if f != facet}


def _counted(
    chosen: Mapping[str, tuple[str, ...]], counts: Mapping[tuple[str, str], int]
) -> dict[str, dict[str, int]]:
    """Counts per facet, most frequent first, then by value; chosen values always listed."""
    out: dict[str, dict[str, int]] = {}
    for facet in CATALOG_FACETS:
        found = {value: n for (f, value), n in counts.items() if f == facet}
        found.update({value: found.get(value, 0) for value in chosen.get(facet, ())})
        out[facet] = dict(sorted(found.items(), key=lambda item: (-item[1], item[0])))
    return out


__all__: Sequence[str] = [
    "CATALOG_FACETS",
    "CATALOG_STATUSES",
    "CatalogColumn",
    "CatalogEntry",
    "CatalogHit",
    "CatalogPage",
    "CatalogPersona",
    "CatalogPort",
    "CatalogSnippet",
    "CatalogStore",
    "CatalogTables",
    "search_words",
]
