"""What apply sends for dashboards and subscriptions, body by body, read from the sandbox's log.

The HTTP tests of test_dashboards.py and test_subscriptions.py check the state the writes leave;
these pin each request body whole (a mutation review found keys that could be dropped or changed
without any test noticing, for example a heading's ``dashcard.background`` or a pulse's
``parameters``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from metabase_guard import engine
from metabase_guard.api.client import MetabaseClient
from metabase_guard.reconcile.identity import compose_description, managed_key
from metabase_guard.sandbox import DEMO_SEED, Sandbox, load_seed
from metabase_guard.sandbox.app import SandboxResponse
from metabase_guard.sandbox.server import serve
from tests.reconcile.test_subscriptions import (
    QUESTIONS,
    _dashboard_id,
    _plan_apply,
    dashboard_yaml,
)

DESCRIPTION = "Key metrics of the recommender, beside its health checks."
#: a dashboard filter wired to the weekly card by hand, which an update must carry over
PARAMETER = {"id": "f1", "name": "Week", "slug": "week", "type": "date/single"}
MAPPINGS = [{"parameter_id": "f1", "target": ["variable", ["template-tag", "week"]]}]


class Recording(Sandbox):
    """The demo sandbox, keeping each write's method, path and JSON body as it arrived."""

    def __init__(self, seed: Mapping[str, Any] | None = None) -> None:
        super().__init__(seed=load_seed(DEMO_SEED) if seed is None else seed)
        self.writes: list[tuple[str, str, Any]] = []

    def handle(self, method: str, path: str, query: Mapping[str, list[str]],
               headers: Mapping[str, str], body: bytes) -> SandboxResponse:
        if method.upper() != "GET":
            self.writes.append((method.upper(), path, json.loads(body) if body else None))
        return super().handle(method, path, query, headers, body)


def _bodies(sb: Recording, mark: int, method: str, prefix: str) -> list[Any]:
    return [body for verb, path, body in sb.writes[mark:]
            if verb == method and path.startswith(prefix)]


def _card_ids(client: MetabaseClient) -> dict[str, int]:
    return {key: c.id for c in client.cards.list() if (key := managed_key(c.description))}


def _collection(client: MetabaseClient, name: str) -> int:
    (found,) = [c.id for c in client.collections.list() if c.name == name]
    assert isinstance(found, int)
    return found


def _virtual(display: str, text: str) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "virtual_card": {"name": None, "display": display, "visualization_settings": {},
                         "dataset_query": {}, "archived": False},
        "text": text}
    if display == "heading":
        settings["dashcard.background"] = False
    return {"card_id": None, "visualization_settings": settings}


def _cell(dashcard_id: int, row: int, col: int, x: int, y: int, **rest: Any) -> dict[str, Any]:
    return {"id": dashcard_id, "row": row, "col": col, "size_x": x, "size_y": y, **rest,
            "series": [], "parameter_mappings": []}


def _email(hour: int = 8, **recipients: Any) -> dict[str, Any]:
    return {"channel_type": "email", "enabled": True, "schedule_type": "weekly",
            "schedule_hour": hour, "schedule_day": "mon", "schedule_frame": None,
            "details": {}, **recipients}


