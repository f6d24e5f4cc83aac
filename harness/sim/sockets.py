"""The simulator's socket table: handles 0..9, plain TCP or upgraded to SSL.

Incoming data is pulled lazily (at SRCV, SST, RP4) and never beyond the receive buffer, so TCP
flow control backs up the peer the way a module with a small buffer does.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import time
from dataclasses import dataclass, field

from w24_harness.at.codes import ResultCode
from w24_harness.sim.engines.base import Channel
from w24_harness.sim.faults import RX_OVERFLOW_IDLE_S, Faults
from w24_harness.sim.tls_engine import PeerClosed, SSLFailure
from w24_harness.sim.variants import Variants

# What rx_overflow_drops takes from TCP at once when the host comes back: everything there is.
_OVERFLOW_GRAB = 1 << 20


class SimSocketError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class SimSocket:
    handle: int
    sock: socket.socket
    host: str
    port: int
    rx: bytearray = field(default_factory=bytearray)
    # Set once the socket is down; buffered data stays readable (spec §4.13).
    error: int | None = None
    error_reason: str = ""
    channel: Channel | None = None
    faults: Faults = field(default_factory=Faults)
    variants: Variants = field(default_factory=Variants)
    last_poll: float = field(default_factory=time.monotonic)  # the host's last look at it
    # A send that failed after its SSND was answered (SimDevice.defer_sends): the next SSND's.
    send_failure: SimSocketError | None = None

    @property
    def ssl(self) -> bool:
        return self.channel is not None

    def fail(self, code: int, reason: str) -> None:
        if self.error is None:
            self.error, self.error_reason = code, reason

    def pump(self, limit: int) -> None:
        """Move data that has arrived into `rx`, up to `limit` bytes buffered."""
        if self.error is not None:
            return
        now = time.monotonic()
        away, self.last_poll = now - self.last_poll, now
        if not (self.faults.rx_overflow_drops and away >= RX_OVERFLOW_IDLE_S):
            self._fill(limit)
            return
        # The fault: take everything TCP holds, keep only what fits the buffer.
        try:
            self._fill(_OVERFLOW_GRAB)
        finally:
            del self.rx[limit:]

    def _fill(self, limit: int) -> None:
        while len(self.rx) < limit:
            room = limit - len(self.rx)
            try:
                if self.channel is not None:
                    chunk = self.channel.pump(room)
                else:
                    chunk = self._recv_plain(room)
            except PeerClosed as exc:
                code = exc.code
                if self.faults.drop_data_at_close:
                    self.rx.clear()  # the fault: buffered data go with the connection
                if self.faults.unclean_close_drops_data and not exc.clean:
                    self.rx.clear()  # the fault: a truncation takes the buffered data
                    code = ResultCode.SOCKET_NO_CARRIER
                self.fail(code, f"peer closed the connection: {exc}")
                return
            except SSLFailure as exc:
                if self.faults.drop_data_on_record_error:
                    self.rx.clear()  # the fault: the good data before the bad record go too
                self.fail(exc.code, exc.reason)
                return
            if not chunk:
                return
            self.rx += chunk

    def _recv_plain(self, room: int) -> bytes:
        ready, _, _ = select.select([self.sock], [], [], 0)
        if not ready:
            return b""
        try:
            data = self.sock.recv(min(room, 65536))
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise PeerClosed(str(exc)) from exc
        except BlockingIOError:
            return b""
        if not data:
            raise PeerClosed("EOF")
        return data

    def check_sendable(self) -> None:
        """Raise what a send would raise before it wrote anything: a deferred send's failure,
        the socket being down, or a reset TCP has taken in that no SRCV has read yet."""
        if self.send_failure is not None:
            failure, self.send_failure = self.send_failure, None
            raise failure
        if self.error is not None:
            raise SimSocketError(self.error, f"socket {self.handle} is down: {self.error_reason}")
        # A closed socket (an SSL channel that ended) is left to send(), which says why.
        pending = 0
        if self.sock.fileno() >= 0:
            pending = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if pending:
            reason = f"send on socket {self.handle} failed: {os.strerror(pending)}"
            self.fail(ResultCode.SOCKET_DOWN, reason)
            # The codes a send into that socket gives (send() below).
            peer_gone = pending in (errno.EPIPE, errno.ECONNRESET) and self.channel is None
            raise SimSocketError(
                ResultCode.SOCKET_DOWN if peer_gone else ResultCode.SOCKET_SEND_ERROR, reason
            )

    def send_later(self, data: bytes) -> None:
        """`send` after the SSND was answered: a failure waits for the next SSND."""
        try:
            self.send(data)
        except SimSocketError as exc:
            self.send_failure = exc

    def send(self, data: bytes) -> None:
        self.check_sendable()
        try:
            if self.channel is not None:
                self.channel.send(data)
            else:
                self.sock.sendall(data)
        except SSLFailure as exc:
            self.fail(ResultCode.SOCKET_DOWN, exc.reason)
            raise SimSocketError(ResultCode.SOCKET_SEND_ERROR, exc.reason) from exc
        except OSError as exc:
            code = (
                ResultCode.SOCKET_DOWN
                if exc.errno in (errno.EPIPE, errno.ECONNRESET)
                else ResultCode.SOCKET_SEND_ERROR
            )
            self.fail(ResultCode.SOCKET_DOWN, str(exc))
            raise SimSocketError(code, f"send on socket {self.handle} failed: {exc}") from exc

    def status(self) -> int:
        """SST / RP4 value: bytes waiting, or the negated error once the buffer is empty (with
        the status_error_early variant: as soon as the socket is down)."""
        if self.rx and not (self.variants.status_error_early and self.error is not None):
            return len(self.rx)
        return -self.error if self.error is not None else 0

    def close(self) -> None:
        try:
            if self.channel is not None:
                self.channel.close()
            else:
                self.sock.close()
        except OSError:
            pass


class SocketTable:
    def __init__(self, count: int) -> None:
        self.count = count
        self.slots: dict[int, SimSocket] = {}
        # SSL contexts a failed handshake never gave back (the leak_ssl_on_failure self-test
        # fault); only AT+iDOWN (close_all) frees them, as a reset would.
        self.leaked_ssl = 0
        # Handles SCLS closed whose status entry stays (the stale_status_after_scls fault).
        self.stale: set[int] = set()

    def free_handle(self, reuse_down: bool = False) -> int | None:
        """The lowest free handle; with `reuse_down` (the down_handle_reused fault) a handle
        whose socket is down counts as free too."""
        return next(
            (
                h
                for h in range(self.count)
                if h not in self.slots or (reuse_down and self.slots[h].error is not None)
            ),
            None,
        )

    def get(self, handle: int) -> SimSocket:
        sock = self.slots.get(handle)
        if sock is None:
            raise SimSocketError(ResultCode.SOCKET_NOT_EXIST, f"socket {handle} is not open")
        return sock

    def ssl_count(self) -> int:
        return self.leaked_ssl + sum(1 for s in self.slots.values() if s.ssl)

    def close(self, handle: int) -> None:
        sock = self.slots.pop(handle, None)
        if sock is not None:
            sock.close()

    def close_all(self) -> int:
        n = len(self.slots)
        self.leaked_ssl = 0
        for handle in list(self.slots):
            self.close(handle)
        return n
