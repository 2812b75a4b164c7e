"""Pausing the cyclic garbage collector while large acyclic data is built.

Loading thousands of declarations or decoding a card list of tens of thousands of cards
allocates millions of objects, none of them in a reference cycle (they are freed by reference
counting alone). Each allocation burst triggers full collections that walk every live object
again: at N = 5,000 that was more than half of ``load``. Pausing the collector there and
letting it run once afterwards keeps the same memory, without the walks.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable automatic collection for the block (nestable, from several threads at once).

    The first block to enter disables the collector if it was on; the last to leave turns it
    back on. A caller that had switched it off itself keeps it off.
    """
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
