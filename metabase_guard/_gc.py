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
                _promote_without_walking()
                gc.enable()


def _promote_without_walking() -> None:
    """Move every object to the oldest generation without walking them (a splice, O(1)).

    Allocations still count while the collector is off: the first allocation after
    ``gc.enable`` would collect the youngest generation, which then holds everything the
    block built (0.5 s after each of load and plan at N = 5,000). Freezing and unfreezing at
    once moves those objects to the oldest generation and resets the counts; they stay
    collectable there, by the next full collection, which CPython runs only once the old
    generation has grown by a quarter. Skipped when someone else has frozen objects, so as not
    to unfreeze theirs.
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


def freeze_before_exit() -> None:
    """Spare the interpreter's shutdown collection the objects alive now (the process ends).

    At exit CPython runs a full collection over every object still alive (the snapshot, the
    declarations, the plan): seconds at N = 5,000 (docs/benchmarks.md), to find cycles the
    operating system frees anyway. ``gc.freeze`` moves them out of every generation, so that
    collection has nothing to walk. Only for a process about to exit: frozen cyclic garbage is
    never collected.
    """
    gc.freeze()
