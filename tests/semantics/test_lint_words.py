"""Each lint finding pinned whole: rule, severity, file:line, field, key, message and hint.

tests/semantics/test_lint_rules.py checks that each rule fires and stays quiet; these tests
pin every word a user reads, so a changed word, a dropped clause or a wrong line fails
(they were written against the survivors of a mutmut run over lint.py, docs/testing.md).
"""

from __future__ import annotations

import pytest

from metabase_guard.api.models import parse_version
from metabase_guard.lint import (
    Finding,
    engine_mismatches,
    lint_declarations,
    lint_live,
    sort_findings,
    sql_notes,
)
from metabase_guard.reconcile.cards import resolve
from metabase_guard.reconcile.walk import make_plan
from metabase_guard.spec.loader import Declarations, load_text
from tests.reconcile.test_plan_pure import live_state, managed_alert, managed_card
from tests.semantics.test_lint_rules import PLANNED, RAW, WEEKLY_OK, decls, many_daily

NO_COMPARE = "'Unable to compare results to goal'"
BURST_TAIL = (". Metabase sends notifications on a small thread pool (3 by default) and drops "
              "sends under such bursts (metabase/metabase#56379, #51701)")
NOT_ALLOWED_HINT = ("invite the person to Metabase, add the domain in Admin > Settings > Email "
                    "(subscription-allowed-domains), or remove the address")
DELETED_HINT = ("alerts made in the Metabase UI by others on this card are lost: tell their "
                "owners, or keep the display family and the goal line")
OPT_OUT = " (if an empty result is meant, set allow_empty: true on the question)"


def q_finding(severity: str, rule: str, line: int, field: str, message: str, hint: str,
              file: str = "alerts/q.yaml", key: str = "q") -> Finding:
    """The expected finding on question ``q`` of ``decls()``."""
    return Finding(severity, rule, file, line, field, message, hint, key)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- goal rules

GOAL_CASES = [
    pytest.param(
        decls("SELECT count(*) AS n FROM t"),
        q_finding("error", "goal-never-fires", 10, "alerts[0].when",
                  "'below_goal' can never fire: Metabase picks no column to compare with the goal "
                  f"among 1 column(s) (n) and every run fails with {NO_COMPARE}",
                  "name the column to compare: metric: <column>"),
        id="no-column"),
    pytest.param(
        decls("SELECT count(*) AS n FROM t", metric="nope"),
        q_finding("error", "goal-never-fires", 8, "metric",
                  "metric 'nope' is not a column of the query (n) and Metabase finds no other "
                  f"column to compare with the goal, so every run fails with {NO_COMPARE} and "
                  "the alert never fires",
                  "name one of the query's columns: metric: n"),
        id="unknown-metric-no-fallback"),
    pytest.param(
        decls(WEEKLY_OK, metric="recos"),
        q_finding("warning", "unknown-metric", 12, "metric",
                  "metric 'recos' is not a column of the query (week, recommendations); Metabase "
                  "ignores it and compares column 'recommendations' with the goal",
                  "name the column to compare: metric: recommendations"),
        id="unknown-metric"),
    pytest.param(
        decls(WEEKLY_OK, metric="week"),
        q_finding("error", "goal-never-fires", 15, "alerts[0].when",
                  "'below_goal' can never fire: Metabase compares column 'week' with the goal, "
                  "and it is a date, so the comparison throws on every row",
                  "name the numeric column to compare: metric: <column>"),
        id="date-metric"),
    pytest.param(
        decls(WEEKLY_OK.replace("count(*) AS recommendations",
                                "count(*) AS recommendations, sum(score) AS score")),
        q_finding("warning", "implicit-metric", 14, "alerts[0].when",
                  "the query returns several numeric columns (recommendations, score) and no "
                  "metric says which one the goal applies to: Metabase compares 'score', chosen "
                  "by position (and its UI offers no goal alert on such a chart)",
                  "say which column is compared: metric: score"),
        id="implicit-metric"),
]


@pytest.mark.parametrize(("declared", "expected"), GOAL_CASES)
def test_goal_findings_word_for_word(declared: Declarations, expected: Finding) -> None:
    assert lint_declarations(declared) == [expected]


