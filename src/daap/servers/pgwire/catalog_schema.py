"""The shape of the emulated catalogs: base tables, PostgreSQL-shaped views, and macros.

Base tables hold what varies (schemas, relations, columns, descriptions); views add
the many columns PostgreSQL clients select but that are constant for daap (every
relation is a plain table owned by ``daap``, nothing has indexes, triggers or ACLs).
Tables clients probe but daap has nothing for (``pg_index``, ``pg_constraint``, ...)
exist with their usual columns and no rows. Column lists follow PostgreSQL 15.
"""

from __future__ import annotations

VERSION = "PostgreSQL 15.0 (daap data mesh; DuckDB engine) on x86_64-pc-linux-gnu, 64-bit"
OWNER = 10  # the oid of the single role, ``daap``

#: what ``SHOW`` and ``current_setting`` answer before a session changes anything
SETTINGS = {
    "server_version": "15.0",
    "server_version_num": "150000",
    "server_encoding": "UTF8",
    "client_encoding": "UTF8",
    "DateStyle": "ISO, MDY",
    "IntervalStyle": "postgres",
    "TimeZone": "UTC",
    "integer_datetimes": "on",
    "standard_conforming_strings": "on",
    "search_path": '"$user", public',
    "transaction_isolation": "read committed",
    "default_transaction_isolation": "read committed",
    "transaction_read_only": "on",
    "default_transaction_read_only": "on",
    "is_superuser": "off",
    "max_identifier_length": "63",
    "lc_collate": "C.UTF-8",
    "lc_ctype": "C.UTF-8",
    "application_name": "",
    "daap.at": "",
}

#: base tables the catalog refreshes: name -> column definitions
TABLES = {
    "daap_pg.ns": "oid BIGINT, nspname VARCHAR, nspacl VARCHAR",
    "daap_pg.rel": "oid BIGINT, relname VARCHAR, relnamespace BIGINT, relnatts INTEGER",
    "daap_pg.attr": "attrelid BIGINT, attname VARCHAR, atttypid BIGINT, attlen INTEGER, attnum INTEGER, "
    "atttypmod INTEGER, attnotnull BOOLEAN",
    "daap_pg.pg_description": "objoid BIGINT, classoid BIGINT, objsubid INTEGER, description VARCHAR",
    "daap_is.cols": "table_schema VARCHAR, table_name VARCHAR, column_name VARCHAR, "
    "ordinal_position INTEGER, is_nullable VARCHAR, data_type VARCHAR, numeric_precision INTEGER, "
    "numeric_scale INTEGER, udt_name VARCHAR",
    "daap_pg.settings": "name VARCHAR, setting VARCHAR",
    "daap_pg.types": "oid BIGINT, typname VARCHAR, typlen INTEGER, typtype VARCHAR, typelem BIGINT, "
    "typarray BIGINT, display VARCHAR",
    # constant, empty tables: clients join them; daap has none of these objects
    "daap_pg.pg_index": "indexrelid BIGINT, indrelid BIGINT, indnatts INTEGER, indnkeyatts INTEGER, "
    "indisunique BOOLEAN, indisprimary BOOLEAN, indisexclusion BOOLEAN, indimmediate BOOLEAN, "
    "indisclustered BOOLEAN, indisvalid BOOLEAN, indisreplident BOOLEAN, indkey INTEGER[], "
    "indexprs VARCHAR, indpred VARCHAR",
    "daap_pg.pg_constraint": "oid BIGINT, conname VARCHAR, connamespace BIGINT, contype VARCHAR, "
    "condeferrable BOOLEAN, condeferred BOOLEAN, convalidated BOOLEAN, conrelid BIGINT, contypid BIGINT, "
    "conindid BIGINT, confrelid BIGINT, conkey INTEGER[], confkey INTEGER[], conbin VARCHAR",
    "daap_pg.pg_inherits": "inhrelid BIGINT, inhparent BIGINT, inhseqno INTEGER, inhdetachpending BOOLEAN",
    "daap_pg.pg_attrdef": "oid BIGINT, adrelid BIGINT, adnum INTEGER, adbin VARCHAR",
    "daap_pg.pg_collation": "oid BIGINT, collname VARCHAR, collnamespace BIGINT, collprovider VARCHAR",
    "daap_pg.pg_enum": "oid BIGINT, enumtypid BIGINT, enumsortorder DOUBLE, enumlabel VARCHAR",
    "daap_pg.pg_proc": "oid BIGINT, proname VARCHAR, pronamespace BIGINT, prorettype BIGINT, prokind VARCHAR",
    "daap_pg.pg_extension": "oid BIGINT, extname VARCHAR, extowner BIGINT, extnamespace BIGINT, "
    "extversion VARCHAR",
    "daap_pg.pg_range": "rngtypid BIGINT, rngsubtype BIGINT",
    "daap_pg.pg_sequence": "seqrelid BIGINT, seqtypid BIGINT, seqstart BIGINT, seqincrement BIGINT, "
    "seqmax BIGINT, seqmin BIGINT, seqcache BIGINT, seqcycle BOOLEAN",
    "daap_pg.pg_views": "schemaname VARCHAR, viewname VARCHAR, viewowner VARCHAR, definition VARCHAR",
    "daap_pg.pg_matviews": "schemaname VARCHAR, matviewname VARCHAR, matviewowner VARCHAR, "
    "definition VARCHAR",
    "daap_is.views": "table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, "
    "view_definition VARCHAR",
    "daap_is.table_constraints": "constraint_catalog VARCHAR, constraint_schema VARCHAR, "
    "constraint_name VARCHAR, table_schema VARCHAR, table_name VARCHAR, constraint_type VARCHAR",
    "daap_is.key_column_usage": "constraint_schema VARCHAR, constraint_name VARCHAR, table_schema VARCHAR, "
    "table_name VARCHAR, column_name VARCHAR, ordinal_position INTEGER",
}

