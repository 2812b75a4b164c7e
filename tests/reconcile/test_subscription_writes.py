"""What apply sends for subscriptions when the dashboard is not as planned or not ours to lay out.

Over HTTP against the sandbox, bodies read from its log: a dashboard with tabs made by hand
(its layout is left alone, so a create attaches only the declared questions found on it and
an update sends no cards), a question card removed from the dashboard between plan and apply,
and the look-up after a create whose answer was lost, which must take only a pulse this create
could have made (on this dashboard, by this user, not there at plan time, same channel and
recipients).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from metabase_guard import engine
from metabase_guard.api.client import MetabaseClient
from metabase_guard.errors import ApplyError
from metabase_guard.reconcile.subscriptions import DesiredSubscription
from metabase_guard.sandbox import Sandbox
from metabase_guard.sandbox.server import serve
from tests.reconcile.test_dashboard_bodies import Recording, _bodies, _card_ids
from tests.reconcile.test_subscriptions import (
    PM_KEY,
    SUBSCRIPTIONS,
    _dashboard_id,
    _plan_apply,
    _sandbox,
    _write,
    dashboard_yaml,
    pm_seed,
)

#: a third subscription, e-mailed to someone who is not a Metabase user
TO_OPS = ('      - schedule: {every: day, at: "07:00"}\n'
          "        email: [ops@example.com]\n")
ONE = "      - weekly-recommendations\n"
BOTH = "      - weekly-recommendations\n      - daily-recommendations\n"


def _cells(client: MetabaseClient, dash_id: int, **extra: Any) -> list[dict[str, Any]]:
    """The dashboard's dashcards as a PUT sends them back."""
    return [{"id": d.id, "card_id": d.card_id, "row": d.row, "col": d.col,
             "size_x": d.size_x, "size_y": d.size_y,
             "visualization_settings": d.visualization_settings, **extra}
            for d in client.dashboards.get(dash_id).dashcards]


def _tabs_by_hand(client: MetabaseClient, dash_id: int) -> None:
    """One tab made in the UI, every dashcard on it: the layout is no longer managed."""
    client.dashboards.update(dash_id, {"tabs": [{"id": -1, "name": "Mine"}],
                                       "dashcards": _cells(client, dash_id, dashboard_tab_id=-1)})
    assert len(client.dashboards.get(dash_id).tabs) == 1


@contextmanager
def _applied(sb: Sandbox, tmp_path: Path, text: str | None = None, *, tabs: bool = False
             ) -> Iterator[tuple[MetabaseClient, MetabaseClient, int, dict[str, int]]]:
    """``text`` applied (the issue's dashboard by default), tabs then made by hand if asked:
    metabase-guard's client, pm's, the dashboard id and the card id of each question key."""
    with (serve(sb) as server,
          MetabaseClient(server.url, api_key=sb.admin_api_key) as client,
          MetabaseClient(server.url, api_key=PM_KEY) as pm):
        _plan_apply(_write(tmp_path, text), client)
        dash_id = _dashboard_id(client)
        if tabs:
            _tabs_by_hand(client, dash_id)
        yield client, pm, dash_id, _card_ids(client)


def _ref(client: MetabaseClient, dash_id: int, card_id: int) -> dict[str, Any]:
    (shown,) = [d.id for d in client.dashboards.get(dash_id).dashcards if d.card_id == card_id]
    return {"id": card_id, "dashboard_card_id": shown, "include_csv": False,
            "include_xls": False}


