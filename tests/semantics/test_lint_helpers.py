"""Small pure helpers of the lint rules that the rule tests do not pin down one by one."""

from __future__ import annotations

import pytest

from metabase_guard.lint import _format_unit


@pytest.mark.parametrize(
    ("fmt", "unit"),
    [
        ("%Y-%m-%d %H:%M", "minute"), ("YYYY-MM-DD HH24:MI", "minute"),
        ("%Y-%m-%d %H", "hour"), ("YYYY-MM-DD HH24", "hour"),
        ("%Y-%m-%d", "day"), ("%Y-%j", "day"), ("YYYY-MM-DD", "day"),
        ("%Y-%W", "week"), ("%Y-%U", "week"), ("%G-%V", "week"), ("IYYY-IW", "week"),
        ("YYYY-WW", "week"),
        ("%Y-%m", "month"), ("YYYY-MM", "month"),
        ("%Y", "year"), ("YYYY", "year"),
        ("quarter Q", None), ("", None),
    ],
)
def test_the_finest_field_of_a_date_format_is_its_bucket(fmt: str, unit: str | None) -> None:
    # strftime (SQLite) and to_char (Postgres) spellings; the finest field wins
    assert _format_unit(fmt) == unit
