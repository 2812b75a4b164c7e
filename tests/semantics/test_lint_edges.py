"""Lint edges the rule tests left open: the goal settings the offline checks evaluate with, and
``lint_live`` going on past an address, an alert or an instance alert it skips.

Written against the survivors of a mutmut run over lint.py (docs/testing.md): each case makes
the loop see a skipped item *before* one that must still be reported.
"""

from __future__ import annotations

from metabase_guard.lint import (
    Finding,
    card_settings,
    engine_mismatches,
    lint_declarations,
    lint_live,
    sort_findings,
    sql_notes,
)
from metabase_guard.reconcile.cards import resolve
from metabase_guard.reconcile.identity import compose_description
from metabase_guard.reconcile.kind import Defaults
from metabase_guard.reconcile.plan import Change, Plan
from metabase_guard.spec.loader import Declarations, load_text
from tests.reconcile.test_plan_pure import live_state, managed_alert, managed_card
from tests.semantics.test_lint_rules import PLANNED, RAW, WEEKLY_OK, decls
from tests.semantics.test_lint_words import BURST_TAIL, same_minute


def question(extra: str, display: str = "bar") -> Declarations:
    return load_text(
        "questions:\n  - key: q\n    name: Q\n    database: Warehouse\n    sql: SELECT 1 AS n\n"
        f"    display: {display}\n{extra}", "alerts/q.yaml")


def test_card_settings_of_a_progress_goal_is_progress_goal_alone() -> None:
    q = question("    goal: {value: 12.5, label: Target}\n", display="progress").questions[0]
    assert card_settings(q) == {"progress.goal": 12.5}


def test_card_settings_of_a_chart_goal_is_a_shown_goal_line_with_its_label() -> None:
    q = question("    goal: {value: 2400, label: Floor}\n    metric: n\n    dimension: week\n"
                 ).questions[0]
    assert card_settings(q) == {
        "graph.show_goal": True, "graph.goal_value": 2400, "graph.goal_label": "Floor",
        "graph.metrics": ["n"], "graph.dimensions": ["week"]}


def test_card_settings_without_goal_metric_or_dimension_is_empty() -> None:
    assert card_settings(question("").questions[0]) == {}
    assert card_settings(question("    goal: {value: 3}\n", display="line").questions[0]) == {
        "graph.show_goal": True, "graph.goal_value": 3, "graph.goal_label": "Goal"}


def recipients(first: str, second: str,
               schedule: str = "{every: day, at: '09:00'}") -> Declarations:
    """RAW's one has_rows alert, e-mailing ``first`` and ``second`` on ``schedule``."""
    return load_text(RAW.replace("email: [pm@example.com, outsider@example.org]",
                                 f"email: [{first}, {second}]")
                     .replace("{every: day, at: '09:00'}", schedule), "alerts/q.yaml")


def typo(address: str, meant: str, index: int) -> Finding:
    return Finding("warning", "recipient-typo", "alerts/q.yaml", 10, f"alerts[0].email[{index}]",
                   f"{address} is not a Metabase user, so it is sent to as written; did you "
                   f"mean {meant}?", f"write {meant}, or keep {address} if it is meant", "q")


def test_every_typo_is_reported_when_no_allow_list_is_set() -> None:
    declared = recipients("pm@exmaple.com", "ds@exmaple.com")
    live = live_state()
    found = lint_live(declared, resolve(declared, live), live)
    # the alert's recipients are read sorted: ds@ before pm@
    assert found == [typo("ds@exmaple.com", "ds@example.com", 1),
                     typo("pm@exmaple.com", "pm@example.com", 0)]


def test_an_allowed_outsider_does_not_stop_the_check_of_the_next_address() -> None:
    declared = recipients("ok@example.net", "out@example.org")
    live = live_state()
    found = lint_live(declared, resolve(declared, live), live, allowed_domains="example.net")
    assert [(f.rule, f.field) for f in found] == [("recipient-not-allowed", "alerts[0].email[1]")]
    assert found[0].message.startswith("out@example.org is not an active Metabase user")


def test_an_inactive_instance_alert_listed_first_does_not_hide_the_others() -> None:
    declared = recipients("pm@example.com", "ds@example.com",
                          "{every: week, on: monday, at: '09:00'}")
    theirs = [managed_alert(nid=100, card_id=900, creator=99, active=False)] + [
        managed_alert(nid=101 + n, card_id=900, creator=99) for n in range(4)]
    live = live_state(notifications=theirs)
    found = lint_live(declared, resolve(declared, live), live)
    assert [f.rule for f in found] == ["burst"]
    assert found[0].message.startswith(
        "5 alerts start at the same minute, Mon at 09:00 (Europe/Berlin): q, and 4 alert(s) "
        "already on the instance")


