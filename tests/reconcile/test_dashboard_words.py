"""The dashboard kind's words and pure rules, whole: items, layout phrases, claims, effects.

No server: the comparisons and messages of ``reconcile/dashboards.py`` on hand-built dashcards
and snapshots, pinned word for word (a mutation review found them checked only in part).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from metabase_guard.api.models import Card, Dashboard, Dashcard, Pulse
from metabase_guard.errors import ResolveError
from metabase_guard.reconcile.dashboards import (
    DesiredItem,
    _audience_effect,
    _match,
    _missing_card,
    _short,
    dashboard_claims,
    item_of_dashcard,
    layout_phrase,
)
from metabase_guard.reconcile.identity import compose_description
from metabase_guard.reconcile.kind import Defaults
from metabase_guard.reconcile.live import LiveState
from metabase_guard.reconcile.plan import Change, Plan
from metabase_guard.reconcile.walk import make_plan, resolve
from metabase_guard.spec.layout import Placement
from metabase_guard.spec.loader import load_text
from tests.reconcile.test_plan_pure import ME, PM, YAML, live_state, managed_alert, managed_card

KEY = "recommender-health"


def _item(display: str, content: str, row: int = 0, col: int = 0, x: int = 12,
          y: int = 6) -> DesiredItem:
    return DesiredItem(display, content, Placement(row, col, x, y))


def _dashcard(dashcard_id: int, card_id: int | None = None, row: int = 0, col: int = 0,
              **extra: Any) -> Dashcard:
    return Dashcard.model_validate({"id": dashcard_id, "card_id": card_id, "row": row,
                                    "col": col, "size_x": 12, "size_y": 6, **extra})


def _dash(dash_id: int, creator: int | None = ME.id, archived: bool = False,
          key: str = KEY) -> Dashboard:
    return Dashboard.model_validate({
        "id": dash_id, "name": "Recommender health", "creator_id": creator,
        "archived": archived, "description": compose_description(None, key)})


def test_item_words_for_a_question_a_heading_and_a_text() -> None:
    card = _item("card", "weekly-recommendations", 1, 0, 12, 6)
    assert card.what() == "weekly-recommendations"
    assert card.place_words() == "row 1 col 0, 12x6"
    assert card.describe() == "weekly-recommendations at row 1, col 0, 12x6"
    heading = _item("heading", "Weekly pushes", 0, 3, 24, 1)
    assert heading.what() == "heading 'Weekly pushes'"
    assert heading.describe() == "heading 'Weekly pushes' at row 0, col 3, 24x1"
    long = "x" * 45
    text = _item("text", long)
    assert text.what() == f"text '{'x' * 39}…'"
    assert text.describe() == f"text '{long}' at row 0, col 0, 12x6"  # never shortened


def test_short_keeps_forty_characters_and_cuts_the_forty_first() -> None:
    assert _short("y" * 40) == "y" * 40
    assert _short("y" * 41) == "y" * 39 + "…"
    assert _short("abcdef", limit=4) == "abc…"


def test_item_of_dashcard_reads_cards_headings_texts_and_unknown_cards() -> None:
    keys = {10: "weekly-recommendations"}
    card = item_of_dashcard(_dashcard(5, 10, row=2, col=12), keys)
    assert card == _item("card", "weekly-recommendations", 2, 12)
    assert item_of_dashcard(_dashcard(6, 99), keys).content == "card #99"
    heading = _dashcard(7, visualization_settings={
        "virtual_card": {"display": "heading"}, "text": "Weekly pushes"})
    assert item_of_dashcard(heading, keys) == _item("heading", "Weekly pushes")
    bare = _dashcard(8, visualization_settings={"virtual_card": {"display": None}})
    assert item_of_dashcard(bare, keys) == _item("text", "")
    assert item_of_dashcard(_dashcard(9), keys) == _item("text", "")


def test_match_keeps_same_content_first_then_same_display_in_reading_order() -> None:
    live = [
        (_dashcard(33, row=9), _item("text", "old words", 9)),
        (_dashcard(31, row=0), _item("heading", "Pushes", 0)),
        (_dashcard(32, 10, row=1), _item("card", "weekly", 1)),
        (_dashcard(30, row=5), _item("text", "kept words", 5)),
        (_dashcard(34, 11, row=7), _item("card", "other", 7)),
    ]
    desired = [_item("heading", "Renamed"), _item("card", "daily"), _item("text", "new"),
               _item("text", "kept words"), _item("card", "weekly")]
    got = _match(desired, live)
    assert [m[0].id if m else None for m in got] == [31, None, 33, 30, 32]


def test_match_takes_the_free_dashcards_by_row_col_then_id() -> None:
    live = [(_dashcard(41, row=3, col=0), _item("text", "a", 3, 0)),
            (_dashcard(40, row=3, col=0), _item("text", "b", 3, 0)),
            (_dashcard(39, row=3, col=6), _item("text", "c", 3, 6)),
            (_dashcard(38, row=4, col=0), _item("text", "d", 4, 0))]
    got = _match([_item("text", "x"), _item("text", "y"), _item("text", "z"),
                  _item("text", "w")], live)
    assert [m[0].id if m else None for m in got] == [40, 41, 39, 38]


def test_layout_phrases_for_each_kind_of_edit() -> None:
    old = _item("card", "weekly", 1, 0, 12, 6)
    assert layout_phrase(old, _item("card", "weekly", 7, 0, 12, 6)) == (
        "moved weekly (row 1 col 0 -> row 7 col 0)")
    assert layout_phrase(old, _item("card", "weekly", 1, 6, 12, 6)) == (
        "moved weekly (row 1 col 0 -> row 1 col 6)")
    assert layout_phrase(old, _item("card", "weekly", 1, 0, 18, 6)) == (
        "resized weekly (12x6 -> 18x6)")
    assert layout_phrase(old, _item("card", "weekly", 1, 0, 12, 8)) == (
        "resized weekly (12x6 -> 12x8)")
    assert layout_phrase(old, _item("card", "weekly", 7, 0, 24, 6)) == (
        "moved and resized weekly (row 1 col 0, 12x6 -> row 7 col 0, 24x6)")
    text = _item("text", "Old words", 2, 0, 24, 2)
    assert layout_phrase(text, _item("text", "New words", 2, 0, 24, 2)) == (
        "edited text 'Old words' -> 'New words'")
    assert layout_phrase(text, _item("text", "New words", 3, 0, 24, 3)) == (
        "edited text 'Old words' -> 'New words', moved and resized "
        "(row 2 col 0, 24x2 -> row 3 col 0, 24x3)")
    assert layout_phrase(text, _item("text", "N" * 50, 4, 0, 24, 2)) == (
        f"edited text 'Old words' -> '{'N' * 39}…', moved (row 2 col 0 -> row 4 col 0)")
    assert layout_phrase(text, _item("text", "New", 2, 0, 12, 2)) == (
        "edited text 'Old words' -> 'New', resized (24x2 -> 12x2)")
    assert layout_phrase(text, text) == ""


def test_missing_card_words_for_an_archived_card_and_for_none() -> None:
    live = live_state()
    assert _missing_card("gone", live) == (
        "question 'gone' is not declared here and has no card in Metabase; declare it or "
        "remove the item")
    live.archived_cards = [Card.model_validate({
        "id": 77, "name": "Gone", "archived": True, "creator_id": ME.id,
        "description": compose_description(None, "gone")})]
    assert _missing_card("gone", live) == (
        "question 'gone' is card #77, which is archived (in the Trash), and these declarations "
        "do not declare it, so it would not be restored; Metabase refuses archived cards on a "
        "dashboard: declare the question or remove the item")


def _pulse(pulse_id: int, dashboard_id: int, channels: list[dict[str, Any]]) -> Pulse:
    return Pulse.model_validate({"id": pulse_id, "dashboard_id": dashboard_id,
                                 "creator_id": ME.id, "channels": channels})


def test_audience_effect_names_whom_the_subscriptions_sent_to() -> None:
    live = live_state()
    dash = _dash(40)
    cite = ("Metabase deletes every subscription of this dashboard when it is archived "
            "(src/metabase/dashboards/models/dashboard.clj): ")
    assert _audience_effect(dash, live) == cite + "it has none now"
    live.pulses = [
        _pulse(60, 40, [{"channel_type": "email", "recipients": [{"email": "pm@example.com"}]}]),
        _pulse(61, 40, [{"channel_type": "slack", "details": {"channel": "#ml-alerts"}},
                        {"channel_type": "email", "recipients": [{"email": "pm@example.com"}]}]),
        _pulse(62, 41, [{"channel_type": "email", "recipients": [{"email": "x@example.com"}]}]),
    ]
    assert _audience_effect(dash, live) == (
        cite + "its 2 subscription(s) stop sending to #ml-alerts, pm@example.com")
    live.pulses = [_pulse(63, 40, [{"channel_type": "slack", "details": {}}])]
    assert _audience_effect(dash, live) == cite + "its subscriptions stop sending"


def test_claims_keep_our_oldest_live_dashboard_and_name_the_copies() -> None:
    live = live_state()
    live.dashboards = [_dash(45), _dash(44, creator=PM.id), _dash(43)]
    live.archived_dashboards = [_dash(42, archived=True)]
    managed, left = dashboard_claims(live)
    assert {k: d.id for k, d in managed.items()} == {KEY: 43}
    assert [(u.address, u.reason) for u in left] == [
        ("dashboard #44", "carries the mark of 'recommender-health' but dashboard #43 is the "
         "managed one (a copy made in the UI?, created by pm@example.com); it is never changed: "
         "remove the mark from its description"),
        ("dashboard #45", "carries the mark of 'recommender-health' but dashboard #43 is the "
         f"managed one (a copy made in the UI?, created by {ME.email}); it is never changed: "
         "remove the mark from its description"),
    ]


def test_claims_adopt_the_oldest_when_none_is_ours_unless_it_is_in_the_trash() -> None:
    live = live_state()
    live.dashboards = [_dash(51, creator=PM.id), _dash(50, creator=9)]
    managed, left = dashboard_claims(live)
    assert managed[KEY].id == 50
    assert [u.address for u in left] == ["dashboard #51"]

    live.archived_dashboards = [_dash(49, creator=9, archived=True)]
    managed, left = dashboard_claims(live)
    assert managed == {}
    trash = ("carries the mark of 'recommender-health' (created by {who}), but dashboard #49, "
             "which had the mark first, is in the Trash: a copy never takes a dashboard over, "
             "so it is left alone and never changed (a declared 'recommender-health' gets a "
             "new dashboard). Restore #49 instead, or delete it from the Trash for good to make "
             "this one the managed dashboard, or remove the mark from this one")
    assert [(u.address, u.reason) for u in left] == [
        ("dashboard #50", trash.format(who="user #9 (an API key, or a deactivated user)")),
        ("dashboard #51", trash.format(who="pm@example.com")),
    ]


def test_claims_never_hand_a_key_to_a_copy_once_ours_is_in_the_trash() -> None:
    live = live_state()
    live.dashboards = [_dash(47, creator=PM.id)]
    live.archived_dashboards = [_dash(46, creator=PM.id, archived=True),
                                _dash(48, archived=True)]
    managed, left = dashboard_claims(live)
    assert managed == {}
    (only,) = left
    assert only.address == "dashboard #47"
    assert "but dashboard #48, which had the mark first, is in the Trash" in only.reason
    live.dashboards.append(_dash(52, key="other"))
    assert {k: d.id for k, d in dashboard_claims(live)[0].items()} == {"other": 52}


# -- the plan of a dashboard, on a hand-built snapshot ------------------------------------------

PLAN_YAML = YAML + """
dashboards:
  - key: recommender-health
    name: Recommender health
    collection: Health checks/Recommender
    description: Key metrics.
    cards:
      - heading: Weekly pushes
      - weekly-recommendations
