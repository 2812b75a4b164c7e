"""Auth, errors, versions, users, groups, databases, settings, channels, form_input."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Api

from metabase_guard.sandbox import ADMIN_EMAIL, ADMIN_PASSWORD


# metabase/metabase src/metabase/server/routes.clj (/api/health outside the API context) and
# src/metabase/session/api.clj (GET /properties: public settings when anonymous)
def test_health_and_properties_need_no_auth(api: Api) -> None:
    anon = api.as_key(None)
    assert anon.get("/api/health").json() == {"status": "ok"}
    props = anon.get("/api/session/properties").json()
    assert props["version"]["tag"] == "v0.61.2"
    assert props["email-configured?"] is True
    assert props["report-timezone-long"] == "UTC"
    assert props["token-features"] == {}


def test_missing_or_bad_key_is_401_plain_text(api: Api) -> None:
    for client in (api.as_key(None), api.as_key("wrong")):
        response = client.get("/api/user/current")
        assert response.status_code == 401
        assert response.text == "Unauthenticated"
        assert response.headers["Content-Type"].startswith("text/plain")


def test_header_name_is_case_insensitive(api: Api) -> None:
    anon = api.as_key(None)
    response = anon.get("/api/user/current", headers={"X-API-KEY": "mb_sandbox_admin_key"})
    assert response.status_code == 200


def test_api_key_user_is_synthetic_user_2(api: Api) -> None:
    me = api.get("/api/user/current").json()
    assert me["id"] == 2
    assert re.fullmatch(r"api-key-user-[0-9a-f-]{36}@api-key\.invalid", me["email"])
    assert me["last_name"] == ""
    assert me["is_superuser"] is True
    assert me["group_ids"] == [1, 2]
    assert "type" not in me


def test_session_login_logout(api: Api) -> None:
    anon = api.as_key(None)
    bad = anon.post("/api/session", {"username": ADMIN_EMAIL, "password": "nope"})
    assert bad.status_code == 401
    assert bad.json() == {"errors": {"password": "did not match stored password"}}
    login = {"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    token = anon.post("/api/session", login).json()["id"]
    me = anon.get("/api/user/current", headers={"X-Metabase-Session": token})
    assert me.json()["id"] == 1
    assert anon.delete("/api/session", headers={"X-Metabase-Session": token}).status_code == 204
    assert anon.get("/api/user/current", headers={"X-Metabase-Session": token}).status_code == 401


def test_unknown_route_vs_missing_object_404_bodies(api: Api) -> None:
    route = api.get("/api/does-not-exist")
    assert (route.status_code, route.text) == (404, "API endpoint does not exist.")
    missing = api.get("/api/card/999")
    assert (missing.status_code, missing.text) == (404, "Not found.")
    assert missing.headers["Content-Type"].startswith("text/plain")


def test_bad_json_body_is_400(api: Api) -> None:
    response = api.request("POST", "/api/card", data=b"{not json",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400


# metabase/metabase src/metabase/notification/api/notification.clj, from 0.54 per
# docs/developers-guide/api-changelog.md (PR #55890)
def test_notifications_absent_before_054(api_for) -> None:  # type: ignore[no-untyped-def]
    old = api_for("v0.53.9")
    response = old.get("/api/notification")
    assert (response.status_code, response.text) == (404, "API endpoint does not exist.")
    new = api_for("v1.54.1")
    assert new.get("/api/notification").status_code == 200


def test_users_list_excludes_api_key_users_and_orders_by_name(api_for) -> None:  # type: ignore[no-untyped-def]
    api = api_for(seed={"users": [
        {"email": "zed@example.com", "first_name": "Zed", "last_name": "A"},
        {"email": "bob@example.com", "first_name": "Bob", "last_name": "B", "active": False},
        {"email": "amy@example.com", "first_name": "Amy", "last_name": "C"},
    ]})
    body = api.get("/api/user").json()
    # Ada Admin < Amy C < Zed A: ordered by first name, then last name, then id.
    assert [u["email"] for u in body["data"]] == [ADMIN_EMAIL, "amy@example.com", "zed@example.com"]
    assert body["total"] == 3 and body["limit"] is None and body["offset"] is None
    every = api.get("/api/user", params={"status": "all"}).json()["data"]
    assert "bob@example.com" in [u["email"] for u in every]
    assert not any(u["email"].endswith("@api-key.invalid") for u in every)
    page = api.get("/api/user", params={"limit": 1, "offset": 1}).json()
    assert [u["email"] for u in page["data"]] == ["amy@example.com"] and page["total"] == 3
    found = api.get("/api/user", params={"query": "ZED@"}).json()["data"]
    assert [u["email"] for u in found] == ["zed@example.com"]


def test_non_admin_key_cannot_list_users(api_for) -> None:  # type: ignore[no-untyped-def]
    api = api_for(seed={"users": [{"email": "pm@example.com", "api_key": "pm_key"}]})
    response = api.as_key("pm_key").get("/api/user")
    assert (response.status_code, response.text) == (403, "You don't have permissions to do that.")
    assert api.as_key("pm_key").get("/api/user/current").json()["email"] == "pm@example.com"


def test_groups_have_magic_types_and_member_counts(api_for) -> None:  # type: ignore[no-untyped-def]
    api = api_for(seed={"users": [{"email": "pm@example.com"}],
                        "groups": [{"name": "Data team", "members": ["pm@example.com"]}]})
    groups = {g["name"]: g for g in api.get("/api/permissions/group").json()}
    assert groups["All Users"]["magic_group_type"] == "all-internal-users"
    assert groups["Administrators"]["magic_group_type"] == "admin"
    assert groups["Administrators"]["member_count"] == 2  # the admin and the API key user
    assert groups["Data team"]["member_count"] == 1


def test_databases_envelope(api: Api) -> None:
    body = api.get("/api/database").json()
    assert body["total"] == 1
    assert body["data"][0]["name"] == "Sample Database"
    assert api.get("/api/database/1").json()["id"] == 1


# metabase/metabase src/metabase/settings/api.clj: GET /:key is the bare value, nil (204) when unset
def test_settings(api_for) -> None:  # type: ignore[no-untyped-def]
    api = api_for(seed={"report_timezone": "Europe/Berlin"})
    assert api.get("/api/setting/report-timezone").json() == "Europe/Berlin"
    assert api.get("/api/setting/email-configured%3F").json() is True
    unset = api.get("/api/setting/subscription-allowed-domains")
    assert unset.status_code == 204 and unset.content == b""
    props = api.get("/api/session/properties").json()
    zone = (props["report-timezone-long"], props["report-timezone-short"])
    assert zone == ("Europe/Berlin", "CET")


_TWO = [{"name": "#general", "id": "C1"}, {"name": "@priya", "id": "U2"}]
_OBJECTS = [{"displayName": "#general", "id": "C1"}, {"displayName": "@priya", "id": "U2"}]


@pytest.mark.parametrize(
    ("version", "shape", "expected"),
    [
        ("v0.60.4", None, ["#general", "@priya"]),
        ("v0.60.4", "objects", _OBJECTS),
        ("v0.62.1", None, _OBJECTS),
        ("v0.63.0", "strings", ["#general", "@priya"]),
    ],
)
def test_form_input_slack_list_shape_by_version_and_seed(
    api_for: Callable[..., Api], version: str, shape: str | None, expected: list[Any]
) -> None:
    """Strings before SLACK_OBJECT_LIST_SINCE, objects from it; the seed overrides either way."""
    seed: dict[str, Any] = {"slack_channels": _TWO}
    if shape:
        seed["slack_list"] = shape
    form = api_for(version, seed=seed).get("/api/pulse/form_input").json()
    assert form["channels"]["slack"]["fields"][0]["options"] == expected


def test_channels_and_form_input(api: Api) -> None:
    form = api.get("/api/pulse/form_input").json()["channels"]
    assert form["email"]["configured"] is True
    names = [o["displayName"] for o in form["slack"]["fields"][0]["options"]]
    assert names == ["#general", "#alerts"]
    assert form["http"]["configured"] is False
    body = {"name": "pager", "type": "channel/http",
            "details": {"url": "https://hooks.example/x", "auth-method": "none"}}
    created = api.post("/api/channel", body)
    assert created.status_code == 200
    duplicate = api.post("/api/channel", body)
    assert duplicate.status_code == 409
    assert duplicate.json() == {"errors": {"name": "Channel with that name already exists"}}
    bad = api.post("/api/channel", {**body, "name": "x", "details": {"url": "u", "extra": 1}})
    assert bad.status_code == 400
    assert "auth-method" in bad.json()["errors"]["details"]
    assert api.get("/api/pulse/form_input").json()["channels"]["http"]["configured"] is True
    api.put(f"/api/channel/{created.json()['id']}", {"active": False})
    assert api.get("/api/channel").json() == []
    assert len(api.get("/api/channel", params={"include_inactive": "true"}).json()) == 1


def test_demo_seed_loads(api_for) -> None:  # type: ignore[no-untyped-def]
    from metabase_guard.sandbox import DEMO_SEED

    api = api_for(seed=DEMO_SEED)
    assert api.get("/api/database").json()["data"][0]["name"] == "Warehouse"
    emails = {u["email"] for u in api.get("/api/user").json()["data"]}
    assert {"pm@example.com", "ds@example.com"} <= emails
    options = api.get("/api/pulse/form_input").json()["channels"]["slack"]["fields"][0]["options"]
    assert "#ml-alerts" in [o["displayName"] for o in options]


def test_seed_errors_name_the_field() -> None:
    import pytest

    from metabase_guard.sandbox import load_seed

    with pytest.raises(ValueError, match=r"users\[0\]\.email"):
        load_seed({"users": [{"first_name": "x"}]})
    with pytest.raises(ValueError, match=r"groups\[0\]\.members\[0\]"):
        load_seed({"groups": [{"name": "g", "members": ["ghost@example.com"]}]})
