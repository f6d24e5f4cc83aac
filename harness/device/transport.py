"""Serial transport: a pyserial port opened from a device path or URL, with a transcript.

Anything pyserial can open works: `/dev/ttyUSB0`, a pty path printed by `w24 sim --pty`,
`socket://host:port`, `rfc2217://host:port`, `loop://`. The transcript records every byte in
both directions with a timestamp so that a report can show exactly what crossed the line.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import termios
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import serial

try:
    from serial.serialposix import Serial as PosixSerial
except ImportError:  # not a POSIX system: every port goes through pyserial's own reads
    PosixSerial = None  # type: ignore[assignment,misc]

from w24_harness.at.codes import LineDeadError
from w24_harness.vocab import LineDirection


class PortPath(StrEnum):
    """The kind of path between host and device; handshake times depend on it (ser2net with
    Nagle adds ~40 ms), so baselines compare only runs through the same kind."""

    PTY = "pty"  # a pseudo-terminal: the built-in simulator, or a local bridge
    TTY = "tty"  # a serial device (/dev/ttyUSB0)
    SOCKET = "socket"  # raw TCP (socket://)
    RFC2217 = "rfc2217"  # an RFC 2217 server such as ser2net (rfc2217://)
    LABGRID = "labgrid"  # a labgrid place (RFC 2217 through the exporter's ser2net)
    OTHER = "other"  # loop://, spy://, ...


def port_path(url: str, *, labgrid: bool = False) -> PortPath:
    if labgrid:
        return PortPath.LABGRID
    if "://" not in url:
        return PortPath.PTY if url.startswith("/dev/pts/") else PortPath.TTY
    scheme = url.split("://", 1)[0].lower()
    return {"socket": PortPath.SOCKET, "rfc2217": PortPath.RFC2217}.get(scheme, PortPath.OTHER)


@dataclass(frozen=True)
class TranscriptEntry:
    t: float  # seconds since the transcript started
    direction: LineDirection
    data: bytes


class Transcript:
    """Thread-safe record of the line; `mark()`/`since()` cut out one test's share."""

    def __init__(self) -> None:
        self._entries: list[TranscriptEntry] = []
        self._lock = threading.Lock()
        self._t0 = time.monotonic()

    def record(self, direction: LineDirection, data: bytes) -> None:
        if not data:
            return
        entry = TranscriptEntry(time.monotonic() - self._t0, direction, bytes(data))
        with self._lock:
            # Coalesce consecutive reads so a byte-by-byte stream stays readable.
            last = self._entries[-1] if self._entries else None
            if (
                last
                and last.direction == direction == LineDirection.RX
                and entry.t - last.t < 0.002
            ):
                self._entries[-1] = TranscriptEntry(
                    last.t, LineDirection.RX, last.data + entry.data
                )
            else:
                self._entries.append(entry)

    def note(self, text: str) -> None:
        self.record(LineDirection.NOTE, text.encode("utf-8", "replace"))

    def mark(self) -> int:
        with self._lock:
            return len(self._entries)

    def since(self, mark: int = 0) -> list[TranscriptEntry]:
        with self._lock:
            return list(self._entries[mark:])

    @staticmethod
    def render(entries: list[TranscriptEntry], max_bytes: int = 512) -> str:
        """One line per entry: time, direction arrow, bytes with control characters escaped."""
        arrows = {LineDirection.TX: "->", LineDirection.RX: "<-", LineDirection.NOTE: "##"}
        lines = []
        for e in entries:
            if e.direction == "note":
                body = e.data.decode("utf-8", "replace")
            else:
                shown = e.data[:max_bytes]
                body = shown.decode("latin-1").encode("unicode_escape").decode("ascii")
                if len(e.data) > max_bytes:
                    body += f"... ({len(e.data)} bytes)"
            lines.append(f"{e.t:10.4f} {arrows.get(e.direction, '??')} {body}")
        return "\n".join(lines) + ("\n" if lines else "")

    def save(self, path: Path, mark: int = 0) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render(self.since(mark)), encoding="utf-8")
        return path

    def save_json(self, path: Path, mark: int = 0) -> Path:
        rows = [
            {"t": round(e.t, 6), "dir": e.direction, "data": e.data.decode("latin-1")}
            for e in self.since(mark)
        ]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rows), encoding="utf-8")
        return path


