"""Core rules a plausible one-line bug would break: marker, goal removal, pairing, thresholds.

Each test here was written against a planted bug (docs/testing.md lists them) and fails with it.
"""

from __future__ import annotations

import pytest

from metabase_guard.errors import UnsafePlanError
from metabase_guard.evaluation import format_number
from metabase_guard.reconcile.diff import card_change_deletes_alerts
from metabase_guard.reconcile.identity import compose_description, managed_key, user_description
from metabase_guard.reconcile.plan import Change, Plan, Thresholds
from tests.reconcile.test_plan_pure import (
    YAML,
    live_state,
    managed_alert,
    managed_card,
    plan_for,
)

# -- identity ----------------------------------------------------------------------------------


def test_the_last_marker_in_a_description_counts() -> None:
    # a user who quotes another card's marker in the text must not move the card to that key
    quoted = compose_description("Copied from [metabase-guard: old-key] last year.", "new-key")
    assert managed_key(quoted) == "new-key"
    assert managed_key("[metabase-guard: a] x\n[metabase-guard: b-2] y") == "b-2"
    assert managed_key("") is None
    assert managed_key("[metabase-guard: Not_A_Key] x") is None


def test_user_description_drops_only_the_marker_line() -> None:
    text = compose_description("Line one.\nLine two.", "k")
    assert user_description(text) == "Line one.\nLine two."
    assert user_description(compose_description(None, "k")) in (None, "")
    assert user_description(None) is None


# -- Metabase's card-save side effect ------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "removed"),
    [
        ({"graph.goal_value": 2400}, {}, True),
        ({"graph.goal_value": 2400}, {"graph.goal_value": None}, True),
        ({"graph.goal_value": 0}, {"graph.goal_value": False}, True),  # 0 is truthy in Clojure
        ({"graph.goal_value": 2400}, {"graph.goal_value": 0}, False),
        ({"graph.goal_value": 2400}, {"graph.goal_value": 10}, False),
        ({}, {}, False),
        ({"graph.goal_value": None}, {}, False),
        ({"graph.goal_value": False}, {}, False),
    ],
)
def test_removing_the_goal_line_is_detected(old: dict[str, object], new: dict[str, object],
                                            removed: bool) -> None:
    reason = card_change_deletes_alerts("bar", "bar", old, new)
    assert (reason == "the goal line is removed") is removed
    assert reason is None or removed


def test_a_display_change_within_a_family_keeps_alerts() -> None:
    assert card_change_deletes_alerts("bar", "line", {}, {}) is None
    assert card_change_deletes_alerts("bar", "table", {}, {}) == (
        "the display changes from bar to table")


def test_a_plan_that_drops_the_goal_says_metabase_deletes_the_alerts() -> None:
    no_goal = (YAML.replace("    goal: {value: 2400, label: Minimum per week}\n", "")
               .replace("when: below_goal", "when: has_rows"))
    alert = managed_alert()
    plan = plan_for(live_state([managed_card()], [alert]), no_goal)
    card = next(c for c in plan.changes if c.kind == "card")
    assert any("the goal line is removed" in e and "Metabase deletes all 1 active alert" in e
               for e in card.effects), card.effects
    # the alert Metabase deletes is recreated, not updated in place
    assert [(c.action, c.kind) for c in plan.changes if c.kind == "alert"] == [
        ("create", "alert")]


# -- pairing declared alerts with live ones ------------------------------------------------------


def test_an_active_live_alert_is_paired_before_an_inactive_twin() -> None:
    # two equal live alerts of ours: the older one was deactivated; the active one is kept
    inactive, active = managed_alert(nid=20, active=False), managed_alert(nid=21)
    live = live_state([managed_card()], [inactive, active])
    kept = plan_for(live)
    assert kept.is_empty, [c.to_dict() for c in kept.changes]
    assert kept.pending_deletes == ()  # an inactive leftover is already off: nothing to prune
    assert plan_for(live, prune=True).is_empty


def test_among_equal_candidates_the_oldest_is_paired() -> None:
    live = live_state([managed_card()], [managed_alert(nid=31), managed_alert(nid=30)])
    assert [c.live_id for c in plan_for(live).pending_deletes] == [31]


# -- thresholds ----------------------------------------------------------------------------------


def _plan(existing: int, **counts: int) -> Plan:
    changes = [Change(action=action, kind="card", address=f"card {action}-{i}")  # type: ignore[arg-type]
               for action, n in counts.items() for i in range(n)]
    return Plan.build(url="http://mb", version="v0.61.2", timezone="UTC", changes=changes,
                      existing=existing)


@pytest.mark.parametrize("action", ["update", "delete"])
def test_the_share_threshold_is_exclusive_at_thirty_percent(action: str) -> None:
    _plan(10, **{action: 3}).raise_if_unsafe(Thresholds())  # 30 %: allowed
    with pytest.raises(UnsafePlanError, match=rf"{action} 4 of 10 managed objects \(40%"):
        _plan(10, **{action: 4}).raise_if_unsafe(Thresholds())


def test_under_ten_managed_objects_no_threshold_applies() -> None:
    _plan(9, delete=9, update=9).raise_if_unsafe(Thresholds())
    with pytest.raises(UnsafePlanError):
        _plan(10, delete=9).raise_if_unsafe(Thresholds())
    _plan(10, delete=9).raise_if_unsafe(Thresholds(min_existing=11))


def test_creates_never_count_against_the_thresholds() -> None:
    _plan(10, create=50).raise_if_unsafe(Thresholds())
    with pytest.raises(UnsafePlanError, match="delete"):
        _plan(10, update=3, delete=5).raise_if_unsafe(Thresholds(max_update_share=0.3))


# -- numbers in reasons --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (-1234.5, "-1,234.5"),
        (-0.25, "-0.25"),
        (1234.5, "1,234.5"),
        (-2400.0, "-2,400"),
        (-7, "-7"),
        (1234567, "1,234,567"),
        (0.1, "0.1"),
    ],
)
def test_reason_numbers_keep_their_sign_and_separators(value: float, text: str) -> None:
    assert format_number(value) == text
