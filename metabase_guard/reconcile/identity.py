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

__all__ = [
    "COLLECTION_MARK",
    "MARKER_RE", "compose_description", "managed_key", "mentioned_key",
    "user_description",
]

MARKER_RE = re.compile(r"\[metabase-guard: ([a-z0-9]+(?:-[a-z0-9]+)*)\]")
#: The description of every collection metabase-guard creates: it tells a copy that two
#: racing applies made (retired) from a collection someone made by hand (never touched).
COLLECTION_MARK = "Created by metabase-guard for the questions it manages."
_TAIL = "Managed in git; edits made here are overwritten."
# the whole last line, exactly as compose_description writes it; only trailing whitespace
# (an editor's "\r" or a stray space) is tolerated
_MARKER_LINE = re.compile(
    r"\[metabase-guard: ([a-z0-9]+(?:-[a-z0-9]+)*)\] " + re.escape(_TAIL) + r"[ \t\r]*"
)


def compose_description(description: str | None, key: str) -> str:
    """The card description to write: the declared text, then the marker line."""
    marker = f"[metabase-guard: {key}] {_TAIL}"
    text = (description or "").strip()
    return f"{text}\n\n{marker}" if text else marker


def _split(description: str | None) -> tuple[str, str | None]:
    """``(text above the marker line, key)``, or ``(description, None)`` without a marker."""
    if not description:
        return "", None
    body = description.rstrip()
    head, _, last = body.rpartition("\n")
    found = _MARKER_LINE.fullmatch(last)
    if found is None:
        return description, None
    return head, found.group(1)


def managed_key(description: str | None) -> str | None:
    """The key of the marker on the description's last line, or None (a card not ours).

    Only the last line counts, in the exact form metabase-guard writes: a marker quoted in the
    middle of a hand-written description ("our config lives in git as [metabase-guard: x]") is
    text, and must never make someone's card managed.
    """
    return _split(description)[1]


def mentioned_key(description: str | None) -> str | None:
    """A key quoted elsewhere in a description that has no marker line (for the plan to explain)."""
    if managed_key(description) is not None or not description:
        return None
    found = MARKER_RE.findall(description)
    return found[-1] if found else None


def user_description(description: str | None) -> str | None:
    """The description without the marker line (what a declaration says)."""
    head, key = _split(description)
    if key is None:
        head = description or ""
    # strip only the marker line: a marker quoted in the text is the author's text
    text = head.strip()
    return text or None