# --------------------------------------------------------------------------- goal rules

NO_COMPARE = "'Unable to compare results to goal'"


def test_a_goal_alert_over_sql_that_cannot_be_read_is_left_alone() -> None:
    # template tags: the SQL rules stay silent rather than guess (sql_notes says why)
    assert lint_declarations(decls("SELECT {{x}} AS n FROM t")) == []


def test_a_progress_bar_compares_its_only_column() -> None:
    # progress takes the first numeric column; a bar with one column has none to compare
    assert lint_declarations(decls("SELECT count(*) AS n FROM t", display="progress")) == []
    assert [f.rule for f in lint_declarations(decls("SELECT count(*) AS n FROM t"))] == [
        "goal-never-fires"]


def test_a_date_second_column_is_not_compared_by_default() -> None:
    # Metabase's default takes a numeric second column only: the column types decide
    sql = "SELECT count(*) AS n, date_trunc('week', at) AS week FROM t GROUP BY 2"
    assert lint_declarations(decls(sql))[0] == Finding(
        "error", "goal-never-fires", "alerts/q.yaml", 10, "alerts[0].when",
        "'below_goal' can never fire: Metabase picks no column to compare with the goal among "
        f"2 column(s) (n, week) and every run fails with {NO_COMPARE}",
        "name the column to compare: metric: <column>", "q")


def test_an_unknown_metric_over_text_columns_lists_every_column() -> None:
    found = lint_declarations(decls("SELECT 'a' AS label, 'b' AS other FROM t", metric="nope"))
    assert found == [Finding(
        "error", "goal-never-fires", "alerts/q.yaml", 8, "metric",
        "metric 'nope' is not a column of the query (label, other) and Metabase finds no other "
        f"column to compare with the goal, so every run fails with {NO_COMPARE} and the alert "
        "never fires", "name one of the query's columns: metric: other", "q")]


def test_a_goal_alert_the_loader_would_refuse_gets_no_goal_finding() -> None:
    # lint_declarations takes Declarations built by hand too; a goal alert on a table (which
    # the loader refuses, spec/models.py semantic_problems) is not lint's to judge
    q = decls("SELECT 'a' AS label, 'b' AS other FROM t").questions[0]
    on_table = Declarations(questions=[q.model_copy(update={"display": "table"})])
    without_goal = Declarations(questions=[q.model_copy(update={"goal": None})])
    assert lint_declarations(on_table) == []
    assert lint_declarations(without_goal) == []


def test_two_goal_alerts_with_one_unknown_metric_say_it_once() -> None:
    # the finding is on the question's metric, not on either alert: the same finding twice
    # is reported once
    declared = decls(WEEKLY_OK, metric="recos", extra="")
    text = declared.questions[0]
    twice = text.model_copy(update={"alerts": [*text.alerts, text.alerts[0].model_copy(
        update={"when": "above_goal"})]})
    found = lint_declarations(Declarations(questions=[twice]))
    assert [(f.rule, f.field) for f in found] == [("unknown-metric", "metric")]


def test_a_finding_on_declarations_built_by_hand_has_no_location() -> None:
    q = decls("SELECT count(*) AS n FROM t").questions[0]
    assert lint_declarations(Declarations(questions=[q])) == [Finding(
        "error", "goal-never-fires", "", None, "alerts[0].when",
        "'below_goal' can never fire: Metabase picks no column to compare with the goal among "
        f"1 column(s) (n) and every run fails with {NO_COMPARE}",
        "name the column to compare: metric: <column>", "q")]
    template = decls("SELECT {{x}} AS n FROM t").questions[0]
    assert sql_notes(Declarations(questions=[template])) == [
        "?: q: SQL rules skipped: it has template tags ({{...}} or [[...]]), which Metabase "
        "fills in at run time"]


def test_a_column_of_unknown_type_counts_as_numeric() -> None:
    # a bare column's type is unknown offline; Metabase may well compare it, so with a count
    # beside it the goal's column is ambiguous
    sql = "SELECT date_trunc('week', at) AS week, count(*) AS n, score FROM t GROUP BY 1, 3"
    found = [f for f in lint_declarations(decls(sql)) if f.rule == "implicit-metric"]
    assert [f.message for f in found] == [
        "the query returns several numeric columns (n, score) and no metric says which one the "
        "goal applies to: Metabase compares 'score', chosen by position (and its UI offers no "
        "goal alert on such a chart)"]


