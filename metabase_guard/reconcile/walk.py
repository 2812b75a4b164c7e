"""The walk over the resource kinds: resolve, then diff, in dependency order; a Plan comes out.

``KINDS`` lists the kinds so that each comes after the kinds it depends on (checked at import).
:func:`make_plan` asks each kind for its creates and updates in that order, then for its
retirements in the reverse order, and builds the :class:`Plan` from what they added. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from metabase_guard.errors import Problem, ResolveError
from metabase_guard.reconcile import alerts, cards, collections, dashboards, subscriptions
from metabase_guard.reconcile.cards import DesiredCard
from metabase_guard.reconcile.kind import Defaults, Desired, Kind, PlanWalk
from metabase_guard.reconcile.live import LiveState
from metabase_guard.reconcile.plan import Plan
from metabase_guard.spec.loader import Declarations

__all__ = ["KINDS", "make_plan", "resolve"]

#: Every resource kind, each after the kinds it depends on.
KINDS: tuple[Kind, ...] = (collections.KIND, cards.KIND, alerts.KIND, dashboards.KIND,
                          subscriptions.KIND)


def _check_order(kinds: Sequence[Kind]) -> None:
    seen: set[str] = set()
    for kind in kinds:
        missing = set(kind.depends_on) - seen
        if missing:
            raise AssertionError(f"kind {kind.name} comes before {sorted(missing)}")
        seen.add(kind.name)


_check_order(KINDS)


def resolve(declarations: Declarations, live: LiveState,
            defaults: Defaults | None = None) -> Desired:
    """Every declaration resolved against ``live``, or ResolveError listing every miss."""
    problems: list[Problem] = []
    desired = Desired()
    for kind in KINDS:
        desired = kind.resolve(declarations, live, defaults or Defaults(), problems, desired)
    if problems:
        raise ResolveError(problems)
    return desired


def make_plan(
    desired: Desired | Sequence[DesiredCard],
    live: LiveState,
    *,
    url: str,
    prune: bool = False,
) -> Plan:
    """Everything apply would change for ``desired`` on ``live``, in a safe order.

    ``desired`` may also be the desired cards alone (``cards.resolve``).
    """
    if not isinstance(desired, Desired):
        desired = Desired(cards=tuple(desired))
    walk = PlanWalk(live=live, prune=prune, notes=list(live.warnings))
    for kind in KINDS:
        kind.diff(desired, walk)
    for kind in reversed(KINDS):
        kind.retire(desired, walk)
    if walk.pending:
        kinds = {c.kind for c in walk.pending}
        verbs = " and ".join(k.retired_as for k in KINDS if k.name in kinds)
        walk.notes.append(
            f"{len(walk.pending)} managed object(s) are no longer declared; they are kept. "
            f"Run with --prune to {verbs}."
        )
    return Plan.build(
        url=url,
        version=str(live.version),
        timezone=live.report_timezone,
        changes=walk.changes,
        existing=walk.existing,
        unmanaged=walk.unmanaged,
        pending_deletes=walk.pending,
        notes=walk.notes,
        prune=prune,
        card_ids={key: card.id for key, card in walk.managed_cards.items()},
    )