def test_a_text_metric_never_fires_and_says_text() -> None:
    sql = "SELECT 'late' AS label, count(*) AS n FROM t"
    assert lint_declarations(decls(sql, metric="label")) == [q_finding(
        "error", "goal-never-fires", 11, "alerts[0].when",
        "'below_goal' can never fire: Metabase compares column 'label' with the goal, and it "
        "is text, so the comparison throws on every row",
        "name the numeric column to compare: metric: <column>")]


# --------------------------------------------------------------------------- many-periods

def many_hint(unit: str, column: str, name: str) -> str:
    return (f"keep only the last complete {unit}: WHERE {column} >= date_trunc('{unit}', now()) "
            f"- interval '1 {unit}' AND {column} < date_trunc('{unit}', now()); or ORDER BY "
            f"{name} DESC LIMIT 1 (which keeps the current, incomplete {unit})")


def test_many_periods_unbounded_below_goal_word_for_word() -> None:
    sql = "SELECT date_trunc('week', at) AS week, count(*) AS n FROM t GROUP BY 1"
    assert lint_declarations(decls(sql)) == [q_finding(
        "warning", "many-periods", 10, "alerts[0].when",
        "the query returns an unbounded number of weeks (week), and Metabase fires "
        "'below_goal' when ANY row is below the goal: one old week crossing the line makes it "
        "fire on every run",
        many_hint("week", "at", "week"))]


def test_many_periods_bounded_above_goal_word_for_word() -> None:
    sql = ("SELECT date_trunc('day', at) AS day, count(*) AS n FROM t "
           "WHERE at >= date_trunc('day', now()) - interval '28 days' GROUP BY day")
    assert lint_declarations(decls(sql, when="above_goal")) == [q_finding(
        "warning", "many-periods", 10, "alerts[0].when",
        "the query returns up to 28 days (day), and Metabase fires 'above_goal' when ANY row is "
        "at or above the goal: one old day crossing the line makes it fire on every run",
        many_hint("day", "at", "day"))]


# --------------------------------------------------------------------------- has_rows rules


def test_always_one_row_word_for_word() -> None:
    found = lint_declarations(decls("SELECT 1 AS heartbeat", when="has_rows", display="table",
                                    goal=False))
    assert found == [q_finding(
        "warning", "always-one-row", 9, "alerts[0].when",
        "'has_rows' fires on every run: it has no FROM, so it returns one row",
        "return no row when there is nothing to report, e.g. add HAVING count(*) > 0 (or the "
        "condition that matters), or compare the value with a goal (below_goal / above_goal)")]


def test_silent_on_outage_below_goal_is_an_error_word_for_word() -> None:
    sql = ("SELECT count(*) AS n, max(at) AS d FROM t WHERE at > now() - interval '1 day' "
           "GROUP BY date(at)")
    found = lint_declarations(decls(sql, metric="n", allow_empty=False))
    assert found[0] == q_finding(
        "error", "silent-on-outage", 11, "alerts[0].when",
        "'below_goal' is blind to a total outage: it groups (GROUP BY of a filtered window), "
        "and a grouped query over no matching row returns no row at all; Metabase skips a goal "
        "alert whose result is empty (notification/payload/impl/card.clj skip-reason), so on a "
        "total outage the alert never fires",
        "aggregate over the window without GROUP BY, so it always returns one row (count(*) is "
        "then 0): SELECT COUNT(*) AS n, MAX(at) AS d FROM t WHERE at > CURRENT_TIMESTAMP - "
        "INTERVAL '1 DAY'" + OPT_OUT)
    assert [f.rule for f in found] == ["silent-on-outage", "many-periods"]
    assert lint_declarations(decls(sql, metric="n", allow_empty=True))[0].rule == "many-periods"


def test_silent_on_outage_has_rows_is_a_warning_word_for_word() -> None:
    sql = ("SELECT max(run_at) AS last FROM runs WHERE status = 'success' "
           "HAVING max(run_at) < now() - interval '26 hours'")
    found = lint_declarations(decls(sql, when="has_rows", display="table", goal=False,
                                    allow_empty=False))
    assert found == [q_finding(
        "warning", "silent-on-outage", 9, "alerts[0].when",
        "'has_rows' is blind to a total outage: its HAVING compares an aggregate that is NULL "
        "when no row matches (max, min, sum...), so on a total outage the comparison is unknown "
        "and the row is dropped; Metabase skips a has_rows alert whose result is empty or one "
        "null cell (notification/payload/execute.clj is-card-empty?), so on a total outage the "
        "alert never fires",
        "test for absence instead: SELECT 'no recent row' AS problem WHERE NOT EXISTS (SELECT 1 "
        "FROM ... WHERE <recent>), or coalesce the aggregate and return a second, never-null "
        "column" + OPT_OUT)]


