"""The plan: an ordered, immutable list of changes, with counts, a checksum and safety checks.

A plan is a value: it holds no client, renders several ways and can be compared. Its checksum
(sha256 of the canonical JSON of its changes) binds a reviewed plan to the apply that runs it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from metabase_guard.errors import UnsafePlanError, redact

if TYPE_CHECKING:
    from metabase_guard.reconcile.alerts import DesiredAlert
    from metabase_guard.reconcile.cards import DesiredCard

__all__ = [
    "PLAN_FORMAT_VERSION",
    "Change",
    "FieldChange",
    "Plan",
    "Thresholds",
    "Unmanaged",
    "field_changes",
]

PLAN_FORMAT_VERSION = "1"

Action = Literal["create", "update", "delete"]
Kind = Literal["collection", "card", "alert", "dashboard", "subscription"]
_KIND_ORDER = {"collection": 0, "card": 1, "alert": 2, "dashboard": 3, "subscription": 4}
#: deletes after every create and update, dependants first (a card leaves its dashboards
#: in the dashboard update, before it is archived)
_DELETE_ORDER = {"subscription": 0, "dashboard": 1, "alert": 2, "card": 3, "collection": 4}


@dataclass(frozen=True)
class FieldChange:
    """One field that changes: ``goal: 2000 -> 2400``."""

    field: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"field": self.field, "old": _jsonable(self.old), "new": _jsonable(self.new)}


def field_changes(old: dict[str, Any], new: dict[str, Any],
                  names: Sequence[str]) -> list[FieldChange]:
    """The fields among ``names`` whose value differs from ``old`` to ``new``, in that order."""
    return [FieldChange(n, old.get(n), new.get(n)) for n in names if old.get(n) != new.get(n)]


@dataclass(frozen=True)
class Change:
    """One create, update or delete of a collection, card or alert.

    ``address`` names the object the way plan output does (``card weekly-recommendations``,
    ``alert 1 of weekly-recommendations``, ``collection Health checks/Recommender``).
    ``effects`` lists what Metabase itself will do as a result (alerts it deletes, e-mails it
    sends). ``card``/``alert`` carry what apply writes; ``live_id`` the object's Metabase id.
    """

    action: Action
    kind: Kind
    address: str
    key: str = ""
    fields: tuple[FieldChange, ...] = ()
    live_id: int | None = None
    effects: tuple[str, ...] = ()
    card: DesiredCard | None = field(default=None, compare=False, repr=False)
    alert: DesiredAlert | None = field(default=None, compare=False, repr=False)
    #: what apply writes for the other kinds (a dashboard's desired layout...)
    payload: object = field(default=None, compare=False, repr=False)
    values: tuple[tuple[str, Any], ...] = ()
    #: a copy made by a concurrent apply (retired by any apply, outside the prune guard)
    duplicate: bool = False
    #: managed objects this delete retires: an archived card takes its active alerts along
    retires: int = field(default=1, compare=False)

    @property
    def sort_key(self) -> tuple[int, int, str]:
        """Writes in a safe order: collections, cards, alerts; deletes of alerts before cards."""
        if self.action == "delete":
            return (len(_KIND_ORDER) + _DELETE_ORDER[self.kind], 0, self.address)
        return (_KIND_ORDER[self.kind], 0 if self.action == "create" else 1, self.address)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the documented plan format)."""
        out: dict[str, Any] = {
            "address": self.address,
            "kind": self.kind,
            "actions": [self.action],
            "key": self.key,
        }
        if self.live_id is not None:
            out["id"] = self.live_id
        if self.fields:
            out["changes"] = [f.to_dict() for f in self.fields]
        if self.values:
            out["values"] = {k: _jsonable(v) for k, v in self.values}
        if self.effects:
            out["effects"] = list(self.effects)
        if self.duplicate:
            out["duplicate"] = True
        return out


@dataclass(frozen=True)
class Unmanaged:
    """Something the plan saw and leaves alone, with why (shown, never changed)."""

    address: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"address": self.address, "reason": self.reason}


@dataclass(frozen=True)
class Thresholds:
    """octoDNS-style guards: share of managed objects an apply may update or delete."""

    max_update_share: float = 0.3
    max_delete_share: float = 0.3
    min_existing: int = 10
    """Below this many managed objects, updates are not checked (deletes always are)."""


