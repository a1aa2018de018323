"""The mesh's schema registry, Confluent-compatible.

Layout::

    _types.py      Parsed, Incompatibility, InvalidSchema: what the formats share
    avro.py        Avro: parse, canonical form, can_read (schema resolution)
    jsonschema.py  JSON Schema: the same three, for open and closed content models
    compat.py      the compatibility levels, built from can_read
    service.py     SchemaRegistry: subjects, versions, ids, config, modes (over the metadata store)
    odcs.py        an output port's contract as Avro and JSON Schema
    gate.py        builds check contracts against their subjects, and register them
"""
