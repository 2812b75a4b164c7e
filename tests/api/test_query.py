"""Native queries in both formats, read back into one value."""

from __future__ import annotations

from metabase_guard.api.query import NativeQuery, normalise_sql, read_native, write_native


def test_mbql5_and_legacy_read_back_the_same() -> None:
    q = NativeQuery(2, "SELECT 1\r\n  ")
    assert read_native(write_native(q, mbql5=True)) == q
    assert read_native(write_native(q, mbql5=False)) == q
    assert q.sql == "SELECT 1"


def test_template_tags_as_map_or_list_compare_equal() -> None:
    as_map = {"lib/type": "mbql/query", "database": 1, "stages": [
        {"lib/type": "mbql.stage/native", "native": "SELECT {{day}}",
         "template-tags": {"day": {"name": "day", "type": "date", "id": "a"}}}]}
    as_list = {"lib/type": "mbql/query", "database": 1, "stages": [
        {"lib/type": "mbql.stage/native", "native": "SELECT {{day}}",
         "template-tags": [{"name": "day", "type": "date", "id": "b"}]}]}
    assert read_native(as_map) == read_native(as_list)
    assert read_native(as_map) == NativeQuery(1, "SELECT {{day}}", (("day", "date"),))


def test_non_native_queries_are_none() -> None:
    assert read_native({"type": "query", "database": 1, "query": {"source-table": 3}}) is None
    assert read_native({"lib/type": "mbql/query", "database": 1, "stages": [
        {"lib/type": "mbql.stage/mbql", "source-table": 3}]}) is None
    assert read_native({}) is None
    assert read_native({"lib/type": "mbql/query", "database": "x", "stages": []}) is None


def test_normalise_sql_is_idempotent() -> None:
    text = "\n\nSELECT a  \r\nFROM t\t \n\n"
    once = normalise_sql(text)
    assert once == "SELECT a\nFROM t"
    assert normalise_sql(once) == once
