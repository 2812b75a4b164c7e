"""The guards through the CLI: mass-change thresholds, ``--force``, exit codes, old instances.

The demo's nine managed objects sit under ``min_existing = 10``, so the thresholds are proven
here on twelve generated questions (twelve managed cards, no alerts).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from metabase_guard.sandbox.pytest_plugin import MountedSandbox
from tests.e2e.conftest import Env, demo_seed

N = 12


def _write(path: Path, keys: range, description: str = "Rows mean trouble.") -> Path:
    lines = ["questions:"]
    for i in keys:
        lines += [
            f"  - key: guard-{i:02d}",
            f"    name: Guard question {i:02d}",
            f"    description: {description}",
            "    collection: Health checks/Guards",
            "    database: Warehouse",
            "    sql: SELECT 1 AS one",
            "    display: table",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def twelve(env: Env) -> tuple[Env, Path]:
    spec = _write(env.alerts.parent / "guards.yaml", range(N))
    created = env.run("apply", str(spec), "--yes")
    assert created.code == 0, created.both
    assert env.run("plan", str(spec), "--detailed-exitcode").code == 0
    return env, spec


def test_deleting_more_than_the_share_needs_force(twelve: tuple[Env, Path]) -> None:
    env, spec = twelve
    _write(spec, range(N - 4))  # 4 of 12 (33 %) would be archived
    before = env.writes()
    refused = env.run("apply", str(spec), "--prune", "--yes")
    assert refused.code == 1
    assert "delete 4 of 12" in refused.err and "--force" in refused.err
    assert "Traceback" not in refused.both
    assert env.writes() == before
    forced = env.run("apply", str(spec), "--prune", "--yes", "--force")
    assert forced.code == 0, forced.both
    assert env.writes() > before
    assert env.run("plan", str(spec), "--prune", "--detailed-exitcode").code == 0


def test_deleting_within_the_share_needs_no_force(twelve: tuple[Env, Path]) -> None:
    env, spec = twelve
    _write(spec, range(N - 3))  # 3 of 12 (25 %)
    assert env.run("apply", str(spec), "--prune", "--yes").code == 0
    assert env.run("plan", str(spec), "--prune", "--detailed-exitcode").code == 0


def test_updating_more_than_the_share_needs_force(twelve: tuple[Env, Path]) -> None:
    env, spec = twelve
    text = spec.read_text().replace("Rows mean trouble.", "Rows mean real trouble.", 4)
    spec.write_text(text)
    before = env.writes()
    refused = env.run("apply", str(spec), "--yes")
    assert refused.code == 1 and "update 4 of 12" in refused.err
    assert env.writes() == before
    assert env.run("apply", str(spec), "--yes", "--force").code == 0
    assert env.run("plan", str(spec), "--detailed-exitcode").code == 0


def test_detailed_exitcode_is_1_on_an_error_not_2(env: Env) -> None:
    changed = env.run("plan", str(env.alerts), "--detailed-exitcode")
    assert changed.code == 2
    broken = env.alerts / "broken.yaml"
    broken.write_text("questions:\n  - key: x\n    nmae: typo\n")
    failed = env.run("plan", str(env.alerts), "--detailed-exitcode")
    assert failed.code == 1
    assert "broken.yaml:3" in failed.err and "Traceback" not in failed.both


def test_detailed_exitcode_is_1_when_metabase_fails(env: Env) -> None:
    env.mb.sandbox.inject_failure("GET", "^/api/card", 403, times=None)
    failed = env.run("plan", str(env.alerts), "--detailed-exitcode")
    assert failed.code == 1 and "Permission denied" in failed.err


def test_an_old_instance_is_refused_before_reading_or_writing(
    metabase_sandbox_factory: Callable[..., MountedSandbox], env: Env,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = metabase_sandbox_factory(version_tag="v0.53.9", seed=demo_seed(version="v0.53.9"))
    monkeypatch.setenv("METABASE_URL", old.url)
    monkeypatch.setenv("METABASE_API_KEY", old.api_key)
    for argv in (["plan", str(env.alerts)], ["apply", str(env.alerts), "--yes", "--force"]):
        old.sandbox.reset_log()
        result = env.run(*argv)
        assert result.code == 1 and "0.54" in result.err
        # the version comes from the public properties; nothing else is asked or sent
        paths = {(r.method, r.path) for r in old.sandbox.requests}
        assert paths == {("GET", "/api/session/properties")}, paths
