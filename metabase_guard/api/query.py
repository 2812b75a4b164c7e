"""Native SQL questions in both of Metabase's query formats, read back into one value.

Metabase 0.57+ stores queries as MBQL 5 (``{"lib/type": "mbql/query", "stages": [...]}``) and
older versions as legacy MBQL (``{"type": "native", "native": {"query": ...}}``); 0.63 returns
template tags as a list instead of a map (metabase-api.md 3.7). :func:`read_native` accepts all
of them, so nothing later compares raw query JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MBQL5_SINCE", "NativeQuery", "normalise_sql", "read_native", "write_native"]

MBQL5_SINCE = 57


def normalise_sql(sql: str) -> str:
    """SQL as compared: line endings unified, trailing spaces and blank edges removed."""
    lines = sql.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


@dataclass(frozen=True)
class NativeQuery:
    """A native question, normalised: database id, SQL text and template tags by name."""

    database_id: int
    sql: str
    template_tags: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "sql", normalise_sql(self.sql))
        object.__setattr__(self, "template_tags", tuple(sorted(self.template_tags)))


def _tags(raw: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(raw, Mapping):
        items = [dict(v, name=v.get("name", k)) for k, v in raw.items() if isinstance(v, Mapping)]
    elif isinstance(raw, list):
        items = [dict(v) for v in raw if isinstance(v, Mapping)]
    else:
        return ()
    return tuple((str(t.get("name", "")), str(t.get("type", "text"))) for t in items)


def read_native(dataset_query: Mapping[str, Any] | None) -> NativeQuery | None:
    """Read a native query from either format; None when it is not a one-stage native query."""
    if not dataset_query:
        return None
    database = dataset_query.get("database")
    if not isinstance(database, int):
        return None
    if dataset_query.get("lib/type") == "mbql/query":
        stages = dataset_query.get("stages")
        if not isinstance(stages, list) or len(stages) != 1:
            return None
        stage = stages[0]
        if not isinstance(stage, Mapping) or stage.get("lib/type") != "mbql.stage/native":
            return None
        sql = stage.get("native")
        if not isinstance(sql, str):
            return None
        return NativeQuery(database, sql, _tags(stage.get("template-tags")))
    if dataset_query.get("type") == "native":
        native = dataset_query.get("native")
        if not isinstance(native, Mapping) or not isinstance(native.get("query"), str):
            return None
        return NativeQuery(database, str(native["query"]), _tags(native.get("template-tags")))
    return None


def write_native(query: NativeQuery, *, mbql5: bool) -> dict[str, Any]:
    """The ``dataset_query`` to send: an MBQL 5 native stage, or the legacy native form.

    Template tags are not authored by metabase-guard, so none are sent; Metabase adds none
    to a native stage without them (metabase-api.md 3.7).
    """
    if mbql5:
        return {
            "lib/type": "mbql/query",
            "database": query.database_id,
            "stages": [{"lib/type": "mbql.stage/native", "native": query.sql}],
        }
    return {"type": "native", "database": query.database_id, "native": {"query": query.sql}}