# On an RFC 2217 port every change of `timeout` makes upstream pyserial 3.5 renegotiate the
# whole port (baud, data size, parity, stop bits, control: >= 150 ms), and its client refuses
# write_timeout. So such a port is opened once with this fixed read timeout, which is never
# changed, and read_some polls: in_waiting bytes, else one read(1) that waits at most this long.
RFC2217_POLL_S = 0.01
# A blocked write to a real tty gives up after this long (RTS/CTS held off by a dead module).
WRITE_TIMEOUT_S = 30.0
# Waiting for the reply to a command that takes a while on the line (expect_reply_after): a
# thread asleep in select() for tens of ms takes 0.2-1 ms to run again on a VM once the reply
# is there (its vCPU went idle), 1-4 % of a 2 KB SSND at 921600 baud; a pty round trip between
# two awake processes takes 0.05 ms. So the wait sleeps until POLL_AHEAD_S before the reply can
# come, polls (yielding the CPU) until POLL_AFTER_S after, then sleeps again. Commands shorter
# on the line than POLL_MIN_LINE_S are not worth it.
POLL_MIN_LINE_S = 0.002
POLL_AHEAD_S = 0.0003
POLL_AFTER_S = 0.002
# What a failing open may raise: pyserial's own errors, the OS's, a bad setting, and the
# rfc2217 client's NotImplementedError for settings it cannot negotiate.
_OPEN_ERRORS = (serial.SerialException, OSError, ValueError, NotImplementedError)


def _is_rfc2217(port: serial.SerialBase) -> bool:
    # The class decides, not the URL text: the labgrid fork of pyserial has the same class.
    from serial import rfc2217

    return isinstance(port, rfc2217.Serial)


def _with_ign_set_control(url: str, exc: BaseException) -> str | None:
    """The URL with `ign_set_control` added, if the open failed for want of it."""
    if "option 'control'" not in str(exc) or "ign_set_control" in url:
        return None
    # ser2net in front of a pty (or any tty that refuses TIOCMSET) never acknowledges
    # SET-CONTROL for DTR/RTS; labgrid's own SerialDriver always adds this option.
    return url + ("&" if "?" in url else "?") + "ign_set_control"


def _open_hint(url: str, exc: BaseException) -> str:
    retry = _with_ign_set_control(url, exc)
    if retry is None:
        return ""
    return f" (the server did not acknowledge DTR/RTS: a pty behind ser2net? try {retry})"


