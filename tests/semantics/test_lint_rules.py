"""Each lint rule, firing and not firing; pure (no server)."""

from __future__ import annotations

import textwrap

import pytest

from metabase_guard.api.models import parse_version
from metabase_guard.lint import (
    Finding,
    cron_slots,
    has_errors,
    lint_declarations,
    lint_live,
    periods,
    sql_shape,
    strict,
)
from metabase_guard.reconcile.cards import resolve
from metabase_guard.reconcile.walk import make_plan
from metabase_guard.spec.loader import Declarations, load_text
from tests.reconcile.test_plan_pure import live_state, managed_alert, managed_card

WEEKLY_OK = """
SELECT date_trunc('week', pushed_at) AS week, count(*) AS recommendations
FROM recommendations
WHERE pushed_at >= date_trunc('week', now()) - interval '7 days'
  AND pushed_at < date_trunc('week', now())
GROUP BY 1
"""


def decls(sql: str, *, when: str = "below_goal", display: str = "bar",
          metric: str | None = None, goal: bool = True, extra: str = "",
          allow_empty: bool = True) -> Declarations:
    # allow_empty keeps silent-on-outage (tests/semantics/test_table_tests.py) out of the way
    # of the rule each test here is about.
    lines = [
        "questions:",
        "  - key: q",
        "    name: Q",
        "    database: Warehouse",
        "    sql: |",
        textwrap.indent(textwrap.dedent(sql).strip(), "      "),
        f"    display: {display}",
    ]
    if metric:
        lines.append(f"    metric: {metric}")
    if goal:
        lines.append("    goal: {value: 2400}")
    lines += [
        "    alerts:",
        f"      - when: {when}",
        "        schedule: {every: week, on: monday, at: '09:00'}",
        "        email: [pm@example.com]",
    ]
    if allow_empty:
        lines.append("    allow_empty: true")
    return load_text("\n".join(lines) + "\n" + extra, "alerts/q.yaml")


def rules(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings]


# --------------------------------------------------------------------------- goal-never-fires


def test_goal_never_fires_when_no_column_can_be_compared() -> None:
    found = lint_declarations(decls("SELECT count(*) AS n FROM t"))
    assert rules(found) == ["goal-never-fires"]
    finding = found[0]
    assert finding.severity == "error"
    assert (finding.file, finding.line, finding.field) == ("alerts/q.yaml", 10, "alerts[0].when")
    assert "Unable to compare results to goal" in finding.message
    assert "metric:" in finding.hint


def test_goal_never_fires_on_a_date_metric() -> None:
    found = lint_declarations(decls(WEEKLY_OK, metric="week"))
    assert rules(found) == ["goal-never-fires"]
    assert "is a date" in found[0].message


def test_goal_rules_quiet_on_a_single_series_with_a_goal() -> None:
    assert lint_declarations(decls(WEEKLY_OK)) == []
    assert lint_declarations(decls(WEEKLY_OK, metric="recommendations")) == []


def test_goal_rules_quiet_when_the_select_list_is_unknown() -> None:
    assert lint_declarations(decls("SELECT * FROM weekly")) == []


# --------------------------------------------------------------------------- implicit/unknown


def test_implicit_metric_when_several_numeric_columns_and_no_metric() -> None:
    sql = WEEKLY_OK.replace("count(*) AS recommendations",
                            "count(*) AS recommendations, sum(score) AS score")
    found = lint_declarations(decls(sql))
    assert rules(found) == ["implicit-metric"]
    assert found[0].severity == "warning"
    assert "compares 'score'" in found[0].message  # three columns: Metabase takes the third
    assert lint_declarations(decls(sql, metric="recommendations")) == []


def test_unknown_metric_falls_back_to_metabase_s_choice() -> None:
    found = lint_declarations(decls(WEEKLY_OK, metric="recos"))
    assert rules(found) == ["unknown-metric"]
    assert found[0].field == "metric"
    assert "compares column 'recommendations'" in found[0].message


def test_unknown_metric_without_fallback_is_an_error() -> None:
    found = lint_declarations(decls("SELECT count(*) AS n FROM t", metric="nope"))
    assert rules(found) == ["goal-never-fires"]
    assert found[0].field == "metric"


# --------------------------------------------------------------------------- many-periods


@pytest.mark.parametrize("sql, count", [
    ("SELECT date_trunc('week', at) AS week, count(*) AS n FROM t GROUP BY 1", 10**6),
    ("SELECT date_trunc('week', at) AS week, count(*) AS n FROM t "
     "WHERE at >= now() - interval '7 days' GROUP BY 1", 2),
    ("SELECT date(at) AS day, count(*) AS n FROM t WHERE at >= '2024-01-01' GROUP BY 1", 10**6),
    ("SELECT date_trunc('day', at) AS day, count(*) AS n FROM t "
     "WHERE at >= date_trunc('day', now()) - interval '28 days' GROUP BY day", 28),
])
def test_many_periods_fires_on_several_periods(sql: str, count: int) -> None:
    shape = sql_shape(sql)
    assert shape is not None
    assert periods(shape)[0] == count
    found = lint_declarations(decls(sql))
    assert rules(found) == ["many-periods"]
    assert "ANY row" in found[0].message
    assert "date_trunc(" in found[0].hint and "LIMIT 1" in found[0].hint