def test_on_hand_made_tabs_an_update_sends_no_cards_so_attachment_settings_stay(
    tmp_path: Path,
) -> None:
    """Metabase writes the cards of a PUT that has them anew, each with ``card->ref``'s
    defaults (src/metabase/pulse/models/pulse.clj, ``update-notification!``), so sending the
    pulse's refs back would reset a ``format_rows`` set by hand; without ``cards`` they stay."""
    sb = Recording(pm_seed())
    with _applied(sb, tmp_path, dashboard_yaml(ONE), tabs=True) as (client, _, dash_id, cards):
        (email,) = [p for p in client.pulses.list(dashboard_id=dash_id)
                    if p.channels[0].channel_type == "email"]
        weekly = cards["weekly-recommendations"]
        # in the UI: a CSV attached, with unformatted values
        client.pulses.update(email.id, {
            "cards": [{**_ref(client, dash_id, weekly), "include_csv": True,
                       "format_rows": False}],
            "archived": False, "skip_if_empty": False})
        before = {p.id: p.cards for p in client.pulses.list(dashboard_id=dash_id)}
        assert before[email.id][0]["format_rows"] is False

        moved = dashboard_yaml(BOTH).replace('on: monday, at: "08:00"', 'on: tuesday, at: "09:00"')
        mark = len(sb.writes)
        result = _plan_apply(_write(tmp_path, moved), client)
        assert {c.action for c in result.plan.changes if c.kind == "subscription"} == {"update"}
        sent = _bodies(sb, mark, "PUT", "/api/pulse/")
        assert len(sent) == 2
        assert [sorted(body) for body in sent] == [
            ["archived", "channels", "name", "skip_if_empty"]] * 2
        assert {p.id: p.cards for p in client.pulses.list(dashboard_id=dash_id)} == before
        assert engine.plan(engine.load(_write(tmp_path, moved)), client).plan.is_empty



def test_an_update_sends_cards_only_to_change_them_and_keeps_their_formatting_set_by_hand(
    tmp_path: Path,
) -> None:
    """``format_rows`` and ``pivot_results`` are not declared: a schedule change sends no
    cards, and a change of cards sends the live ones back with their values as found, where
    Metabase would otherwise write its defaults (true, false) over them. (A question added to
    the dashboard is added to its subscriptions by Metabase itself, with the defaults.)"""
    sb = Recording(pm_seed())
    with _applied(sb, tmp_path, dashboard_yaml(ONE)) as (client, _, dash_id, cards):
        (email,) = [p for p in client.pulses.list(dashboard_id=dash_id)
                    if p.channels[0].channel_type == "email"]
        weekly, daily = cards["weekly-recommendations"], cards["daily-recommendations"]
        client.pulses.update(email.id, {  # in the UI: raw values, pivoted export
            "cards": [{**_ref(client, dash_id, weekly), "format_rows": False,
                       "pivot_results": True}],
            "archived": False, "skip_if_empty": False})

        def formatting() -> dict[int, tuple[bool, bool]]:
            return {r["id"]: (r["format_rows"], r["pivot_results"])
                    for r in client.pulses.get(email.id).cards}

        later = dashboard_yaml(ONE).replace('on: monday, at: "08:00"', 'on: tuesday, at: "09:00"')
        mark = len(sb.writes)
        _plan_apply(_write(tmp_path, later), client)
        sent = _bodies(sb, mark, "PUT", "/api/pulse/")
        assert len(sent) == 2 and not any("cards" in body for body in sent)
        assert formatting() == {weekly: (False, True)}

        more = later.replace(ONE, BOTH, 1)
        mark = len(sb.writes)
        result = _plan_apply(_write(tmp_path, more), client)
        assert {f.field for c in result.plan.changes if c.kind == "subscription"
                for f in c.fields} == {"cards"}
        sent = _bodies(sb, mark, "PUT", "/api/pulse/")
        assert len(sent) == 2 and all("cards" in body for body in sent)
        assert formatting() == {weekly: (False, True), daily: (True, False)}
        assert engine.plan(engine.load(_write(tmp_path, more)), client).plan.is_empty

        # a card taken off the e-mail by hand comes back with Metabase's defaults, while the
        # card that stayed keeps what was set on it
        client.pulses.update(email.id, {
            "cards": [{**_ref(client, dash_id, weekly), "format_rows": False,
                       "pivot_results": True}],
            "archived": False, "skip_if_empty": False})
        assert formatting() == {weekly: (False, True)}
        _plan_apply(_write(tmp_path, more), client)
        assert formatting() == {weekly: (False, True), daily: (True, False)}

