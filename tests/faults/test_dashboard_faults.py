"""The issue's dashboard with its two subscriptions, applied against a Metabase that loses
answers after committing, or by a process killed midway: the next apply converges with one
dashboard, one dashcard per item and one pulse per subscription channel."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter

import pytest

from metabase_guard import engine
from metabase_guard.reconcile.identity import compose_description, managed_key
from tests.faults.conftest import PM_KEY, Faulty, _post
from tests.faults.test_faults import _apply_until_converged


def _with_dashboard(faulty: Faulty) -> Faulty:
    """The bundled examples declare the issue's dashboard and its two subscriptions."""
    (board,) = engine.load([faulty.alerts]).dashboards
    assert board.key == "recommender-health" and len(board.subscriptions) == 2
    return faulty


def _assert_one_of_each(faulty: Faulty) -> None:
    """Converged (see ``Faulty.assert_converged``), and no copy of a dashboard, dashcard or
    pulse; every pulse card names a dashcard of the dashboard that shows its card."""
    faulty.assert_converged()
    store = faulty.sb.store
    with faulty.sb.lock:
        (dash,) = [d for d in store.all("dashboards") if not d["archived"]
                   and managed_key(d["description"]) == "recommender-health"]
        dashcards = store.rows_where("dashcards", "dashboard_id", dash["id"])
        assert len(dashcards) == 4, dashcards
        on_it = {d["id"]: d["card_id"] for d in dashcards if d["card_id"] is not None}
        assert max(Counter(on_it.values()).values()) == 1
        pulses = [p for p in store.rows_where("pulses", "dashboard_id", dash["id"])
                  if not p["archived"]]
        types = sorted(c["channel_type"] for p in pulses
                       for c in store.rows_where("pulse_channels", "pulse_id", p["id"]))
        assert types == ["email", "slack"], types
        for pulse in pulses:
            refs = store.rows_where("pulse_cards", "pulse_id", pulse["id"])
            assert sorted(r["card_id"] for r in refs) == sorted(on_it.values())
            assert all(on_it[r["dashboard_card_id"]] == r["card_id"] for r in refs)


@pytest.mark.parametrize(("method", "path", "status"), [
    ("POST", r"^/api/dashboard$", None),          # the answer to the create is lost
    ("PUT", r"^/api/dashboard/\d+$", 500),        # the dashcards were written, then a 500
    ("POST", r"^/api/pulse$", None),              # a subscription made, its answer lost
    ("POST", r"^/api/pulse$", 500),
])
def test_a_lost_answer_after_commit_converges_without_copies(
    faulty: Faulty, method: str, path: str, status: int | None,
) -> None:
    _with_dashboard(faulty)
    faulty.sb.inject_failure(method, path, status, after_commit=True, times=1)
    assert _apply_until_converged(faulty, runs=2) <= 2
    assert any(r.injected for r in faulty.sb.requests), "the fault never fired"
    _assert_one_of_each(faulty)


def test_a_lost_dashboard_create_is_found_among_our_own_never_another_users_marked_copy(
    faulty: Faulty,
) -> None:
    """After the create's answer is lost, apply looks the dashboard up among this user's
    (``GET /api/dashboard?f=mine``). A dashboard another person made between plan and apply,
    carrying the same marker (a copy made in the UI), comes first in a list of every
    dashboard (by name): the look-up must not take it, and nothing of it may change (with
    ``f=all`` the layout lands on theirs: checked by hand, mutant ``Dashboards.write_35``)."""
    _with_dashboard(faulty)
    with faulty.client() as client:
        result = engine.plan(engine.load([faulty.alerts]), client)
        assert "create dashboard recommender-health" in [
            f"{c.action} {c.address}" for c in result.plan.changes]
        theirs = _post(faulty.sb, "/api/dashboard", {
            "name": "A copy of Recommender health",
            "description": compose_description("a copy", "recommender-health"),
        }, PM_KEY)
        with faulty.sb.lock:
            before = dict(faulty.sb.store.get("dashboards", theirs["id"]) or {})
        faulty.sb.inject_failure("POST", r"^/api/dashboard$", None, after_commit=True, times=1)
        engine.apply(result, client, force=True)
    assert any(r.injected for r in faulty.sb.requests), "the fault never fired"
    with faulty.sb.lock:
        store = faulty.sb.store
        assert dict(store.get("dashboards", theirs["id"]) or {}) == before
        assert store.rows_where("dashcards", "dashboard_id", theirs["id"]) == []
        assert store.rows_where("pulses", "dashboard_id", theirs["id"]) == []
        ours = [d for d in store.all("dashboards") if not d["archived"]
                and d["id"] != theirs["id"]
                and managed_key(d["description"]) == "recommender-health"]
        assert len(ours) == 1
        assert len(store.rows_where("dashcards", "dashboard_id", ours[0]["id"])) == 4


def _kill_after(faulty: Faulty, proc: subprocess.Popen[bytes], method: str, route: str) -> None:
    """SIGKILL ``proc`` as soon as the sandbox has answered ``method route``."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if any(r.method == method and r.route == route for r in faulty.sb.requests):
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            return
        if proc.poll() is not None:
            raise AssertionError(f"apply ended before {method} {route}: {proc.returncode}")
        time.sleep(0.005)
    proc.kill()
    raise AssertionError("apply did not reach the kill point")


@pytest.mark.parametrize("kill_at", [("POST", "/api/dashboard"), ("PUT", "/api/dashboard/:id")])
def test_an_apply_killed_in_the_dashboard_phase_is_completed_by_the_next(
    faulty: Faulty, kill_at: tuple[str, str],
) -> None:
    """A real ``python -m metabase_guard apply`` killed after the dashboard's POST (its
    dashcards not written yet) or after its PUT (the subscriptions not made yet).

    One write at a time: the server finishes a request whose client died, so a kill can
    only leave undone what was not sent yet.
    """
    _with_dashboard(faulty)
    faulty.sb.latency = 0.05  # widens the window between two writes
    faulty.sb.reset_log()
    proc = faulty.spawn_apply("--concurrency", "1")
    _kill_after(faulty, proc, *kill_at)
    assert proc.returncode == -signal.SIGKILL
    faulty.sb.latency = 0.0
    with faulty.client() as client:
        result = engine.plan(engine.load([faulty.alerts]), client)
        assert any(c.kind in ("dashboard", "subscription") for c in result.plan.changes), (
            "killed too late: nothing left to complete")
        engine.apply(result, client)
    _assert_one_of_each(faulty)
