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