@pytest.mark.parametrize("sql", [
    WEEKLY_OK,
    "SELECT date_trunc('week', at) AS week, count(*) AS n FROM t GROUP BY 1 "
    "ORDER BY 1 DESC LIMIT 1",
    "SELECT date_trunc('week', at) AS week, count(*) AS n FROM t "
    "WHERE date_trunc('week', at) = date_trunc('week', now()) - interval '1 week' GROUP BY 1",
    "SELECT region, count(*) AS n FROM t GROUP BY 1",  # not a time bucket
])
def test_many_periods_quiet_on_one_period(sql: str) -> None:
    assert "many-periods" not in rules(lint_declarations(decls(sql)))


# --------------------------------------------------------------------------- always-one-row


@pytest.mark.parametrize("sql", [
    "SELECT count(*) AS failures FROM runs WHERE status = 'failed'",
    "SELECT count(*) AS n, max(at) AS last FROM runs",
    "SELECT coalesce(sum(x), 0) AS total FROM t",
    "SELECT 1 AS heartbeat",
])
def test_always_one_row_fires(sql: str) -> None:
    found = lint_declarations(decls(sql, when="has_rows", display="table", goal=False))
    assert rules(found) == ["always-one-row"]
    assert found[0].severity == "warning"
    assert "HAVING" in found[0].hint


@pytest.mark.parametrize("sql", [
    "SELECT count(*) AS failures FROM runs WHERE status = 'failed' HAVING count(*) > 0",
    # a lone nullable aggregate over no rows is [[null]], which Metabase counts as empty
    "SELECT max(run_at) AS last FROM runs WHERE status = 'failed'",
    "SELECT run_at, status FROM runs WHERE status = 'failed'",
    "SELECT status, count(*) FROM runs GROUP BY status",
])
def test_always_one_row_quiet(sql: str) -> None:
    found = lint_declarations(decls(sql, when="has_rows", display="table", goal=False))
    assert found == []


# --------------------------------------------------------------------------- burst


def many_daily(count: int, at: str = "09:00", stagger: bool = False) -> Declarations:
    parts = ["questions:"]
    for n in range(count):
        minute = f"09:{n:02d}" if stagger else at
        parts += [
            f"  - key: q{n}",
            f"    name: Q{n}",
            "    database: Warehouse",
            "    sql: SELECT * FROM t",
            "    alerts:",
            "      - when: has_rows",
            f"        schedule: {{every: day, at: '{minute}'}}",
            "        email: [pm@example.com]",
        ]
    return load_text("\n".join(parts) + "\n", "alerts/many.yaml")


def test_burst_fires_at_the_threshold_with_a_stagger_hint() -> None:
    found = lint_declarations(many_daily(5))
    assert rules(found) == ["burst"]
    finding = found[0]
    assert finding.severity == "warning"
    assert "5 alerts start at the same minute, every day at 09:00" in finding.message
    assert "#56379" in finding.message
    assert 'q1: at: "09:01"' in finding.hint and 'q4: at: "09:04"' in finding.hint
    assert (finding.key, finding.field, finding.line) == ("q0", "alerts[0].schedule", 8)


def test_burst_quiet_below_the_threshold_or_staggered() -> None:
    assert lint_declarations(many_daily(4)) == []
    assert lint_declarations(many_daily(6, stagger=True)) == []


def test_burst_counts_the_instance_s_alerts() -> None:
    declared = many_daily(2)
    live = live_state(notifications=[
        managed_alert(nid=100 + n, card_id=900, creator=99, cron="0 0 9 * * ?")
        for n in range(3)
    ])
    desired = resolve(declared, live)
    found = lint_live(declared, desired, live)
    assert rules(found) == ["burst"]
    assert "3 alert(s) already on the instance" in found[0].message
    # alone, the two declared alerts are no burst
    assert lint_live(declared, desired, live_state()) == []


def test_cron_slots() -> None:
    assert cron_slots("0 0 9 ? * MON *") == frozenset({540})
    assert len(cron_slots("0 5 * * * ? *") or ()) == 7 * 24
    assert cron_slots("0 0 9 ? * 2") == frozenset({540})  # Quartz 2 = Monday
    assert cron_slots("0 30 7 1 * ? *") == frozenset(d * 1440 + 450 for d in range(7))


