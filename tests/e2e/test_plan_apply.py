"""plan and apply through the CLI, against the sandbox over HTTP."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from metabase_guard import engine
from metabase_guard.reconcile.identity import managed_key
from metabase_guard.reconcile.plan import Change
from tests.e2e.conftest import Env


def test_plan_apply_plan_converges_and_second_apply_writes_nothing(env: Env) -> None:
    first = env.run("plan", "--detailed-exitcode")
    assert first.code == 2, first.err
    assert "Plan: " in first.out and "to add" in first.out
    assert env.writes() == 0, "plan must never write"

    applied = env.run("apply", "--yes")
    assert applied.code == 0, applied.err
    assert "Apply complete!" in applied.err

    second = env.run("plan", "--detailed-exitcode")
    assert second.code == 0, second.out
    assert "No changes." in second.out

    before = env.writes()
    again = env.run("apply", "--yes")
    assert again.code == 0
    assert env.writes() == before, "a second apply with no change must make zero writes"


def test_plan_reads_in_a_fixed_number_of_requests(env: Env) -> None:
    env.mb.sandbox.reset_log()
    assert env.run("plan").code == 0
    counts = env.mb.sandbox.request_counts()
    assert {method for method, _ in counts} == {"GET"}
    assert sum(counts.values()) <= 12


def test_json_and_markdown_formats(env: Env) -> None:
    result = env.run("plan", "--format", "json")
    data = json.loads(result.out)
    assert data["format_version"] == "1"
    assert data["summary"]["create"] == len(data["changes"]) > 0
    assert all(c["actions"] == ["create"] for c in data["changes"])
    md = env.run("plan", "--format", "markdown")
    assert md.out.startswith("### metabase-guard plan")
    assert "| action | object | details |" in md.out


def test_apply_refuses_without_yes_when_not_on_a_terminal(env: Env) -> None:
    result = env.run("apply")
    assert result.code == 1
    assert "refusing to apply without confirmation" in result.err
    assert env.writes() == 0


def test_saved_plan_applies_only_while_it_still_holds(env: Env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "plan.json"
    assert env.run("plan", "--out", str(out)).code == 0
    saved = json.loads(out.read_text())
    assert env.mb.api_key not in out.read_text()
    assert len(saved["checksum"]) == 64
    # someone creates a collection meanwhile: the plan no longer holds
    with env.client() as client:
        client.collections.create("Health checks")
    stale = env.run("apply", "--plan", str(out))
    assert stale.code == 1
    assert "no longer matches" in stale.err
    assert env.writes() == 1  # only the hand-made collection
    fresh = tmp_path / "fresh.json"
    assert env.run("plan", "--out", str(fresh)).code == 0
    assert env.run("apply", "--plan", str(fresh)).code == 0


def test_drift_is_shown_field_by_field_and_reverted(env: Env) -> None:
    assert env.run("apply", "--yes").code == 0
    with env.client() as client:
        card = next(c for c in client.cards.list()
                    if managed_key(c.description) == "weekly-recommendations")
        settings = dict(card.visualization_settings, **{"graph.goal_value": 2000})
        client.cards.update(card.id, {"visualization_settings": settings, "name": "Renamed"})
    drift = env.run("plan")
    assert "goal" in drift.out and "2,000 -> 2,400" in drift.out
    assert '"Renamed" -> "Recommendations pushed last week"' in drift.out
    assert env.run("apply", "--yes").code == 0
    assert "No changes." in env.run("plan").out


def test_hand_made_objects_are_never_touched(env: Env) -> None:
    assert env.run("apply", "--yes").code == 0
    pm = env.client(username="pm@example.com", password="priya")
    with env.client() as admin:
        managed = next(c for c in admin.cards.list()
                       if managed_key(c.description) == "weekly-recommendations")
        hand_card = admin.cards.create({
            "name": managed.name, "display": "table", "collection_id": managed.collection_id,
            "dataset_query": managed.dataset_query, "visualization_settings": {},
        })
    body = {
        "payload_type": "notification/card",
        "payload": {"card_id": managed.id, "send_condition": "has_result"},
        "subscriptions": [{"type": "notification-subscription/cron",
                           "cron_schedule": "0 0 6 * * ? *"}],
        "handlers": [{"channel_type": "channel/email", "recipients": [
            {"type": "notification-recipient/raw-value", "details": {"value": "me@example.com"}}]}],
    }
    theirs = pm.transport.request("POST", "/api/notification", json_body=body)
    before = env.writes()
    plan = env.run("plan", "--prune")
    assert "No changes." in plan.out
    assert f"alert #{theirs['id']}" in plan.out and "pm@example.com" in plan.out
    assert env.run("apply", "--yes", "--prune").code == 0
    assert env.writes() == before
    with env.client() as admin:
        assert not admin.cards.get(hand_card.id).archived
        assert admin.notifications.get(theirs["id"]).active


def _assert_converged_without_duplicates(env: Env) -> None:
    assert "No changes." in env.run("plan").out
    with env.client() as client:
        alerts = client.notifications.list()
        cards = [c for c in client.cards.list() if managed_key(c.description)]
        collections = [(c.name, c.location) for c in client.collections.list()]
    per_card = Counter(n.payload.card_id for n in alerts if n.payload)
    assert len(cards) == len({managed_key(c.description) for c in cards})
    assert max(per_card.values()) == 1, per_card
    assert len(collections) == len(set(collections))


def test_lost_answer_to_a_committed_create_is_healed_in_the_same_run(env: Env) -> None:
    env.mb.sandbox.inject_failure("POST", r"^/api/notification$", 500, after_commit=True,
                                  times=2)
    env.mb.sandbox.inject_failure("POST", r"^/api/card$", 502, after_commit=True, times=1)
    result = env.run("apply", "--yes")
    assert result.code == 0, result.err
    _assert_converged_without_duplicates(env)


@pytest.mark.parametrize("killed_after", [0, 1, 3, 5, 8, 11])
def test_apply_killed_between_two_writes_is_completed_by_the_next(
    env: Env, killed_after: int
) -> None:
    class Killed(Exception):
        pass

    done: list[str] = []

    def progress(change: Change, status: str, error: str | None) -> None:
        if status == "done":
            done.append(change.address)
            if len(done) > killed_after:
                raise Killed

    declarations = engine.load(["alerts"])
    with env.client() as client:
        result = engine.plan(declarations, client)
        assert len(result.plan.changes) > killed_after
        with pytest.raises(Killed):
            engine.apply(result, client, concurrency=1, progress=progress)
    healed = env.run("apply", "--yes")
    assert healed.code == 0, healed.err
    _assert_converged_without_duplicates(env)


def test_failed_write_stops_cleanly_and_says_what_was_not_attempted(env: Env) -> None:
    env.mb.sandbox.inject_failure("POST", r"^/api/card$", 403, times=1)
    failed = env.run("apply", "--yes", "--concurrency", "1")
    assert failed.code == 1
    assert "Apply failed" in failed.err and "failed: card" in failed.err
    assert "not attempted: alert" in failed.err
    assert "Run apply again" in failed.err
    assert env.run("apply", "--yes").code == 0
    _assert_converged_without_duplicates(env)


def test_prune_archives_removed_questions_and_guards_mass_deletes(env: Env) -> None:
    assert env.run("apply", "--yes").code == 0
    (env.alerts / "pipelines.yaml").unlink()
    kept = env.run("plan")
    assert "Kept because --prune was not given" in kept.out
    pruned = env.run("plan", "--prune", "--detailed-exitcode")
    assert pruned.code == 2
    assert "will be archived" in pruned.out
    # a small set is guarded too (issue 9): 3 of 5 cards and their alerts is above 30 %
    refused = env.run("apply", "--yes", "--prune")
    assert refused.code == 1 and "above the 30% threshold" in refused.err, refused.err
    assert env.run("apply", "--yes", "--prune", "--force").code == 0
    assert "No changes." in env.run("plan", "--prune").out


def test_older_metabase_is_refused_before_reading(  # type: ignore[no-untyped-def]
    metabase_sandbox_factory, monkeypatch, capsys
) -> None:
    from metabase_guard import cli
    from tests.e2e.conftest import demo_seed

    mb = metabase_sandbox_factory(version_tag="v0.53.9", seed=demo_seed(version="v0.53.9"))
    monkeypatch.setenv("METABASE_URL", mb.url)
    monkeypatch.setenv("METABASE_API_KEY", mb.api_key)
    code = cli.main(["plan", "alerts"])
    err = capsys.readouterr().err
    assert code == 1
    assert "0.54" in err and "nothing was read or written" in err


def test_legacy_mbql_instance_converges(  # type: ignore[no-untyped-def]
    metabase_sandbox_factory, monkeypatch, capsys
) -> None:
    from metabase_guard import cli
    from tests.e2e.conftest import REPO, demo_seed

    mb = metabase_sandbox_factory(version_tag="v0.56.4", seed=demo_seed(version="v0.56.4"))
    monkeypatch.setenv("METABASE_URL", mb.url)
    monkeypatch.setenv("METABASE_API_KEY", mb.api_key)
    alerts = str(REPO / "alerts" / "recommender.yaml")
    assert cli.main(["apply", "--yes", alerts]) == 0
    capsys.readouterr()
    assert cli.main(["plan", "--detailed-exitcode", alerts]) == 0
    stored = mb.sandbox.handle("GET", "/api/card", {"f": ["all"]},
                               {"x-api-key": mb.api_key}, b"")
    assert b'"type": "native"' in stored.body or b'"type":"native"' in stored.body


def test_session_login_works_and_secrets_never_show(env: Env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("METABASE_API_KEY")
    monkeypatch.setenv("METABASE_USERNAME", "admin@example.com")
    monkeypatch.setenv("METABASE_PASSWORD", "admin")
    result = env.run("--debug", "plan")
    assert result.code == 0, result.err
    assert "admin" not in result.out.replace("admin@example.com", "")
    monkeypatch.setenv("METABASE_PASSWORD", "wrong-password-xyz")
    bad = env.run("--debug", "plan")
    assert bad.code == 1
    assert "wrong-password-xyz" not in bad.both
    assert "Traceback" not in bad.both


def test_api_key_never_in_output_even_in_debug_and_errors(env: Env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    key = env.mb.api_key
    ok = env.run("--debug", "apply", "--yes")
    assert ok.code == 0 and key not in ok.both
    monkeypatch.setenv("METABASE_API_KEY", key + "-revoked")
    bad = env.run("--debug", "plan")
    assert bad.code == 1 and "Unauthenticated" in bad.err
    assert key not in bad.both


def test_a_non_admin_login_converges_and_is_told_what_it_cannot_check(  # type: ignore[no-untyped-def]
    env: Env, monkeypatch
) -> None:
    monkeypatch.delenv("METABASE_API_KEY")
    monkeypatch.setenv("METABASE_USERNAME", "pm@example.com")
    monkeypatch.setenv("METABASE_PASSWORD", "priya")
    target = str(env.alerts / "recommender.yaml")
    first = env.run("apply", "--yes", target)
    assert first.code == 0, first.err
    assert "may not list users" in first.out
    again = env.run("plan", "--detailed-exitcode", target)
    assert again.code == 0, again.out


def test_leftover_goal_of_another_display_family_never_costs_alerts(env: Env) -> None:
    """A progress card still carrying a graph.goal_value (the UI leaves it behind)."""
    assert env.run("apply", "--yes").code == 0
    with env.client() as client:
        card = next(c for c in client.cards.list()
                    if managed_key(c.description) == "weekly-successful-runs")
        settings = dict(card.visualization_settings, **{"graph.goal_value": 7})
        client.cards.update(card.id, {"visualization_settings": settings})
    assert "No changes." in env.run("plan").out
    path = env.alerts / "pipelines.yaml"
    text = path.read_text()
    assert "goal: {value: 7, label: Nightly runs}" in text
    path.write_text(text.replace("goal: {value: 7, label: Nightly runs}",
                                 "goal: {value: 6, label: Nightly runs}"))
    plan = env.run("plan")
    assert "7 -> 6" in plan.out and "deletes" not in plan.out
    assert env.run("apply", "--yes").code == 0
    _assert_converged_without_duplicates(env)
    with env.client() as client:
        alerts = client.notifications.list(card_id=card.id)
    assert len(alerts) == 1


def test_view_only_credentials_fail_cleanly_and_write_nothing_harmful(
    metabase_sandbox_factory, monkeypatch, capsys  # type: ignore[no-untyped-def]
) -> None:
    from metabase_guard import cli
    from tests.e2e.conftest import REPO, demo_seed

    seed = demo_seed()
    seed["users"] = [dict(u, collection_access="view") if u["email"] == "pm@example.com" else u
                     for u in seed["users"]]
    mb = metabase_sandbox_factory(seed=seed)
    monkeypatch.setenv("METABASE_URL", mb.url)
    monkeypatch.delenv("METABASE_API_KEY", raising=False)
    monkeypatch.setenv("METABASE_USERNAME", "pm@example.com")
    monkeypatch.setenv("METABASE_PASSWORD", "priya")
    code = cli.main(["apply", "--yes", str(REPO / "alerts" / "recommender.yaml")])
    err = capsys.readouterr().err
    assert code == 1
    assert "Permission denied" in err and "Traceback" not in err
    counts = mb.sandbox.request_counts()
    writes = {k: n for k, n in counts.items() if k[0] in ("POST", "PUT") and k[1] != "/api/session"}
    assert writes == {("POST", "/api/collection"): 1}  # refused, and nothing after it
