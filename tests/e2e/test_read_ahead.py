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


_GROUPED = """\
questions:
  - key: grouped-weekly
    name: Grouped weekly count
    collection: Health checks
    database: Warehouse
    sql: |
      SELECT date_trunc('week', pushed_at) AS week, count(*) AS n
      FROM recommendations GROUP BY 1
    display: bar
    goal: {value: 10}
    alerts:
      - when: below_goal
        schedule: {every: day, at: "09:00"}
        email: [pm@example.com]
"""


def test_sql_linted_while_the_read_is_in_flight_is_read_in_the_instances_dialect(
    env: Env,
) -> None:
    (env.alerts / "grouped.yaml").write_text(_GROUPED)
    decls = engine.load([env.alerts])
    # the guess matters: read as Mongo (no SQL), the grouped query is not found silent
    as_mongo = {f.rule for f in engine.lint(decls, engines={"Warehouse": "mongo"})}
    assert "silent-on-outage" in {f.rule for f in engine.lint(decls)} - as_mongo
    env.mb.sandbox.latency = 0.1  # the read is still under way when the plan starts linting
    results = {}
    for guess in ({}, {"Warehouse": "postgres"}, {"Warehouse": "mongo"}):
        with env.client() as client:
            reading = engine.read_ahead(client)
            result = engine.plan(decls, client, reading=reading, engines=guess)
            assert not reading.running()
        results[str(guess)] = [f for f in result.findings if f.rule != "engine-mismatch"]
    env.mb.sandbox.latency = 0
    with env.client() as client:
        plain = engine.plan(decls, client).findings
    assert any(f.rule == "silent-on-outage" for f in plain)
    assert all(found == plain for found in results.values())