def test_ninety_days_are_a_bounded_count_not_unbounded() -> None:
    sql = ("SELECT date_trunc('day', at) AS day, count(*) AS n FROM t "
           "WHERE at >= now() - interval '90 days' GROUP BY 1")
    found = lint_declarations(decls(sql))
    # a window of 90 days from now touches 91 calendar days
    assert [f.message.split(",")[0] for f in found] == ["the query returns up to 91 days (day)"]


def test_the_engine_of_each_database_decides_how_its_sql_is_read() -> None:
    declared = decls("SELECT count(*) AS n FROM t")
    assert [f.rule for f in lint_declarations(declared)] == ["goal-never-fires"]
    # an engine sqlglot has no dialect for: the SQL rules say nothing, and sql_notes says why
    assert lint_declarations(declared, engines={"Warehouse": "nosuchengine"}) == []
    assert lint_declarations(declared, engines={"Other": "nosuchengine"}) != []
    assert sql_notes(declared) == []
    assert len(sql_notes(declared, {"Warehouse": "nosuchengine"})) == 1
    assert sql_notes(declared, {"Other": "nosuchengine"}) == []


def test_a_question_without_alerts_does_not_end_the_offline_rules() -> None:
    quiet = load_text("questions:\n  - key: a\n    name: A\n    database: Warehouse\n"
                      "    sql: SELECT 1 AS n\n", "alerts/a.yaml").questions[0]
    loud = decls("SELECT count(*) AS n FROM t").questions[0]
    found = lint_declarations(Declarations(questions=[quiet, loud]))
    assert [(f.rule, f.key) for f in found] == [("goal-never-fires", "q")]


def test_an_engine_that_matches_does_not_end_the_mismatch_check() -> None:
    declared = load_text(
        "questions:\n"
        "  - {key: a, name: A, database: Alpha, sql: SELECT 1 AS n}\n"
        "  - {key: b, name: B, database: Beta, sql: SELECT 1 AS n}\n", "alerts/e.yaml")
    found = engine_mismatches(declared, {"Alpha": "h2", "Beta": "postgres"},
                              {"Alpha": "h2", "Beta": "mysql"})
    assert [f.message for f in found] == [
        "database 'Beta' is 'mysql' on the instance, but validate and test read its SQL as "
        "'postgres'"]


def test_sort_findings_puts_a_finding_without_line_before_line_one() -> None:
    first = Finding("warning", "z", "a.yaml", None, "", "m")
    second = Finding("warning", "a", "a.yaml", 1, "", "m")
    assert sort_findings([second, first]) == [first, second]


# --------------------------------------------------------------------------- burst and live

def test_a_burst_early_on_tuesday_keeps_its_day_and_hour() -> None:
    # slot 1440 is Tuesday 00:00: the day is slot // 1440, the hour (slot // 60) % 24
    found = lint_declarations(same_minute("{every: week, on: tuesday, at: '00:00'}"))
    assert [(f.message, f.hint) for f in found] == [(
        "5 alerts start at the same minute, Tue at 00:00: q0, q1, q2, q3, q4" + BURST_TAIL,
        'stagger the schedules a few minutes apart, e.g. q1: at: "00:01"; q2: at: "00:02"; '
        'q3: at: "00:03"; q4: at: "00:04"')]


def test_subscriptions_moved_past_midnight_wrap_to_the_next_day_s_hours() -> None:
    declared = load_text(
        "questions:\n  - key: q\n    name: Q\n    database: Warehouse\n    sql: SELECT 1 AS n\n"
        "dashboards:\n  - key: d\n    name: D\n    cards: [q]\n    subscriptions:\n"
        "      - schedule: {every: week, on: monday, at: '22:00'}\n"
        "        slack: ['#a', '#b', '#c', '#d', '#e']\n", "alerts/d.yaml")
    sub = "subscription 1 of dashboard d"
    assert [f.hint for f in lint_declarations(declared)] == [
        "stagger the schedules a few minutes apart (subscriptions by whole hours), e.g. "
        f'{sub} (#b): at: "23:00"; {sub} (#c): at: "00:00"; {sub} (#d): at: "01:00"; '
        f'{sub} (#e): at: "02:00"']