def _ops_body(dash_id: int, refs: list[dict[str, Any]]) -> dict[str, Any]:
    """The POST of the TO_OPS subscription on the recommender dashboard."""
    channel = {"channel_type": "email", "enabled": True, "schedule_type": "daily",
               "schedule_hour": 7, "schedule_day": None, "schedule_frame": None,
               "details": {}, "recipients": [{"email": "ops@example.com"}]}
    return {"name": "Recommender health", "channels": [channel], "skip_if_empty": False,
            "cards": refs, "dashboard_id": dash_id, "parameters": []}


def test_on_hand_made_tabs_a_create_attaches_the_declared_questions_found_there(
    tmp_path: Path,
) -> None:
    sb = Recording(pm_seed())
    with _applied(sb, tmp_path, dashboard_yaml(ONE), tabs=True) as (client, _, dash_id, cards):
        weekly = cards["weekly-recommendations"]
        # daily-recommendations is declared but cannot be laid out on the tabs
        more = dashboard_yaml(BOTH, SUBSCRIPTIONS + TO_OPS)
        mark = len(sb.writes)
        result = _plan_apply(_write(tmp_path, more), client)
        assert [(c.action, c.address) for c in result.plan.changes] == [
            ("create", "subscription recommender-health email #3")]
        assert _bodies(sb, mark, "POST", "/api/pulse") == [
            _ops_body(dash_id, [_ref(client, dash_id, weekly)])]
        assert engine.plan(engine.load(_write(tmp_path, more)), client).plan.is_empty


def test_on_hand_made_tabs_a_question_taken_off_after_plan_is_skipped_not_the_rest(
    tmp_path: Path,
) -> None:
    sb = Recording(pm_seed())
    with _applied(sb, tmp_path, dashboard_yaml(BOTH), tabs=True) as (client, pm, dash_id, cards):
        weekly, daily = cards["weekly-recommendations"], cards["daily-recommendations"]
        more = dashboard_yaml(BOTH, SUBSCRIPTIONS + TO_OPS)
        planned = engine.plan(engine.load(_write(tmp_path, more)), client)
        (create,) = planned.plan.changes
        assert isinstance(create.payload, DesiredSubscription)
        assert create.payload.cards == ("weekly-recommendations", "daily-recommendations")

        # meanwhile, someone takes the first declared question off the tab
        pm.dashboards.update(dash_id, {
            "tabs": [{"id": t["id"], "name": t["name"]}
                     for t in client.dashboards.get(dash_id).tabs],
            "dashcards": [c for c in _cells(client, dash_id) if c["card_id"] != weekly]})
        mark = len(sb.writes)
        engine.apply(planned, client, force=True)
        assert _bodies(sb, mark, "POST", "/api/pulse") == [
            _ops_body(dash_id, [_ref(client, dash_id, daily)])]


def test_a_question_taken_off_the_dashboard_after_plan_fails_the_subscription_write(
    tmp_path: Path,
) -> None:
    """The plan puts back a card taken off the e-mail by hand; by apply, the question is off
    the dashboard too, so the PUT cannot attach it: the write fails and nothing changes."""
    sb = _sandbox()
    with _applied(sb, tmp_path) as (client, pm, dash_id, cards):
        weekly, daily = cards["weekly-recommendations"], cards["daily-recommendations"]
        (email,) = [p for p in client.pulses.list(dashboard_id=dash_id)
                    if p.channels[0].channel_type == "email"]
        client.pulses.update(email.id, {"cards": [_ref(client, dash_id, weekly)],
                                        "archived": False, "skip_if_empty": False})
        later = dashboard_yaml(subscriptions=SUBSCRIPTIONS.replace(
            'at: "08:00"}\n        email', 'at: "10:00"}\n        email'))
        planned = engine.plan(engine.load(_write(tmp_path, later)), client)
        assert [(c.action, c.address, [f.field for f in c.fields])
                for c in planned.plan.changes] == [
            ("update", "subscription recommender-health email", ["schedule", "cards"])]
        pm.dashboards.update(dash_id, {"tabs": [], "dashcards": [
            c for c in _cells(client, dash_id) if c["card_id"] != daily]})
        before = [p.model_dump() for p in client.pulses.list(dashboard_id=dash_id)]

        with pytest.raises(ApplyError) as raised:
            engine.apply(planned, client, force=True)
        ((change, error),) = raised.value.report.failed
        assert change.address == "subscription recommender-health email"
        assert str(error) == ("card daily-recommendations is not on dashboard "
                              "recommender-health, so the subscription cannot attach it")
        assert [p.model_dump() for p in client.pulses.list(dashboard_id=dash_id)] == before


def test_a_lost_create_is_looked_up_among_this_dashboards_new_pulses_of_ours_only(
    tmp_path: Path,
) -> None:
    """Pulses that look like the one being made: ours already there at plan time (the weekly
    e-mail to pm), and made between plan and apply, pm's own on our dashboard, ours on
    another dashboard and ours on this one to someone else. The create's POST fails before
    Metabase commits it; the look-up must take none of them, so the POST is sent again and
    the subscription exists."""
    sb = _sandbox()
    with _applied(sb, tmp_path) as (client, pm, dash_id, cards):
        weekly = cards["weekly-recommendations"]
        to_pm = ('      - schedule: {every: day, at: "07:00"}\n'
                 "        email: [pm@example.com]\n")
        paths = _write(tmp_path, dashboard_yaml(subscriptions=SUBSCRIPTIONS + to_pm))
        planned = engine.plan(engine.load(paths), client)
        assert [(c.action, c.address) for c in planned.plan.changes] == [
            ("create", "subscription recommender-health email #3")]

        (pm_id,) = [u.id for u in client.users.list() if u.email == "pm@example.com"]
        other = client.dashboards.create({"name": "Elsewhere"})
        client.dashboards.update(other.id, {"tabs": [], "dashcards": [
            {"id": -1, "card_id": weekly, "row": 0, "col": 0, "size_x": 6, "size_y": 4}]})
        daily = {"channel_type": "email", "enabled": True, "schedule_type": "daily",
                 "schedule_hour": 7, "recipients": [{"id": pm_id}], "details": {}}
        decoy: dict[str, Any] = {"name": "x", "channels": [daily]}
        elsewhere = client.pulses.create({**decoy, "dashboard_id": other.id,
                                          "cards": [_ref(client, other.id, weekly)]})
        here = {"dashboard_id": dash_id, "cards": [_ref(client, dash_id, weekly)]}
        theirs = pm.pulses.create({**decoy, **here})
        to_ops = client.pulses.create({**decoy, **here, "channels": [
            {**daily, "recipients": [{"email": "ops@example.com"}]}]})
        before = {p.id for p in client.pulses.list(dashboard_id=dash_id)}
        assert {theirs.id, to_ops.id} <= before and len(before) == 4

        sb.inject_failure("POST", r"^/api/pulse$", 500, times=1)
        engine.apply(planned, client, force=True)
        assert sum(1 for r in sb.requests if r.injected) == 1
        made = [p for p in client.pulses.list(dashboard_id=dash_id) if p.id not in before]
        assert [(p.creator_id, p.channels[0].schedule_type, p.channels[0].schedule_hour)
                for p in made] == [(client.users.current().id, "daily", 7)]
        assert [p.id for p in client.pulses.list(dashboard_id=other.id)] == [elsewhere.id]
        settled = engine.plan(engine.load(paths), client).plan
        assert settled.changes == ()
        assert [c.live_id for c in settled.pending_deletes] == [to_ops.id]
