"""A plain TCP banner-and-echo service: what stunnel wraps in the field-interop suite.

On each connection it sends one banner line, then echoes every byte back. It keeps the SHA-256
of what it received, so the device-to-server direction is checked behind the TLS terminator,
not only by the echo.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
from dataclasses import dataclass, field

from w24_harness.listener import accepted, stop_listening

BANNER = b"220 w24-harness plain echo service ready\r\n"


@dataclass
class PlainConnection:
    received: int = 0
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)

    @property
    def sha256_in(self) -> str:
        return self.digest.hexdigest()


class BannerEchoService:
    """Listens on 127.0.0.1 (only the TLS terminator in front of it connects)."""

    def __init__(self, banner: bytes = BANNER, timeout: float = 30.0) -> None:
        self.banner = banner
        self.timeout = timeout
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.connections: list[PlainConnection] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._spawn(self._accept)

    def _spawn(self, target, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name="plain-echo", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        for conn in accepted(self.listener, self._stop):
            self._conns.append(conn)
            record = PlainConnection()
            self.connections.append(record)
            self._spawn(self._echo, conn, record)

    def _echo(self, conn: socket.socket, record: PlainConnection) -> None:
        conn.settimeout(self.timeout)
        try:
            conn.sendall(self.banner)
            while data := conn.recv(65536):
                record.received += len(data)
                record.digest.update(data)
                conn.sendall(data)
        except OSError:
            pass  # the terminator went away or the idle timeout passed
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        stop_listening(self.listener)
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        for thread in self._threads:
            thread.join(timeout=5)
