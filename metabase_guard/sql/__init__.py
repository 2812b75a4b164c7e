"""SQL of native questions, read by sqlglot and run on DuckDB.

- :mod:`~metabase_guard.sql.dialects`: Metabase engine → sqlglot dialect;
- :mod:`~metabase_guard.sql.parse`: parse once per ``(sql, dialect)``;
- :mod:`~metabase_guard.sql.duck`: transpile to DuckDB with a frozen clock, and run;
- :mod:`~metabase_guard.sql.shape`: what the lint rules read from the tree.
"""
