"""Copies of managed objects, and which of them apply retires: the rule every kind follows.

Two applies that run at the same time both read "nothing there" and both create every card,
alert and collection: metabase-guard's own user then owns two of each. The next plan keeps the
copy that user created first (lowest id) and retires the others, so every racing run reaches
the same verdict and one more apply leaves one object per key and per path
(docs/identity.md#copies-made-by-a-concurrent-apply).

A copy is retired only when nothing but metabase-guard could have made it:

- a **card** whose marker repeats the managed card's key, created by metabase-guard's user,
  identical to the managed card (same name, SQL, database, display, goal and collection path)
  and with no active alert by anyone else; a copy made in the UI (another creator) or a card
  whose marker was edited by hand (it differs) is only reported;
- an **alert** of metabase-guard's user on a managed card, identical to another one of that
  user that a declaration already pairs with;
- a **collection** that metabase-guard created (its description is
  ``identity.COLLECTION_MARK``) at the path of an older one,
  and that holds nothing once its cards are moved out or retired.

Each kind applies the rule to its own objects (``cards.retire_card_copy``,
``alerts.retire_alert_copies``, ``collections.retire_collection_copies``) and, during an
apply, to the copies a racing run made meanwhile (each kind's ``settle``).
"""

from __future__ import annotations

__all__ = ["RACE"]

#: The words every retirement carries, in plans and their JSON.
RACE = "duplicate created by a concurrent apply"