# --------------------------------------------------------------------------- burst


def mixed(count: int, schedule: str, subscription: str) -> Declarations:
    """``count`` has_rows alerts and one dashboard subscription to e-mail and two channels."""
    parts = ["questions:"]
    for n in range(count):
        parts += [f"  - key: q{n}", f"    name: Q{n}", "    database: Warehouse",
                  "    sql: SELECT * FROM t", "    alerts:", "      - when: has_rows",
                  f"        schedule: {schedule}", "        email: [pm@example.com]"]
    parts += ["dashboards:", "  - key: d", "    name: D", "    cards: [q0]",
              "    subscriptions:", f"      - schedule: {subscription}",
              "        email: [pm@example.com]", "        slack: ['#ml-alerts', '#general']"]
    return load_text("\n".join(parts) + "\n", "alerts/m.yaml")


SUB = "subscription 1 of dashboard d"
SENDS = f"{SUB} (#general), {SUB} (#ml-alerts), {SUB} (email)"


def test_burst_lists_the_first_six_moves_only() -> None:
    finding = lint_declarations(many_daily(8))[0]
    assert finding == Finding(
        "warning", "burst", "alerts/many.yaml", 8, "alerts[0].schedule",
        "8 alerts start at the same minute, every day at 09:00: q0, q1, q2, q3, q4, q5, q6, q7"
        + BURST_TAIL,
        'stagger the schedules a few minutes apart, e.g. q1: at: "09:01"; q2: at: "09:02"; '
        'q3: at: "09:03"; q4: at: "09:04"; q5: at: "09:05"; q6: at: "09:06"', "q0")


def test_burst_with_subscriptions_moves_them_by_whole_hours() -> None:
    found = lint_declarations(mixed(2, "{every: day, at: '09:00'}", "{every: day, at: '09:00'}"))
    assert found == [Finding(
        "warning", "burst", "alerts/m.yaml", 8, "alerts[0].schedule",
        f"5 alerts and subscriptions start at the same minute, every day at 09:00: q0, q1, "
        f"{SENDS}" + BURST_TAIL,
        'stagger the schedules a few minutes apart (subscriptions by whole hours), e.g. q1: at: '
        f'"09:01"; {SUB} (#general): at: "11:00"; {SUB} (#ml-alerts): at: "12:00"; '
        f'{SUB} (email): at: "13:00"', "q0")]


def test_burst_of_hourly_schedules_keeps_hourly_subscriptions() -> None:
    found = lint_declarations(mixed(2, "{every: hour}", "{every: hour}"))
    keep = "keep (hourly subscriptions send on the hour)"
    assert [(f.message, f.hint) for f in found] == [(
        f"5 alerts and subscriptions start at the same minute, every day, every hour at minute "
        f"00: q0, q1, {SENDS}" + BURST_TAIL,
        "stagger the schedules a few minutes apart (subscriptions by whole hours), e.g. q1: "
        f"minute: 1; {SUB} (#general): {keep}; {SUB} (#ml-alerts): {keep}; {SUB} (email): {keep}")]


def test_burst_of_cron_schedules_moves_the_cron_minute() -> None:
    found = lint_declarations(mixed(5, "{cron: '0 0 9 * * ?'}",
                                    "{every: week, on: monday, at: '10:00'}"))
    assert [(f.message, f.hint) for f in found] == [(
        "5 alerts start at the same minute, every day at 09:00: q0, q1, q2, q3, q4" + BURST_TAIL,
        "stagger the schedules a few minutes apart, e.g. q1: cron minute 1; q2: cron minute 2; "
        "q3: cron minute 3; q4: cron minute 4")]


