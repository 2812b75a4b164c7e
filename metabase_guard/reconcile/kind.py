"""What every resource kind implements, and the values a plan walk and an apply pass along.

A kind (``collections.py``, ``cards.py``, ``alerts.py``) is one module that owns, for its
objects, the desired view resolved from the declarations, the diff against the live snapshot
and the writes. ``walk.py`` runs the kinds in dependency order: :meth:`Kind.resolve` and
:meth:`Kind.diff` in that order, :meth:`Kind.retire` in the reverse one (a dependant lets go
of what it holds before its dependency goes); ``apply.py`` writes creates and updates kind by
kind in that order, then deletes in the reverse one.

Kinds talk to each other only through :class:`Desired` (what is declared) and
:class:`PlanWalk` (what the kinds before them found), never by calling each other's diff.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from metabase_guard.api.models import Card, Dashboard
from metabase_guard.errors import Problem
from metabase_guard.reconcile.live import LiveState
from metabase_guard.reconcile.plan import Change, Unmanaged
from metabase_guard.spec.loader import Declarations

if TYPE_CHECKING:
    from metabase_guard.reconcile.cards import DesiredCard
    from metabase_guard.reconcile.dashboards import DesiredDashboard
    from metabase_guard.reconcile.subscriptions import DesiredSubscription
    from metabase_guard.reconcile.writes import WriteContext

__all__ = ["CardState", "DashboardState", "Defaults", "Desired", "Kind", "PlanWalk",
           "made_by_another", "problem", "unknown"]


@dataclass(frozen=True)
class Defaults:
    """Config defaults applied to every declaration."""

    collection: str | None = None
    email: tuple[str, ...] = ()
    slack: tuple[str, ...] = ()


@dataclass(frozen=True)
class Desired:
    """The declarations resolved against the snapshot, one field per kind that declares."""

    cards: tuple[DesiredCard, ...] = ()
    dashboards: tuple[DesiredDashboard, ...] = ()
    subscriptions: tuple[DesiredSubscription, ...] = ()


@dataclass(frozen=True)
class CardState:
    """What the card diff found for one declared key, for the kinds that hang on cards.

    ``card`` is the live card (None when it is to be created); ``restoring`` says it comes
    back from the Trash; ``kills_alerts`` that the planned update makes Metabase delete its
    active alerts.
    """

    card: Card | None
    restoring: bool = False
    kills_alerts: bool = False


@dataclass(frozen=True)
class DashboardState:
    """What the dashboard diff found for one declared key, for its subscriptions.

    ``dashboard`` is the live managed dashboard (None when it is to be created);
    ``dashcard_ids`` the live dashcard each item keeps (None for one to be added).
    """

    dashboard: Dashboard | None
    dashcard_ids: tuple[int | None, ...] = ()


@dataclass
class PlanWalk:
    """The plan being built: every kind adds its changes and findings here, in order."""

    live: LiveState
    prune: bool
    changes: list[Change] = field(default_factory=list)
    unmanaged: list[Unmanaged] = field(default_factory=list)
    #: deletes held back because ``prune`` is off
    pending: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: managed objects that exist (the base of the safety thresholds)
    existing: int = 0
    #: the managed card of each key, as the card diff chose it
    managed_cards: dict[str, Card] = field(default_factory=dict)
    #: per declared key, what the card diff found (see :class:`CardState`)
    card_states: dict[str, CardState] = field(default_factory=dict)
    #: per declared dashboard key, what the dashboard diff found (see :class:`DashboardState`)
    dashboard_states: dict[str, DashboardState] = field(default_factory=dict)
    #: cards the plan moves out of, or archives from, a collection copy
    leaving: set[int] = field(default_factory=set)

    def delete(self, change: Change) -> None:
        """A delete of something no longer declared: planned with ``prune``, else pending."""
        (self.changes if self.prune else self.pending).append(change)


class Kind:
    """One resource kind. Every step has a do-nothing default; a kind overrides its own.

    ``name`` is the ``Change.kind`` of its changes; ``depends_on`` the kinds whose objects
    must exist before its own are written (``walk.KINDS`` is checked to honour it);
    ``parallel`` whether its creates and updates may be written concurrently (batch by
    batch, see :meth:`batches`); ``retired_as`` what ``--prune`` does to its objects, in the
    plan's note on objects no longer declared.
    """

    name: str = ""
    depends_on: tuple[str, ...] = ()
    parallel: bool = True
    retired_as: str = ""

    def resolve(self, decls: Declarations, live: LiveState, defaults: Defaults,
                problems: list[Problem], desired: Desired) -> Desired:
        """``desired`` with this kind's declarations resolved (names become ids)."""
        return desired

    def diff(self, desired: Desired, walk: PlanWalk) -> None:
        """Add the creates and updates (and what is left alone) of this kind to ``walk``."""

    def retire(self, desired: Desired, walk: PlanWalk) -> None:
        """Add the deletes of managed objects no longer declared (runs in reverse order)."""

    def prepare(self, changes: list[Change], ctx: WriteContext) -> list[Change]:
        """The creates and updates still to write (a racing apply may have made some)."""
        return changes

    def batches(self, changes: list[Change]) -> list[list[Change]]:
        """The creates and updates in batches written one after the other (default: one)."""
        return [changes]

    def write(self, change: Change, ctx: WriteContext) -> None:
        """Make one change of this kind through ``ctx.client``."""
        raise NotImplementedError(f"{self.name} changes are not written")

    def settle(self, ctx: WriteContext) -> None:
        """After this kind's writes: retire what a racing apply made first."""


def problem(decls: Declarations, key: str, field_name: str, message: str,
            what: str = "question") -> Problem:
    """A resolve problem at the file and line of ``field_name`` of declaration ``key``."""
    where = decls.locate(key, field_name)
    return Problem(where.file, where.line, field_name, f"{what} {key!r}: {message}")


def unknown(kind: str, name: str, known: Sequence[str], unreadable: bool = False) -> str:
    """``no database named 'x' (did you mean 'y'?); the instance has: ...``."""
    if unreadable:
        return (f"cannot check the {kind} {name!r}: these credentials may not list "
                f"{kind}s (use an admin API key)")
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    choices = ", ".join(sorted(known)) if known else "none"
    return f"no {kind} named {name!r}{hint}; the instance has: {choices}"


def made_by_another(address: str, key: str, creator: str) -> Unmanaged:
    """A marked object these declarations no longer have, made by ``creator``: not pruned.

    Another project's object (its own key) or one adopted by ``import``; a prune from here
    archives only what metabase-guard's user created.
    """
    return Unmanaged(
        address,
        f"carries the mark of {key!r}, which these declarations do not have, but was created "
        f"by {creator}, not by metabase-guard's user: never archived from here, even with "
        "--prune (archive it by hand if it is really gone)",
    )
