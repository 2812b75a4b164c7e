"""Metabase engine names → sqlglot dialects.

A Metabase database's ``engine`` is the keyword of its driver (``GET /api/database`` returns it;
the names are the driver keywords registered under ``metabase/metabase modules/drivers/*`` and
``src/metabase/driver/{h2,postgres,mysql}.clj``). Each maps to the sqlglot dialect that reads
its SQL. Engines that have no sqlglot dialect of their own map to the closest one, and the
table in ``docs/alert-rules.md`` says which; engines that run no SQL (``mongo``) or that are
unknown map to None, and the SQL rules then stay silent.
"""

from __future__ import annotations

__all__ = ["DEFAULT_ENGINE", "ENGINE_DIALECTS", "dialect_for"]

#: The engine assumed offline when ``metabase-guard.yaml`` names none for a database.
DEFAULT_ENGINE = "postgres"

#: Metabase engine → sqlglot dialect ("" is sqlglot's generic, ANSI-like dialect).
ENGINE_DIALECTS: dict[str, str] = {
    "postgres": "postgres",
    "redshift": "redshift",
    "mysql": "mysql",  # MariaDB connects through the mysql driver
    "mariadb": "mysql",
    "bigquery-cloud-sdk": "bigquery",
    "bigquery": "bigquery",
    "snowflake": "snowflake",
    "sqlserver": "tsql",
    "h2": "",  # no H2 dialect in sqlglot; Metabase runs H2 in its default (ANSI-like) mode
    "sqlite": "sqlite",
    "presto-jdbc": "presto",
    "presto": "presto",
    "starburst": "trino",
    "trino": "trino",
    "sparksql": "spark",
    "databricks": "databricks",
    "hive-like": "hive",
    "clickhouse": "clickhouse",
    "athena": "athena",
    "oracle": "oracle",
    "vertica": "postgres",  # no Vertica dialect; its SQL follows Postgres closely
    "duckdb": "duckdb",
    "druid": "druid",
    "druid-jdbc": "druid",
    "teradata": "teradata",
    "materialize": "materialize",
    "doris": "doris",
    "starrocks": "starrocks",
    "exasol": "exasol",
    "dremio": "dremio",
}

_NOT_SQL = frozenset({"mongo", "googleanalytics"})


def dialect_for(engine: str | None) -> tuple[str | None, str]:
    """``(dialect, why)``: the sqlglot dialect of an engine, or None and the reason."""
    name = (engine or DEFAULT_ENGINE).strip().lower()
    if name in ENGINE_DIALECTS:
        return ENGINE_DIALECTS[name], ""
    if name in _NOT_SQL:
        return None, f"engine {name!r} does not run SQL"
    return None, f"engine {name!r} has no known SQL dialect"
