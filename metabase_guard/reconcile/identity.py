"""How a card is known to be managed, and under which key, with no state file.

Metabase assigns ``entity_id`` itself and discards one sent by a client, so the declaration's
key lives in the card: its description ends with a short visible line,

    [metabase-guard: weekly-recommendations] Managed in git; edits made here are overwritten.

which also tells people editing in the UI where the truth is. The same key finds the same card in
every environment, through renames and collection moves. A card without the line is not
managed; if someone removes the line by hand, the card becomes unmanaged (it is left alone)
and the next plan says that the key matches no card and offers to create it, pointing at the
unmarked card of the same name so it can be re-adopted with ``import``.
"""

from __future__ import annotations

import re

__all__ = ["MARKER_RE", "compose_description", "managed_key", "user_description"]

MARKER_RE = re.compile(r"\[metabase-guard: ([a-z0-9]+(?:-[a-z0-9]+)*)\]")
_TAIL = "Managed in git; edits made here are overwritten."


def compose_description(description: str | None, key: str) -> str:
    """The card description to write: the declared text, then the marker line."""
    marker = f"[metabase-guard: {key}] {_TAIL}"
    text = (description or "").strip()
    return f"{text}\n\n{marker}" if text else marker


def managed_key(description: str | None) -> str | None:
    """The key in a card description's marker, or None for a card metabase-guard does not own."""
    if not description:
        return None
    found = MARKER_RE.findall(description)
    return found[-1] if found else None


def user_description(description: str | None) -> str | None:
    """The description without the marker line (what a declaration says)."""
    if not description:
        return None
    # split on "\n" only: splitlines() also splits on \r, \x85, U+2028 and friends, so a
    # description holding one of them never read back as declared (a drift on every plan)
    lines = [line for line in description.split("\n") if not MARKER_RE.search(line)]
    text = "\n".join(lines).strip()
    return text or None
