"""Dashboard declarations: the issue's YAML read exactly, file:line lookup for dashboard fields,
and every kind of mistake reported with file, line and field, all at once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from metabase_guard.errors import DeclarationError, Problem
from metabase_guard.spec import load_declarations, load_text, pulse_schedule, schedule_from_pulse
from metabase_guard.spec.models import (
    HeadingItem,
    QuestionItem,
    SubscriptionMonthlySchedule,
    SubscriptionWeeklySchedule,
    TextItem,
)

QUESTIONS = """\
questions:
  - key: weekly-recommendations
    name: Weekly
    database: Warehouse
    sql: select 1
    display: bar
  - key: daily-recommendations
    name: Daily
    database: Warehouse
    sql: select 1
    display: line
"""

ISSUE_EXAMPLE = QUESTIONS + """\
dashboards:
  - key: recommender-health              # identity, like a question key
    name: Recommender health
    collection: Health checks/Recommender
    description: Key metrics of the recommender, beside its health checks.
    # width: fixed | full                 (optional)
    cards:                                # reading order
      - heading: Weekly pushes
      - weekly-recommendations            # a question key declared in this project
      - {question: daily-recommendations, size: wide}   # small | medium | wide | full | [w, h]
      - text: Bars under the goal line mean the recommender missed its week.
    subscriptions:                        # Metabase dashboard subscriptions (/api/pulse)
      - schedule: {every: week, on: monday, at: "08:00"}
        email: [pm@example.com]
      - schedule: {every: week, on: monday, at: "08:00"}
        slack: ["#ml-alerts"]               # a list, as in alerts
        # skip_if_empty: true