# --------------------------------------------------------------------------- live rules

RAW = """
questions:
  - key: q
    name: Q
    database: Warehouse
    sql: SELECT * FROM t
    alerts:
      - when: has_rows
        schedule: {every: day, at: '09:00'}
        email: [pm@example.com, outsider@example.org]
"""


def test_recipient_not_allowed_fires_for_a_raw_address_outside_the_allow_list() -> None:
    declared = load_text(RAW, "alerts/q.yaml")
    live = live_state()
    desired = resolve(declared, live)
    found = lint_live(declared, desired, live, allowed_domains="example.com,example.net")
    assert rules(found) == ["recipient-not-allowed"]
    finding = found[0]
    assert finding.severity == "error"
    assert finding.field == "alerts[0].email[1]" and finding.line == 10
    assert "outsider@example.org" in finding.message


def test_recipient_not_allowed_quiet_when_allowed_or_unset() -> None:
    declared = load_text(RAW, "alerts/q.yaml")
    live = live_state()
    desired = resolve(declared, live)
    assert lint_live(declared, desired, live, allowed_domains=None) == []
    assert lint_live(declared, desired, live, allowed_domains=["example.org"]) == []
    # pm@example.com is an active user: not checked even though example.com is not allowed
    assert lint_live(declared, desired, live, allowed_domains="example.org") == []


PLANNED = """
questions:
  - key: weekly-recommendations
    name: Recommendations pushed last week
    description: The recommender must push at least 2,400 recommendations every week.
    collection: Health checks/Recommender
    database: Warehouse
    sql: |
      SELECT week, recommendations FROM weekly
    display: {display}
{goal}
    alerts:
      - when: has_rows
        schedule: {{every: week, on: monday, at: "09:00"}}
        email: [pm@example.com]
"""


def test_alerts_deleted_fires_on_a_display_change_across_families() -> None:
    declared = load_text(PLANNED.format(display="table", goal=""), "alerts/r.yaml")
    live = live_state(cards=[managed_card()], notifications=[managed_alert()])
    desired = resolve(declared, live)
    plan = make_plan(desired, live, url="http://mb")
    found = [f for f in lint_live(declared, desired, live, plan) if f.rule == "alerts-deleted"]
    assert len(found) == 1
    assert found[0].severity == "warning"
    assert found[0].field == "display" and found[0].line == 10
    assert "Metabase deletes all 1 active alert(s)" in found[0].message


def test_alerts_deleted_quiet_when_the_family_and_goal_stay() -> None:
    declared = load_text(
        PLANNED.format(display="line", goal="    goal: {value: 2000}"), "alerts/r.yaml")
    live = live_state(cards=[managed_card()], notifications=[managed_alert()])
    desired = resolve(declared, live)
    plan = make_plan(desired, live, url="http://mb")
    assert any(c.kind == "card" and c.action == "update" for c in plan.changes)
    assert "alerts-deleted" not in rules(lint_live(declared, desired, live, plan))


def test_once_deactivates_early_only_on_0_54_and_0_55() -> None:
    declared = load_text(RAW.replace("email: [pm@example.com, outsider@example.org]",
                                     "once: true\n        email: [pm@example.com]"),
                         "alerts/q.yaml")
    old = live_state()
    old.version = parse_version("v0.55.4")
    found = lint_live(declared, resolve(declared, old), old)
    assert rules(found) == ["once-deactivates-early"]
    assert found[0].field == "alerts[0].once"
    new = live_state()
    assert lint_live(declared, resolve(declared, new), new) == []


# --------------------------------------------------------------------------- severities


def test_strict_turns_warnings_into_errors() -> None:
    found = lint_declarations(many_daily(5))
    assert not has_errors(found)
    assert has_errors(strict(found))
    assert str(strict(found)[0]).startswith("alerts/many.yaml:8: error[burst] q0.alerts[0]")


def test_the_examples_lint_clean() -> None:
    from metabase_guard import load
    from tests.e2e.conftest import REPO

    assert lint_declarations(load([REPO / "alerts"])) == []



def test_recipient_typo_names_the_user_it_nearly_is() -> None:
    declared = load_text(RAW.replace("outsider@example.org", "pm@exmaple.com"), "alerts/q.yaml")
    live = live_state()
    desired = resolve(declared, live)
    found = lint_live(declared, desired, live)
    assert rules(found) == ["recipient-typo"]
    finding = found[0]
    assert finding.severity == "warning"
    assert finding.field == "alerts[0].email[1]" and finding.line == 10
    assert "did you mean pm@example.com?" in finding.message


def test_recipient_typo_quiet_for_a_real_outsider() -> None:
    declared = load_text(RAW, "alerts/q.yaml")
    live = live_state()
    assert lint_live(declared, resolve(declared, live), live) == []
