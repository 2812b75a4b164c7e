"""Carry out a plan through the client, in an order Metabase's side effects cannot spoil.

Phases, each finished before the next starts, walk ``walk.KINDS``: the creates and updates of
each kind in dependency order (collections level by level, parents first; cards; alerts, after
the card changes that could make Metabase delete them), then the deletes of each kind in the
reverse order (alerts deactivated before cards are archived, cards before collections). Within
a phase, independent writes run in a bounded pool; each kind may first drop creates a racing
apply has made (``Kind.prepare``) and afterwards retire its own copies (``Kind.settle``).

On the first failure no new write is started; writes already in flight finish. The report says
what was done, what failed and what was not attempted. Because identity lives in Metabase (the
card marker, the alert creator), the next apply reads what this one managed to do and completes
the job without duplicates.
"""

from __future__ import annotations

from functools import partial

from metabase_guard.api.client import MetabaseClient
from metabase_guard.errors import ApplyError
from metabase_guard.reconcile.live import LiveState
from metabase_guard.reconcile.plan import Plan
from metabase_guard.reconcile.walk import KINDS
from metabase_guard.reconcile.writes import ApplyReport, Progress, WriteContext

__all__ = ["ApplyReport", "Progress", "apply_plan"]


def apply_plan(
    plan: Plan,
    client: MetabaseClient,
    live: LiveState,
    *,
    concurrency: int = 12,
    progress: Progress | None = None,
) -> ApplyReport:
    """Make every change of ``plan``; raise ApplyError (carrying the report) on a failure.

    ``live`` must be the snapshot the plan was made from.
    """
    ctx = WriteContext(plan, client, live, concurrency, progress)
    before = client.request_count
    for kind in KINDS:
        todo = [c for c in plan.changes if c.kind == kind.name and c.action != "delete"]
        for batch in kind.batches(kind.prepare(todo, ctx) if not ctx.stopped else todo):
            ctx.phase(batch, partial(kind.write, ctx=ctx), parallel=kind.parallel)
        kind.settle(ctx)
    for kind in reversed(KINDS):
        ctx.phase([c for c in plan.changes if c.kind == kind.name and c.action == "delete"],
                  partial(kind.write, ctx=ctx))
    ctx.report.requests = client.request_count - before
    if not ctx.report.ok:
        failed = len(ctx.report.failed)
        raise ApplyError(
            f"apply stopped: {len(ctx.report.done)} change(s) done, {failed} failed, "
            f"{len(ctx.report.not_attempted)} not attempted; run apply again to finish",
            ctx.report,
        )
    return ctx.report
