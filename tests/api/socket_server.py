"""A bare TCP server for answers pytest-httpserver cannot give: cut short, stalled, held."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress


@contextmanager
def serving(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """Serve on a free local port, each connection on a thread of its own; yield the URL.

    ``answer`` gets the accepted connection and owns it (closes it when done).
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        # close() alone does not wake a thread blocked in accept() on Linux: the join waited
        # its whole timeout on every use; shutdown() makes the accept fail at once
        with suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(timeout=5)
        assert not thread.is_alive(), "the accept loop did not stop"