def test_a_burst_of_subscriptions_alone_points_at_the_dashboard() -> None:
    declared = load_text(
        "questions:\n  - key: q\n    name: Q\n    database: Warehouse\n    sql: SELECT 1 AS n\n"
        "dashboards:\n  - key: d\n    name: D\n    cards: [q]\n    subscriptions:\n"
        "      - schedule: {every: week, on: monday, at: '08:00'}\n"
        "        slack: ['#a', '#b', '#c', '#d', '#e']\n", "alerts/d.yaml")
    sends = ", ".join(f"{SUB} (#{c})" for c in "abcde")
    assert lint_declarations(declared) == [Finding(
        "warning", "burst", "alerts/d.yaml", 11, "subscriptions[0].schedule",
        f"5 alerts and subscriptions start at the same minute, Mon at 08:00: {sends}"
        + BURST_TAIL,
        "stagger the schedules a few minutes apart (subscriptions by whole hours), e.g. "
        f'{SUB} (#b): at: "09:00"; {SUB} (#c): at: "10:00"; {SUB} (#d): at: "11:00"; '
        f'{SUB} (#e): at: "12:00"', "d")]
    assert lint_declarations(declared, burst=False) == []
    assert lint_declarations(declared, burst_threshold=6) == []


def test_a_burst_with_the_instance_s_alerts_names_them_and_the_timezone() -> None:
    declared = many_daily(2)
    live = live_state(notifications=[
        managed_alert(nid=100 + n, card_id=900, creator=99, cron="0 0 9 * * ?")
        for n in range(3)
    ])
    found = lint_live(declared, resolve(declared, live), live)
    assert [(f.message, f.hint, f.line) for f in found] == [(
        "5 alerts start at the same minute, every day at 09:00 (Europe/Berlin): q0, q1, and 3 "
        "alert(s) already on the instance" + BURST_TAIL,
        'stagger the schedules a few minutes apart, e.g. q1: at: "09:01"', 8)]
    assert lint_live(declared, resolve(declared, live), live, burst_threshold=6) == []


# --------------------------------------------------------------------------- live rules


def test_recipient_not_allowed_word_for_word_with_a_padded_allow_list() -> None:
    declared = load_text(RAW, "alerts/q.yaml")
    live = live_state()
    found = lint_live(declared, resolve(declared, live), live,
                      allowed_domains=" Example.com , ,sub.example.net")
    assert found == [q_finding(
        "error", "recipient-not-allowed", 10, "alerts[0].email[1]",
        "outsider@example.org is not an active Metabase user and its domain is not in the "
        "instance's allowed domains (example.com, sub.example.net): Metabase refuses the alert "
        "with 403 'The following email addresses are not allowed'", NOT_ALLOWED_HINT)]


@pytest.mark.parametrize("allowed", [["sub.example.net", "  "], "example.net", "SUB.example.net"])
def test_a_subdomain_of_an_allowed_domain_is_allowed(allowed: object) -> None:
    declared = load_text(RAW.replace("outsider@example.org", "a@x.sub.example.net"),
                         "alerts/q.yaml")
    live = live_state()
    assert lint_live(declared, resolve(declared, live), live, allowed_domains=allowed) == []


def test_a_lookalike_domain_is_not_a_subdomain() -> None:
    declared = load_text(RAW.replace("outsider@example.org", "a@badexample.net"), "alerts/q.yaml")
    live = live_state()
    found = lint_live(declared, resolve(declared, live), live, allowed_domains="example.net")
    assert [f.rule for f in found] == ["recipient-not-allowed"]


@pytest.mark.parametrize("allowed", ["", " , ", []])
def test_an_empty_allow_list_checks_nothing(allowed: object) -> None:
    declared = load_text(RAW, "alerts/q.yaml")
    live = live_state()
    assert lint_live(declared, resolve(declared, live), live, allowed_domains=allowed) == []


def test_a_typo_outside_the_allow_list_is_both_a_typo_and_not_allowed() -> None:
    declared = load_text(RAW.replace("outsider@example.org", "pm@exmaple.com"), "alerts/q.yaml")
    live = live_state()
    found = lint_live(declared, resolve(declared, live), live, allowed_domains="example.com")
    assert found == [
        q_finding("warning", "recipient-typo", 10, "alerts[0].email[1]",
                  "pm@exmaple.com is not a Metabase user, so it is sent to as written; did you "
                  "mean pm@example.com?",
                  "write pm@example.com, or keep pm@exmaple.com if it is meant"),
        q_finding("error", "recipient-not-allowed", 10, "alerts[0].email[1]",
                  "pm@exmaple.com is not an active Metabase user and its domain is not in the "
                  "instance's allowed domains (example.com): Metabase refuses the alert with "
                  "403 'The following email addresses are not allowed'", NOT_ALLOWED_HINT),
    ]