"""


def _plan(live: LiveState, text: str = PLAN_YAML, prune: bool = False,
          defaults: Defaults | None = None) -> Plan:
    decls = load_text(text, "alerts/recommender.yaml")
    return make_plan(resolve(decls, live, defaults), live, url="http://mb", prune=prune)


def _ours(dash_id: int = 40, dashcards: list[dict[str, Any]] | None = None,
          **fields: Any) -> Dashboard:
    body: dict[str, Any] = {
        "id": dash_id, "name": "Recommender health", "collection_id": 6, "creator_id": ME.id,
        "description": compose_description("Key metrics.", KEY),
        "dashcards": dashcards if dashcards is not None else [
            {"id": 50, "row": 0, "col": 0, "size_x": 24, "size_y": 1,
             "visualization_settings": {"virtual_card": {"display": "heading"},
                                        "text": "Weekly pushes"}},
            {"id": 51, "card_id": 10, "row": 1, "col": 0, "size_x": 12, "size_y": 6}]}
    body.update(fields)
    return Dashboard.model_validate(body)


def _dash_changes(plan: Plan) -> list[Change]:
    return [c for c in plan.changes if c.kind == "dashboard"]


def test_a_dashboard_as_declared_plans_nothing_and_counts_as_existing() -> None:
    live = live_state([managed_card()], [managed_alert()])
    before = _plan(live).existing
    live.dashboards = [_ours(width="full")]  # width is compared only when declared
    plan = _plan(live)
    assert plan.is_empty, [c.to_dict() for c in plan.changes]
    assert plan.existing == before + 1


def test_a_new_dashboard_is_planned_with_its_fields_and_items() -> None:
    live = live_state([managed_card()], [managed_alert()])
    hand = Dashboard(id=41, name="Recommender health", description="made by Paula",
                     creator_id=PM.id)
    other = Dashboard(id=42, name="Another", description=None, creator_id=PM.id)
    marked = _dash(43, creator=PM.id, key="elsewhere").model_copy(update={"archived": False})
    live.dashboards = [hand, other, marked]
    plan = _plan(live)
    (change,) = _dash_changes(plan)
    assert (change.action, change.address, change.key) == (
        "create", "dashboard recommender-health", KEY)
    assert change.values == (
        ("name", "Recommender health"),
        ("description", compose_description("Key metrics.", KEY)),
        ("collection", "Health checks/Recommender"),
        ("cards", ["heading 'Weekly pushes' at row 0, col 0, 24x1",
                   "weekly-recommendations at row 1, col 0, 12x6"]))
    assert change.payload.dashcard_ids == (None, None) and change.payload.layout_changes
    assert change.payload.desired.collection_path == ("Health checks", "Recommender")
    assert [(u.address, u.reason) for u in plan.unmanaged if u.address == "dashboard #41"] == [
        ("dashboard #41", "has the name 'Recommender health' but no metabase-guard mark (made "
         "by hand): it is left alone and a new dashboard is created for 'recommender-health'")]
    assert not [u for u in plan.unmanaged if u.address == "dashboard #42"]
    assert [u.address for u in plan.unmanaged if "no metabase-guard mark" in u.reason] == [
        "dashboard #41"]
    wide = _plan(live, PLAN_YAML.replace("    description: Key",
                                         "    width: full\n    description: Key"))
    (change,) = _dash_changes(wide)
    assert [k for k, _ in change.values] == ["name", "description", "collection", "width",
                                             "cards"]
    assert dict(change.values)["width"] == "full"


def test_edits_to_a_managed_dashboard_are_field_changes_and_layout_phrases() -> None:
    live = live_state([managed_card()], [managed_alert()])
    live.dashboards = [_ours(
        name="Old name", description=compose_description("Older words.", KEY),
        collection_id=5, width="fixed",
        dashcards=[{"id": 51, "card_id": 10, "row": 3, "col": 0, "size_x": 12, "size_y": 6},
                   {"id": 53, "row": 9, "col": 0, "size_x": 24, "size_y": 2,
                    "visualization_settings": {"text": "Old note"}},
                   {"id": 52, "row": 8, "col": 0, "size_x": 24, "size_y": 2,
                    "visualization_settings": {"text": "Older note"}}])]
    plan = _plan(live, PLAN_YAML.replace("    description: Key",
                                         "    width: full\n    description: Key"))
    (change,) = _dash_changes(plan)
    assert (change.action, change.live_id, change.key) == ("update", 40, KEY)
    assert [(f.field, f.old, f.new, f.summary) for f in change.fields] == [
        ("name", "Old name", "Recommender health", ""),
        ("description", compose_description("Older words.", KEY),
         compose_description("Key metrics.", KEY), ""),
        ("collection", "Health checks", "Health checks/Recommender", ""),
        ("width", "fixed", "full", ""),
        ("cards", None, "heading 'Weekly pushes' at row 0, col 0, 24x1",
         "added heading 'Weekly pushes' at row 0 col 0, 24x1"),
        ("cards", "weekly-recommendations at row 3, col 0, 12x6",
         "weekly-recommendations at row 1, col 0, 12x6",
         "moved weekly-recommendations (row 3 col 0 -> row 1 col 0)"),
        ("cards", "text 'Older note' at row 8, col 0, 24x2", None,
         "removed text 'Older note' (dashcard #52)"),
        ("cards", "text 'Old note' at row 9, col 0, 24x2", None,
         "removed text 'Old note' (dashcard #53)"),
    ]
    assert change.payload.dashcard_ids == (None, 51) and change.payload.layout_changes


def test_a_field_edit_alone_writes_no_layout() -> None:
    live = live_state([managed_card()], [managed_alert()])
    live.dashboards = [_ours(name="Old name")]
    (change,) = _dash_changes(_plan(live))
    assert [f.field for f in change.fields] == ["name"]
    assert change.payload.dashcard_ids == (50, 51) and not change.payload.layout_changes


def test_hand_made_tabs_are_reported_and_the_layout_left_alone() -> None:
    live = live_state([managed_card()], [managed_alert()])
    live.dashboards = [_ours(name="Old name", tabs=[{"id": 1, "name": "A"}, {"id": 2}],
                             dashcards=[])]
    plan = _plan(live)
    (change,) = _dash_changes(plan)
    assert [f.field for f in change.fields] == ["name"]
    assert change.payload.dashcard_ids == (None, None) and not change.payload.layout_changes
    (tabs,) = [u for u in plan.unmanaged if u.address.startswith("tabs of")]
    assert (tabs.address, tabs.reason) == (
        "tabs of dashboard recommender-health",
        "dashboard #40 has 2 tab(s) made by hand: its cards are left as they are "
        "(metabase-guard lays out dashboards without tabs and does not flatten them); remove "
        "the tabs in Metabase to manage its layout")


def test_an_undeclared_dashboard_is_archived_with_prune_only_if_we_made_it() -> None:
    live = live_state([managed_card()], [managed_alert()])
    live.dashboards = [_ours(), _ours(44, creator_id=PM.id, collection_id=None,
                                      description=compose_description(None, "adopted"))]
    live.pulses = [Pulse.model_validate({
        "id": 60, "dashboard_id": 40, "creator_id": ME.id, "channels": [
            {"channel_type": "email", "recipients": [{"email": "pm@example.com"}]}]})]
    kept = _plan(live, YAML)
    assert [c.address for c in kept.pending_deletes] == ["dashboard recommender-health"]
    plan = _plan(live, YAML, prune=True)
    (gone,) = _dash_changes(plan)
    assert (gone.action, gone.address, gone.key, gone.live_id) == (
        "delete", "dashboard recommender-health", KEY, 40)
    assert gone.values == (("name", "Recommender health"),
                           ("collection", "Health checks/Recommender"))
    assert gone.effects == (
        "Metabase deletes every subscription of this dashboard when it is archived "
        "(src/metabase/dashboards/models/dashboard.clj): its 1 subscription(s) stop sending "
        "to pm@example.com",)
    (theirs,) = [u for u in plan.unmanaged if u.address == "dashboard #44"]
    assert "adopted" in theirs.reason and "pm@example.com" in theirs.reason
    # declared, the dashboard counts once too, and its pulse #60 with it
    assert plan.existing == kept.existing == _plan(live).existing - 1


def test_a_question_item_without_a_card_is_a_located_problem() -> None:
    live = live_state([managed_card()], [managed_alert()])
    decls = load_text(PLAN_YAML, "alerts/recommender.yaml")
    # the question is not among what is resolved (as with `--only`, or a split project)
    narrowed = replace(decls, questions=[])
    with pytest.raises(ResolveError) as caught:
        resolve(narrowed, live)
    (problem,) = caught.value.problems
    assert (problem.file, problem.field) == ("alerts/recommender.yaml", "cards[1]")
    assert problem.line == PLAN_YAML.splitlines().index("      - weekly-recommendations") + 1
    assert problem.message == ("dashboard 'recommender-health': question "
                               "'weekly-recommendations' is not declared here and has no card "
                               "in Metabase; declare it or remove the item")


def test_the_collection_joins_the_default_and_the_dashboards_own() -> None:
    live = live_state([managed_card()], [managed_alert()])
    own = "    collection: Health checks/Recommender\n    description: Key"
    plan = _plan(live, PLAN_YAML.replace(own, "    description: Key"))
    (change,) = _dash_changes(plan)
    assert dict(change.values)["collection"] == ""
    assert change.payload.desired.collection_path == ()
    plan = _plan(live, PLAN_YAML.replace(own, "    collection: Recommender\n    description: Key"),
                 defaults=Defaults(collection="Health checks"))
    (change,) = _dash_changes(plan)
    assert dict(change.values)["collection"] == "Health checks/Recommender"
    assert change.payload.desired.collection_path == ("Health checks", "Recommender")


def test_a_question_item_takes_the_default_size_of_its_display() -> None:
    live = live_state([managed_card()], [managed_alert()])
    scalar = ("  - key: total\n    name: Total\n    database: Warehouse\n    sql: SELECT 1\n"
              "    display: scalar\n")
    text = PLAN_YAML.replace("\ndashboards:\n", "\n" + scalar + "dashboards:\n") + (
        "      - total\n")
    (change,) = _dash_changes(_plan(live, text))
    assert dict(change.values)["cards"][1:] == ["weekly-recommendations at row 1, col 0, 12x6",
                                                "total at row 1, col 12, 6x3"]


def test_claims_keep_none_when_ours_is_in_the_trash_and_the_oldest_is_a_live_copy() -> None:
    live = live_state()
    live.dashboards = [_dash(47, creator=PM.id)]
    live.archived_dashboards = [_dash(48, archived=True)]
    managed, left = dashboard_claims(live)
    assert managed == {}
    assert [u.address for u in left] == ["dashboard #47"]
    assert "but dashboard #48, which had the mark first, is in the Trash" in left[0].reason


SECOND = """
  - key: zz-second
    name: Second
    collection: Health checks/Recommender
    description: Key metrics.
    cards:
      - weekly-recommendations
"""


def test_every_declared_dashboard_is_diffed_after_a_new_one() -> None:
    live = live_state([managed_card()], [managed_alert()])
    second = _ours(41, name="Old second",
                   description=compose_description("Key metrics.", "zz-second"),
                   dashcards=[{"id": 60, "card_id": 10, "row": 0, "col": 0, "size_x": 12,
                               "size_y": 6}])
    live.dashboards = [second]
    plan = _plan(live, PLAN_YAML + SECOND)
    assert [(c.action, c.address) for c in _dash_changes(plan)] == [
        ("create", "dashboard recommender-health"), ("update", "dashboard zz-second")]


def test_every_undeclared_dashboard_of_ours_is_retired_and_counted_once() -> None:
    live = live_state([managed_card()], [managed_alert()])
    gone = _ours(41, description=compose_description(None, "zz-gone"))
    live.dashboards = [_ours(), gone]
    declared = _plan(live, PLAN_YAML + SECOND.replace("zz-second", "zz-gone"))
    plan = _plan(live, prune=True)
    assert [(c.action, c.address) for c in _dash_changes(plan)] == [
        ("delete", "dashboard zz-gone")]
    assert plan.existing == declared.existing
