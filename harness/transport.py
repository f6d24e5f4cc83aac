"""Serial transport: a pyserial port opened from a device path or URL, with a transcript.

Anything pyserial can open works: `/dev/ttyUSB0`, a pty path printed by `w24 sim --pty`,
`socket://host:port`, `rfc2217://host:port`, `loop://`. The transcript records every byte in
both directions with a timestamp so that a report can show exactly what crossed the line.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import serial

from w24_harness.at.codes import LineDeadError
from w24_harness.vocab import LineDirection


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
            if last and last.direction == direction == LineDirection.RX and entry.t - last.t < 0.002:
                self._entries[-1] = TranscriptEntry(last.t, LineDirection.RX, last.data + entry.data)
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
            # rtscts: hardware flow control, which the module expects for SSND payloads over
            # 256 bytes when ~CTS/~RTS are wired (spec §2.5).
            self._port = serial.serial_for_url(
                url, baudrate=baud, timeout=0, write_timeout=30, rtscts=rtscts
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LineDeadError(f"cannot open serial port {url!r}: {exc}") from exc
        self._timeout: float | None = 0

    def _set_timeout(self, timeout: float) -> None:
        # Changing the timeout reconfigures a real tty, so only do it when it changes.
        if self._timeout != timeout:
            self._port.timeout = timeout
            self._timeout = timeout

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise LineDeadError(f"write to {self.url} failed: {exc}") from exc
        self.transcript.record(LineDirection.TX, data)

    def read_some(self, timeout: float) -> bytes:
        """Wait up to `timeout` s for data, then return everything that has arrived."""
        try:
            self._set_timeout(max(timeout, 0.0))
            first = self._port.read(1)
            if not first:
                return b""
            self._set_timeout(0)
            data = first + self._port.read(65536)
        except (serial.SerialException, OSError) as exc:
            raise LineDeadError(f"read from {self.url} failed: {exc}") from exc
        self.transcript.record(LineDirection.RX, data)
        return data

    def discard_input(self) -> bytes:
        """Drop bytes waiting from the device (late replies, noise); they go into the transcript."""
        stale = b""
        while chunk := self.read_some(0):
            stale += chunk
        if stale:
            self.transcript.note(f"discarded {len(stale)} stale bytes before the next command")
        return stale

    def close(self) -> None:
        try:
            self._port.close()
        except (serial.SerialException, OSError):
            pass

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
