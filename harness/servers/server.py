"""TLSServer: a listening socket and one thread that serves connections one after another."""

from __future__ import annotations

import select
import socket
import threading
import time
from types import TracebackType
from typing import Protocol, cast

from w24_harness.servers.base import ConnectionReport, ServerConfig
from w24_harness.servers.capture import RecordingSocket
from w24_harness.servers.misbehaviour import library
from w24_harness.servers.session import ConnectionContext
from w24_harness.vocab import Backend

JOIN_TIMEOUT_S = 5.0
# The server thread counts bytes_in as records arrive, without a notification: poll it.
BYTES_POLL_S = 0.005


class ConnectionHandler(Protocol):
    def handle(self, ctx: ConnectionContext) -> None:
        """Run one connection to its end, keeping ctx.report current."""


def make_backend(config: ServerConfig) -> ConnectionHandler:
    """Validate `config` for its backend and build the backend (ValueError if unsupported)."""
    if isinstance(config.misbehaviour, str):
        config.misbehaviour = library.resolve(config.misbehaviour)  # ValueError names the known
    config.validate_common()
    if config.backend == Backend.OPENSSL:
        from w24_harness.servers.openssl_server import OpenSSLBackend

        return OpenSSLBackend(config)
    from w24_harness.servers.tlslite_server import TlsliteBackend

    return TlsliteBackend(config)


class TLSServer:
    """A local TLS server for the device to dial. Use as a context manager."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._backend = make_backend(config)
        self.connections: list[ConnectionReport] = []
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._active: socket.socket | None = None
        self._active_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None
        # Writing to _wake_w ends the accept loop's select() at once on every platform.
        self._wake_r, self._wake_w = socket.socketpair()
        self.host = config.bind
        self.port = 0

    def __enter__(self) -> TLSServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("server already started")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.config.bind, 0))
        listener.listen(4)
        listener.setblocking(False)  # select() says when; a vanished client must not block
        self._listener = listener
        self.host, self.port = listener.getsockname()[:2]
        self._thread = threading.Thread(
            target=self._serve, name=f"tls-{self.config.backend}-{self.port}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, cut the active connection, join the thread (bounded)."""
        self._stopping.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass  # already stopped
        with self._active_lock:
            active = self._active
        if active is not None:
            _shutdown_quietly(active)
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT_S)
            if self._thread.is_alive():
                raise RuntimeError(f"{self._thread.name} did not stop within {JOIN_TIMEOUT_S}s")
        if self._listener is not None:
            self._listener.close()
        close = getattr(self._backend, "close", None)
        if close is not None:
            close()  # a backend's own files (the OpenSSL key log)
        self._wake_r.close()
        self._wake_w.close()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def wait_for_connection(self, n: int = 1, timeout: float = 10.0) -> ConnectionReport:
        """The report of the n-th accepted connection (1-based), once it has been accepted."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.connections) >= n, timeout):
                raise TimeoutError(
                    f"{len(self.connections)} connection(s) after {timeout}s, expected {n}"
                )
            return self.connections[n - 1]

    def wait_bytes_in(self, n: int, timeout: float = 10.0, connection: int = 1) -> ConnectionReport:
        """The report of the `connection`-th connection once it has received `n` bytes of
        application data, or has ended (no more can come), or `timeout` has passed: the caller
        compares bytes_in and sha256_in. TimeoutError if the connection was never accepted."""
        deadline = time.monotonic() + timeout
        report = self.wait_for_connection(connection, timeout)
        while report.bytes_in < n and not report.finished and time.monotonic() < deadline:
            time.sleep(BYTES_POLL_S)
        return report

    def wait_closed(self, timeout: float = 10.0) -> ConnectionReport:
        """The report of the latest connection once the server has finished with it."""
        with self._changed:
            done = self._changed.wait_for(
                lambda: bool(self.connections) and self.connections[-1].finished, timeout
            )
            if not done:
                state = "none accepted" if not self.connections else "still open"
                raise TimeoutError(f"no finished connection after {timeout}s ({state})")
            return self.connections[-1]

    # -- server thread -------------------------------------------------------------------

    def _serve(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            readable, _, _ = select.select([self._listener, self._wake_r], [], [])
            if self._wake_r in readable:
                break
            try:
                raw, peer = self._listener.accept()
            except BlockingIOError:
                continue
            except OSError:
                break  # listener closed under us
            self._handle(raw, (peer[0], peer[1]))
        self._listener.close()

    def _handle(self, raw: socket.socket, peer: tuple[str, int]) -> None:
        # Each record goes out as written: with Nagle on, a record queued behind unacknowledged
        # data waits for the client's delayed ACK (40 ms on Linux) and bulk transfers stall.
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        report = ConnectionReport(peer=peer)
        with self._changed:
            self.connections.append(report)
            self._changed.notify_all()
        # The backends read and write through a recorder: what a capture is made of.
        recording = cast(socket.socket, RecordingSocket(raw, report.traffic))
        ctx = ConnectionContext(recording, report, self.config, self._stopping, self._track)
        self._track(raw)
        try:
            if self._stopping.is_set():
                report.closed_by = "server"
            else:
                self._backend.handle(ctx)
        except Exception as exc:  # a bug in a backend must not kill the server
            report.error = report.error or f"server bug: {type(exc).__name__}: {exc}"
        finally:
            with self._active_lock:
                self._active = None
            _shutdown_quietly(raw)
            raw.close()
            if report.closed_by is None:
                report.closed_by = "server"
            with self._changed:
                report.finished = True
                self._changed.notify_all()

    def _track(self, sock: socket.socket) -> None:
        with self._active_lock:
            self._active = sock
        # A stop that raced with the hand-over must still cut this socket.
        if self._stopping.is_set():
            _shutdown_quietly(sock)


def _shutdown_quietly(sock: socket.socket) -> None:
    try:
        # socket.socket.shutdown, not SSLSocket.shutdown: the latter drops the SSL object
        # from under the thread that is still reading it.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass
