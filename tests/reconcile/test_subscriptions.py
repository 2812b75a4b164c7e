"""Dashboard subscriptions over HTTP against the sandbox: plan, apply, re-apply, edit, prune."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from metabase_guard import engine
from metabase_guard.api.client import MetabaseClient
from metabase_guard.api.models import Pulse
from metabase_guard.errors import ResolveError
from metabase_guard.reconcile import walk
from metabase_guard.reconcile.identity import managed_key
from metabase_guard.reconcile.live import read_live
from metabase_guard.sandbox import DEMO_SEED, Sandbox, load_seed
from metabase_guard.sandbox.server import serve

QUESTIONS = """\
questions:
  - key: weekly-recommendations
    name: Weekly recommendations
    collection: Health checks/Recommender
    database: Warehouse
    sql: SELECT 1 AS n
    display: bar
  - key: daily-recommendations
    name: Daily recommendations
    collection: Health checks/Recommender
    database: Warehouse
    sql: SELECT 2 AS n
    display: line
"""

ITEMS = """\
      - heading: Weekly pushes
      - weekly-recommendations
      - {question: daily-recommendations, size: wide}
      - text: Bars under the goal line mean the recommender missed its week.
"""

SUBSCRIPTIONS = """\
    subscriptions:
      - schedule: {every: week, on: monday, at: "08:00"}
        email: [pm@example.com]
      - schedule: {every: week, on: monday, at: "08:00"}
        slack: ["#ml-alerts"]
"""


def dashboard_yaml(items: str = ITEMS, subscriptions: str = SUBSCRIPTIONS) -> str:
    """The issue's dashboard with its two subscriptions (parts replaceable)."""
    return ("dashboards:\n  - key: recommender-health\n    name: Recommender health\n"
            "    collection: Health checks/Recommender\n"
            "    description: Key metrics of the recommender, beside its health checks.\n"
            f"    cards:\n{items}{subscriptions}")


def _write(folder: Path, text: str | None = None) -> list[Path]:
    path = folder / "decl.yaml"
    path.write_text(QUESTIONS + (dashboard_yaml() if text is None else text), encoding="utf-8")
    return [path]


PM_KEY = "mb_pm_subscription_key"


def pm_seed(**changes: Any) -> dict[str, Any]:
    """The demo seed (pm@example.com, #ml-alerts), pm with an API key of their own."""
    seed = dict(load_seed(DEMO_SEED))
    seed["users"] = [dict(u, api_key=PM_KEY) if u["email"] == "pm@example.com" else u
                     for u in seed["users"]]
    return {**seed, **changes}


def _sandbox(**changes: Any) -> Sandbox:
    """A sandbox of :func:`pm_seed`."""
    return Sandbox(seed=pm_seed(**changes))


def _plan_apply(paths: list[Path], client: MetabaseClient,
                prune: bool = False) -> engine.PlanResult:
    result = engine.plan(engine.load(paths), client, prune=prune)
    engine.apply(result, client, force=True)
    return result


def _settled(paths: list[Path], client: MetabaseClient, prune: bool = False) -> bool:
    """Whether a fresh plan finds nothing left to do."""
    return engine.plan(engine.load(paths), client, prune=prune).plan.is_empty


def _dashboard_id(client: MetabaseClient) -> int:
    (found,) = [d.id for d in client.dashboards.list("all")
                if managed_key(d.description) == "recommender-health"]
    return found


def _writes(sb: Sandbox) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sb.requests if r.method != "GET"]


def _subs(changes: Any) -> list[Any]:
    return [c for c in changes if c.kind == "subscription"]


def _assert_refs_valid(client: MetabaseClient, dash_id: int, pulse: Pulse) -> None:
    """Every card ref names a question card and the dashcard that shows it (two ids)."""
    shown = {d.id: d.card_id for d in client.dashboards.get(dash_id).dashcards
             if d.card_id is not None}
    assert pulse.cards, "a subscription without cards"
    assert sorted(shown.values()) == sorted(ref["id"] for ref in pulse.cards)
    for ref in pulse.cards:
        assert shown[ref["dashboard_card_id"]] == ref["id"]
        assert ref["include_csv"] is False and ref["include_xls"] is False


def test_the_issue_dashboard_with_two_subscriptions_applies_then_makes_zero_writes(
    tmp_path: Path,
) -> None:
    sb = _sandbox()
    with serve(sb) as server, MetabaseClient(server.url, api_key=sb.admin_api_key) as client:
        first = _plan_apply(_write(tmp_path), client)
        assert [(c.action, c.address) for c in _subs(first.plan.changes)] == [
            ("create", "subscription recommender-health email"),
            ("create", "subscription recommender-health slack #ml-alerts")]
        dash_id = _dashboard_id(client)
        pulses = client.pulses.list(dashboard_id=dash_id)
        assert len(pulses) == 2
        by_type = {p.channels[0].channel_type: p for p in pulses}
        email, slack = by_type["email"], by_type["slack"]
        channel = email.channels[0]
        assert (channel.schedule_type, channel.schedule_day, channel.schedule_hour) == (
            "weekly", "mon", 8)
        assert [r.get("email") for r in channel.recipients] == ["pm@example.com"]
        assert "id" in channel.recipients[0]  # a Metabase user is sent as {id}
        assert slack.channels[0].details == {"channel": "#ml-alerts"}
        assert email.name == "Recommender health" and email.skip_if_empty is False
        for pulse in pulses:
            _assert_refs_valid(client, dash_id, pulse)

        again = engine.plan(engine.load(_write(tmp_path)), client)
        assert again.plan.is_empty, [c.to_dict() for c in again.plan.changes]
        before = _writes(sb)
        engine.apply(again, client)
        assert _writes(sb) == before


def test_a_schedule_edit_is_one_put_that_keeps_skip_if_empty(tmp_path: Path) -> None:
    sb = _sandbox()
    with serve(sb) as server, MetabaseClient(server.url, api_key=sb.admin_api_key) as client:
        skipping = SUBSCRIPTIONS.replace('slack: ["#ml-alerts"]',
                                         'slack: ["#ml-alerts"]\n        skip_if_empty: true')
        _plan_apply(_write(tmp_path, dashboard_yaml(subscriptions=skipping)), client)
        edited = skipping.replace('at: "08:00"}\n        slack', 'at: "09:00"}\n        slack')
        sb.reset_log()
        result = _plan_apply(_write(tmp_path, dashboard_yaml(subscriptions=edited)), client)
        (change,) = _subs(result.plan.changes)
        assert change.action == "update"
        assert [(f.field, f.old, f.new) for f in change.fields] == [
            ("schedule", "weekly on monday at 08:00", "weekly on monday at 09:00")]
        assert [m for m, p in _writes(sb)] == ["PUT"]
        (pulse,) = [p for p in client.pulses.list(dashboard_id=_dashboard_id(client))
                    if p.channels[0].channel_type == "slack"]
        assert pulse.channels[0].schedule_hour == 9
        assert pulse.skip_if_empty is True and pulse.archived is False
        assert _settled(_write(tmp_path, dashboard_yaml(subscriptions=edited)), client)


def test_a_removed_subscription_is_archived_only_with_prune(tmp_path: Path) -> None:
    sb = _sandbox()
    with serve(sb) as server, MetabaseClient(server.url, api_key=sb.admin_api_key) as client:
        _plan_apply(_write(tmp_path), client)
        dash_id = _dashboard_id(client)
        only_slack = SUBSCRIPTIONS.split("      - schedule", 2)
        fewer = dashboard_yaml(subscriptions=only_slack[0] + "      - schedule" + only_slack[2])
        kept = _plan_apply(_write(tmp_path, fewer), client)
        assert not _subs(kept.plan.changes)
        (pending,) = _subs(kept.plan.pending_deletes)
        assert len(client.pulses.list(dashboard_id=dash_id)) == 2

        pruned = _plan_apply(_write(tmp_path, fewer), client, prune=True)
        (gone,) = _subs(pruned.plan.changes)
        assert gone.action == "delete" and gone.live_id == pending.live_id
        assert gone.effects == ("Metabase stops e-mailing the dashboard to pm@example.com",)
        live = client.pulses.list(dashboard_id=dash_id)
        assert [p.channels[0].channel_type for p in live] == ["slack"]
        archived = client.pulses.get(gone.live_id or 0)
        assert archived.archived and not archived.channels[0].enabled
        assert _settled(_write(tmp_path, fewer), client, prune=True)


def test_a_hand_made_subscription_on_the_managed_dashboard_survives_everything(
    tmp_path: Path,
) -> None:
    sb = _sandbox()
    with serve(sb) as server, MetabaseClient(server.url, api_key=sb.admin_api_key) as client:
        _plan_apply(_write(tmp_path), client)
        dash_id = _dashboard_id(client)
        dash = client.dashboards.get(dash_id)
        card = next(d for d in dash.dashcards if d.card_id is not None)
        # made by hand in the UI: another user's pulse on our dashboard
        with MetabaseClient(server.url, api_key=PM_KEY) as theirs:
            hand = theirs.pulses.create({
                "name": "mine", "dashboard_id": dash_id,
                "cards": [{"id": card.card_id, "dashboard_card_id": card.id,
                           "include_csv": True, "include_xls": False}],
                "channels": [{"channel_type": "email", "enabled": True,
                              "schedule_type": "daily", "schedule_hour": 7,
                              "recipients": [{"email": "boss@example.com"}], "details": {}}]})
        before = client.pulses.get(hand.id).model_dump()

        result = _plan_apply(_write(tmp_path, dashboard_yaml(subscriptions="")), client,
                             prune=True)
        assert any(u.address == f"subscription #{hand.id} on dashboard recommender-health"
                   for u in result.plan.unmanaged)
        assert all(c.live_id != hand.id for c in _subs(result.plan.changes))
        assert len(_subs(result.plan.changes)) == 2  # ours went
        swapped = ITEMS.replace("      - weekly-recommendations\n", "").replace(
            "size: wide}\n", "size: wide}\n      - weekly-recommendations\n")
        _plan_apply(_write(tmp_path, dashboard_yaml(swapped, "")), client, prune=True)
        assert (("PUT", f"/api/pulse/{hand.id}") not in _writes(sb))
        after = client.pulses.get(hand.id).model_dump()
        for rewritten in ("name", "collection_id"):  # Metabase's dashboard-update event
            after.pop(rewritten), before.pop(rewritten)
        assert after == before


def test_a_reorder_keeps_the_subscriptions_dashcard_ids_valid(tmp_path: Path) -> None:
    sb = _sandbox()
    with serve(sb) as server, MetabaseClient(server.url, api_key=sb.admin_api_key) as client:
        _plan_apply(_write(tmp_path), client)
        dash_id = _dashboard_id(client)
        swapped = ("      - {question: daily-recommendations, size: wide}\n"
                   "      - heading: Weekly pushes\n      - weekly-recommendations\n")
        moved = _plan_apply(_write(tmp_path, dashboard_yaml(swapped)), client)
        assert [c.kind for c in moved.plan.changes] == ["dashboard"]
        for pulse in client.pulses.list(dashboard_id=dash_id):
            _assert_refs_valid(client, dash_id, pulse)
        # an item removed: its dashcard goes, and the subscriptions stop naming it
        fewer = "      - weekly-recommendations\n"
        result = _plan_apply(_write(tmp_path, dashboard_yaml(fewer)), client)
        assert {c.action for c in _subs(result.plan.changes)} == {"update"}
        for pulse in client.pulses.list(dashboard_id=dash_id):
            _assert_refs_valid(client, dash_id, pulse)
        assert _settled(_write(tmp_path, dashboard_yaml(fewer)), client)


def test_pruning_the_dashboard_says_whom_its_subscriptions_e_mailed(tmp_path: Path) -> None:
    sb = _sandbox()
    with serve(sb) as server, MetabaseClient(server.url, api_key=sb.admin_api_key) as client:
        _plan_apply(_write(tmp_path), client)
        dash_id = _dashboard_id(client)
        result = _plan_apply(_write(tmp_path, ""), client, prune=True)
        assert not _subs(result.plan.changes)  # Metabase deletes them with the dashboard
        (gone,) = [c for c in result.plan.changes if c.kind == "dashboard"]
        assert gone.effects == (
            "Metabase deletes every subscription of this dashboard when it is archived "
            "(src/metabase/dashboards/models/dashboard.clj): its 2 subscription(s) stop "
            "sending to #ml-alerts, pm@example.com",)
        assert client.pulses.list(dashboard_id=dash_id) == []


# -- plan-time errors -------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "subscriptions", "field", "words"), [
    ({"slack_channels": []}, SUBSCRIPTIONS, "subscriptions[1].slack", "Slack is not set up"),
    ({}, SUBSCRIPTIONS.replace("#ml-alerts", "#nowhere"), "subscriptions[1].slack[0]",
     "no Slack channel named '#nowhere'"),
    ({"email_configured": False}, SUBSCRIPTIONS, "subscriptions[0].email",
     "e-mail is not set up"),
])
def test_an_undeliverable_subscription_is_an_error_at_its_line(
    tmp_path: Path, seed: dict[str, Any], subscriptions: str, field: str, words: str,
) -> None:
    sb = _sandbox(**seed)
    paths = _write(tmp_path, dashboard_yaml(subscriptions=subscriptions))
    with serve(sb) as server, MetabaseClient(server.url, api_key=sb.admin_api_key) as client:
        with pytest.raises(ResolveError) as caught:
            engine.plan(engine.load(paths), client)
        assert _writes(sb) == []
    (problem,) = caught.value.problems
    decls = engine.load(paths)
    assert (problem.field, problem.line) == (field, decls.locate_dashboard(
        "recommender-health", field).line)
    assert problem.file == str(paths[0]) or problem.file.endswith("decl.yaml")
    assert words in problem.message


def test_a_dashboard_naming_an_archived_card_is_an_error_at_its_item(tmp_path: Path) -> None:
    sb = _sandbox()
    paths = _write(tmp_path)
    with serve(sb) as server, MetabaseClient(server.url, api_key=sb.admin_api_key) as client:
        _plan_apply(paths, client)
        card = client.cards.list("all")
        weekly = next(c for c in card if managed_key(c.description) == "weekly-recommendations")
        client.cards.update(weekly.id, {"archived": True})
        decls = engine.load(paths)
        # the question is not declared in what is resolved (as `--only` or a split project)
        narrowed = replace(decls, questions=[q for q in decls.questions
                                             if q.key != "weekly-recommendations"])
        with pytest.raises(ResolveError) as caught:
            walk.resolve(narrowed, read_live(client))
    (problem,) = caught.value.problems
    assert problem.field == "cards[1]"
    assert problem.line == decls.locate_dashboard("recommender-health", "cards[1]").line
    assert f"card #{weekly.id}, which is archived" in problem.message


def test_a_channel_added_by_hand_to_our_subscription_is_shown_and_removed(
        tmp_path: Path) -> None:
    sb = _sandbox()
    with serve(sb) as server, MetabaseClient(server.url, api_key=sb.admin_api_key) as client:
        _plan_apply(_write(tmp_path), client)
        (email,) = [p for p in client.pulses.list(dashboard_id=_dashboard_id(client))
                    if p.channels[0].channel_type == "email"]
        slack = {"channel_type": "slack", "enabled": True, "schedule_type": "daily",
                 "schedule_hour": 7, "recipients": [], "details": {"channel": "#ml-alerts"}}
        channels = [*(c.model_dump() for c in email.channels), slack]
        client.pulses.update(email.id, {"channels": channels, "archived": False,
                                        "skip_if_empty": False})
        assert len(client.pulses.get(email.id).channels) == 2

        result = _plan_apply(_write(tmp_path), client)
        (change,) = _subs(result.plan.changes)
        assert change.address == "subscription recommender-health email"
        (field,) = change.fields
        assert field.field == "recipients"
        assert field.new == ["pm@example.com"]
        assert field.old == ["pm@example.com", "(also a slack channel: #ml-alerts)"]
        assert [c.channel_type for c in client.pulses.get(email.id).channels] == ["email"]
        assert _settled(_write(tmp_path), client)
