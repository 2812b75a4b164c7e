"""The plan's read of the instance starts before the YAML is loaded (``engine.read_ahead``).

What must hold: the plan made from a read ahead is the plan made without one; it stays
read-only; a declaration error is still the error reported, with no request of the read left
in flight once the command has returned.
"""

from __future__ import annotations

from metabase_guard import engine
from tests.e2e.conftest import Env


def test_a_plan_from_a_read_ahead_is_the_plan_without_one(env: Env) -> None:
    assert env.run("apply", "--yes").code == 0
    for path in env.alerts.glob("*.yaml"):  # something to change, so the plans are not empty
        path.write_text(path.read_text().replace("SELECT", "SELECT /* v2 */"))
    before = env.writes()
    with env.client() as client:
        reading = engine.read_ahead(client)
        ahead = engine.plan(engine.load([env.alerts]), client, reading=reading)
    with env.client() as client:
        plain = engine.plan(engine.load([env.alerts]), client)
    assert ahead.plan.changes and ahead.plan.checksum == plain.plan.checksum
    assert [c.key for c in ahead.plan.changes] == [c.key for c in plain.plan.changes]
    assert env.writes() == before


def test_a_declaration_error_is_reported_and_no_read_outlives_the_command(env: Env) -> None:
    env.mb.sandbox.reset_log()
    assert env.run("plan").code == 0
    full_read = len(env.mb.sandbox.requests)  # a plan's fixed number of requests
    (env.alerts / "broken.yaml").write_text("questions:\n  - key: [unclosed\n")
    env.mb.sandbox.reset_log()
    result = env.run("plan")
    assert result.code != 0 and "broken.yaml" in result.err
    # the read started ahead of the loading, and every request of it had been answered when
    # the command returned (none left in flight behind the error)
    assert len(env.mb.sandbox.requests) == full_read
    assert not env.mb.sandbox.requests or all(r.method == "GET" for r in env.mb.sandbox.requests)
