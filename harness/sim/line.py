"""The simulator's serial side: links (pty, TCP), UART-rate pacing, echo, and the command loop.

One reader thread takes bytes off the link, paces them to the emulated baud rate, and cuts them
into commands; one worker thread runs the commands on the device. A command that arrives while
the worker is busy (a handshake, a connect) gets I/BUSY, as the module documents.
"""

from __future__ import annotations

import os
import queue
import select
import socket
import threading
import time
import tty
from collections.abc import Callable
from typing import Protocol

from w24_harness.at.reader import BadInput, Command, CommandReader
from w24_harness.sim.device import SimDevice
from w24_harness.vocab import LineDirection

CRLF = b"\r\n"
# How long a command arriving behind another waits for it before getting I/BUSY. A module works
# through its UART buffer in order, so a command right behind a quick one (RP0, SSND) is served
# after it; only one behind a long operation (connect, handshake) is discarded as busy.
BUSY_GRACE_S = 0.05


class Link(Protocol):
    def read(self, max_bytes: int, timeout: float) -> bytes | None: ...  # None: link closed
    def write(self, data: bytes, stop: threading.Event) -> bool: ...  # False: link closed
    def close(self) -> None: ...


class Pacer:
    """Holds a byte stream to `baud`/10 bytes per second (8N1 framing), 0 = unthrottled.

    Keeps a virtual 'line free at' time and sleeps until it, so no byte leaves before a UART
    could have sent it (an earlier version skipped sleeps under 1 ms, and short replies such as
    I/OK came early enough to beat the line by ~0.1 %). Bytes that follow the previous ones
    back to back (`continuing`: the rest of one reply, or of a backlog the host wrote at once)
    are scheduled from where the previous bytes ended even when the call comes a little late,
    so sleep overshoot is paid back instead of adding up (without that, 5 ms steps ran ~2.5 %
    slow at 921600 baud). A new burst starts from now.
    """

    # How late a continuing stream may be and still count as back to back. A sleep overshoots
    # by ~0.1 ms; a stream further behind was stalled (the host paused or did not read), and
    # its schedule restarts from now: the emulated line may run slow under load, never fast.
    CATCH_UP_S = 0.002

    def __init__(self, baud: int) -> None:
        self.rate = baud / 10.0
        self._free_at = 0.0

    def take(self, n: int, continuing: bool = False) -> None:
        if self.rate <= 0 or n <= 0:
            return
        now = time.monotonic()
        start = max(self._free_at, now - self.CATCH_UP_S) if continuing else max(self._free_at, now)
        self._free_at = start + n / self.rate
        ahead = self._free_at - now
        if ahead > 0:
            time.sleep(ahead)

    def chunk(self) -> int:
        """Bytes per pacing step: about 5 ms of line time, never less than one byte."""
        return 65536 if self.rate <= 0 else max(1, int(self.rate * 0.005))


class FdLink:
    """A pty master (or any fd). The slave stays open here so hosts can come and go."""

    def __init__(self, fd: int, keep_open: int | None = None) -> None:
        self.fd = fd
        self._keep_open = keep_open
        os.set_blocking(fd, False)

    def read(self, max_bytes: int, timeout: float) -> bytes | None:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            data = os.read(self.fd, max_bytes)
        except BlockingIOError:
            return b""
        except OSError:  # EIO: no slave open (never, while we hold one) or fd closed
            return None
        return data if data else None

    def write(self, data: bytes, stop: threading.Event) -> bool:
        view = memoryview(data)
        while view and not stop.is_set():
            _, ready, _ = select.select([], [self.fd], [], 0.1)
            if not ready:
                continue
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                continue
            except OSError:
                return False
            view = view[n:]
        return not view

    def close(self) -> None:
        for fd in (self.fd, self._keep_open):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass


def open_pty() -> tuple[FdLink, str]:
    master, slave = os.openpty()
    tty.setraw(slave)  # no line discipline echo or CR/LF mapping before a host configures it
    return FdLink(master, keep_open=slave), os.ttyname(slave)


class SocketLink:
    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.setblocking(False)

    def read(self, max_bytes: int, timeout: float) -> bytes | None:
        ready, _, _ = select.select([self.conn], [], [], timeout)
        if not ready:
            return b""
        try:
            data = self.conn.recv(max_bytes)
        except BlockingIOError:
            return b""
        except OSError:
            return None
        return data if data else None

    def write(self, data: bytes, stop: threading.Event) -> bool:
        view = memoryview(data)
        while view and not stop.is_set():
            _, ready, _ = select.select([], [self.conn], [], 0.1)
            if not ready:
                continue
            try:
                view = view[self.conn.send(view) :]
            except BlockingIOError:
                continue
            except OSError:
                return False
        return not view

    def close(self) -> None:
        try:
            self.conn.close()
        except OSError:
            pass


class LineSession:
    """Serves one link until it closes or `stop` is set."""

    def __init__(
        self,
        device: SimDevice,
        link: Link,
        *,
        baud: int = 0,
        stop: threading.Event | None = None,
        record: Callable[[str, bytes], None] | None = None,
    ) -> None:
        self.device = device
        self.link = link
        self.stop = stop or threading.Event()
        self._record = record or (lambda _d, _b: None)
        self._rx_pacer = Pacer(baud)
        self._tx_pacer = Pacer(baud)
        # Reentrant: the worker holds it from "idle again" until its reply is out, so nothing
        # the reader writes next can overtake that reply.
        self._write_lock = threading.RLock()
        self._jobs: queue.Queue[Command | BadInput | None] = queue.Queue(maxsize=1)
        self._idle = threading.Event()
        self._idle.set()
        self._closed = threading.Event()
        profile = device.profile
        self.reader = CommandReader(
            max_line=profile.max_command_line,
            host_data_timeout_s=profile.host_data_timeout_s,
            ssnd_limit=device.ssnd_limit,
        )

    def write(self, data: bytes) -> None:
        with self._write_lock:
            step = self._tx_pacer.chunk()
            for start in range(0, len(data), step):
                piece = data[start : start + step]
                self._tx_pacer.take(len(piece), continuing=start > 0)
                if not self.link.write(piece, self.stop):
                    self._closed.set()
                    return
            self._record(LineDirection.TX, data)

    def _worker(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            try:
                reply = self.device.handle(item)
            except Exception as exc:  # the simulator must never wedge on a bug of its own
                reply = self.device.internal_error(item, exc)
            with self._write_lock:
                self._idle.set()
                self.write(reply)

    def _dispatch(self, item: Command | BadInput) -> None:
        idle = self._idle.wait(BUSY_GRACE_S)
        if self.device.echo and item.line:
            self.write(item.line + CRLF)
        if isinstance(item, BadInput):
            self.write(self.device.handle(item))
            return
        if not idle:
            self.write(b"I/BUSY" + CRLF)
            return
        self._idle.clear()
        self._jobs.put(item)

    def run(self) -> None:
        worker = threading.Thread(target=self._worker, name="w24sim-worker", daemon=True)
        worker.start()
        backlog = False  # the last read filled its chunk: more was waiting behind it
        try:
            while not self.stop.is_set() and not self._closed.is_set():
                step = self._rx_pacer.chunk()
                data = self.link.read(step, 0.05)
                if data is None:
                    break
                now = time.monotonic()
                if data:
                    self._rx_pacer.take(len(data), continuing=backlog)
                    self._record(LineDirection.RX, data)
                    items = self.reader.feed(data, now)
                else:
                    items = self.reader.expire(now)
                backlog = len(data) == step
                for item in items:
                    self._dispatch(item)
        finally:
            self._jobs.put(None)
            worker.join(timeout=30)
