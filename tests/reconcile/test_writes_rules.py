"""The write rules of ``reconcile/writes.py``: a create is looked up before it is tried again,
an update is simply made again, and the first failure stops the run.

Pure: the create, find and write steps are plain callables that raise the transport's own
exceptions, so each rule is counted exactly (the e2e and fault tests prove them on the wire).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from metabase_guard.errors import (
    ApiConnectionError,
    ApiError,
    ApiStatusError,
    ApiTimeoutError,
    RateLimitError,
    ServerError,
)
from metabase_guard.reconcile import writes
from metabase_guard.reconcile.collections import collection_id
from metabase_guard.reconcile.plan import Change, Plan
from metabase_guard.reconcile.writes import (
    ApplyReport,
    WriteContext,
    create_verified,
    retire_live,
    write_idempotent,
)
from tests.reconcile.test_plan_pure import live_state, managed_card


def _failing(errors: list[Exception], result: str = "made") -> tuple[Callable[[], str], list[int]]:
    calls: list[int] = []

    def step() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return result

    return step, calls


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """``time.sleep`` in writes.py recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr(writes.time, "sleep", waited.append)
    return waited


def test_the_retry_constants_are_those_the_docs_promise() -> None:
    assert writes.CREATE_ATTEMPTS == 3
    assert writes.SETTLE_WAITS == (0.5, 1.0, 2.0, 4.0)


@pytest.mark.parametrize("lost", [ApiConnectionError("reset"),
                                  ServerError("boom", status=500),
                                  RateLimitError("slow down")])
def test_a_lost_create_that_landed_is_found_not_made_twice(lost: Exception) -> None:
    create, made = _failing([lost])
    found, looked = _failing([], result="found")
    assert create_verified(create, found) == "found"
    assert (len(made), len(looked)) == (1, 1)


def test_a_lost_create_that_did_not_land_is_tried_again_up_to_three_times() -> None:
    create, made = _failing([ServerError("a", status=502), ServerError("b", status=503)])
    looked: list[int] = []
    assert create_verified(create, lambda: looked.append(1)) == "made"  # type: ignore[func-returns-value]
    assert (len(made), len(looked)) == (3, 2)
    create, made = _failing([ServerError(str(i), status=500) for i in range(3)])
    with pytest.raises(ServerError, match=r"^2$"):
        create_verified(create, lambda: None)
    assert len(made) == 3


def test_a_refused_create_is_not_looked_up_or_retried() -> None:
    create, made = _failing([ApiStatusError("bad", status=400)])
    with pytest.raises(ApiStatusError):
        create_verified(create, lambda: pytest.fail("looked up"))  # type: ignore[arg-type,return-value]
    assert len(made) == 1


def test_a_timed_out_create_is_waited_for_and_never_sent_twice(sleeps: list[float]) -> None:
    create, made = _failing([ApiTimeoutError("slow")])
    answers: list[str | None] = [None, None, "landed"]
    assert create_verified(create, lambda: answers.pop(0)) == "landed"
    assert len(made) == 1
    assert sleeps == [0.5, 1.0, 2.0]


def test_a_timed_out_create_that_never_shows_is_the_error(sleeps: list[float]) -> None:
    create, made = _failing([ApiTimeoutError("slow")])
    with pytest.raises(ApiTimeoutError, match="slow"):
        create_verified(create, lambda: None)
    assert len(made) == 1
    assert sleeps == [0.5, 1.0, 2.0, 4.0]


def test_an_update_of_unknown_outcome_is_made_again_three_times_at_most() -> None:
    write, tried = _failing([ApiConnectionError("reset"), RateLimitError("slow")])
    assert write_idempotent(write) == "made"
    assert len(tried) == 3
    write, tried = _failing([ServerError(str(i), status=500) for i in range(3)])
    with pytest.raises(ServerError, match=r"^2$"):
        write_idempotent(write)
    assert len(tried) == 3
    write, tried = _failing([ApiStatusError("gone", status=404)])
    with pytest.raises(ApiStatusError):
        write_idempotent(write)
    assert len(tried) == 1


def test_retire_live_archives_the_live_id_again_after_a_lost_answer() -> None:
    retired: list[int] = []

    def retire(live_id: int) -> None:
        retired.append(live_id)
        if len(retired) == 1:
            raise ServerError("after commit", status=500)

    retire_live(Change("delete", "card", "card x", live_id=42), retire)
    assert retired == [42, 42]


def _change(i: int) -> Change:
    return Change("create", "card", f"card c{i}", key=f"c{i}")


