"""The simulator's serial side: links (pty, TCP), UART-rate pacing, echo, and the command loop.

One reader thread takes bytes off the link, paces them to the emulated baud rate, and cuts them
into commands; one worker thread runs the commands on the device. A command that arrives while
the worker is busy (a handshake, a connect) gets I/BUSY, as the module documents.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import select
import socket
import sys
import termios
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from w24_harness.at.reader import BadInput, Command, CommandReader
from w24_harness.sim.device import SimDevice
from w24_harness.vocab import LineDirection

CRLF = b"\r\n"
# How long a command arriving behind another waits for it before getting I/BUSY. A module works
# through its UART buffer in order, so a command right behind a quick one (RP0, SSND) is served
# after it; only one behind a long operation (connect, handshake) is discarded as busy.
BUSY_GRACE_S = 0.05


# termios speed constant -> baud, for following the rate a host set on the pty.
_SPEEDS = {
    getattr(termios, name): int(name[1:])
    for name in dir(termios)
    if name[:1] == "B" and name[1:].isdigit() and int(name[1:]) > 0
}


@dataclass
class InputOverrun:
    """The module's UART receive FIFO, drained by its firmware's parser at a finite rate
    (`w24 sim --overrun`). Bytes reach the command parser only as they drain, and bytes that
    arrive while the FIFO is full are lost, as on a UART without flow control: an unpaced
    1300-character CA value at 115200 baud overruns it; the same value at 9600 baud (the
    production driver's rate for AT+iCA=, spec §12.1) does not, nor does an SSND of 256 bytes
    plus its header (spec §2.5). The manuals give neither figure: these are a model, sized so
    that exactly those documented limits hold.

    Time is line time where it can be: bytes that were already waiting behind the previous
    read (`continuing`) arrived back to back at the line rate, so during them the FIFO drains
    drain_bps/line_rate bytes per byte received, however late this process got to read them.
    A loaded machine therefore cannot hide an overrun; only gaps in the stream (a host that
    paused) are measured by the clock.
    """

    fifo_bytes: int = 512
    drain_bps: float = 2400.0  # bytes per second the firmware takes out while it parses
    lost: int = 0
    held: bytearray = field(default_factory=bytearray)
    _credit: float = 0.0  # drained capacity not yet taken out (a fraction of a byte)
    _last: float | None = None

    def _drain(self, seconds: float) -> bytes:
        if not self.held:
            self._credit = 0.0  # an empty FIFO banks nothing
            return b""
        self._credit += max(0.0, seconds) * self.drain_bps
        n = min(int(self._credit), len(self.held))
        self._credit -= n
        out = bytes(self.held[:n])
        del self.held[:n]
        return out

    def feed(self, data: bytes, now: float, line_bps: float, continuing: bool) -> bytes:
        """`data` arrived by `now` on a line of `line_bps` bytes/s; returns what the parser
        took out of the FIFO meanwhile. Bytes that found it full count in `lost`."""
        out = b"" if continuing or self._last is None else self._drain(now - self._last)
        self._last = now
        arrival = len(data) / line_bps  # the bytes drip in over this long, draining as they do
        room = self.fifo_bytes - len(self.held) + int(arrival * self.drain_bps)
        kept = data[: max(0, room)]
        self.lost += len(data) - len(kept)
        self.held += kept
        return out + self._drain(arrival)

    def pull(self, now: float) -> bytes:
        """What the parser took out of the FIFO since the last call (no bytes arriving)."""
        if self._last is None:
            return b""
        out = self._drain(now - self._last)
        self._last = now
        return out

    def wait_s(self) -> float:
        """The read timeout: short while bytes are held, so they drain on time."""
        return 0.05 if not self.held else 0.005


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

    def take(self, n: int, continuing: bool = False, exact: bool = False) -> None:
        self.wait(self.schedule(n, continuing), exact)

    def schedule(self, n: int, continuing: bool = False) -> float:
        """When the last of `n` more bytes is through the line (time.monotonic())."""
        now = time.monotonic()
        if self.rate <= 0 or n <= 0:
            return now
        start = max(self._free_at, now - self.CATCH_UP_S) if continuing else max(self._free_at, now)
        self._free_at = start + n / self.rate
        return self._free_at

    # A sleep ends 60-300 us late here even with the timer slack off (precise_sleeps): paid
    # back within a stream, not at its end, where the device answers. There the last stretch
    # yields the CPU in a loop instead (others still run: the pty's kernel worker must).
    YIELD_S = 0.0002

    @classmethod
    def wait(cls, until: float, exact: bool = False) -> None:
        ahead = until - time.monotonic()
        if ahead <= 0:
            return
        if not exact:
            time.sleep(ahead)
            return
        if ahead > cls.YIELD_S:
            time.sleep(ahead - cls.YIELD_S)
        while time.monotonic() < until:
            os.sched_yield()

    def chunk(self) -> int:
        """Bytes per pacing step: about 5 ms of line time, never less than one byte."""
        return 65536 if self.rate <= 0 else max(1, int(self.rate * 0.005))


def precise_sleeps() -> None:
    """Let this thread's sleeps end on time: Linux adds up to the thread's timer slack (50 us
    by default) to each, and the pacing sleeps twice per command (the last bytes in, the reply
    out), 0.1 ms of each 2 KB SSND's 22 ms at 921600 baud. Elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_TIMERSLACK, 1, 0, 0, 0)


_PR_SET_TIMERSLACK = 29  # linux/prctl.h


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

    def host_baud(self) -> int | None:
        """The rate the host set on the pty (Linux shares the slave's termios with the
        master), or None if unknown."""
        try:
            return _SPEEDS.get(termios.tcgetattr(self.fd)[5])
        except termios.error:
            return None

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
                with contextlib.suppress(OSError):
                    os.close(fd)


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
        with contextlib.suppress(OSError):
            self.conn.close()


class _RunDeferred:
    """The worker's job for a command the reader answered itself: its deferred work."""


_RUN_DEFERRED = _RunDeferred()


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
        overrun: InputOverrun | None = None,
    ) -> None:
        self.device = device
        device.defer_sends = True  # this loop runs device.run_deferred() after each reply
        self.overrun = overrun
        self._baud = baud
        self.link = link
        self.stop = stop or threading.Event()
        self._record = record or (lambda _d, _b: None)
        self._rx_pacer = Pacer(baud)
        self._tx_pacer = Pacer(baud)
        # Reentrant: the worker holds it from "idle again" until its reply is out, so nothing
        # the reader writes next can overtake that reply.
        self._write_lock = threading.RLock()
        self._jobs: queue.Queue[Command | BadInput | _RunDeferred | None] = queue.Queue(maxsize=1)
        self._idle = threading.Event()  # no command is running (a deferred send may be)
        self._idle.set()
        # Jobs handed to the worker and not finished, deferred sends included. Only the reader
        # adds to it, so the reader seeing 0 knows the worker has nothing and gets nothing.
        self._outstanding = 0
        self._outstanding_lock = threading.Lock()
        self._closed = threading.Event()
        self._echoes: list[bytes] = []  # header echoes parsed, not yet due (_echo_header)
        profile = device.profile
        self.reader = CommandReader(
            max_line=profile.max_command_line,
            host_data_timeout_s=profile.host_data_timeout_s,
            ssnd_limit=device.ssnd_limit,
            on_header=self._echo_header,
        )

    def write(self, data: bytes) -> None:
        with self._write_lock:
            step = self._tx_pacer.chunk()
            for start in range(0, len(data), step):
                piece = data[start : start + step]
                last = start + step >= len(data)
                self._tx_pacer.take(len(piece), continuing=start > 0, exact=last)
                if not self.link.write(piece, self.stop):
                    self._closed.set()
                    return
            self._record(LineDirection.TX, data)

    def _worker(self) -> None:
        precise_sleeps()
        while True:
            item = self._jobs.get()
            if item is None:
                return
            if not isinstance(item, _RunDeferred):
                self._reply_to(item)
            # After the reply, before the next command (which may already wait in the queue).
            self.device.run_deferred()
            with self._outstanding_lock:
                self._outstanding -= 1

    def _reply_to(self, item: Command | BadInput) -> None:
        try:
            reply = self.device.handle(item)
        except Exception as exc:  # the simulator must never wedge on a bug of its own
            reply = self.device.internal_error(item, exc)
        with self._write_lock:
            self._idle.set()
            self.write(reply)

    def _hand_to_worker(self, job: Command | BadInput | _RunDeferred) -> None:
        with self._outstanding_lock:
            self._outstanding += 1
        self._jobs.put(job)

    def _inline(self, item: Command | BadInput) -> bool:
        """An SSND is quick, its send deferred (this session set device.defer_sends): the
        reader answers it itself, sparing the hand-off to the worker (0.1 ms of each 2 KB SSND
        at 921600 baud), when the worker has nothing running; the worker then sends the record
        while the next command comes in."""
        if not (isinstance(item, Command) and item.name == "SSND"):
            return False
        with self._outstanding_lock:
            return self._outstanding == 0

    def _echo_header(self, header: bytes) -> None:
        # The SSND header is echoed as it arrives, while its payload is still on the line (the
        # line is full duplex), not after the payload: that would hold the I/OK back by the
        # echo's own line time, 1 % of each 2 KB SSND at 921600 baud. The reader parses bytes
        # before their line time is over; the echo is written once it is (run()).
        if self.device.echo:
            self._echoes.append(header + CRLF)

    def _dispatch(self, item: Command | BadInput) -> None:
        idle = self._idle.wait(BUSY_GRACE_S)
        if self.device.echo and item.line and not item.header_reported:
            self.write(item.line + CRLF)
        if isinstance(item, BadInput):
            self.write(self.device.handle(item))
            return
        if not idle:
            self.write(b"I/BUSY" + CRLF)
            return
        self._idle.clear()
        if self._inline(item):
            self._reply_to(item)
            if self.device.has_deferred:
                self._hand_to_worker(_RUN_DEFERRED)
            return
        self._hand_to_worker(item)

    def _follow_host_baud(self) -> None:
        # With the overrun model the line is a UART: bytes arrive at the rate the host set
        # (the production driver drops to 9600 for AT+iCA=), and the module follows it.
        host_baud = getattr(self.link, "host_baud", lambda: None)()
        if host_baud and host_baud != self._baud:
            self.device._log(f"host line rate now {host_baud} baud (was {self._baud})")
            self._baud = host_baud
            self._rx_pacer.rate = self._tx_pacer.rate = host_baud / 10.0

    def _through_fifo(self, data: bytes, now: float, continuing: bool) -> bytes:
        """What the parser gets by `now` through the FIFO model."""
        assert self.overrun is not None
        if not data:
            return self.overrun.pull(now)
        before = self.overrun.lost
        out = self.overrun.feed(data, now, self._rx_pacer.rate, continuing)
        if self.overrun.lost > before:
            self.device._log(
                f"input overrun: {self.overrun.lost - before} bytes lost "
                f"({self.overrun.lost} so far; FIFO {self.overrun.fifo_bytes} bytes)"
            )
        return out

    def run(self) -> None:
        precise_sleeps()
        worker = threading.Thread(target=self._worker, name="w24sim-worker", daemon=True)
        worker.start()
        backlog = False  # the last read filled its chunk: more was waiting behind it
        try:
            while not self.stop.is_set() and not self._closed.is_set():
                step = self._rx_pacer.chunk()
                wait = self.overrun.wait_s() if self.overrun is not None else 0.05
                data = self.link.read(step, wait)
                if data is None:
                    break
                if data and self.overrun is not None:
                    self._follow_host_baud()
                continuing = backlog
                backlog = len(data) == step
                items: list[Command | BadInput] = []
                if data:
                    # Logged and parsed before the pacing sleep, so their cost hides in the
                    # line time instead of delaying the command behind its last byte. What
                    # the parse asks for (echo, dispatch) waits for the bytes' arrival.
                    self._record(LineDirection.RX, data)
                    due = self._rx_pacer.schedule(len(data), continuing=continuing)
                    if self.overrun is None:
                        items = self.reader.feed(data, due)
                    self._rx_pacer.wait(due, exact=bool(items))
                now = time.monotonic()
                if self.overrun is not None:
                    data = self._through_fifo(data, now, continuing)
                    items = self.reader.feed(data, now) if data else self.reader.expire(now)
                elif not data:
                    items = self.reader.expire(now)
                for echo in self._echoes:
                    self.write(echo)
                self._echoes.clear()
                for item in items:
                    self._dispatch(item)
        finally:
            self._jobs.put(None)
            worker.join(timeout=30)
