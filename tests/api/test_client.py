"""The client's resource managers against the sandbox, over HTTP."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from metabase_guard.api import (
    AlertSpec,
    HandlerSpec,
    MetabaseClient,
    NativeQuery,
    RecipientSpec,
    read_native,
    write_native,
)
from metabase_guard.api.models import parse_version
from metabase_guard.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    UnsupportedServerError,
)
from metabase_guard.sandbox import DEMO_SEED, load_seed
from metabase_guard.sandbox.pytest_plugin import MountedSandbox

Factory = Callable[..., MountedSandbox]


@pytest.fixture
def mb(metabase_sandbox_factory: Factory) -> MountedSandbox:
    return metabase_sandbox_factory(seed=load_seed(DEMO_SEED))


@pytest.fixture
def client(mb: MountedSandbox) -> MetabaseClient:
    return MetabaseClient(mb.url, api_key=mb.api_key)


def test_server_facts(client: MetabaseClient) -> None:
    assert client.version.major == 61 and client.version.edition == "oss"
    assert client.has_notification_api and client.uses_mbql5
    assert client.properties.report_timezone_long == "Europe/Berlin"
    assert client.me.is_api_key and client.me.is_superuser
    facts = client.delivery()
    assert facts.email_configured and facts.slack_configured
    assert "#ml-alerts" in facts.slack_channels
    assert [w.name for w in facts.webhooks] == ["pagerduty"]
    assert client.server.health()["status"] == "ok"


@pytest.mark.parametrize(("tag", "major", "edition"), [
    ("v0.61.2", 61, "oss"), ("v1.58.15", 58, "enterprise"), ("v0.54", 54, "oss"),
    ("vLOCAL_DEV", None, "unknown"), ("", None, "unknown"), ("v2.1.0", None, "unknown"),
    ("v0.62.0-SNAPSHOT", None, "unknown"), ("v1.63.x-dev", None, "unknown"),
    ("v0.63.0-beta", 63, "oss"), ("v1.62.0-RC2", 62, "enterprise"), ("v0.46.6.1", 46, "oss"),
])
def test_version_tags_are_parsed_defensively(tag: str, major: int | None, edition: str) -> None:
    parsed = parse_version(tag)
    assert (parsed.major, parsed.edition) == (major, edition)


def test_users_groups_databases(client: MetabaseClient) -> None:
    emails = {u.email for u in client.users.list()}
    assert {"admin@example.com", "pm@example.com", "ds@example.com"} <= emails
    assert not any(e.endswith("@api-key.invalid") for e in emails)
    pm = client.users.by_email("PM@example.com")
    assert pm is not None and pm.email == "pm@example.com"
    assert client.users.by_email("nobody@example.com") is None
    assert "Data team" in {g.name for g in client.groups.list()}
    assert client.databases.by_name("Warehouse").engine == "postgres"
    with pytest.raises(NotFoundError, match="Warehouse"):
        client.databases.by_name("Warehose")


def test_collections_resolve_and_create_paths(client: MetabaseClient) -> None:
    with pytest.raises(NotFoundError, match="Health checks"):
        client.collections.resolve_path("Health checks/Recommender")
    made = client.collections.resolve_path("Health checks/Recommender", create=True)
    assert client.collections.resolve_path("Health checks/Recommender") == made
    assert made is not None
    got = client.collections.get(made)
    assert got.name == "Recommender" and got.parent_id is not None
    assert client.collections.resolve_path("") is None
    archived = client.collections.update(made, archived=True)
    assert archived.archived
    assert client.collections.update(made, archived=False, name="Reco").name == "Reco"


def test_cards_crud_query_and_items(client: MetabaseClient) -> None:
    db = client.databases.by_name("Warehouse").id
    folder = client.collections.resolve_path("Checks", create=True)
    sql = "SELECT count(*) AS n FROM recommendations"
    card = client.cards.create({
        "name": "Count", "display": "scalar", "collection_id": folder,
        "dataset_query": write_native(NativeQuery(db, sql), mbql5=True),
        "visualization_settings": {}, "entity_id": "x" * 21,
    })
    assert card.entity_id and card.entity_id != "x" * 21
    assert read_native(card.dataset_query) == NativeQuery(db, sql)
    assert [i["id"] for i in client.collections.items(folder)] == [card.id]
    outcome = client.cards.query(card.id)
    assert outcome.columns == ["n"] and outcome.rows[0][0] > 100_000
    adhoc = client.cards.query_adhoc(write_native(NativeQuery(db, "SELECT 1 AS one"), mbql5=True))
    assert adhoc.rows == [[1]]
    updated = client.cards.update(card.id, {"name": "Count all"})
    assert updated.name == "Count all" and updated.display == "scalar"
    assert client.cards.archive(card.id).archived
    assert card.id not in {c.id for c in client.cards.list()}
    assert card.id in {c.id for c in client.cards.list("archived")}
    client.cards.delete(card.id)
    with pytest.raises(NotFoundError):
        client.cards.get(card.id)


def _alert(
    card_id: int, cron: str = "0 0 9 ? * MON *", emails: tuple[int, ...] = (3,)
) -> AlertSpec:
    return AlertSpec(
        card_id=card_id, send_condition="goal_below", send_once=False, cron=cron,
        handlers=(
            HandlerSpec("channel/email", recipients=tuple(
                RecipientSpec("notification-recipient/user", user_id=u) for u in emails)),
            HandlerSpec("channel/slack", recipients=(
                RecipientSpec("notification-recipient/raw-value", value="#alerts"),)),
        ),
    )


def _goal_card(client: MetabaseClient) -> int:
    db = client.databases.by_name("Warehouse").id
    return client.cards.create({
        "name": "Weekly", "display": "bar",
        "dataset_query": write_native(NativeQuery(db, "SELECT 1 AS w, 2 AS n"), mbql5=True),
        "visualization_settings": {"graph.show_goal": True, "graph.goal_value": 5},
    }).id


def test_notification_update_keeps_every_id(client: MetabaseClient) -> None:
    card_id = _goal_card(client)
    created = client.notifications.create(_alert(card_id))
    ids = {h.channel_type: (h.id, [r.id for r in h.recipients]) for h in created.handlers}
    sub_id = created.subscriptions[0].id
    payload_id = created.payload.id if created.payload else None
    updated = client.notifications.update(created.id, _alert(card_id, cron="0 0 10 ? * MON *",
                                                             emails=(3, 4)))
    assert updated.id == created.id
    assert updated.payload is not None and updated.payload.id == payload_id
    assert updated.subscriptions[0].id == sub_id
    assert updated.subscriptions[0].cron_schedule == "0 0 10 ? * MON *"
    after = {h.channel_type: (h.id, [r.id for r in h.recipients]) for h in updated.handlers}
    assert after["channel/slack"] == ids["channel/slack"]
    assert after["channel/email"][0] == ids["channel/email"][0]
    assert ids["channel/email"][1][0] in after["channel/email"][1]
    assert len(after["channel/email"][1]) == 2


def test_notifications_list_archive_adopt_send(client: MetabaseClient, mb: MountedSandbox) -> None:
    card_id = _goal_card(client)
    made = client.notifications.create(_alert(card_id))
    assert [n.id for n in client.notifications.list(card_id=card_id)] == [made.id]
    assert not client.notifications.set_active(made.id, False).active
    assert client.notifications.list(card_id=card_id) == []
    assert [n.id for n in client.notifications.list(card_id=card_id, include_inactive=True)] == [
        made.id]
    client.notifications.set_active(made.id, True)
    client.notifications.send(made.id)  # 204; the sandbox evaluates the goal (2 < 5: sends)
    assert any(d.notification_id == made.id for d in mb.sandbox.outbox)
    pm = MetabaseClient(mb.url, username="pm@example.com", password="priya")
    theirs = pm.notifications.create(_alert(card_id))
    assert theirs.creator_id == pm.me.id
    adopted, replaced = client.notifications.adopt(theirs.id, client.me.id)
    # 0.61 cannot change a creator: the alert is replaced by a copy and the original retired
    assert replaced and adopted.id != theirs.id
    assert adopted.creator_id == client.me.id
    assert not client.notifications.get(theirs.id).active
    assert adopted.payload is not None and adopted.payload.send_condition == "goal_below"
    assert {h.channel_type for h in adopted.handlers} == {"channel/email", "channel/slack"}
    with pytest.raises(PermissionDeniedError):
        pm.notifications.adopt(made.id, pm.me.id)


def test_a_listed_alert_leaves_out_its_hydrated_card(client: MetabaseClient) -> None:
    card_id = _goal_card(client)
    made = client.notifications.create(_alert(card_id))
    # the sandbox hydrates the whole card into each listed alert, as Metabase does
    raw = client.transport.request("GET", "/api/notification", params={"card_id": card_id})
    assert "card" in raw[0]["payload"]
    [listed] = client.notifications.list(card_id=card_id)
    assert listed.payload is not None and listed.payload.card_id == card_id
    assert "card" not in (listed.payload.model_extra or {})
    assert listed.payload.send_condition == made.payload.send_condition  # type: ignore[union-attr]


def test_adopt_hands_the_alert_over_from_0_62(metabase_sandbox_factory: Factory) -> None:
    seed = dict(load_seed(DEMO_SEED), version="v0.62.1")
    mb = metabase_sandbox_factory(version_tag="v0.62.1", seed=seed)
    client = MetabaseClient(mb.url, api_key=mb.api_key)
    pm = MetabaseClient(mb.url, username="pm@example.com", password="priya")
    theirs = pm.notifications.create(_alert(_goal_card(client)))
    adopted, replaced = client.notifications.adopt(theirs.id, client.me.id)
    assert not replaced and adopted.id == theirs.id
    assert adopted.creator_id == client.me.id


def test_session_login_and_silent_relogin(mb: MountedSandbox) -> None:
    client = MetabaseClient(mb.url, username="admin@example.com", password="admin")
    assert client.me.email == "admin@example.com"
    token = client.transport._session_token
    mb.sandbox.handle("DELETE", "/api/session", {}, {"X-Metabase-Session": token or ""}, b"")
    assert client.users.current().email == "admin@example.com"  # logged in again, once
    assert client.transport._session_token != token
    with pytest.raises(AuthenticationError):
        MetabaseClient(mb.url, username="admin@example.com", password="nope").users.current()


def test_older_instance_is_refused_clearly(metabase_sandbox_factory: Factory) -> None:
    old = metabase_sandbox_factory(version_tag="v0.53.9")
    client = MetabaseClient(old.url, api_key=old.api_key)
    assert not client.has_notification_api
    with pytest.raises(UnsupportedServerError, match=r"0\.54"):
        client.require_notification_api()


def test_unknown_version_is_probed(metabase_sandbox_factory: Factory) -> None:
    dev = metabase_sandbox_factory(version_tag="vLOCAL_DEV")
    client = MetabaseClient(dev.url, api_key=dev.api_key)
    assert client.version.major is None
    assert client.has_notification_api


def test_environment_supplies_credentials(mb: MountedSandbox) -> None:
    env = {"METABASE_URL": mb.url, "METABASE_API_KEY": mb.api_key}
    client = MetabaseClient(environ=env)
    assert client.me.is_api_key
    assert mb.api_key not in repr(client)


def test_card_list_can_keep_only_chosen_cards_whole(client: MetabaseClient) -> None:
    db = client.databases.by_name("Warehouse").id
    for name in ("kept", "slim"):
        client.cards.create({
            "name": name, "display": "table", "description": f"{name} card",
            "dataset_query": write_native(NativeQuery(db, "SELECT 1 AS x"), mbql5=True),
            "visualization_settings": {"column_settings": {}},
        })
    cards = {c.name: c for c in client.cards.list(full=lambda raw: raw["name"] == "kept")}
    assert read_native(cards["kept"].dataset_query) == NativeQuery(db, "SELECT 1 AS x")
    assert cards["slim"].dataset_query == {} and cards["slim"].description == "slim card"
    assert cards["slim"].model_extra == {}


def test_json_arrays_are_decoded_item_by_item() -> None:
    from metabase_guard.api.resources import iter_json_array

    assert list(iter_json_array(' [ {"a": [1, 2]} , "x",3 ] ')) == [{"a": [1, 2]}, "x", 3]
    assert list(iter_json_array("[]")) == []
    with pytest.raises(ValueError):
        list(iter_json_array('{"a": 1}'))


def test_the_alert_list_decoder_keeps_every_field_but_the_payload_card() -> None:
    from metabase_guard.api.resources import decode_alert_list

    data = (b'[{"id": 1, "extra": {"a": [1, 2]}, "payload": {"card_id": 7, "created_at": "x",'
            b' "card": {"name": "big"}}}, {"id": 2, "payload": null}, {"id": 3}]')
    assert decode_alert_list(data) == [
        {"id": 1, "extra": {"a": [1, 2]}, "payload": {"card_id": 7, "created_at": "x"}},
        {"id": 2, "payload": None}, {"id": 3}]
    # other shapes are decoded whole (or left as text), for the validator to judge
    assert decode_alert_list(b'{"message": "no"}') == {"message": "no"}
    assert decode_alert_list(b"[1, 2]") == [1, 2]
    assert decode_alert_list(b"not json") == "not json"
    assert decode_alert_list(b"  ") is None