def test_alerts_of_one_question_are_named_by_their_number() -> None:
    declared = same_minute("{every: day, at: '07:00'}", count=4)
    first = declared.questions[0]
    two = first.model_copy(update={"alerts": [first.alerts[0], first.alerts[0]]})
    declared.questions[0] = two
    found = lint_declarations(declared)
    assert [f.message for f in found] == [
        "5 alerts start at the same minute, every day at 07:00: alert 1 of q0, alert 2 of q0, "
        "q1, q2, q3" + BURST_TAIL]


def test_one_declared_alert_among_the_instance_s_has_nothing_to_move() -> None:
    declared = recipients("pm@example.com", "ds@example.com",
                          "{every: week, on: monday, at: '09:00'}")
    theirs = [managed_alert(nid=101 + n, card_id=900, creator=99) for n in range(4)]
    # an instance alert with no cron subscription has no slot: it is left out, not a crash
    no_cron = managed_alert(nid=200, card_id=900, creator=99).model_copy(
        update={"subscriptions": []})
    live = live_state(notifications=[no_cron, *theirs])
    found = lint_live(declared, resolve(declared, live), live)
    assert [(f.message, f.hint) for f in found] == [(
        "5 alerts start at the same minute, Mon at 09:00 (Europe/Berlin): q, and 4 alert(s) "
        "already on the instance" + BURST_TAIL, "stagger the schedules a few minutes apart")]


def test_our_live_alert_on_a_declared_card_is_not_counted_twice() -> None:
    # the declared alert stands for our live one (creator = the API user): 1 declared + 3 of
    # theirs is no burst; counting ours again would make 5
    declared = load_text(PLANNED.format(display="bar", goal="    goal: {value: 2400}"),
                         "alerts/r.yaml")
    # listed before the declared card (by id): skipping it must not end the look-up
    undeclared = managed_card(card_id=9, description=compose_description(None, "gone"))
    ours = managed_alert(nid=20, card_id=10)
    theirs = [managed_alert(nid=101 + n, card_id=900, creator=99) for n in range(3)]
    live = live_state(cards=[undeclared, managed_card()], notifications=[ours, *theirs])
    desired = resolve(declared, live)
    assert lint_live(declared, desired, live) == []
    # one more of theirs makes the burst, counted without ours
    more = live_state(cards=[undeclared, managed_card()],
                      notifications=[ours, *theirs, managed_alert(nid=104, card_id=900,
                                                                  creator=99)])
    found = lint_live(declared, resolve(declared, more), more)
    assert [f.message.split(": ")[0] for f in found] == [
        "5 alerts start at the same minute, Mon at 09:00 (Europe/Berlin)"]
    assert found[0].message.split(": ")[1].startswith(
        "weekly-recommendations, and 4 alert(s) already on the instance.")


def test_a_default_recipient_outside_the_allow_list_points_at_the_alert() -> None:
    # config defaults join every alert's recipients but are not in its email list
    declared = load_text(RAW.replace("email: [pm@example.com, outsider@example.org]",
                                     "email: [pm@example.com]"), "alerts/q.yaml")
    live = live_state()
    desired = resolve(declared, live, Defaults(email=("lead@example.org",)))
    found = lint_live(declared, desired, live, allowed_domains="example.com")
    assert [(f.rule, f.field, f.line) for f in found] == [
        ("recipient-not-allowed", "alerts[0]", 8)]


def test_deleted_alerts_are_read_from_card_changes_only_and_each_deleting_effect() -> None:
    declared = load_text(PLANNED.format(display="bar", goal=""), "alerts/r.yaml")
    key = "weekly-recommendations"
    gone = "Metabase deletes the card's 1 active alert(s) when it is archived"
    plan = Plan(url="http://mb", version="v0.61.2", timezone="UTC", existing=1, changes=(
        Change("delete", "dashboard", "dashboard d", "d",
               effects=("Metabase deletes every subscription of this dashboard",)),
        Change("update", "card", f"card {key}", key,
               effects=("Metabase e-mails the owner", "Metabase deletes all 1 active alert(s)")),
        Change("delete", "card", "card other", "other", effects=(gone, gone + " (again)")),
    ))
    live = live_state()
    found = lint_live(declared, resolve(declared, live), live, plan)
    assert [(f.key, f.field, f.message) for f in found] == [
        (key, "goal", f"card {key}: Metabase deletes all 1 active alert(s)"),
        ("other", "", f"card other is archived: {gone}"),
        ("other", "", f"card other is archived: {gone} (again)"),
    ]