def _ctx(concurrency: int = 1,
         events: list[tuple[str, str, str | None]] | None = None) -> WriteContext:
    live = live_state([managed_card()])
    plan = Plan.build(url="http://mb", version="v0.61.2", timezone="UTC", changes=[],
                      existing=1)

    def progress(change: Change, state: str, error: str | None) -> None:
        if events is not None:
            events.append((change.address, state, error))

    return WriteContext(plan, None, live, concurrency, progress)  # type: ignore[arg-type]


def test_the_context_starts_from_the_managed_cards_and_at_least_one_worker() -> None:
    ctx = _ctx(concurrency=0)
    assert ctx.concurrency == 1
    assert ctx.cards == {"weekly-recommendations": 10}
    assert set(ctx.live_cards) == {10}
    assert ctx.stopped is False and ctx.report.ok


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_phase_stops_at_the_first_failure_and_says_what_was_not_attempted(
    concurrency: int,
) -> None:
    events: list[tuple[str, str, str | None]] = []
    ctx = _ctx(concurrency, events)
    lock = threading.Lock()
    written: list[str] = []
    failed = threading.Event()
    first_batch = threading.Barrier(concurrency, timeout=10)
    progress = ctx.progress
    assert progress is not None

    def watch(change: Change, state: str, error: str | None) -> None:
        progress(change, state, error)
        if state == "failed":
            failed.set()

    ctx.progress = watch

    def write(change: Change) -> None:
        with lock:
            written.append(change.key)
        first_batch.wait()  # as many writes in flight as the pool allows
        if change.key == "c0":
            raise ApiError("refused")
        # the writes already in flight finish only once the failure is recorded
        assert failed.wait(10)

    ctx.phase([_change(i) for i in range(8)], write)
    report = ctx.report
    assert [(c.address, e) for c, e in report.failed] == [("card c0", "refused")]
    assert ctx.stopped and not report.ok
    assert sorted(written) == [f"c{i}" for i in range(concurrency)]
    assert sorted(c.key for c in report.done) == written[1:] or concurrency == 1
    assert [c.key for c in report.not_attempted] == [f"c{i}" for i in range(concurrency, 8)]
    assert ("card c0", "failed", "refused") in events
    assert sorted(e for e in events if e[1] == "start") == sorted(
        (f"card {k}", "start", None) for k in written)
    # a later phase writes nothing
    ctx.phase([_change(9)], write)
    assert report.not_attempted[-1].key == "c9" and len(written) == concurrency


def test_a_phase_in_order_when_not_parallel() -> None:
    ctx = _ctx(concurrency=4)
    written: list[str] = []
    ctx.phase([_change(i) for i in range(5)], lambda c: written.append(c.key), parallel=False)
    assert written == ["c0", "c1", "c2", "c3", "c4"]
    assert [c.key for c in ctx.report.done] == written and ctx.report.ok


def test_a_create_made_elsewhere_is_reported_once_and_not_as_done() -> None:
    events: list[tuple[str, str, str | None]] = []
    ctx = _ctx(events=events)
    changes = [_change(0), _change(1), Change("update", "card", "card c2", key="c2")]
    todo = ctx.skip_made_elsewhere(changes, lambda c: True)
    assert [c.key for c in todo] == ["c2"]
    assert [c.key for c in ctx.report.made_elsewhere] == ["c0", "c1"]
    extra = _change(3)
    ctx.phase([extra], lambda c: ctx.made_elsewhere(c))
    assert ctx.report.made_elsewhere[-1] is extra and ctx.report.done == []
    assert events == [("card c3", "start", None), ("card c3", "done", None)]


def test_a_retired_copy_is_done_and_marked_duplicate() -> None:
    ctx = _ctx()
    ctx.retired(Change("delete", "card", "card c#11", live_id=11))
    assert ctx.report.done == [Change("delete", "card", "card c#11", live_id=11, duplicate=True)]


def test_the_report_in_json() -> None:
    report = ApplyReport(done=[_change(0)], failed=[(_change(1), "refused")],
                         not_attempted=[_change(2)], made_elsewhere=[_change(3)], requests=7)
    assert report.to_dict() == {
        "done": ["card c0"],
        "failed": [{"address": "card c1", "error": "refused"}],
        "not_attempted": ["card c2"],
        "made_elsewhere": ["card c3"],
        "requests": 7,
    }
    assert not report.ok
    assert not ApplyReport(not_attempted=[_change(2)]).ok
    assert ApplyReport(done=[_change(0)]).ok


def test_a_path_no_collection_phase_made_is_an_error_naming_it() -> None:
    ctx = _ctx()
    with pytest.raises(ApiError, match=r"^collection Nowhere/Deep was not created$"):
        collection_id(ctx, ("Nowhere", "Deep"))
    ctx.collections[("Nowhere",)] = 77
    assert collection_id(ctx, ("Nowhere",)) == 77
    assert collection_id(ctx, ()) is None
