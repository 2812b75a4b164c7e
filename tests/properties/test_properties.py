"""Property-based tests of the loader, the normalisers and the planner (hypothesis).

Small and deterministic: ``derandomize=True`` (examples derived from the test, not the clock),
no example database, a handful of examples for the sandbox round trips.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from metabase_guard import engine
from metabase_guard.api.query import normalise_sql, read_native, write_native
from metabase_guard.errors import DeclarationError
from metabase_guard.reconcile.identity import compose_description, managed_key, user_description
from metabase_guard.sandbox import DEMO_SEED, Sandbox, serve
from metabase_guard.spec.loader import load_text
from metabase_guard.spec.schedule import canonical_cron, to_cron

FAST = settings(derandomize=True, database=None, deadline=None, max_examples=40,
                suppress_health_check=[HealthCheck.too_slow])
# no shrinking against the sandbox: a failure is reported as found, in bounded time
SANDBOX = settings(FAST, max_examples=15, phases=(Phase.explicit, Phase.generate))

# -- generated declarations --------------------------------------------------------------------

slug = st.from_regex(r"\A[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,5}){0,2}\Z")
# names and descriptions: printable text Metabase keeps as is (no control characters, no edges)
words = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF,
                              exclude_categories=("Cc", "Cs")),
                min_size=1, max_size=30).map(str.strip).filter(bool)
times = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15,
                                                                                          30, 45]))
schedules = st.one_of(
    st.builds(lambda m: {"every": "hour", "minute": m}, st.integers(0, 59)),
    st.builds(lambda t: {"every": "day", "at": t}, times),
    st.builds(lambda d, t: {"every": "week", "on": d, "at": t},
              st.sampled_from(["monday", "wednesday", "sunday"]), times),
    st.builds(lambda d, t: {"every": "month", "on": d, "at": t},
              st.sampled_from(["first", "last", "2nd", "15th", "31st"]), times),
)
recipients = st.fixed_dictionaries({}, optional={
    "email": st.lists(st.sampled_from(["pm@example.com", "ds@example.com", "x@example.org"]),
                      min_size=1, max_size=2, unique=True),
    "groups": st.just(["Data team"]),
    "slack": st.sampled_from([["#alerts"], ["#ml-alerts", "#general"]]),
    "webhook": st.just(["pagerduty"]),
}).filter(bool)


@st.composite
def question(draw: st.DrawFn, key: str) -> dict[str, Any]:
    goal = draw(st.booleans())
    display = draw(st.sampled_from(["line", "bar", "area"] if goal else ["table", "scalar"]))
    q: dict[str, Any] = {
        "key": key,
        "name": draw(words),
        "collection": draw(st.sampled_from(["Health checks", "Health checks/Deep", "Other"])),
        "database": "Warehouse",
        # cheap queries: the sandbox runs a card's SQL when it is saved
        "sql": "SELECT run_at AS day, duration_s AS n\nFROM model_runs LIMIT 3" if goal
               else draw(st.sampled_from(["SELECT 1 AS n", "SELECT run_at, status\n"
                                                           "FROM model_runs LIMIT 2"])),
        "display": display,
    }
    if draw(st.booleans()):
        q["description"] = draw(words)
    if goal:
        q["goal"] = {"value": draw(st.integers(1, 10_000))}
        q["metric"] = "n"
    whens = ["has_rows", "below_goal", "above_goal"] if goal else ["has_rows"]
    q["alerts"] = draw(st.lists(
        st.builds(lambda w, s, r: {"when": w, "schedule": s, **r},
                  st.sampled_from(whens), schedules, recipients),
        max_size=2))
    return q


@st.composite
def declarations(draw: st.DrawFn) -> str:
    keys = draw(st.lists(slug, min_size=1, max_size=3, unique=True))
    questions = [draw(question(k)) for k in keys]
    # JSON is YAML 1.2, and unlike yaml.dump it never writes anchors for shared values
    return json.dumps({"questions": questions}, indent=2, ensure_ascii=False)


# -- the loader ---------------------------------------------------------------------------------


@FAST
@given(declarations())
def test_generated_declarations_load_and_keep_their_values(text: str) -> None:
    loaded = load_text(text)
    source = yaml.safe_load(text)["questions"]
    assert [q.key for q in loaded.questions] == [q["key"] for q in source]
    assert [q.name for q in loaded.questions] == [q["name"] for q in source]
    assert [len(q.alerts) for q in loaded.questions] == [len(q["alerts"]) for q in source]


@FAST
@given(st.text(max_size=300))
def test_any_text_is_loaded_or_rejected_with_located_problems(text: str) -> None:
    try:
        load_text(text, "fuzz.yaml")
    except DeclarationError as exc:
        assert exc.problems
        assert all(p.file == "fuzz.yaml" for p in exc.problems)


@FAST
@given(st.binary(max_size=200))
def test_any_bytes_are_loaded_or_rejected(data: bytes) -> None:
    from metabase_guard.spec.loader import _Reader

    reader = _Reader()
    reader.read_bytes(data, "fuzz.yaml")  # never raises; problems are collected
    assert all(p.file == "fuzz.yaml" for p in reader.problems)


# -- normalisation is idempotent -----------------------------------------------------------------


@FAST
@given(schedules)
def test_canonical_cron_is_idempotent_on_generated_schedules(schedule: dict[str, Any]) -> None:
    from metabase_guard.spec.loader import load_text as load

    doc = {"questions": [{"key": "a", "name": "A", "database": "W", "sql": "SELECT 1",
                          "alerts": [{"when": "has_rows", "schedule": schedule,
                                      "email": ["a@example.com"]}]}]}
    alert = load(json.dumps(doc)).questions[0].alerts[0]
    cron = to_cron(alert.schedule)
    once = canonical_cron(cron)
    assert canonical_cron(once) == once


cron_fields = st.tuples(
    st.sampled_from(["0", "30", "0/15"]),
    st.sampled_from(["0", "5", "*/10", "0,30", "15-45/15"]),
    st.sampled_from(["*", "7", "9-17", "*/2", "8,12,16"]),
    st.sampled_from(["?", "*", "1", "L", "15W", "1-7", "LW"]),
    st.sampled_from(["*", "1", "jan", "JAN-MAR", "*/3"]),
    st.sampled_from(["?", "*", "MON", "mon-fri", "2#1", "6L", "1,3,5"]),
    st.sampled_from(["", "*", "2030"]),
)


@FAST
@given(cron_fields)
def test_canonical_cron_is_idempotent_on_generated_crons(parts: tuple[str, ...]) -> None:
    expr = " ".join(p for p in parts if p)
    # every generated field is valid alone; Quartz's one cross-field rule decides the rest
    if (parts[3] == "?") == (parts[5] == "?"):
        with pytest.raises(ValueError, match=r"'\?' in exactly one"):
            canonical_cron(expr)
        return
    once = canonical_cron(expr)
    assert len(once.split()) == 7
    assert canonical_cron(once) == once
    assert canonical_cron(once.lower()) == once


@FAST
@given(st.text(max_size=200))
def test_normalise_sql_is_idempotent(sql: str) -> None:
    once = normalise_sql(sql)
    assert normalise_sql(once) == once
    assert normalise_sql(sql.replace("\n", "\r\n")) == once


@FAST
@given(st.text(max_size=120), st.booleans())
def test_native_query_round_trips_through_both_wire_forms(sql: str, mbql5: bool) -> None:
    from metabase_guard.api.query import NativeQuery

    query = NativeQuery(database_id=1, sql=sql)
    back = read_native(write_native(query, mbql5=mbql5))
    assert back is not None and normalise_sql(back.sql) == normalise_sql(sql)


@FAST
@given(st.one_of(st.none(), st.text(max_size=80)), slug)
def test_description_marker_compose_and_parse(description: str | None, key: str) -> None:
    composed = compose_description(description, key)
    assert managed_key(composed) == key
    assert compose_description(user_description(composed), key) == composed
    assert user_description(compose_description(user_description(composed), key)) == \
        user_description(composed)


# -- the planner against the sandbox -------------------------------------------------------------


@SANDBOX
@given(declarations(), declarations())
def test_apply_then_plan_is_empty_and_edits_converge(first: str, second: str) -> None:
    """Planning a state against itself is empty, after a create and after arbitrary edits."""
    import tempfile
    from pathlib import Path

    sb = Sandbox(seed=DEMO_SEED)
    with serve(sb) as server, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "decl.yaml"
        for text in (first, second):
            path.write_text(text)
            declared = engine.load([path])
            with engine.connect(server.url, api_key=sb.admin_api_key) as client:
                result = engine.plan(declared, client, prune=True)
                engine.apply(result, client, force=True)
                again = engine.plan(declared, client, prune=True)
                assert again.plan.is_empty, [c.address for c in again.plan.changes]
                writes = sum(1 for r in sb.requests if r.method != "GET")
                engine.apply(again, client, force=True)
                assert sum(1 for r in sb.requests if r.method != "GET") == writes
                # the views read back equal the declared ones, field by field
                managed = again.live.managed_cards()
                for item in again.desired:
                    from metabase_guard.reconcile.cards import card_view_of

                    assert card_view_of(managed[item.key], again.live) == item.view