_F, _T = "false", "true"

VIEWS = (
    f"""daap_pg.pg_namespace AS SELECT oid, nspname, {OWNER}::BIGINT AS nspowner, nspacl FROM daap_pg.ns""",
    f"""daap_pg.pg_class AS SELECT oid, relname, relnamespace, 0::BIGINT AS reltype, 0::BIGINT AS reloftype,
        {OWNER}::BIGINT AS relowner, 2::BIGINT AS relam, oid AS relfilenode, 0::BIGINT AS reltablespace,
        0 AS relpages, -1.0::REAL AS reltuples, 0 AS relallvisible, 0::BIGINT AS reltoastrelid,
        {_F} AS relhasindex, {_F} AS relisshared, 'p' AS relpersistence, 'r' AS relkind, relnatts,
        0 AS relchecks, {_F} AS relhasrules, {_F} AS relhastriggers, {_F} AS relhassubclass,
        {_F} AS relrowsecurity, {_F} AS relforcerowsecurity, {_T} AS relispopulated, 'd' AS relreplident,
        {_F} AS relispartition, 0::BIGINT AS relrewrite, NULL::VARCHAR AS relacl,
        NULL::VARCHAR[] AS reloptions, NULL::VARCHAR AS relpartbound FROM daap_pg.rel""",
    f"""daap_pg.pg_attribute AS SELECT attrelid, attname, atttypid, 0 AS attstattarget, attlen, attnum,
        0 AS attndims, -1 AS attcacheoff, atttypmod, attlen > 0 AS attbyval, 'i' AS attalign,
        'p' AS attstorage, '' AS attcompression, attnotnull, {_F} AS atthasdef, {_F} AS atthasmissing,
        '' AS attidentity, '' AS attgenerated, {_F} AS attisdropped, {_T} AS attislocal,
        0 AS attinhcount, 0::BIGINT AS attcollation, NULL::VARCHAR AS attacl,
        NULL::VARCHAR[] AS attoptions, NULL::VARCHAR[] AS attfdwoptions FROM daap_pg.attr""",
    f"""daap_pg.pg_type AS SELECT oid, typname, 11::BIGINT AS typnamespace, {OWNER}::BIGINT AS typowner,
        typlen, typlen > 0 AS typbyval, typtype, CASE WHEN typelem <> 0 THEN 'A' ELSE 'U' END AS typcategory,
        {_F} AS typispreferred, {_T} AS typisdefined, ',' AS typdelim, 0::BIGINT AS typrelid, typelem,
        typarray, typname || 'in' AS typinput, typname || 'out' AS typoutput, typname || 'recv' AS typreceive,
        typname || 'send' AS typsend, 'i' AS typalign, 'p' AS typstorage, {_F} AS typnotnull,
        0::BIGINT AS typbasetype, -1 AS typtypmod, 0 AS typndims, 0::BIGINT AS typcollation,
        NULL::VARCHAR AS typdefault, NULL::VARCHAR AS typacl FROM daap_pg.types""",
    """daap_pg.pg_tables AS SELECT n.nspname AS schemaname, c.relname AS tablename, 'daap' AS tableowner,
        NULL::VARCHAR AS tablespace, false AS hasindexes, false AS hasrules, false AS hastriggers,
        false AS rowsecurity FROM daap_pg.rel c JOIN daap_pg.ns n ON n.oid = c.relnamespace""",
    f"""daap_pg.pg_database AS SELECT 16_383::BIGINT AS oid, 'daap' AS datname, {OWNER}::BIGINT AS datdba,
        6 AS encoding, 'c' AS datlocprovider, false AS datistemplate, true AS datallowconn,
        -1 AS datconnlimit, 1663::BIGINT AS dattablespace, 'C.UTF-8' AS datcollate, 'C.UTF-8' AS datctype,
        NULL::VARCHAR AS datacl""",
    f"""daap_pg.pg_roles AS SELECT 'daap' AS rolname, false AS rolsuper, true AS rolinherit,
        false AS rolcreaterole, false AS rolcreatedb, true AS rolcanlogin, false AS rolreplication,
        -1 AS rolconnlimit, '********' AS rolpassword, NULL::TIMESTAMPTZ AS rolvaliduntil,
        false AS rolbypassrls, NULL::VARCHAR[] AS rolconfig, {OWNER}::BIGINT AS oid""",
    f"""daap_pg.pg_user AS SELECT 'daap' AS usename, {OWNER}::BIGINT AS usesysid, false AS usecreatedb,
        false AS usesuper, false AS userepl, false AS usebypassrls, '********' AS passwd""",
    """daap_pg.pg_am AS SELECT * FROM (VALUES (2::BIGINT, 'heap', 't'), (403::BIGINT, 'btree', 'i'))
        AS t(oid, amname, amtype)""",
    """daap_pg.pg_tablespace AS SELECT 1663::BIGINT AS oid, 'pg_default' AS spcname,
        10::BIGINT AS spcowner""",
    """daap_pg.pg_settings AS SELECT name, setting, NULL::VARCHAR AS unit, 'daap' AS category,
        '' AS short_desc, NULL::VARCHAR AS extra_desc, 'user' AS context, 'string' AS vartype,
        'default' AS source, NULL::VARCHAR AS min_val, NULL::VARCHAR AS max_val, NULL::VARCHAR[] AS enumvals,
        setting AS boot_val, setting AS reset_val, false AS pending_restart FROM daap_pg.settings""",
    """daap_is.schemata AS SELECT 'daap' AS catalog_name, nspname AS schema_name, 'daap' AS schema_owner,
        NULL::VARCHAR AS default_character_set_catalog, NULL::VARCHAR AS default_character_set_schema,
        NULL::VARCHAR AS default_character_set_name, NULL::VARCHAR AS sql_path FROM daap_pg.ns""",
    """daap_is.tables AS SELECT 'daap' AS table_catalog, n.nspname AS table_schema, c.relname AS table_name,
        'BASE TABLE' AS table_type, NULL::VARCHAR AS self_referencing_column_name,
        NULL::VARCHAR AS reference_generation, NULL::VARCHAR AS user_defined_type_catalog,
        NULL::VARCHAR AS user_defined_type_schema, NULL::VARCHAR AS user_defined_type_name,
        'NO' AS is_insertable_into, 'NO' AS is_typed, NULL::VARCHAR AS commit_action
        FROM daap_pg.rel c JOIN daap_pg.ns n ON n.oid = c.relnamespace""",
    """daap_is.columns AS SELECT 'daap' AS table_catalog, table_schema, table_name, column_name,
        ordinal_position, NULL::VARCHAR AS column_default, is_nullable, data_type,
        NULL::INTEGER AS character_maximum_length, NULL::INTEGER AS character_octet_length,
        numeric_precision,
        CASE WHEN numeric_precision IS NULL THEN NULL ELSE 10 END AS numeric_precision_radix,
        numeric_scale, NULL::INTEGER AS datetime_precision, 'daap' AS udt_catalog,
        'pg_catalog' AS udt_schema,
        udt_name, 'NO' AS is_identity, 'NEVER' AS is_generated, 'NO' AS is_updatable FROM daap_is.cols""",
)