@dataclass(frozen=True)
class Plan:
    """What apply would do to one Metabase instance, in order."""

    url: str
    version: str
    timezone: str
    changes: tuple[Change, ...]
    existing: int
    unmanaged: tuple[Unmanaged, ...] = ()
    pending_deletes: tuple[Change, ...] = ()
    notes: tuple[str, ...] = ()
    prune: bool = False
    #: the managed card of each key, as the diff chose it (apply writes alerts onto these)
    card_ids: tuple[tuple[str, int], ...] = field(default=(), compare=False)

    @staticmethod
    def build(
        *,
        url: str,
        version: str,
        timezone: str,
        changes: list[Change],
        existing: int,
        unmanaged: list[Unmanaged] | None = None,
        pending_deletes: list[Change] | None = None,
        notes: list[str] | None = None,
        prune: bool = False,
        card_ids: dict[str, int] | None = None,
    ) -> Plan:
        """A plan with its changes in apply order."""
        return Plan(
            url=url,
            version=version,
            timezone=timezone,
            changes=tuple(sorted(changes, key=lambda c: c.sort_key)),
            existing=existing,
            unmanaged=tuple(sorted(unmanaged or [], key=lambda u: u.address)),
            pending_deletes=tuple(sorted(pending_deletes or [], key=lambda c: c.address)),
            notes=tuple(notes or []),
            prune=prune,
            card_ids=tuple(sorted((card_ids or {}).items())),
        )

    def replaced(
        self,
        *,
        changes: list[Change] | None = None,
        pending_deletes: list[Change] | None = None,
        notes: list[str] | None = None,
        card_ids: dict[str, int] | None = None,
    ) -> Plan:
        """The plan with the given parts replaced and every other field kept."""
        return Plan.build(
            url=self.url, version=self.version, timezone=self.timezone,
            changes=list(self.changes if changes is None else changes),
            existing=self.existing, unmanaged=list(self.unmanaged),
            pending_deletes=list(self.pending_deletes if pending_deletes is None
                                 else pending_deletes),
            notes=list(self.notes if notes is None else notes), prune=self.prune,
            card_ids=dict(self.card_ids) if card_ids is None else card_ids,
        )

    @property
    def is_empty(self) -> bool:
        """No change to make."""
        return not self.changes

    def count(self, action: str) -> int:
        """How many changes of this action."""
        return sum(1 for c in self.changes if c.action == action)

    @property
    def summary(self) -> dict[str, int]:
        """Counts by action."""
        return {a: self.count(a) for a in ("create", "update", "delete")}

    @property
    def checksum(self) -> str:
        """sha256 of the canonical JSON of the changes: equal plans, equal checksums."""
        canonical = json.dumps(
            {"url": self.url, "changes": [c.to_dict() for c in self.changes]},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON plan (``format_version`` 1), credentials blanked out.

        A credential has no business in a plan, but SQL or a name may quote one by mistake, and
        saved plans travel as CI artifacts.
        """
        return _redacted({
            "format_version": PLAN_FORMAT_VERSION,
            "url": self.url,
            "metabase_version": self.version,
            "report_timezone": self.timezone,
            "summary": self.summary,
            "changes": [c.to_dict() for c in self.changes],
            "pending_deletes": [c.to_dict() for c in self.pending_deletes],
            "unmanaged": [u.to_dict() for u in self.unmanaged],
            "notes": list(self.notes),
            "checksum": self.checksum,
        })

    def raise_if_unsafe(self, thresholds: Thresholds) -> None:
        """Raise UnsafePlanError when updates or deletes exceed their share of what exists.

        Updates are checked from ``min_existing`` managed objects on. Deletes are checked
        whatever the count, and retiring every managed object always needs ``--force``: with
        ``questions: []`` and ``--prune`` the only managed card of a small project would
        otherwise be archived without a word. Copies made by a concurrent apply are not
        counted: retiring them is what keeps one object per key.
        """
        for action, limit in (
            ("update", thresholds.max_update_share),
            ("delete", thresholds.max_delete_share),
        ):
            guarded = [c for c in self.changes if c.action == action and not c.duplicate]
            count = sum(c.retires for c in guarded) if action == "delete" else len(guarded)
            if not count or (action == "update" and self.existing < thresholds.min_existing):
                continue
            existing = max(self.existing, count)
            share = count / existing
            if action == "delete" and count >= existing:
                raise UnsafePlanError(
                    f"the plan would delete all {count} managed object(s) (100%): every card "
                    "would be archived and every alert deactivated; review it and rerun with "
                    "--force if it is intended"
                )
            if share > limit:
                raise UnsafePlanError(
                    f"the plan would {action} {count} of {existing} managed objects "
                    f"({share:.0%}, above the {limit:.0%} threshold); review it and rerun "
                    "with --force if it is intended"
                )


def _redacted(data: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(data)
    clean = redact(text)
    return data if clean == text else dict(json.loads(clean))


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
