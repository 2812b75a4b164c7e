"""``dataset_query`` and ``visualization_settings`` normalisation, per Metabase version."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

# Clause operators whose legacy form has no options map ([op, arg...]); used to recognise clauses.
_LEGACY_REF_OPS = {
    "field",
    "field-id",
    "fk->",
    "datetime-field",
    "joined-field",
    "binning-strategy",
    "aggregation",
    "expression",
}
_STAGE_CLAUSE_KEYS = ("aggregation", "breakout", "filters", "fields", "order-by", "expressions")


def is_mbql5(query: dict[str, Any]) -> bool:
    """Whether ``query`` is in the MBQL 5 (``lib/type`` + ``stages``) form."""
    return query.get("lib/type") == "mbql/query" or "stages" in query


def database_id(query: dict[str, Any]) -> Any:
    """The ``database`` of a query in either form."""
    return query.get("database")


def native_sql(query: dict[str, Any]) -> str | None:
    """The SQL of a native query in either form, else ``None``."""
    if is_mbql5(query):
        stages = query.get("stages") or []
        if (
            stages
            and isinstance(stages[0], dict)
            and stages[0].get("lib/type") == "mbql.stage/native"
        ):
            sql = stages[0].get("native")
            return sql if isinstance(sql, str) else None
        return None
    native = query.get("native")
    if query.get("type") == "native" and isinstance(native, dict):
        sql = native.get("query")
        return sql if isinstance(sql, str) else None
    return None


def query_type(query: dict[str, Any]) -> str:
    """``native`` or ``query`` (the card's ``query_type`` column)."""
    return "native" if native_sql(query) is not None else "query"


def _mint(options: dict[str, Any]) -> dict[str, Any]:
    if "lib/uuid" not in options:
        options = {**options, "lib/uuid": str(uuid.uuid4())}
    return options


def _clause_to_mbql5(clause: Any) -> Any:
    """Legacy clause ``[op, arg..., opts?]`` → ``[op, {lib/uuid...}, arg...]`` (rough)."""
    if not (isinstance(clause, list) and clause and isinstance(clause[0], str)):
        return clause
    op, args = clause[0], clause[1:]
    if op == "field-id":
        op = "field"
    if op == "field":
        target = args[0] if args else None
        opts = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
        return [op, _mint(dict(opts)), target]
    if args and isinstance(args[0], dict):
        return [op, _mint(dict(args[0])), *[_clause_to_mbql5(a) for a in args[1:]]]
    return [op, _mint({}), *[_clause_to_mbql5(a) for a in args]]


def _clause_to_legacy(clause: Any) -> Any:
    if not (isinstance(clause, list) and clause and isinstance(clause[0], str)):
        return clause
    op, args = clause[0], clause[1:]
    opts = {
        k: v
        for k, v in (args[0] if args and isinstance(args[0], dict) else {}).items()
        if k not in ("lib/uuid", "lib/type")
    }
    rest = args[1:] if args and isinstance(args[0], dict) else args
    if op == "field":
        return ["field", rest[0] if rest else None, opts or None]
    return [op, *[_clause_to_legacy(a) for a in rest]]


def _mint_clause_uuids(value: Any) -> Any:
    """Give every MBQL 5 clause options map a ``lib/uuid``.

    metabase/metabase src/metabase/lib/normalize.cljc.
    """
    if isinstance(value, list):
        if value and isinstance(value[0], str) and len(value) > 1 and isinstance(value[1], dict):
            return [value[0], _mint(value[1]), *[_mint_clause_uuids(v) for v in value[2:]]]
        return [_mint_clause_uuids(v) for v in value]
    if isinstance(value, dict):
        return {k: _mint_clause_uuids(v) for k, v in value.items()}
    return value


def _template_tags_to_mbql5(tags: Any) -> Any:
    if isinstance(tags, list):
        tags = _tags_as_map(tags)
    if not isinstance(tags, dict):
        return tags
    out: dict[str, Any] = {}
    for name, tag in tags.items():
        if isinstance(tag, dict) and isinstance(tag.get("dimension"), list):
            tag = {**tag, "dimension": _clause_to_mbql5(tag["dimension"])}
        out[name] = tag
    return out


def _tags_as_map(tags: Any) -> Any:
    """Template tags keyed by name, from the 0.63 list form (or a map, unchanged)."""
    if not isinstance(tags, list):
        return tags
    return {str(tag.get("name")): tag for tag in tags if isinstance(tag, dict)}


def _tags_as_list(tags: Any) -> Any:
    """The 0.63 list form: one tag object per tag, each carrying its ``name``."""
    if not isinstance(tags, dict):
        return tags
    return [{**tag, "name": tag.get("name", name)} for name, tag in tags.items()
            if isinstance(tag, dict)]


def to_mbql5(query: dict[str, Any]) -> dict[str, Any]:
    """Normalise any accepted query to MBQL 5 as Metabase 0.57+ stores it.

    metabase/metabase src/metabase/lib/convert.cljc (legacy native → native stage: ``query`` is
    renamed ``native``, ``template-tags`` carried only when present) and
    src/metabase/lib/schema.cljc (native stage normaliser drops an empty ``template-tags``).
    """
    query = copy.deepcopy(query)
    if is_mbql5(query):
        out = {**query, "lib/type": "mbql/query"}
        stages = []
        for raw in query.get("stages") or []:
            if isinstance(raw, dict):
                raw = _mint_clause_uuids(raw)
                if raw.get("lib/type") == "mbql.stage/native" and raw.get("template-tags") == {}:
                    raw = {k: v for k, v in raw.items() if k != "template-tags"}
            stages.append(raw)
        out["stages"] = stages
        return out
    out = {"lib/type": "mbql/query", "database": query.get("database")}
    if query.get("type") == "native":
        native = query.get("native") or {}
        stage: dict[str, Any] = {"lib/type": "mbql.stage/native", "native": native.get("query")}
        tags = native.get("template-tags")
        if tags:
            stage["template-tags"] = _template_tags_to_mbql5(tags)
        out["stages"] = [stage]
    else:
        inner = dict(query.get("query") or {})
        stage = {"lib/type": "mbql.stage/mbql"}
        for key, value in inner.items():
            if key in ("aggregation-idents", "breakout-idents"):
                continue
            if key == "filter":
                stage["filters"] = [_clause_to_mbql5(value)]
            elif key in _STAGE_CLAUSE_KEYS and isinstance(value, list):
                stage[key] = [_clause_to_mbql5(v) for v in value]
            else:
                stage[key] = value
        out["stages"] = [stage]
    if query.get("parameters"):
        out["parameters"] = query["parameters"]
    return out


def to_legacy(query: dict[str, Any]) -> dict[str, Any]:
    """Convert a stored MBQL 5 query back to legacy MBQL (``?legacy-mbql=true``, 0.57+).

    metabase/metabase src/metabase/queries_rest/api/card.clj: ``legacy-mbql`` converts the
    card's query with ``lib/->legacy-MBQL`` for that one response.
    """
    if not is_mbql5(query):
        return copy.deepcopy(query)
    stages = query.get("stages") or [{}]
    stage = stages[0] if isinstance(stages[0], dict) else {}
    if stage.get("lib/type") == "mbql.stage/native":
        native: dict[str, Any] = {"query": stage.get("native")}
        if "template-tags" in stage:
            tags = _tags_as_map(copy.deepcopy(stage["template-tags"]))
            if isinstance(tags, dict):
                for tag in tags.values():
                    if isinstance(tag, dict) and isinstance(tag.get("dimension"), list):
                        tag["dimension"] = _clause_to_legacy(tag["dimension"])
            native["template-tags"] = tags
        return {"type": "native", "database": query.get("database"), "native": native}
    inner: dict[str, Any] = {}
    for key, value in stage.items():
        if key == "lib/type":
            continue
        if key == "filters" and isinstance(value, list):
            inner["filter"] = (
                _clause_to_legacy(value[0])
                if len(value) == 1
                else ["and", *[_clause_to_legacy(v) for v in value]]
            )
        elif key in _STAGE_CLAUSE_KEYS and isinstance(value, list):
            inner[key] = [_clause_to_legacy(v) for v in value]
        else:
            inner[key] = copy.deepcopy(value)
    return {"type": "query", "database": query.get("database"), "query": inner}


def normalize_query(query: dict[str, Any], major: int) -> dict[str, Any]:
    """What Metabase ``major`` stores for a posted ``dataset_query``.

    0.57+ stores MBQL 5 (metabase/metabase docs/developers-guide/api-changelog.md, 0.57 entry);
    earlier versions keep legacy MBQL as sent (MBQL 5 input is converted back). From 0.63 a
    native stage keeps its ``template-tags`` as a list of tag objects instead of a map keyed by
    name (metabase/metabase PR #77133, backported to 0.63 by #77652; seen from outside in
    flovouin/terraform-provider-metabase CHANGELOG 0.14.3, which treats both forms as equal);
    either form is accepted on input, and ``?legacy-mbql=true`` answers the legacy map.
    """
    if major >= 57:
        stored = to_mbql5(query)
        for stage in stored.get("stages") or []:
            if (isinstance(stage, dict) and stage.get("lib/type") == "mbql.stage/native"
                    and "template-tags" in stage):
                tags = _tags_as_map(stage["template-tags"])
                if tags == {}:
                    del stage["template-tags"]
                else:
                    stage["template-tags"] = _tags_as_list(tags) if major >= 63 else tags
        return stored
    return to_legacy(query) if is_mbql5(query) else copy.deepcopy(query)


def _normalize_ref_key(key: str) -> str:
    try:
        decoded = json.loads(key)
    except ValueError:
        return key

    def fix(value: Any) -> Any:
        if isinstance(value, list) and value and value[0] == "field-id" and len(value) == 2:
            return ["field", value[1], None]
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    return json.dumps(fix(decoded), separators=(",", ":"), ensure_ascii=False)


def normalize_viz_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Rewrites Metabase applies to ``visualization_settings`` on read.

    metabase/metabase src/metabase/models/interface.clj (normalize-visualization-settings):
    ``column_settings`` keys are JSON-decoded, normalised and re-encoded compactly
    (``["ref",["field-id",12]]`` → ``["ref",["field",12,null]]``). Everything else, including the
    goal keys, round-trips as sent and no defaults are added. The pie-legend settings migration
    (``"version": 2``) is not emulated.
    """
    out = copy.deepcopy(settings)
    cols = out.get("column_settings")
    if isinstance(cols, dict):
        out["column_settings"] = {_normalize_ref_key(k): v for k, v in cols.items()}
    return out