def test_a_new_dashboard_and_its_subscriptions_are_sent_whole(tmp_path: Path) -> None:
    sb = Recording()
    path = tmp_path / "decl.yaml"
    path.write_text(QUESTIONS + dashboard_yaml().replace(
        "    description:", "    width: full\n    description:"), encoding="utf-8")
    with serve(sb) as server, MetabaseClient(server.url, api_key=sb.admin_api_key) as client:
        _plan_apply([path], client)
        dash_id = _dashboard_id(client)
        cards = _card_ids(client)
        assert _bodies(sb, 0, "POST", "/api/dashboard") == [{
            "name": "Recommender health",
            "description": compose_description(DESCRIPTION, "recommender-health"),
            "collection_id": _collection(client, "Recommender")}]
        weekly, daily = cards["weekly-recommendations"], cards["daily-recommendations"]
        assert _bodies(sb, 0, "PUT", f"/api/dashboard/{dash_id}") == [{
            "width": "full", "tabs": [], "dashcards": [
                _cell(-1, 0, 0, 24, 1, **_virtual("heading", "Weekly pushes")),
                _cell(-2, 1, 0, 12, 6, card_id=weekly),
                _cell(-3, 7, 0, 18, 6, card_id=daily),
                _cell(-4, 13, 0, 24, 2, **_virtual(
                    "text", "Bars under the goal line mean the recommender missed its week.")),
            ]}]
        shown = {d.card_id: d.id for d in client.dashboards.get(dash_id).dashcards}
        refs = [{"id": card, "dashboard_card_id": shown[card], "include_csv": False,
                 "include_xls": False} for card in (weekly, daily)]
        (pm,) = [u.id for u in client.users.list() if u.email == "pm@example.com"]
        slack = {**_email(), "channel_type": "slack", "details": {"channel": "#ml-alerts"},
                 "recipients": []}
        sent = sorted(_bodies(sb, 0, "POST", "/api/pulse"),
                      key=lambda b: str(b["channels"][0]["channel_type"]))
        assert sent == [
            {"name": "Recommender health", "channels": [_email(recipients=[{"id": pm}])],
             "skip_if_empty": False, "cards": refs, "dashboard_id": dash_id, "parameters": []},
            {"name": "Recommender health", "channels": [slack], "skip_if_empty": False,
             "cards": refs, "dashboard_id": dash_id, "parameters": []},
        ]


def test_updates_send_only_what_changed_and_keep_dashcards_series_and_pulse_state(
    tmp_path: Path,
) -> None:
    sb = Recording()
    path = tmp_path / "decl.yaml"
    path.write_text(QUESTIONS + dashboard_yaml(), encoding="utf-8")
    with serve(sb) as server, MetabaseClient(server.url, api_key=sb.admin_api_key) as client:
        _plan_apply([path], client)
        dash_id = _dashboard_id(client)
        cards = _card_ids(client)
        weekly, daily = cards["weekly-recommendations"], cards["daily-recommendations"]
        dash = client.dashboards.get(dash_id)
        ids = {(d.card_id, d.row): d.id for d in dash.dashcards}
        # a series added by hand to the weekly card, which an update must carry over
        cells = [{"id": d.id, "card_id": d.card_id, "row": d.row, "col": d.col,
                  "size_x": d.size_x, "size_y": d.size_y,
                  "visualization_settings": d.visualization_settings,
                  "series": [{"id": daily}] if d.card_id == weekly else [],
                  "parameter_mappings": MAPPINGS if d.card_id == weekly else []}
                 for d in dash.dashcards]
        client.dashboards.update(dash_id, {"parameters": [PARAMETER], "dashcards": cells})
        (email_pulse,) = [p.id for p in client.pulses.list(dashboard_id=dash_id)
                          if p.channels[0].channel_type == "email"]

        renamed = (dashboard_yaml(items=(
            "      - heading: Weekly pushes\n"
            "      - {question: daily-recommendations, size: wide}\n"
            "      - weekly-recommendations\n"
            "      - text: Bars under the goal line mean the recommender missed its week.\n"))
            .replace("name: Recommender health", "name: Recommender pulse")
            .replace(DESCRIPTION, "Pushes first.")
            .replace('"08:00"}\n        email', '"09:00"}\n        email')
            .replace("    description:", "    width: full\n    description:"))
        path.write_text(QUESTIONS + renamed, encoding="utf-8")
        mark = len(sb.writes)
        _plan_apply([path], client)
        heading, text = ids[(None, 0)], ids[(None, 13)]
        assert _bodies(sb, mark, "PUT", f"/api/dashboard/{dash_id}") == [{
            "name": "Recommender pulse", "width": "full", "tabs": [],
            "description": compose_description("Pushes first.", "recommender-health"),
            "dashcards": [
                _cell(heading, 0, 0, 24, 1, **_virtual("heading", "Weekly pushes")),
                _cell(ids[(daily, 7)], 1, 0, 18, 6, card_id=daily),
                {**_cell(ids[(weekly, 1)], 7, 0, 12, 6, card_id=weekly),
                 "series": [{"id": daily}], "parameter_mappings": MAPPINGS},
                _cell(text, 13, 0, 24, 2, **_virtual(
                    "text", "Bars under the goal line mean the recommender missed its week.")),
            ]}]
        (pm,) = [u.id for u in client.users.list() if u.email == "pm@example.com"]
        # the same two cards in another order: no cards sent. A dashboard subscription is
        # rendered in the dashboard's order; its cards give only each one's attachment
        # settings (src/metabase/channel/impl/email.clj, assoc-attachment-booleans)
        assert _bodies(sb, mark, "PUT", "/api/pulse/") == [{
            "name": "Recommender pulse", "channels": [_email(9, recipients=[{"id": pm}])],
            "skip_if_empty": False, "archived": False}]
        assert [path for verb, path, _ in sb.writes[mark:] if verb == "PUT"
                and path.startswith("/api/pulse/")] == [f"/api/pulse/{email_pulse}"]

        moved = renamed.replace("collection: Health checks/Recommender",
                                "collection: Health checks")
        path.write_text(QUESTIONS + moved, encoding="utf-8")
        mark = len(sb.writes)
        result = engine.plan(engine.load([path]), client)
        reads = len(sb.requests)
        engine.apply(result, client, force=True)
        assert _bodies(sb, mark, "PUT", f"/api/dashboard/{dash_id}") == [
            {"collection_id": _collection(client, "Health checks")}]
        # no layout to write, so the dashboard is not read again to check its dashcards
        assert [r for r in sb.requests[reads:]
                if (r.method, r.path) == ("GET", f"/api/dashboard/{dash_id}")] == []


