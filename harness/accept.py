"""The accept loop every loopback helper server shares."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator


def accepted(listener: socket.socket, stop: threading.Event) -> Iterator[socket.socket]:
    """Connections on `listener` until `stop` is set or the listener is closed.

    The listener must have a timeout (`settimeout`): that is how often `stop` is looked at.
    Closing the listener from another thread ends the loop at once (accept raises OSError).
    """
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        yield conn