"""


def dashboard(body: str) -> str:
    """The two questions and one dashboard 'd' with ``body`` (its fields, 4 spaces in)."""
    return QUESTIONS + "dashboards:\n  - key: d\n    name: D\n" + textwrap.indent(
        textwrap.dedent(body), "    ")


def problems(text: str) -> list[Problem]:
    with pytest.raises(DeclarationError) as info:
        load_text(text, "dash.yaml")
    return info.value.problems


def only(found: list[Problem]) -> Problem:
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def test_the_issue_example_is_read_exactly() -> None:
    decls = load_text(ISSUE_EXAMPLE, "recommender.yaml")
    (board,) = decls.dashboards
    assert board.key == "recommender-health"
    assert board.name == "Recommender health"
    assert board.collection_path == ("Health checks", "Recommender")
    assert board.description == "Key metrics of the recommender, beside its health checks."
    assert board.width is None
    assert board.cards == [
        HeadingItem(heading="Weekly pushes"),
        QuestionItem(question="weekly-recommendations"),
        QuestionItem(question="daily-recommendations", size="wide"),
        TextItem(text="Bars under the goal line mean the recommender missed its week."),
    ]
    assert board.questions == ["weekly-recommendations", "daily-recommendations"]
    email, slack = board.subscriptions
    assert email.schedule == SubscriptionWeeklySchedule(every="week", on="monday", at="08:00")
    assert (email.email, email.slack, email.skip_if_empty) == (["pm@example.com"], [], False)
    assert (slack.email, slack.slack) == ([], ["#ml-alerts"])
    assert decls.dashboards_by_key() == {"recommender-health": board}


def test_dashboard_fields_are_located_by_key_and_path() -> None:
    decls = load_text(ISSUE_EXAMPLE, "recommender.yaml")
    first = ISSUE_EXAMPLE.splitlines().index("  - key: recommender-health              "
                                             "# identity, like a question key") + 1
    assert str(decls.locate_dashboard("recommender-health")) == f"recommender.yaml:{first}"
    assert decls.locate_dashboard("recommender-health", "name").line == first + 1
    assert decls.locate_dashboard("recommender-health", "cards[0]").line == first + 6
    assert decls.locate_dashboard("recommender-health", "cards[2].size").line == first + 8
    assert decls.locate_dashboard("recommender-health", "subscriptions[1].slack[0]").line == (
        first + 14)
    # a field left to its default: the line of the element that would hold it
    assert decls.locate_dashboard("recommender-health", "subscriptions[1].skip_if_empty").line \
        == first + 13
    with pytest.raises(KeyError):
        decls.locate_dashboard("weekly-recommendations")  # a question's key, not a dashboard's


def test_a_dashboard_may_share_its_key_with_a_question() -> None:
    decls = load_text(QUESTIONS + "dashboards:\n  - {key: weekly-recommendations, name: W, "
                      "cards: [weekly-recommendations]}\n", "f.yaml")
    assert decls.locate_dashboard("weekly-recommendations").line == 13
    assert decls.locate("weekly-recommendations").line == 2


def test_sizes_presets_and_explicit() -> None:
    decls = load_text(dashboard("""\
        width: full
        cards:
          - {question: weekly-recommendations, size: [24, 48]}
          - {question: daily-recommendations, size: small}
          - {text: note, size: [1, 1]}
    """))
    cards = decls.dashboards[0].cards
    assert [getattr(c, "size", None) for c in cards] == [(24, 48), "small", (1, 1)]
    assert decls.dashboards[0].width == "full"


@pytest.mark.parametrize(("size", "field", "fragment"), [
    ("[25, 6]", "size[0]", "width 25 is out of range: 1 to 24 columns"),
    ("[0, 6]", "size[0]", "width 0 is out of range"),
    ("[12, 0]", "size[1]", "height 0 is out of range: 1 to 48 rows"),
    ("[12, 49]", "size[1]", "height 49 is out of range"),
    ("[12]", "size", "expected [width, height] with two whole numbers"),
    ("[12, 6.5]", "size", "expected [width, height] with two whole numbers"),
    ("[true, 6]", "size", "expected [width, height] with two whole numbers"),
    ("wdie", "size", "unknown size 'wdie'; did you mean 'wide'?"),
    ("12", "size", "expected small, medium, wide, full or [width, height], got an integer"),
])
def test_a_bad_size_is_located(size: str, field: str, fragment: str) -> None:
    p = only(problems(dashboard(f"cards:\n  - {{question: weekly-recommendations, "
                                f"size: {size}}}\n")))
    assert (p.file, p.line) == ("dash.yaml", 16)
    assert p.field == f"dashboards[0].cards[0].{field}"
    assert fragment in p.message and p.message.startswith("dashboard 'd': ")


@pytest.mark.parametrize(("item", "field", "fragment"), [
    ("{heading: H, size: wide}", "cards[0].size", "a heading takes no size"),
    ("{question: daily-recommendations, heading: H}", "cards[0]",
     "give one of question, heading or text, not question and heading"),
    ("{qestion: daily-recommendations}", "cards[0].qestion",
     "unknown field 'qestion'; did you mean 'question'?"),
    ("{size: wide}", "cards[0]", "missing 'question', 'heading' or 'text'"),
    ("{text: hi, colour: red}", "cards[0].colour", "unknown field 'colour' in a text item"),
    ("{question: daily-recommendations, sise: wide}", "cards[0].sise",
     "unknown field 'sise' in a question item; did you mean 'size'?"),
    ("{heading: '  '}", "cards[0].heading", "must not be blank"),
    ("Daily_Recs", "cards[0]", "invalid key 'Daily_Recs'"),
    ("3", "cards[0]", "expected a question key, {question: key, size: ...}, {heading: ...} or "
     "{text: ...}, got an integer"),
    ("", "cards[0]", "got an empty value"),
])
def test_a_bad_item_is_located(item: str, field: str, fragment: str) -> None:
    p = only(problems(dashboard(f"cards:\n  - {item}\n")))
    assert (p.line, p.field) == (16, f"dashboards[0].{field}")
    assert fragment in p.message


def test_a_question_that_is_not_declared_lists_the_declared_ones() -> None:
    p = only(problems(dashboard("cards: [weekly-recommendations, weekly-recomendations]\n")))
    assert (p.line, p.field) == (15, "dashboards[0].cards[1]")
    assert p.message == (
        "dashboard 'd': 'weekly-recomendations' is not the key of a declared question; did you "
        "mean 'weekly-recommendations'?; declared questions: daily-recommendations, "
        "weekly-recommendations")


def test_questions_of_other_files_count(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(QUESTIONS, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(
        "dashboards:\n  - key: d\n    name: D\n    cards: [daily-recommendations]\n",
        encoding="utf-8")
    assert load_declarations([tmp_path]).dashboards[0].questions == ["daily-recommendations"]


def test_duplicate_dashboard_keys_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(QUESTIONS + "dashboards:\n  - {key: d, name: D}\n",
                                     encoding="utf-8")
    (tmp_path / "b.yaml").write_text("dashboards:\n  - key: other\n    name: O\n  - key: d\n"
                                     "    name: Again\n", encoding="utf-8")
    with pytest.raises(DeclarationError) as info:
        load_declarations([tmp_path])
    p = only(info.value.problems)
    assert (p.file, p.line, p.field) == (str(tmp_path / "b.yaml"), 4, "dashboards[1].key")
    assert p.message == f"duplicate dashboard key 'd': already declared at {tmp_path / 'a.yaml'}:13"


def test_the_same_question_twice_on_one_dashboard() -> None:
    p = only(problems(dashboard("""\
        cards:
          - weekly-recommendations
          - {heading: Again}
          - {question: weekly-recommendations, size: small}
    """)))
    assert (p.line, p.field) == (18, "dashboards[0].cards[2]")
    assert "'weekly-recommendations' is already on this dashboard, at cards[0]" in p.message


def test_dashboard_fields_are_checked() -> None:
    found = problems(QUESTIONS + """\