#: catalog functions as DuckDB macros (overriding DuckDB's own pg_* helpers where they differ)
MACROS = (
    "pg_get_userbyid(x) AS 'daap'",
    "pg_table_is_visible(x) AS true",
    "pg_type_is_visible(x) AS true",
    "pg_function_is_visible(x) AS true",
    "format_type(t, m) AS CASE WHEN t = 1700 AND m >= 4 "
    "THEN 'numeric(' || ((m - 4) // 65536) || ',' || ((m - 4) % 65536) || ')' "
    "ELSE coalesce((SELECT display FROM daap_pg.types WHERE oid = t), '???') END",
    "pg_get_expr(a, b) AS NULL::VARCHAR, (a, b, c) AS NULL::VARCHAR",
    "pg_get_constraintdef(a) AS NULL::VARCHAR, (a, b) AS NULL::VARCHAR",
    "pg_get_indexdef(a) AS NULL::VARCHAR, (a, b, c) AS NULL::VARCHAR",
    "pg_get_viewdef(a) AS NULL::VARCHAR, (a, b) AS NULL::VARCHAR",
    f"version() AS '{VERSION}'",
    "current_database() AS 'daap'",
    "current_catalog() AS 'daap'",
    "current_schema() AS 'public'",
    "current_schemas(b) AS ['public']",
    "has_table_privilege(a, b) AS true, (a, b, c) AS true",
    "has_schema_privilege(a, b) AS true, (a, b, c) AS true",
    "has_database_privilege(a, b) AS true, (a, b, c) AS true",
    "obj_description(o, c) AS "
    "(SELECT description FROM daap_pg.pg_description WHERE objoid = o AND objsubid = 0)",
    "col_description(o, n) AS "
    "(SELECT description FROM daap_pg.pg_description WHERE objoid = o AND objsubid = n)",
    "shobj_description(o, c) AS NULL::VARCHAR",
    "pg_encoding_to_char(e) AS 'UTF8'",
    "pg_relation_size(x) AS 0::BIGINT",
    "pg_total_relation_size(x) AS 0::BIGINT",
    "pg_table_size(x) AS 0::BIGINT",
    "pg_size_pretty(x) AS x || ' bytes'",
    "pg_is_in_recovery() AS false",
    "txid_current() AS 1::BIGINT",
    "pg_relation_is_publishable(x) AS false",
    "array_upper(a, d) AS len(a)",
    "to_regclass(name) AS (SELECT c.oid FROM daap_pg.rel c JOIN daap_pg.ns n ON n.oid = c.relnamespace "
    "WHERE c.relname = name OR n.nspname || '.' || c.relname = name LIMIT 1)",
    "to_regtype(name) AS (SELECT oid FROM daap_pg.types WHERE typname = name OR display = name LIMIT 1)",
    "pg_get_serial_sequence(t, c) AS NULL::VARCHAR",
    "pg_collation_is_visible(x) AS true",
    "json_build_object(a, b, c, d) AS NULL::JSON, (a, b, c, d, e, f, g, h, i, j, k, l, m, n) AS NULL::JSON",
    "quote_ident(x) AS '\"' || replace(x, '\"', '\"\"') || '\"'",
)