class Transport:
    """A byte pipe to the device. Reads return what has arrived; writes record to the transcript."""

    def __init__(
        self,
        url: str,
        baud: int = 115200,
        transcript: Transcript | None = None,
        *,
        rtscts: bool = False,
    ) -> None:
        self.url = url
        self.transcript = transcript if transcript is not None else Transcript()
        try:
            port = self._open(url, baud, rtscts)
        except _OPEN_ERRORS as exc:
            retry = _with_ign_set_control(url, exc)
            if retry is None or rtscts:
                # With RTS/CTS on, flow control must be acknowledged, not assumed.
                raise LineDeadError(
                    f"cannot open serial port {url!r}: {exc}{_open_hint(url, exc)}"
                ) from exc
            try:
                port = self._open(retry, baud, rtscts)
            except _OPEN_ERRORS as exc2:
                raise LineDeadError(f"cannot open serial port {retry!r}: {exc2}") from exc2
            self.transcript.note(
                f"{url}: the RFC 2217 server did not acknowledge DTR/RTS (a pty behind "
                f"ser2net); reopened as {retry}"
            )
            self.url = retry
        self._port = port
        self._timeout: float | None = port.timeout
        self._reply_due: float | None = None  # expect_reply_after()
        # A local tty or pty: waited on with select(), so a read never changes the port's
        # timeout. Each change is a tcsetattr() (pyserial reconfigures the port), and the
        # reply loop's deadlines change it twice a read: 0.15-0.3 ms of every command.
        self._select_fd: int | None = (
            port.fd if PosixSerial is not None and isinstance(port, PosixSerial) else None
        )

    def _open(self, url: str, baud: int, rtscts: bool) -> serial.SerialBase:
        port = serial.serial_for_url(url, do_not_open=True)
        self.polled = _is_rfc2217(port)
        port.baudrate = baud
        # rtscts: hardware flow control, which the module expects for SSND payloads over
        # 256 bytes when ~CTS/~RTS are wired (spec §2.5).
        port.rtscts = rtscts
        port.timeout = RFC2217_POLL_S if self.polled else 0
        if not self.polled:
            port.write_timeout = WRITE_TIMEOUT_S
        port.open()
        return port

    @property
    def baud(self) -> int:
        return self._port.baudrate

    @baud.setter
    def baud(self, value: int) -> None:
        """Change the line rate (the production driver drops to 9600 for AT+iCA=)."""
        try:
            self._port.baudrate = value
        except _OPEN_ERRORS as exc:
            raise LineDeadError(f"cannot set {self.url} to {value} baud: {exc}") from exc
        self.transcript.note(f"line rate now {value} baud")

    def _set_timeout(self, timeout: float) -> None:
        # Changing the timeout reconfigures a real tty, so only do it when it changes.
        if self._timeout != timeout:
            self._port.timeout = timeout
            self._timeout = timeout

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
            self._port.flush()
        # termios.error: flush (tcdrain) on a pty whose other end has gone (a killed
        # simulator); it is no OSError, and must not escape as a harness error.
        except (serial.SerialException, OSError, termios.error) as exc:
            raise LineDeadError(f"write to {self.url} failed: {exc}") from exc
        self.transcript.record(LineDirection.TX, data)

    def expect_reply_after(self, sent: int) -> None:
        """`sent` bytes were just written: at this port's baud rate the answer cannot come
        before their line time is over. Reads wait for it as POLL_AHEAD_S says."""
        baud = self._port.baudrate or 0
        line_s = sent * 10 / baud if baud else 0.0
        self._reply_due = time.monotonic() + line_s if line_s >= POLL_MIN_LINE_S else None

    def read_some(self, timeout: float) -> bytes:
        """Wait up to `timeout` s for data, then return everything that has arrived."""
        try:
            data = self._poll(timeout) if self.polled else self._read_blocking(timeout)
        except (serial.SerialException, OSError) as exc:
            raise LineDeadError(f"read from {self.url} failed: {exc}") from exc
        self.transcript.record(LineDirection.RX, data)
        return data

    def _read_blocking(self, timeout: float) -> bytes:
        if self._select_fd is not None:
            if not self._wait_readable(self._select_fd, max(timeout, 0.0)):
                return b""
            waiting = self._port.in_waiting  # type: ignore[attr-defined]
            if waiting:
                return self._port.read(waiting)  # all there: returns at once, whatever timeout
            # Readable with nothing waiting: a hang-up, which pyserial's read reports.
        self._set_timeout(max(timeout, 0.0))
        first = self._port.read(1)
        if not first:
            return b""
        self._set_timeout(0)
        return first + self._port.read(65536)

    def _wait_readable(self, fd: int, timeout: float) -> bool:
        end = time.monotonic() + timeout
        due = self._reply_due
        if due is not None:
            asleep = min(due - POLL_AHEAD_S, end) - time.monotonic()
            if asleep > 0 and select.select([fd], [], [], asleep)[0]:
                return True
            awake_until = min(due + POLL_AFTER_S, end)
            while time.monotonic() < awake_until:
                if select.select([fd], [], [], 0)[0]:
                    return True
                os.sched_yield()
            if time.monotonic() >= due + POLL_AFTER_S:
                self._reply_due = None
        left = end - time.monotonic()
        return bool(select.select([fd], [], [], max(left, 0.0))[0])

    def _poll(self, timeout: float) -> bytes:
        # The port's timeout stays RFC2217_POLL_S: no renegotiation, whichever pyserial is
        # installed (upstream 3.5 or labgrid's fork, which both own the `serial` package).
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            waiting = self._port.in_waiting  # type: ignore[attr-defined]
            if waiting:
                return self._port.read(waiting)
            if time.monotonic() >= deadline:
                return b""
            first = self._port.read(1)  # waits at most RFC2217_POLL_S
            if first:
                more = self._port.in_waiting  # type: ignore[attr-defined]
                return first + self._port.read(more)

    def discard_input(self) -> bytes:
        """Drop bytes waiting from the device (late replies, noise); they go into the transcript."""
        stale = b""
        while chunk := self.read_some(0):
            stale += chunk
        if stale:
            self.transcript.note(f"discarded {len(stale)} stale bytes before the next command")
        return stale

    def close(self) -> None:
        with contextlib.suppress(serial.SerialException, OSError):
            self._port.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