dashboards:
  - key: Bad_Key
    name: "  "
    collection: /Health
    widht: full
    width: wide
""")
    assert [(p.line, p.field) for p in found] == [
        (13, "dashboards[0].key"), (14, "dashboards[0].name"), (15, "dashboards[0].collection"),
        (16, "dashboards[0].widht"), (17, "dashboards[0].width")]
    messages = [p.message for p in found]
    assert "invalid key 'Bad_Key'" in messages[0]
    assert messages[1].endswith("must not be blank")
    assert "empty segment" in messages[2]
    assert messages[3].endswith("unknown field 'widht' in a dashboard; did you mean 'width'?")
    assert "expected one of fixed, full; got 'wide'" in messages[4]


def test_a_missing_name_and_a_non_list_of_cards() -> None:
    found = problems(QUESTIONS + "dashboards:\n  - key: d\n    cards: weekly-recommendations\n")
    assert [(p.line, p.field, p.message) for p in found] == [
        (13, "dashboards[0].name", "dashboard 'd': required field 'name' is missing"),
        (14, "dashboards[0].cards", "dashboard 'd': expected a list, got a string "
                                     "('weekly-recommendations')"),
    ]


@pytest.mark.parametrize(("schedule", "field", "fragment"), [
    ('{every: week, on: monday, at: "08:30"}', "schedule.at",
     "subscriptions send at whole hours: '08:30' has minutes"),
    ('{every: day, at: "8:15"}', "schedule.at", "use '08:00'"),
    ("{every: hour, minute: 5}", "schedule.minute", "minute 5 is not 0"),
    ('{cron: "0 0 8 * * ?"}', "schedule.cron", "a subscription takes no cron"),
    ('{every: month, on: 3rd, at: "08:00"}', "schedule.on",
     "on the first, the 15th or the last day only"),
    ('{every: minute}', "schedule.every", "expected one of hour, day, week, month"),
    ('{at: "08:00"}', "schedule", "missing 'every' (hour, day, week or month): expected"),
    ('{every: week, at: "08:00"}', "schedule.on", "required field 'on' is missing"),
    ('{every: day, at: "25:00"}', "schedule.at", "invalid time '25:00'"),
    ('{every: day, at: "08:00", on: monday}', "schedule.on", "'on' does not apply to a daily"),
    ("weekly", "schedule", "expected a mapping such as {every: day, at: '09:00'}, got a string"),
])
def test_a_subscription_schedule_is_hourly_daily_weekly_or_monthly_at_whole_hours(
    schedule: str, field: str, fragment: str
) -> None:
    p = only(problems(dashboard(f"cards: [weekly-recommendations]\nsubscriptions:\n"
                                f"  - schedule: {schedule}\n    email: [pm@example.com]\n")))
    assert (p.line, p.field) == (17, f"dashboards[0].subscriptions[0].{field}")
    assert fragment in p.message
    assert "cron" not in p.message or "takes no cron" in p.message


@pytest.mark.parametrize(("schedule", "expected"), [
    ("{every: hour}", {"schedule_type": "hourly", "schedule_hour": None}),
    ("{every: hour, minute: 0}", {"schedule_type": "hourly"}),
    ('{every: day, at: "7:00"}', {"schedule_type": "daily", "schedule_hour": 7}),
    ('{every: week, on: sunday, at: "23:00"}',
     {"schedule_type": "weekly", "schedule_hour": 23, "schedule_day": "sun"}),
    ('{every: month, on: 15th, at: "06:00"}',
     {"schedule_type": "monthly", "schedule_frame": "mid", "schedule_day": None}),
    ('{every: month, on: last, at: "00:00"}', {"schedule_frame": "last", "schedule_hour": 0}),
])
def test_accepted_schedules_become_pulse_channel_fields_and_back(
    schedule: str, expected: dict[str, object]
) -> None:
    decls = load_text(dashboard(f"cards: [weekly-recommendations]\nsubscriptions:\n"
                                f"  - schedule: {schedule}\n    slack: ['#ops']\n"))
    declared = decls.dashboards[0].subscriptions[0].schedule
    fields = pulse_schedule(declared)
    assert expected.items() <= fields.items()
    back = schedule_from_pulse(fields)
    assert back is not None and pulse_schedule(back) == fields


def test_a_monthly_schedule_on_a_weekday_has_no_declaration_form() -> None:
    assert schedule_from_pulse({"schedule_type": "monthly", "schedule_hour": 8,
                                "schedule_frame": "first", "schedule_day": "mon"}) is None
    assert pulse_schedule(SubscriptionMonthlySchedule(every="month", on="first", at="08:00"))[
        "schedule_frame"] == "first"


def test_subscription_recipients() -> None:
    found = problems(dashboard("""\
        cards: [weekly-recommendations]
        subscriptions:
          - schedule: {every: day, at: "08:00"}
          - schedule: {every: day, at: "08:00"}
            email: [pm@example.com, PM@example.com]
            slack: ["#ml", "#ml"]
            groups: [Admins]
          - schedule: {every: day, at: "09:00"}
            email: [not-an-address]
            slack: [ml-alerts]
          - schedule: {every: day, at: "10:00"}
            slack: ["#ops"]
            skip_if_empty: yes
    """))
    assert [(p.line, p.field) for p in found] == [
        (17, "dashboards[0].subscriptions[0]"),
        (20, "dashboards[0].subscriptions[1].slack[1]"),
        (21, "dashboards[0].subscriptions[1].groups"),
        (23, "dashboards[0].subscriptions[2].email[0]"),
        (24, "dashboards[0].subscriptions[2].slack[0]"),
        (27, "dashboards[0].subscriptions[3].skip_if_empty"),
    ]
    assert "subscription has no recipient: give at least one of email, slack" in found[0].message
    assert "'#ml' is listed twice" in found[1].message
    assert "unknown field 'groups' in a subscription" in found[2].message
    assert "invalid email address" in found[3].message
    assert "invalid Slack channel 'ml-alerts'" in found[4].message
    assert "expected true or false, got a string ('yes')" in found[5].message


def test_an_address_twice_in_other_case_and_a_repeated_send() -> None:
    found = problems(dashboard("""\
        cards: [weekly-recommendations]
        subscriptions:
          - schedule: {every: week, on: monday, at: "08:00"}
            email: [pm@example.com, PM@example.com]
          - schedule: {every: week, on: monday, at: "8:00"}
            email: [Pm@Example.com]
            slack: ["#ml"]
    """))
    assert [(p.line, p.field) for p in found] == [
        (18, "dashboards[0].subscriptions[0].email[1]"),
        (20, "dashboards[0].subscriptions[1].email[0]"),
    ]
    assert "compared without case" in found[0].message
    assert "'pm@example.com' already gets this dashboard at the same time from " \
           "subscriptions[0]" in found[1].message


def test_a_subscription_needs_a_question_on_the_dashboard() -> None:
    p = only(problems(dashboard("""\
        cards: [{heading: Only words}, {text: here}]
        subscriptions:
          - schedule: {every: day, at: "08:00"}
            email: [pm@example.com]
    """)))
    assert (p.line, p.field) == (16, "dashboards[0].subscriptions")
    assert "Metabase refuses a subscription without cards" in p.message


def test_every_problem_of_every_dashboard_at_once() -> None:
    found = problems(QUESTIONS + """\
dashboards:
  - key: one
    name: One
    cards: [nope, {question: weekly-recommendations, size: [30, 1]}]
  - key: two
    name: Two
    cards: [nope]
    subscriptions:
      - schedule: {every: day, at: "08:00"}
  - key: three
    name: Three
    cards: [also-nope]
""")
    # an invalid dashboard's question keys are checked too
    assert [(p.line, p.field) for p in found] == [
        (15, "dashboards[0].cards[1].size[0]"),
        (15, "dashboards[0].cards[0]"),
        (18, "dashboards[1].cards[0]"),
        (20, "dashboards[1].subscriptions[0]"),
        (23, "dashboards[2].cards[0]"),
    ]