def test_a_typo_in_a_subscriptions_address_is_the_same_warning_at_its_line() -> None:
    """pm@exmaple.com near pm@example.com; ds@example.com (a user, any case) and
    data@example.org (0.73 like ds@example.com, under the 0.85 cutoff) say nothing; the
    allow-list is not checked for subscriptions."""
    text = ("questions:\n  - key: q\n    name: Q\n    database: Warehouse\n"
            "    sql: SELECT 1 AS n\n"
            "dashboards:\n  - key: d\n    name: D\n    cards: [q]\n    subscriptions:\n"
            "      - schedule: {every: week, on: monday, at: '08:00'}\n"
            "        email:\n          - DS@example.com\n          - data@example.org\n"
            "      - schedule: {every: day, at: '07:00'}\n"
            "        email:\n          - pm@exmaple.com\n")
    declared = load_text(text, "alerts/d.yaml")
    live = live_state()
    found = lint_live(declared, resolve(declared, live), live, allowed_domains="example.com")
    assert found == [Finding(
        "warning", "recipient-typo", "alerts/d.yaml", 17, "subscriptions[1].email[0]",
        "pm@exmaple.com is not a Metabase user, so it is sent to as written; did you mean "
        "pm@example.com?", "write pm@example.com, or keep pm@exmaple.com if it is meant", "d")]

@pytest.mark.parametrize("version", ["v0.54.1", "v0.55.4"])
def test_once_deactivates_early_word_for_word(version: str) -> None:
    declared = load_text(RAW.replace("email: [pm@example.com, outsider@example.org]",
                                     "once: true\n        email: [pm@example.com]"),
                         "alerts/q.yaml")
    old = live_state()
    old.version = parse_version(version)
    assert lint_live(declared, resolve(declared, old), old) == [q_finding(
        "warning", "once-deactivates-early", 10, "alerts[0].once",
        f"on Metabase {version} a 'once' alert is deactivated after its first scheduled run "
        "even when nothing was sent (fixed in 0.56, metabase/metabase#61491)",
        "upgrade Metabase to 0.56 or newer, or drop once: true")]
    newer = live_state()
    newer.version = parse_version("v0.53.9")
    assert lint_live(declared, resolve(declared, newer), newer) == []


def deleted(declared: Declarations, *, prune: bool = False) -> list[Finding]:
    live = live_state(cards=[managed_card()], notifications=[managed_alert()])
    desired = resolve(declared, live)
    plan = make_plan(desired, live, url="http://mb", prune=prune)
    return lint_live(declared, desired, live, plan)


def test_alerts_deleted_by_a_display_change_points_at_display() -> None:
    found = deleted(load_text(PLANNED.format(display="table", goal=""), "alerts/r.yaml"))
    assert found == [Finding(
        "warning", "alerts-deleted", "alerts/r.yaml", 10, "display",
        "card weekly-recommendations: Metabase deletes all 1 active alert(s) of this card and "
        "e-mails their recipients because the display changes from bar to table; "
        "metabase-guard recreates its own", DELETED_HINT, "weekly-recommendations")]


def test_alerts_deleted_by_a_removed_goal_points_at_goal() -> None:
    found = deleted(load_text(PLANNED.format(display="bar", goal=""), "alerts/r.yaml"))
    assert found == [Finding(
        "warning", "alerts-deleted", "alerts/r.yaml", 3, "goal",
        "card weekly-recommendations: Metabase deletes all 1 active alert(s) of this card and "
        "e-mails their recipients because the goal line is removed; metabase-guard recreates "
        "its own", DELETED_HINT, "weekly-recommendations")]


