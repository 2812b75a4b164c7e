"""gc_paused: the collector is off inside, back as it was after, however blocks nest."""

from __future__ import annotations

import gc
import threading

from metabase_guard._gc import gc_paused


def test_nested_blocks_restore_the_collector_once_the_last_leaves() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_blocks_in_threads_that_overlap() -> None:
    inside, release = threading.Barrier(2), threading.Event()

    def work() -> None:
        with gc_paused():
            inside.wait()
            release.wait()

    thread = threading.Thread(target=work)
    thread.start()
    with gc_paused():
        inside.wait()
    assert not gc.isenabled()  # the other thread is still inside
    release.set()
    thread.join()
    assert gc.isenabled()


def test_a_caller_that_switched_it_off_keeps_it_off() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


class _Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_what_a_block_built_leaves_it_uncounted_and_still_collectable() -> None:
    import weakref

    with gc_paused():
        kept = [[i] for i in range(50_000)]  # far past the youngest generation's threshold
        cycle = _Node()
        gone = weakref.ref(cycle)
        del cycle
    # moved to the oldest generation, not left in the youngest for the next allocation
    assert gc.get_count()[0] < gc.get_threshold()[0]
    assert gc.get_freeze_count() == 0
    assert gone() is not None  # nothing collected yet: no walk on leaving the block
    gc.collect()
    assert gone() is None  # the cycle made inside the block is not leaked
    assert len(kept) == 50_000


def test_objects_frozen_by_someone_else_stay_frozen() -> None:
    gc.freeze()
    try:
        assert gc.get_freeze_count() > 0
        with gc_paused():
            pass
        # still frozen (a freeze and unfreeze would have left none); frozen objects freed by
        # reference counting meanwhile make the exact count move
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_freeze_before_exit_leaves_the_collector_nothing_to_walk() -> None:
    from metabase_guard._gc import freeze_before_exit

    try:
        freeze_before_exit()
        assert gc.get_freeze_count() > 0
        assert sum(len(gc.get_objects(generation)) for generation in range(3)) < 1_000
    finally:
        gc.unfreeze()
