"""sql_type: ODCS logical/physical types to DuckDB types."""

from __future__ import annotations

from typing import Any

import pytest

from daap.spec import TypeMappingError, sql_type


@pytest.mark.parametrize(
    ("logical", "physical", "options", "expected"),
    [
        ("string", None, None, "VARCHAR"),
        ("string", "varchar(20)", None, "VARCHAR"),
        ("integer", None, None, "BIGINT"),
        ("integer", "INT", None, "INTEGER"),
        ("integer", "int32", None, "INTEGER"),
        ("integer", "SmallInt", None, "SMALLINT"),
        ("integer", "int16", None, "SMALLINT"),
        ("integer", "long", None, "BIGINT"),
        ("integer", "int64", None, "BIGINT"),
        ("number", None, None, "DOUBLE"),
        ("number", "float64", None, "DOUBLE"),
        ("number", "real", None, "FLOAT"),
        ("number", "float32", None, "FLOAT"),
        ("number", "decimal(10,2)", None, "DECIMAL(10,2)"),
        ("number", "NUMERIC( 38 , 0 )", None, "DECIMAL(38,0)"),
        ("number", "numeric(5)", None, "DECIMAL(5,0)"),
        ("boolean", None, None, "BOOLEAN"),
        ("date", None, None, "DATE"),
        ("time", None, None, "TIME"),
        ("timestamp", None, None, "TIMESTAMP"),
        ("timestamp", "timestamptz", None, "TIMESTAMPTZ"),
        ("timestamp", "Timestamp  With Time Zone", None, "TIMESTAMPTZ"),
        ("timestamp", None, {"timezone": True}, "TIMESTAMPTZ"),
        ("timestamp", None, {"timezone": False}, "TIMESTAMP"),
    ],
)
def test_type_table(
    logical: str, physical: str | None, options: dict[str, Any] | None, expected: str
) -> None:
    assert sql_type(logical, physical, options) == expected


@pytest.mark.parametrize("logical", ["map", "vector"])
def test_map_and_vector_are_not_supported_yet(logical: str) -> None:
    with pytest.raises(TypeMappingError) as info:
        sql_type(logical)

    assert info.value.key == "logicalType"
    assert info.value.message == (
        f"logicalType '{logical}' is not supported yet by daap "
        "(supported: string, integer, number, boolean, date, timestamp, time)"
    )


@pytest.mark.parametrize(("logical", "needs"), [("object", "properties"), ("array", "items")])
def test_objects_and_arrays_are_only_contract_columns(logical: str, needs: str) -> None:
    with pytest.raises(TypeMappingError) as info:
        sql_type(logical)  # e.g. a named query's parameter type

    assert info.value.message == (
        f"logicalType '{logical}' is only allowed for a contract column, with its {needs}"
    )


def test_unknown_logical_type_gets_a_suggestion() -> None:
    with pytest.raises(TypeMappingError, match="unknown logicalType 'Integer'; did you mean 'integer'"):
        sql_type("Integer")


@pytest.mark.parametrize(
    ("logical", "physical", "allowed"),
    [
        ("integer", "float", "int, integer, int32, smallint, int16, bigint, long, int64"),
        ("boolean", "bit", "boolean, bool"),
        ("number", "money", "decimal(p,s)"),
    ],
)
def test_physical_type_must_belong_to_the_logical_type(logical: str, physical: str, allowed: str) -> None:
    with pytest.raises(TypeMappingError) as info:
        sql_type(logical, physical)

    assert info.value.key == "physicalType"
    assert allowed in info.value.message
    assert info.value.message.startswith(f"physicalType '{physical}' does not fit")


@pytest.mark.parametrize("physical", ["decimal(39,2)", "decimal(0)", "decimal(4,5)"])
def test_decimal_precision_is_bounded(physical: str) -> None:
    with pytest.raises(TypeMappingError, match=r"decimal precision must be 1\.\.38"):
        sql_type("number", physical)
