"""Plan wording a newcomer stumbled on (issue 13): SQL diffs, root collection, huge numbers."""

from __future__ import annotations

from metabase_guard.reconcile.plan import Change, FieldChange, Plan
from metabase_guard.render import render_markdown, render_text
from metabase_guard.render.common import fmt_value, sql_diff

OLD_SQL = "SELECT week,\n       count(*) AS n\nFROM pushes\nGROUP BY 1"
NEW_SQL = "SELECT week,\n       count(*) AS n\nFROM pushes\nWHERE ok\nGROUP BY 1"


def _plan(changes: list[Change], pending: list[Change] | None = None) -> Plan:
    return Plan.build(url="http://mb", version="v0.61.2", timezone="UTC", changes=changes,
                      existing=3, unmanaged=[], pending_deletes=pending or [], notes=[])


def test_sql_change_is_a_line_diff_with_indentation_kept() -> None:
    assert sql_diff(OLD_SQL, NEW_SQL) == [
        "         count(*) AS n", "  FROM pushes", "+ WHERE ok", "  GROUP BY 1"]
    change = Change("update", "card", "card k", key="k", live_id=1,
                    fields=(FieldChange("sql", OLD_SQL, NEW_SQL),))
    text = render_text(_plan([change]))
    assert "+ WHERE ok" in text and "    count(*) AS n" in text
    assert "- SELECT" not in text  # unchanged lines are context, not removed and added
    md = render_markdown(_plan([change]))
    assert "`sql`: changed, see the line diff below" in md
    assert "```diff\n         count(*) AS n\n  FROM pushes\n+ WHERE ok\n" in md


def test_markdown_creates_include_the_sql_in_a_code_block() -> None:
    change = Change("create", "card", "card k", key="k",
                    values=(("name", "K"), ("sql", OLD_SQL)))
    md = render_markdown(_plan([change]))
    assert "```sql\n" + OLD_SQL + "\n```" in md


def test_root_collection_and_huge_goals_read_as_words() -> None:
    change = Change("create", "card", "card k", key="k",
                    values=(("collection", ""), ("goal", 1e308)))
    text = render_text(_plan([change]))
    assert 'collection = (root collection)' in text
    assert "goal       = 1e+308" in text
    assert fmt_value(2400.0) == "2,400"


def test_no_changes_is_not_said_beside_a_list_of_kept_objects_as_if_unrelated() -> None:
    kept = Change("delete", "card", "card old", key="old", live_id=9)
    text = render_text(_plan([], pending=[kept]))
    assert text.count("Kept because --prune was not given") == 1
    assert ("No changes. Metabase matches the declarations, except for 1 object no longer "
            "declared. Kept because --prune was not given:\n  card old (id 9)") in text


def test_a_long_list_is_shown_one_item_per_line_and_a_short_one_on_one() -> None:
    assert fmt_value(["#ml-alerts", "#data"]) == '["#ml-alerts", "#data"]'
    items = [f"question-{n} at row {n}, col 0, 24x6" for n in range(3)]
    assert fmt_value(items).splitlines() == [
        "[", *(f'  "{item}",' for item in items), "]"]
