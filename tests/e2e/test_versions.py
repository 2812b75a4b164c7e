"""plan, apply, plan again at every Metabase version the sandbox emulates (docs/compatibility.md).

Each version runs the demo declarations, whose alerts post to Slack, through the CLI over HTTP.
"""

from __future__ import annotations

import pytest

from metabase_guard.api.models import NEWEST_TESTED_MAJOR
from metabase_guard.sandbox import Sandbox
from metabase_guard.sandbox.misc import rename_slack_channel
from metabase_guard.sandbox.versions import SLACK_OBJECTS_SINCE
from tests.e2e.conftest import Env

# One row per version of docs/compatibility.md, 0.62 and 0.63 as people run them now, an
# Enterprise build and a development build (features probed).
VERSIONS = [
    "v0.54.13", "v0.55.9", "v0.56.12", "v0.57.8", "v0.58.7", "v0.59.6", "v0.60.4",
    "v0.61.2", "v0.62.2", "v0.63.1", "v1.63.1", "v0.64.0-SNAPSHOT",
]


def _seeds(*changes: dict[str, str]) -> list[object]:
    return [pytest.param(c, id="-".join(c.values())) for c in changes]


def _slack_recipients(env: Env) -> list[dict[str, object]]:
    store = env.mb.sandbox.store
    slack_handlers = {h["id"] for h in store.all("handlers")
                      if h["channel_type"] == "channel/slack"}
    return [r["details"] for r in store.all("recipients")
            if r["notification_handler_id"] in slack_handlers]


@pytest.mark.parametrize("env", _seeds(*({"version": v} for v in VERSIONS)), indirect=True)
def test_plan_apply_plan_at_every_version(env: Env) -> None:
    first = env.run("plan", "--detailed-exitcode")
    assert first.code == 2, first.err
    assert env.writes() == 0

    applied = env.run("apply", "--yes")
    assert applied.code == 0, applied.err

    second = env.run("plan", "--detailed-exitcode")
    assert second.code == 0, second.out + second.err
    assert "No changes." in second.out
    before = env.writes()
    assert env.run("apply", "--yes").code == 0
    assert env.writes() == before

    details = _slack_recipients(env)
    assert details, "the demo alerts post to Slack"
    store = env.mb.sandbox.store
    if store.slack_objects:
        assert all(d.get("channel_id") == store.slack_ids[str(d["value"])] for d in details)
    else:
        assert all(set(d) == {"value"} for d in details), details


@pytest.mark.parametrize("env", _seeds({"version": "v0.62.2", "slack_list": "strings"},
                                       {"version": "v0.61.2", "slack_list": "objects"}),
                         indirect=True)
def test_both_slack_list_shapes_plan_and_apply(env: Env) -> None:
    objects = env.mb.sandbox.store.slack_objects
    assert env.run("apply", "--yes").code == 0
    again = env.run("plan", "--detailed-exitcode")
    assert again.code == 0, again.out
    ids = [d.get("channel_id") for d in _slack_recipients(env)]
    assert all(ids) if objects else not any(ids)


def test_object_list_from_the_version_that_ships_it() -> None:
    assert not Sandbox(version_tag=f"v0.{SLACK_OBJECTS_SINCE - 1}.4").store.slack_objects
    assert Sandbox(version_tag=f"v0.{SLACK_OBJECTS_SINCE}.0").store.slack_objects


@pytest.mark.parametrize("env", _seeds({"version": f"v0.{NEWEST_TESTED_MAJOR + 1}.0"}),
                         indirect=True)
def test_a_version_newer_than_tested_warns_once_and_carries_on(env: Env) -> None:
    result = env.run("plan", "--detailed-exitcode")
    assert result.code == 2, result.err
    assert result.both.count("newer than") == 1, result.both
    assert f"0.{NEWEST_TESTED_MAJOR}" in result.both


@pytest.mark.parametrize("env", _seeds({"version": f"v0.{NEWEST_TESTED_MAJOR}.1"}),
                         indirect=True)
def test_a_tested_version_does_not_warn(env: Env) -> None:
    result = env.run("plan")
    assert "newer than" not in result.both


@pytest.mark.parametrize("env", _seeds({"version": "v0.63.1"}), indirect=True)
def test_unknown_channel_with_the_object_list_names_channels_not_dicts(env: Env) -> None:
    path = env.alerts / "recommender.yaml"
    path.write_text(path.read_text().replace('"#ml-alerts"', '"#no-such-channel"'))
    result = env.run("plan")
    assert result.code == 1, result.both
    assert "no Slack channel named '#no-such-channel'" in result.both
    assert "#ml-alerts" in result.both
    assert "displayName" not in result.both and "{" not in result.err


@pytest.mark.parametrize("env", _seeds({"version": "v0.62.2"}), indirect=True)
def test_a_channel_renamed_in_slack_is_reported_in_words_then_converges(env: Env) -> None:
    assert env.run("apply", "--yes").code == 0
    store = env.mb.sandbox.store
    channel_id = store.slack_ids["#ml-alerts"]
    rename_slack_channel(store, "#ml-alerts", "#ml-alarms")

    renamed = env.run("plan")
    assert renamed.code == 1
    assert "'#ml-alerts' was renamed to '#ml-alarms' in Slack" in renamed.both
    assert channel_id in renamed.both

    path = env.alerts / "recommender.yaml"
    path.write_text(path.read_text().replace('"#ml-alerts"', '"#ml-alarms"'))
    assert env.run("plan", "--detailed-exitcode").code == 2
    assert env.run("apply", "--yes").code == 0
    assert env.run("plan", "--detailed-exitcode").code == 0
    assert {"value": "#ml-alarms", "channel_id": channel_id} in _slack_recipients(env)
