"""The store's tables, as an ordered list of migrations applied once each.

A database records which migrations it has in ``daap_schema_migrations``; the
schema version is the highest one. Opening a store applies the missing ones in
order, inside one transaction, under the adapter's schema lock, so two
processes opening a fresh database at once do not both create the tables.

To grow the schema (catalog, schema registry, principals, access control), append a
:class:`Migration` with the next number; never edit one that has shipped.
Statements use ``{timestamp}``, ``{json}`` and ``{serial}`` for the column
types that differ (see :class:`~daap.mesh.metadata._dialect.Dialect`), and
``only`` for statements one database alone has (FTS5, ``tsvector``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from daap.errors import MetadataError
from daap.mesh.metadata._dialect import Dialect, Tx


@dataclass(frozen=True)
class Migration:
    """One step of the schema: statements for every database plus dialect-only ones."""

    version: int
    name: str
    statements: tuple[str, ...]
    only: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def sql(self, dialect: Dialect) -> list[str]:
        """The statements to run on ``dialect``, column types filled in."""
        steps = (*self.statements, *self.only.get(dialect.name, ()))
        return [step.format_map(dialect.types) for step in steps]


_BUILD_STATES = "'running', 'committing', 'published', 'failed', 'unchanged'"

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "builds and product versions",
        (
            f"""CREATE TABLE daap_builds (
                seq {{serial}},
                build_id TEXT NOT NULL UNIQUE,
                product TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ({_BUILD_STATES})),
                started_at {{timestamp}} NOT NULL,
                finished_at {{timestamp}},
                fingerprint TEXT NOT NULL,
                message TEXT,
                plan {{json}} NOT NULL,
                version INTEGER
            )""",
            "CREATE INDEX daap_builds_by_product ON daap_builds (product, seq)",
            "CREATE INDEX daap_builds_pending ON daap_builds (seq) WHERE state IN ('running', 'committing')",
            # One row per product holding the last version handed out. Publishing
            # increments it inside its transaction, which locks the row (Postgres)
            # or the database (SQLite) until commit: versions are never shared,
            # skipped or reused, even by versions that were expired since.
            """CREATE TABLE daap_version_counters (
                product TEXT PRIMARY KEY,
                last_version INTEGER NOT NULL
            )""",
            """CREATE TABLE daap_product_versions (
                product TEXT NOT NULL,
                version INTEGER NOT NULL,
                build_id TEXT NOT NULL UNIQUE REFERENCES daap_builds (build_id),
                published_at {timestamp} NOT NULL,
                fingerprint TEXT NOT NULL,
                ports {json} NOT NULL,
                inputs {json} NOT NULL,
                expired BOOLEAN NOT NULL DEFAULT FALSE,
                PRIMARY KEY (product, version)
            )""",
        ),
    ),
    Migration(
        2,
        "publication outbox",
        (
            # One row per published version, written in the transaction that
            # publishes it: the version's change events still to record in the
            # audit log and put on the backbone ("pending") or all out ("done").
            # ``progress`` holds per port what went out (events, offsets).
            """CREATE TABLE daap_publications (
                product TEXT NOT NULL,
                version INTEGER NOT NULL,
                build_id TEXT NOT NULL UNIQUE REFERENCES daap_builds (build_id),
                state TEXT NOT NULL CHECK (state IN ('pending', 'done')),
                progress {json} NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                error TEXT,
                updated_at {timestamp} NOT NULL,
                PRIMARY KEY (product, version)
            )""",
            "CREATE INDEX daap_publications_pending ON daap_publications (product, version)"
            " WHERE state = 'pending'",
        ),
    ),
    Migration(
        3,
        "schema registry",
        (
            # Schemas by global id; ``fingerprint`` (type, canonical form, references) makes
            # an identical schema get the id it already has, from any process.
            """CREATE TABLE daap_registry_schemas (
                id {serial},
                fingerprint TEXT NOT NULL UNIQUE,
                schema_type TEXT NOT NULL,
                schema TEXT NOT NULL,
                refs {json} NOT NULL
            )""",
            # One row per version of a subject; soft-deleted versions stay until deleted for good.
            """CREATE TABLE daap_registry_versions (
                subject TEXT NOT NULL,
                version INTEGER NOT NULL,
                schema_id BIGINT NOT NULL REFERENCES daap_registry_schemas (id),
                deleted BOOLEAN NOT NULL DEFAULT FALSE,
                PRIMARY KEY (subject, version)
            )""",
            "CREATE INDEX daap_registry_versions_by_schema ON daap_registry_versions (schema_id)",
            # Which subject versions each schema references (for referencedby and deletes).
            """CREATE TABLE daap_registry_references (
                schema_id BIGINT NOT NULL REFERENCES daap_registry_schemas (id),
                name TEXT NOT NULL,
                subject TEXT NOT NULL,
                version INTEGER NOT NULL,
                PRIMARY KEY (schema_id, name)
            )""",
            "CREATE INDEX daap_registry_references_target ON daap_registry_references (subject, version)",
            # Compatibility level and mode per subject; the subject '' holds the global ones.
            # A 'lock' row per subject is what registering locks (PostgreSQL).
            """CREATE TABLE daap_registry_settings (
                subject TEXT NOT NULL,
                setting TEXT NOT NULL CHECK (setting IN ('compatibility', 'mode', 'lock')),
                value TEXT NOT NULL,
                PRIMARY KEY (subject, setting)
            )""",
        ),
    ),
    Migration(
        4,
        "observation: quality runs, port profiles, quarantine",
        (
            # One row per evaluation of a product's quality rules (a build, or `daap check`).
            """CREATE TABLE daap_quality_runs (
                run_id TEXT PRIMARY KEY,
                product TEXT NOT NULL,
                checked_at {timestamp} NOT NULL,
                version INTEGER,
                kind TEXT NOT NULL CHECK (kind IN ('build', 'check'))
            )""",
            "CREATE INDEX daap_quality_runs_by_product ON daap_quality_runs (product, checked_at)",
            """CREATE TABLE daap_quality_results (
                run_id TEXT NOT NULL REFERENCES daap_quality_runs (run_id),
                port TEXT NOT NULL,
                rule TEXT NOT NULL,
                severity TEXT NOT NULL,
                passed BOOLEAN NOT NULL,
                detail {json} NOT NULL,
                PRIMARY KEY (run_id, port, rule)
            )""",
            """CREATE TABLE daap_port_profiles (
                run_id TEXT NOT NULL REFERENCES daap_quality_runs (run_id),
                port TEXT NOT NULL,
                rows BIGINT NOT NULL,
                columns {json} NOT NULL,
                PRIMARY KEY (run_id, port)
            )""",
            # The build a product's quality rules held back (at most one per product).
            """CREATE TABLE daap_quarantine (
                build_id TEXT PRIMARY KEY REFERENCES daap_builds (build_id),
                product TEXT NOT NULL UNIQUE,
                quarantined_at {timestamp} NOT NULL,
                ports {json} NOT NULL,
                reasons {json} NOT NULL
            )""",
        ),
    ),
    Migration(
        5,
        "principals and tokens",
        (
            # Principals added with `daap principal add` (those in mesh.yaml are read from it).
            """CREATE TABLE daap_principals (
                name TEXT PRIMARY KEY,
                kind TEXT NOT NULL CHECK (kind IN ('person', 'service')),
                roles {json} NOT NULL,
                domain TEXT,
                purposes {json} NOT NULL,
                attributes {json} NOT NULL,
                created_at {timestamp} NOT NULL
            )""",
            # A token is shown once; only the SHA-256 of it is kept, and the SCRAM-SHA-256
            # verifier (StoredKey, ServerKey) that lets it be a PostgreSQL-wire password.
            """CREATE TABLE daap_tokens (
                token_id TEXT PRIMARY KEY,
                principal TEXT NOT NULL,
                secret_hash TEXT NOT NULL,
                scram {json} NOT NULL,
                description TEXT,
                created_at {timestamp} NOT NULL,
                expires_at {timestamp},
                revoked_at {timestamp}
            )""",
            "CREATE INDEX daap_tokens_by_principal ON daap_tokens (principal)",
        ),
    ),
    Migration(
        6,
        "control",
        (
            # One row per access decision. No CHECK on action or protocol: a newer daap may
            # log new ones, and AccessEntry already refuses unknown ones when it is made.
            """CREATE TABLE daap_access_log (
                id {serial},
                at {timestamp} NOT NULL,
                principal TEXT NOT NULL,
                product TEXT NOT NULL,
                port TEXT,
                action TEXT NOT NULL,
                allowed BOOLEAN NOT NULL,
                policies {json} NOT NULL,
                protocol TEXT NOT NULL,
                detail TEXT
            )""",
            "CREATE INDEX daap_access_log_by_product ON daap_access_log (product, at)",
            "CREATE INDEX daap_access_log_by_principal ON daap_access_log (principal, at)",
            # Every accepted change of a product's access policies (Cedar) and row filters
            # and masks (YAML); the primary key is what keeps two writers' numbers apart.
            """CREATE TABLE daap_control_versions (
                product TEXT NOT NULL,
                version INTEGER NOT NULL,
                policies TEXT NOT NULL,
                access TEXT NOT NULL,
                author TEXT NOT NULL,
                at {timestamp} NOT NULL,
                digest TEXT NOT NULL,
                note TEXT,
                PRIMARY KEY (product, version)
            )""",
            # The compliance report of each published version of a product.
            """CREATE TABLE daap_governance_reports (
                product TEXT NOT NULL,
                version INTEGER NOT NULL,
                checked_at {timestamp} NOT NULL,
                errors INTEGER NOT NULL,
                warnings INTEGER NOT NULL,
                report {json} NOT NULL,
                PRIMARY KEY (product, version)
            )""",
        ),
    ),
    Migration(
        7,
        "catalog",
        (
            # One narrow row per product (searches join it for names), its entry as JSON and
            # its words per weighted search column in a document beside it. The words are cut
            # by daap.mesh.metadata._catalog.search_words, the same for both databases.
            # No CHECK on status: CatalogEntry refuses unknown ones.
            """CREATE TABLE daap_catalog (
                id {serial},
                name TEXT NOT NULL UNIQUE,
                status TEXT NOT NULL,
                updated_at {timestamp} NOT NULL
            )""",
            """CREATE TABLE daap_catalog_documents (
                product_id BIGINT PRIMARY KEY REFERENCES daap_catalog (id),
                body {json} NOT NULL,
                search_name TEXT NOT NULL,
                search_objective TEXT NOT NULL,
                search_tags TEXT NOT NULL,
                search_text TEXT NOT NULL,
                search_columns TEXT NOT NULL
            )""",
            # Facet values (domain, product_type, owner, status, tag, classification) by id,
            # and which products have which: counting integers is what keeps facets fast.
            """CREATE TABLE daap_catalog_facet_values (
                id {serial},
                facet TEXT NOT NULL,
                value TEXT NOT NULL,
                UNIQUE (facet, value)
            )""",
            """CREATE TABLE daap_catalog_facets (
                product_id BIGINT NOT NULL REFERENCES daap_catalog (id),
                facet TEXT NOT NULL,
                value_id BIGINT NOT NULL REFERENCES daap_catalog_facet_values (id),
                PRIMARY KEY (product_id, facet, value_id)
            )""",
            "CREATE INDEX daap_catalog_facets_by_value ON daap_catalog_facets (value_id, product_id)",
        ),
        only={
            # An FTS5 index over the documents' search columns (external content: the text is
            # stored once), kept in step by triggers in the writer's transaction. The words
            # arrive folded already, so the tokenizer takes them as they are.
            "sqlite": (
                """CREATE VIRTUAL TABLE daap_catalog_fts USING fts5(
                    search_name, search_objective, search_tags, search_text, search_columns,
                    content='daap_catalog_documents', content_rowid='product_id',
                    tokenize='unicode61 remove_diacritics 0', prefix='2 3'
                )""",
                """CREATE TRIGGER daap_catalog_fts_insert AFTER INSERT ON daap_catalog_documents BEGIN
                    INSERT INTO daap_catalog_fts (rowid, search_name, search_objective, search_tags,
                        search_text, search_columns)
                    VALUES (new.product_id, new.search_name, new.search_objective, new.search_tags,
                        new.search_text, new.search_columns);
                END""",
                """CREATE TRIGGER daap_catalog_fts_delete AFTER DELETE ON daap_catalog_documents BEGIN
                    INSERT INTO daap_catalog_fts (daap_catalog_fts, rowid, search_name, search_objective,
                        search_tags, search_text, search_columns)
                    VALUES ('delete', old.product_id, old.search_name, old.search_objective,
                        old.search_tags, old.search_text, old.search_columns);
                END""",
                # re-indexed only when its words changed (a republished product mostly keeps them)
                """CREATE TRIGGER daap_catalog_fts_update AFTER UPDATE ON daap_catalog_documents
                WHEN old.search_name IS NOT new.search_name
                    OR old.search_objective IS NOT new.search_objective
                    OR old.search_tags IS NOT new.search_tags OR old.search_text IS NOT new.search_text
                    OR old.search_columns IS NOT new.search_columns
                BEGIN
                    INSERT INTO daap_catalog_fts (daap_catalog_fts, rowid, search_name, search_objective,
                        search_tags, search_text, search_columns)
                    VALUES ('delete', old.product_id, old.search_name, old.search_objective,
                        old.search_tags, old.search_text, old.search_columns);
                    INSERT INTO daap_catalog_fts (rowid, search_name, search_objective, search_tags,
                        search_text, search_columns)
                    VALUES (new.product_id, new.search_name, new.search_objective, new.search_tags,
                        new.search_text, new.search_columns);
                END""",
            ),
            # A weighted tsvector (A name, B objective and tags, C text, D columns) that
            # PostgreSQL keeps in step itself, and its GIN index.
            "postgres": (
                """ALTER TABLE daap_catalog_documents ADD COLUMN search tsvector GENERATED ALWAYS AS (
                    setweight(to_tsvector('simple', search_name), 'A')
                    || setweight(to_tsvector('simple', search_objective), 'B')
                    || setweight(to_tsvector('simple', search_tags), 'B')
                    || setweight(to_tsvector('simple', search_text), 'C')
                    || setweight(to_tsvector('simple', search_columns), 'D')
                ) STORED""",
                "CREATE INDEX daap_catalog_search ON daap_catalog_documents USING GIN (search)",
            ),
        },
    ),
    Migration(
        8,
        "lineage events",
        (
            # OpenLineage run events that jobs outside daap sent (POST /api/v1/lineage), as sent,
            # with what the lineage graph reads of them beside
            """CREATE TABLE daap_lineage_events (
                seq {serial},
                received_at {timestamp} NOT NULL,
                event_time TEXT NOT NULL,
                event_type TEXT NOT NULL,
                job_namespace TEXT NOT NULL,
                job_name TEXT NOT NULL,
                run_id TEXT NOT NULL,
                inputs {json} NOT NULL,
                outputs {json} NOT NULL,
                event {json} NOT NULL
            )""",
            "CREATE INDEX daap_lineage_events_by_job ON daap_lineage_events (job_namespace, job_name, seq)",
        ),
    ),
    Migration(
        9,
        "product lineage",
        (
            # what each product reads (product.port or file:<glob>), as its latest registration
            # says: downstream lookups and the lineage graph read this, not every catalog entry
            """CREATE TABLE daap_product_lineage (
                product TEXT NOT NULL,
                upstream TEXT NOT NULL,
                upstream_product TEXT NOT NULL,
                PRIMARY KEY (product, upstream)
            )""",
            "CREATE INDEX daap_product_lineage_readers ON daap_product_lineage (upstream_product, product)",
        ),
    ),
    Migration(
        10,
        "column lineage",
        (
            # where each column of each product version takes its value from, as the product's
            # transformation SQL says (daap.mesh.catalog.lineage.column_links): target is
            # product.port.column (product.port for a filter), source product.port.column,
            # file:<glob>.column or unknown:<n>. No CHECK on kind: ColumnLink refuses unknown ones.
            """CREATE TABLE daap_column_lineage (
                product TEXT NOT NULL,
                version INTEGER NOT NULL,
                target TEXT NOT NULL,
                source TEXT NOT NULL,
                kind TEXT NOT NULL,
                certain BOOLEAN NOT NULL,
                reason TEXT,
                PRIMARY KEY (product, version, target, source, kind)
            )""",
            # downstream walks look links up by source; a product's versions and upstream walks
            # (target names its product) read the primary key, which begins (product, version)
            "CREATE INDEX daap_column_lineage_by_source ON daap_column_lineage (source)",
        ),
    ),
    Migration(
        11,
        "lineage jobs",
        (
            # each outside job's newest event that names datasets (its current inputs and
            # outputs), kept as events arrive: the lineage graph reads these rows, not every event
            """CREATE TABLE daap_lineage_jobs (
                job_namespace TEXT NOT NULL,
                job_name TEXT NOT NULL,
                seq INTEGER NOT NULL,
                PRIMARY KEY (job_namespace, job_name)
            )""",
            """INSERT INTO daap_lineage_jobs (job_namespace, job_name, seq)
                SELECT job_namespace, job_name, max(seq) FROM daap_lineage_events
                WHERE inputs <> '[]' OR outputs <> '[]' GROUP BY job_namespace, job_name""",
        ),
    ),
)

_LEDGER = """CREATE TABLE IF NOT EXISTS daap_schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at {timestamp} NOT NULL
)"""


def schema_version(tx: Tx) -> int:
    """The highest migration applied to the database (0 for a fresh one)."""
    row = tx.fetch_one("SELECT max(version) FROM daap_schema_migrations")
    return int(row[0]) if row and row[0] is not None else 0


def migrate(tx: Tx, dialect: Dialect, where: str, migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """Apply the migrations the database lacks, in order; the caller holds the schema lock.

    Returns:
        The schema version afterwards.

    Raises:
        MetadataError: the database was written by a newer daap (it has migrations we do not).
    """
    tx.execute(_LEDGER.format_map(dialect.types))
    current = schema_version(tx)
    newest = migrations[-1].version
    if current > newest:
        raise MetadataError(
            f"{where} has schema version {current}, this daap knows only up to {newest}",
            hint="upgrade daap on this machine; a newer daap has written this store",
        )
    for migration in migrations:
        if migration.version <= current:
            continue
        for statement in migration.sql(dialect):
            tx.execute(statement)
        tx.execute(
            "INSERT INTO daap_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.name, dialect.encode_time(datetime.now(UTC))),
        )
    return max(current, newest)