def test_alerts_deleted_by_archiving_a_card_is_about_the_instance() -> None:
    other = load_text("questions:\n  - key: other\n    name: O\n    database: Warehouse\n"
                      "    sql: SELECT 1\n", "alerts/o.yaml")
    found = deleted(other, prune=True)
    assert found == [Finding(
        "warning", "alerts-deleted", "", None, "",
        "card weekly-recommendations is archived: Metabase deletes the card's 1 active "
        "alert(s) when it is archived",
        "Metabase e-mails the recipients that the alert is gone; keep the card declared if its "
        "alerts should live", "weekly-recommendations")]
    assert str(found[0]).startswith("(instance): warning[alerts-deleted] weekly-recommendations:")
    assert deleted(other, prune=False) == []


# --------------------------------------------------------------------------- helpers


def test_engine_mismatch_word_for_word() -> None:
    declared = decls("SELECT 1 AS n")
    hint = "set databases: {Warehouse: {engine: h2}} in metabase-guard.yaml"
    assert engine_mismatches(declared, {}, {"Warehouse": "h2"}) == [Finding(
        "warning", "engine-mismatch", "", None, "",
        "database 'Warehouse' is 'h2' on the instance, but validate and test read its SQL as "
        "'postgres' (the default)", hint)]
    assert [f.message for f in engine_mismatches(declared, {"Warehouse": "mysql"},
                                                 {"Warehouse": "h2"})] == [
        "database 'Warehouse' is 'h2' on the instance, but validate and test read its SQL as "
        "'mysql'"]
    assert engine_mismatches(declared, {"Warehouse": "H2"}, {"Warehouse": "h2"}) == []
    assert engine_mismatches(declared, {}, {"Other": "h2"}) == []


def test_sql_notes_say_where_and_why_the_sql_rules_are_skipped() -> None:
    assert sql_notes(decls("SELECT {{x}} FROM t")) == [
        "alerts/q.yaml:5: q: SQL rules skipped: it has template tags ({{...}} or [[...]]), "
        "which Metabase fills in at run time"]
    assert sql_notes(decls(WEEKLY_OK)) == []


def test_sort_findings_puts_errors_first_then_file_line_and_rule() -> None:
    def f(severity: str, file: str, line: int | None, rule: str) -> Finding:
        return Finding(severity, rule, file, line, "", "m")  # type: ignore[arg-type]

    items = [f("warning", "a.yaml", 3, "b"), f("warning", "", None, "a"),
             f("warning", "a.yaml", 3, "a"), f("error", "b.yaml", 1, "z"),
             f("warning", "a.yaml", None, "z"), f("error", "a.yaml", 9, "z")]
    assert [(x.severity, x.file, x.line, x.rule) for x in sort_findings(items)] == [
        ("error", "a.yaml", 9, "z"), ("error", "b.yaml", 1, "z"),
        ("warning", "a.yaml", None, "z"), ("warning", "a.yaml", 3, "a"),
        ("warning", "a.yaml", 3, "b"), ("warning", "", None, "a")]


def same_minute(schedule: str, count: int = 5) -> Declarations:
    """``count`` has_rows alerts on one schedule."""
    parts = ["questions:"]
    for n in range(count):
        parts += [f"  - key: q{n}", f"    name: Q{n}", "    database: Warehouse",
                  "    sql: SELECT * FROM t", "    alerts:", "      - when: has_rows",
                  f"        schedule: {schedule}", "        email: [pm@example.com]"]
    return load_text("\n".join(parts) + "\n", "alerts/s.yaml")


@pytest.mark.parametrize(("schedule", "words", "moves"), [
    # the suggested minute wraps within the hour (the hour itself is kept)
    ("{every: week, on: monday, at: '09:58'}", "Mon at 09:58",
     'q1: at: "09:59"; q2: at: "09:00"; q3: at: "09:01"; q4: at: "09:02"'),
    ("{every: month, on: first, at: '23:58'}", "every day at 23:58",
     'q1: at: "23:59"; q2: at: "23:00"; q3: at: "23:01"; q4: at: "23:02"'),
])
def test_burst_moves_weekly_and_monthly_alerts_by_their_at(schedule: str, words: str,
                                                           moves: str) -> None:
    found = lint_declarations(same_minute(schedule))
    assert [(f.message, f.hint) for f in found] == [(
        f"5 alerts start at the same minute, {words}: q0, q1, q2, q3, q4" + BURST_TAIL,
        f"stagger the schedules a few minutes apart, e.g. {moves}")]
