"""plan, apply, plan again at every emulated Metabase version, with both Slack list shapes.

docs/compatibility.md lists what differs per version; the sandbox emulates each difference.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.e2e.conftest import Env, demo_seed

VERSIONS = [f"v0.{major}.1" for major in range(54, 64)]


def _converges(env: Env) -> None:
    first = env.run("plan", "--detailed-exitcode")
    assert first.code == 2, first.err
    assert env.writes() == 0, "plan must never write"
    applied = env.run("apply", "--yes")
    assert applied.code == 0, applied.err
    second = env.run("plan", "--detailed-exitcode")
    assert second.code == 0, second.out + second.err
    assert "No changes." in second.out


@pytest.mark.parametrize("version", VERSIONS)
def test_plan_apply_plan_at_every_emulated_version(
    env_for: Callable[..., Env], version: str
) -> None:
    env = env_for(seed=demo_seed(version=version))
    assert env.client().version.tag == version
    _converges(env)
    assert env.mb.sandbox.store.all("notifications"), "the demo declarations include alerts"


@pytest.mark.parametrize("shape", ["strings", "objects"])
@pytest.mark.parametrize("version", ["v0.58.3", "v0.63.0"])
def test_a_slack_alert_plans_and_applies_with_either_list_shape(
    env_for: Callable[..., Env], version: str, shape: str
) -> None:
    channels = ["#general", "#alerts", {"name": "#ml-alerts", "id": "C20484062"}]
    env = env_for(seed=demo_seed(version=version, slack_list=shape, slack_channels=channels))
    _converges(env)
    details = {
        r["details"]["value"]: r["details"]
        for r in env.mb.sandbox.store.all("recipients")
        if r["type"] == "notification-recipient/raw-value" and r.get("details")
    }
    # The id goes along only where the server lists ids and its recipient schema takes them.
    expected = "C20484062" if (shape, version) == ("objects", "v0.63.0") else None
    assert details["#ml-alerts"].get("channel_id") == expected


@pytest.mark.parametrize("shape", ["strings", "objects"])
def test_unknown_slack_channel_error_lists_names_not_objects(
    env_for: Callable[..., Env], shape: str
) -> None:
    env = env_for(seed=demo_seed(slack_list=shape, slack_channels=["#general", "#data-team"]))
    result = env.run("plan")
    assert result.code == 1
    assert "#ml-alerts" in result.err and "#data-team" in result.err
    assert "displayName" not in result.err and "{" not in result.err


def test_plan_on_a_newer_metabase_warns_once_and_still_plans(env_for: Callable[..., Env]) -> None:
    env = env_for(seed=demo_seed(version="v0.64.0"))
    result = env.run("plan", "--detailed-exitcode")
    assert result.code == 2, result.err
    assert result.both.count("newer than the newest version metabase-guard was tested on") == 1


def test_ids_appearing_later_cause_no_perpetual_diff(env_for: Callable[..., Env]) -> None:
    """Alerts made while the list had no ids stay unchanged once it has them: names compare."""
    env = env_for(seed=demo_seed(version="v0.63.0", slack_list="strings"))
    _converges(env)
    env.mb.sandbox.store.slack_list = "objects"
    again = env.run("plan", "--detailed-exitcode")
    assert again.code == 0, again.out + again.err


def test_a_channel_renamed_in_slack_is_reported_in_words(env_for: Callable[..., Env]) -> None:
    channels = ["#general", "#alerts", {"name": "#ml-alerts", "id": "C20484062"}]
    env = env_for(seed=demo_seed(version="v0.63.0", slack_channels=channels))
    _converges(env)
    store = env.mb.sandbox.store
    store.slack_channels = ["#general", "#alerts", "#ml-alarms"]
    store.slack_ids["#ml-alarms"] = store.slack_ids.pop("#ml-alerts")
    before = env.writes()
    result = env.run("plan")
    assert result.code == 1
    assert "'#ml-alerts' was renamed to '#ml-alarms' in Slack" in result.err
    assert env.writes() == before
