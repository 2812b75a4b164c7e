"""Dashboard subscriptions in the ``burst`` lint: each Metabase subscription they become is one
send at its minute, counted with the alerts; pure (no server)."""

from __future__ import annotations

from metabase_guard.lint import lint_declarations
from metabase_guard.spec.loader import Declarations, load_text

QUESTION = """\
questions:
  - key: q
    name: Q
    database: Warehouse
    sql: SELECT * FROM t
    alerts:
      - when: has_rows
        schedule: {every: week, on: monday, at: "08:00"}
        email: [pm@example.com]
"""


def with_subscriptions(*subscriptions: str) -> Declarations:
    body = "".join(f"      - schedule: {{every: week, on: monday, at: \"08:00\"}}\n        {s}\n"
                   for s in subscriptions)
    return load_text(QUESTION + "dashboards:\n  - key: board\n    name: Board\n    cards: [q]\n"
                     "    subscriptions:\n" + body, "alerts/board.yaml")


def test_an_email_list_and_each_slack_channel_count_as_one_send_each() -> None:
    found = lint_declarations(with_subscriptions('email: [a@example.com, b@example.com]',
                                                 'slack: ["#one", "#two", "#three"]'))
    (burst,) = found
    assert burst.rule == "burst" and burst.severity == "warning"
    assert burst.message.startswith("5 alerts and subscriptions start at the same minute, "
                                    "Mon at 08:00: q, subscription 1 of dashboard board (email)")
    assert "subscription 2 of dashboard board (#three)" in burst.message
    # the alert comes first, so the finding is on it
    assert (burst.key, burst.field, burst.line) == ("q", "alerts[0].schedule", 8)
    # subscriptions move by whole hours
    assert 'subscription 1 of dashboard board (email): at: "09:00"' in burst.hint
    assert "(subscriptions by whole hours)" in burst.hint


def test_a_burst_of_subscriptions_alone_is_located_on_the_dashboard() -> None:
    decls = load_text(QUESTION.replace('at: "08:00"', 'at: "09:30"') + """\
dashboards:
  - key: board
    name: Board
    cards: [q]
    subscriptions:
      - schedule: {every: hour}
        slack: ["#a", "#b", "#c", "#d", "#e"]
""", "alerts/board.yaml")
    (burst,) = lint_declarations(decls)
    assert (burst.key, burst.field, burst.line) == ("board", "subscriptions[0].schedule", 15)
    assert burst.where == "alerts/board.yaml:15"
    assert "every day, every hour at minute 00" in burst.message
    assert "(#b): keep (hourly subscriptions send on the hour)" in burst.hint


def test_four_sends_are_no_burst_and_other_times_do_not_add_up() -> None:
    assert lint_declarations(with_subscriptions('slack: ["#one", "#two", "#three"]')) == []
    decls = load_text(QUESTION + """\
dashboards:
  - key: board
    name: Board
    cards: [q]
    subscriptions:
      - schedule: {every: week, on: tuesday, at: "08:00"}
        slack: ["#a", "#b", "#c", "#d"]
""", "alerts/board.yaml")
    assert lint_declarations(decls) == []
