"""import, validate, schema, config targets and the sandbox command, through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from metabase_guard.api.client import MetabaseClient
from metabase_guard.reconcile.identity import managed_key
from tests.e2e.conftest import Env


def _hand_made(env: Env) -> tuple[int, int]:
    """A card and its alert, clicked together by the PM (a non-admin) in the UI."""
    pm = MetabaseClient(env.mb.url, username="pm@example.com", password="priya")
    db = pm.databases.by_name("Warehouse").id
    folder = pm.collections.resolve_path("Team/Recs", create=True)
    card = pm.cards.create({
        "name": "Pushes per week (hand-made)", "display": "line", "collection_id": folder,
        "description": "Clicked together in the UI",
        "dataset_query": {"type": "native", "database": db, "native": {
            # one row even on an empty table: a grouped query would trip silent-on-outage
            "query": "SELECT date_trunc('week', now()) AS week, count(*) AS n\n"
                     "FROM recommendations"}},
        "visualization_settings": {"graph.show_goal": True, "graph.goal_value": 2400,
                                   "graph.metrics": ["n"], "graph.dimensions": ["week"]},
    })
    alert = pm.transport.request("POST", "/api/notification", json_body={
        "payload_type": "notification/card",
        "payload": {"card_id": card.id, "send_condition": "goal_below"},
        "subscriptions": [{"type": "notification-subscription/cron",
                           "cron_schedule": "0 0 9 ? * 2"}],
        "handlers": [
            {"channel_type": "channel/email", "recipients": [
                {"type": "notification-recipient/user", "user_id": pm.me.id},
                {"type": "notification-recipient/raw-value",
                 "details": {"value": "boss@example.org"}}]},
            {"channel_type": "channel/slack", "recipients": [
                {"type": "notification-recipient/raw-value",
                 "details": {"value": "#ml-alerts"}}]},
        ],
    })
    return card.id, int(alert["id"])


def test_import_writes_declarations_adopts_and_plan_is_empty(env: Env, tmp_path: Path) -> None:
    card_id, alert_id = _hand_made(env)
    out = tmp_path / "imported.yaml"
    result = env.run("import", "--card", str(card_id), "--out", str(out), "--yes")
    assert result.code == 0, result.err
    data = yaml.safe_load(out.read_text())
    question = data["questions"][0]
    assert question["key"] == "pushes-per-week-hand-made"
    assert question["collection"] == "Team/Recs"
    assert question["goal"] == {"value": 2400}
    assert question["alerts"][0]["schedule"] == {"every": "week", "on": "monday", "at": "09:00"}
    assert question["alerts"][0]["email"] == ["boss@example.org", "pm@example.com"]
    assert f"alert #{alert_id} replaced by" in result.err  # 0.61 cannot change a creator
    with env.client() as client:
        card = client.cards.get(card_id)
        assert managed_key(card.description) == "pushes-per-week-hand-made"
        assert card.description.startswith("Clicked together in the UI")
        assert not client.notifications.get(alert_id).active
        ours = client.notifications.list(card_id=card_id)
        assert [n.creator_id for n in ours] == [client.me.id]
    plan = env.run("plan", "--detailed-exitcode", str(out))
    assert plan.code == 0, plan.out
    assert "No changes." in plan.out


def test_import_without_adopting_leaves_metabase_untouched(env: Env) -> None:
    card_id, _ = _hand_made(env)
    before = env.writes()
    result = env.run("import", "--card", str(card_id), "--no-adopt")
    assert result.code == 0
    assert result.out.startswith("questions:")
    assert env.writes() == before


def test_import_all_alerts_needs_a_scope(env: Env) -> None:
    assert env.run("import").code == 1
    _hand_made(env)
    result = env.run("import", "--all-alerts", "--no-adopt")
    assert result.code == 0 and "pushes-per-week-hand-made" in result.out


def test_validate_reports_every_problem_with_file_and_line(env: Env) -> None:
    (env.alerts / "broken.yaml").write_text(
        "questions:\n"
        "  - key: Bad Key\n"
        "    name: x\n"
        "    database: Warehouse\n"
        "    sql: SELECT 1\n"
        "    alerts:\n"
        "      - when: below_goal\n"
        "        schedul: {every: day, at: '09:00'}\n"
        "        email: [not-an-address]\n"
    )
    result = env.run("validate")
    assert result.code == 1
    assert "alerts/broken.yaml:2" in result.err
    assert "did you mean 'schedule'" in result.err
    assert "alerts/broken.yaml:9" in result.err
    assert "Traceback" not in result.err
    assert env.writes() == 0
    (env.alerts / "broken.yaml").unlink()
    ok = env.run("validate")
    assert ok.code == 0 and "OK:" in ok.err


def test_schema_prints_json_schema(env: Env) -> None:
    result = env.run("schema")
    schema = json.loads(result.out)
    assert result.code == 0
    assert "questions" in json.dumps(schema)


def test_config_file_targets_and_defaults(env: Env, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("METABASE_URL")
    monkeypatch.delenv("METABASE_API_KEY")
    monkeypatch.setenv("STAGING_KEY", env.mb.api_key)
    (tmp_path / "metabase-guard.yaml").write_text(
        "url: http://127.0.0.1:9\n"
        "paths: [alerts/recommender.yaml]\n"
        "defaults: {collection: Guarded}\n"
        "targets:\n"
        f"  staging: {{url: '{env.mb.url}', api_key_env: STAGING_KEY}}\n"
    )
    result = env.run("plan", "--target", "staging", "--format", "json")
    assert result.code == 0, result.err
    paths = {c["address"] for c in json.loads(result.out)["changes"]}
    assert "collection Guarded/Health checks/Recommender" in paths
    assert not any("pipelines" in p or "model-run" in p for p in paths)
    missing = env.run("plan", "--target", "prod")
    assert missing.code == 1 and "staging" in missing.err


def test_sandbox_command_serves_until_interrupted(tmp_path: Path) -> None:
    import signal
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "metabase_guard", "sandbox", "--port", str(port),
         "--api-key", "k_test_123456"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # SIGINT as a terminal gives it, even when the suite itself runs with SIGINT ignored
        # (started in the background by a script): Python then never raises KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first
        client = MetabaseClient(f"http://127.0.0.1:{port}", api_key="k_test_123456")
        assert client.version.major == 61
        assert client.databases.by_name("Sample Database").id == 1
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert code == 0


def test_usage_errors_exit_1_not_the_changes_code(env: Env) -> None:
    assert env.run("plan", "--formt", "json").code == 1


def test_import_with_key_takes_back_a_card_whose_mark_was_removed(env: Env, tmp_path: Path) -> None:
    target = str(env.alerts / "recommender.yaml")
    assert env.run("apply", "--yes", target).code == 0
    with env.client() as client:
        card = next(c for c in client.cards.list()
                    if managed_key(c.description) == "weekly-recommendations")
        client.cards.update(card.id, {"description": "someone cleaned this up"})
    plan = env.run("plan", target)
    assert f"import --card {card.id} --key weekly-recommendations" in plan.out
    out = tmp_path / "taken.yaml"
    taken = env.run("import", "--card", str(card.id), "--key", "weekly-recommendations",
                    "--out", str(out), "--yes")
    assert taken.code == 0, taken.err
    again = env.run("plan", target)
    assert "card weekly-recommendations will be updated" in again.out  # the description
    assert "will be created" not in again.out