def test_a_create_refused_before_commit_is_sent_again_and_made_once(tmp_path: Path) -> None:
    sb = Recording()
    path = tmp_path / "decl.yaml"
    path.write_text(QUESTIONS + dashboard_yaml(), encoding="utf-8")
    sb.inject_failure("POST", r"^/api/dashboard$", 500, times=1)
    sb.inject_failure("POST", r"^/api/pulse$", 500, times=1)
    with serve(sb) as server, MetabaseClient(server.url, api_key=sb.admin_api_key) as client:
        _plan_apply([path], client)
        dash_id = _dashboard_id(client)
        assert len(_bodies(sb, 0, "POST", "/api/dashboard")) == 2
        assert len(_bodies(sb, 0, "POST", "/api/pulse")) == 3
        pulses = client.pulses.list(dashboard_id=dash_id)
        assert sorted(p.channels[0].channel_type for p in pulses) == ["email", "slack"]


def test_a_pruned_subscription_is_archived_keeping_its_skip_if_empty(tmp_path: Path) -> None:
    sb = Recording()
    path = tmp_path / "decl.yaml"
    email = "        email: [pm@example.com]\n"
    both = dashboard_yaml().replace(email, email + "        skip_if_empty: true\n")
    path.write_text(QUESTIONS + both, encoding="utf-8")
    with serve(sb) as server, MetabaseClient(server.url, api_key=sb.admin_api_key) as client:
        _plan_apply([path], client)
        (email,) = [p.id for p in client.pulses.list(dashboard_id=_dashboard_id(client))
                    if p.channels[0].channel_type == "email"]
        slack_only = dashboard_yaml(subscriptions=(
            "    subscriptions:\n"
            '      - schedule: {every: week, on: monday, at: "08:00"}\n'
            '        slack: ["#ml-alerts"]\n'))
        path.write_text(QUESTIONS + slack_only, encoding="utf-8")
        mark = len(sb.writes)
        _plan_apply([path], client, prune=True)
        assert sb.writes[mark:] == [
            ("PUT", f"/api/pulse/{email}", {"archived": True, "skip_if_empty": True})]
        assert client.pulses.get(email).archived
