"""The accept loop every loopback helper server shares."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


def accepted(listener: socket.socket, stop: threading.Event) -> Iterator[socket.socket]:
    """Connections on `listener` until `stop` is set or the listener is closed.

    The listener must have a timeout (`settimeout`): that is how often `stop` is looked at.
    stop_listening() from another thread ends the loop at once; a bare close() does not (Linux
    does not wake an accept() waiting on a descriptor another thread closes), and the loop
    would run out its timeout first.
    """
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        yield conn


def stop_listening(listener: socket.socket) -> None:
    """Close `listener`, waking a thread blocked in its accept() at once (shutdown() does on
    Linux: accept fails with EINVAL), instead of after the accept timeout: 0.2 s of every
    relay's stop, once per field-interop test."""
    with contextlib.suppress(OSError):  # not listening (never was, or already shut)
        listener.shutdown(socket.SHUT_RDWR)
    listener.close()
