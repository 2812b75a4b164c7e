"""``--only KEY``: a plan cut down to some declaration keys and what they depend on.

Terraform's ``-target``: the changes of the chosen cards and of their alerts, and the creates of
the collections those cards live in (parents first); everything else is left out, and a note
says how much. The flag is ``--only`` because ``--target`` already names a target of the config
file (staging, production).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Sequence

from metabase_guard.errors import ConfigError
from metabase_guard.reconcile.cards import DesiredCard
from metabase_guard.reconcile.plan import Change, Plan

__all__ = ["restrict"]


def _path(change: Change) -> tuple[str, ...]:
    path = str(dict(change.values).get("path", ""))
    return tuple(part for part in path.split("/") if part)


def restrict(plan: Plan, desired: Sequence[DesiredCard], keys: Collection[str]) -> Plan:
    """The part of ``plan`` that concerns ``keys``; ConfigError names an unknown key."""
    wanted = set(keys)
    known = {d.key for d in desired} | {c.key for c in (*plan.changes, *plan.pending_deletes)}
    known.discard("")
    for key in sorted(wanted - known):
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"--only {key}: no declared or managed question has this key{hint}")
    needed = {d.collection_path[:depth] for d in desired if d.key in wanted
              for depth in range(1, len(d.collection_path) + 1)}
    kept = [c for c in plan.changes
            if c.key in wanted or (c.kind == "collection" and _path(c) in needed)]
    left_out = len(plan.changes) - len(kept)
    notes = list(plan.notes)
    if left_out:
        notes.append(f"--only {', '.join(sorted(wanted))}: {left_out} other change(s) are not "
                     "in this plan; a plan without --only shows them")
    return plan.replaced(changes=kept, notes=notes,
                         pending_deletes=[c for c in plan.pending_deletes if c.key in wanted])
