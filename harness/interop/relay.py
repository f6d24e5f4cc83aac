"""What a real server does on the wire, seen by a TCP relay between the device and the server.

The relay forwards bytes unchanged and reads only the TLS record headers (RFC 2246 §6.2.1) and,
until ChangeCipherSpec, the plaintext hellos: record sizes per direction, the version and suite
the server chose, empty fragments or 1/n-1 splitting of application data, alerts at close
(close_notify at a clean close: encrypted, so only its presence is seen) and which side closed
the TCP connection first. It sees the same bytes whatever the device is (simulator or module),
so it is the simulator-independent witness of field behaviour.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from tlslite.constants import AlertDescription, AlertLevel, CipherSuite, HandshakeType

from w24_harness.listener import accepted, stop_listening
from w24_harness.tlsfacts import (
    HANDSHAKE_HEADER_LEN,
    RECORD_HEADER_LEN,
    SSL3_TLS10_CONTENT_TYPES,
    ContentType,
    version_from_wire,
)

HANDSHAKE = ContentType.HANDSHAKE


class Side(StrEnum):
    DEVICE = "device"  # records the device sent (towards the server)
    SERVER = "server"  # records the server sent (towards the device)


def suite_name(code: int) -> str:
    return CipherSuite.ietfNames.get(code, f"0x{code:04X}")


def version_name(major: int, minor: int) -> str:
    known = version_from_wire((major, minor))
    return str(known) if known else f"{major}.{minor}"


# Bulk cipher block size and MAC length of the W24 suites: what an empty application-data
# record costs once encrypted (RFC 2246 §6.2.3: MAC, then CBC padding of at least one byte).
_SUITE_SHAPE: dict[str, tuple[int, int]] = {  # name -> (block size, 0 = stream; MAC bytes)
    "TLS_RSA_WITH_RC4_128_MD5": (0, 16),
    "TLS_RSA_WITH_RC4_128_SHA": (0, 20),
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": (8, 20),
    "TLS_RSA_WITH_AES_128_CBC_SHA": (16, 20),
    "TLS_RSA_WITH_AES_256_CBC_SHA": (16, 20),
}


def plaintext_range(suite: str, length: int) -> tuple[int, int] | None:
    """The plaintext sizes an encrypted record of `length` bytes can carry (None: unknown)."""
    shape = _SUITE_SHAPE.get(suite)
    if shape is None:
        return None
    block, mac = shape
    if block == 0:
        return (length - mac, length - mac)
    return (max(length - mac - block, 0), length - mac - 1)


@dataclass(frozen=True)
class Record:
    side: Side
    content_type: int
    version: str
    length: int
    encrypted: bool
    at: float  # seconds since the connection was accepted
    alert: str = ""  # a plaintext alert's "level description" (encrypted ones are unreadable)


@dataclass
class _Direction:
    side: Side
    buffer: bytearray = field(default_factory=bytearray)
    handshake: bytearray = field(default_factory=bytearray)  # plaintext handshake stream
    messages: list[str] = field(default_factory=list)  # plaintext handshake message types
    encrypted: bool = False
    eof_at: float | None = None
    plain: list[str] = field(default_factory=list)  # plaintext lines before the first record
    records: int = 0  # records parsed so far


@dataclass
class WireLog:
    """Everything the relay saw on one connection."""

    records: list[Record] = field(default_factory=list)
    client_version: str = ""
    offered: list[str] = field(default_factory=list)
    server_version: str = ""
    server_suite: str = ""
    upstream_error: str = ""
    unparsed: str = ""  # why parsing stopped, if it did (the bytes were still relayed)
    started: float = field(default_factory=time.monotonic)
    done: threading.Event = field(default_factory=threading.Event)
    _dirs: dict[Side, _Direction] = field(default_factory=dict)

    def feed(self, side: Side, data: bytes) -> None:
        d = self._dirs.setdefault(side, _Direction(side))
        if self.unparsed:
            return
        d.buffer += data
        while len(d.buffer) >= RECORD_HEADER_LEN:
            if not d.records and 32 <= d.buffer[0] < 127:
                # A plaintext line before any record (explicit FTPS: "220 ...", "AUTH TLS"):
                # no record type is printable, so a protocol that starts in the clear is told
                # from one that does not by the first byte.
                end = d.buffer.find(b"\r\n")
                if end < 0:
                    return
                d.plain.append(bytes(d.buffer[:end]).decode("ascii", "replace"))
                del d.buffer[: end + 2]
                continue
            ctype, major, minor = d.buffer[0], d.buffer[1], d.buffer[2]
            length = int.from_bytes(d.buffer[3:5], "big")
            if ctype not in SSL3_TLS10_CONTENT_TYPES or major != 3:
                self.unparsed = f"{side} sent a non-TLS record header {bytes(d.buffer[:5]).hex()}"
                return
            if len(d.buffer) < RECORD_HEADER_LEN + length:
                return
            body = bytes(d.buffer[RECORD_HEADER_LEN : RECORD_HEADER_LEN + length])
            del d.buffer[: RECORD_HEADER_LEN + length]
            d.records += 1
            alert = ""
            if ctype == ContentType.ALERT and not d.encrypted and length == 2:
                alert = f"{AlertLevel.toStr(body[0])} {AlertDescription.toStr(body[1])}"
            self.records.append(
                Record(
                    side,
                    ctype,
                    version_name(major, minor),
                    length,
                    d.encrypted,
                    time.monotonic() - self.started,
                    alert,
                )
            )
            if ctype == ContentType.CHANGE_CIPHER_SPEC:
                d.encrypted = True
            elif ctype == ContentType.HANDSHAKE and not d.encrypted:
                d.handshake += body
                self._hello(d)

    def _hello(self, d: _Direction) -> None:
        """Take each whole plaintext handshake message off the stream: note its type, and read
        the version and suites out of the ClientHello / ServerHello."""
        hs = d.handshake
        while len(hs) >= HANDSHAKE_HEADER_LEN:
            length = int.from_bytes(hs[1:4], "big")
            if len(hs) < HANDSHAKE_HEADER_LEN + length:
                return
            kind = hs[0]
            body = bytes(hs[HANDSHAKE_HEADER_LEN : HANDSHAKE_HEADER_LEN + length])
            del hs[: HANDSHAKE_HEADER_LEN + length]
            d.messages.append(HandshakeType.toStr(kind))
            try:
                if kind == HandshakeType.client_hello and not self.client_version:
                    self.client_version = version_name(body[0], body[1])
                    at = 2 + 32 + 1 + body[34]
                    count = int.from_bytes(body[at : at + 2], "big")
                    self.offered = [
                        suite_name(int.from_bytes(body[i : i + 2], "big"))
                        for i in range(at + 2, at + 2 + count, 2)
                    ]
                elif kind == HandshakeType.server_hello and not self.server_version:
                    self.server_version = version_name(body[0], body[1])
                    at = 2 + 32 + 1 + body[34]
                    self.server_suite = suite_name(int.from_bytes(body[at : at + 2], "big"))
            except IndexError:
                self.unparsed = f"a truncated {HandshakeType.toStr(kind)}"

    def eof(self, side: Side) -> None:
        d = self._dirs.setdefault(side, _Direction(side))
        if d.eof_at is None:
            d.eof_at = time.monotonic() - self.started

    # -- what it means ----------------------------------------------------------------------

    def sent(self, side: Side, ctype: ContentType) -> list[Record]:
        return [r for r in self.records if r.side is side and r.content_type == ctype]

    def first_close(self) -> Side | None:
        ends = [(d.eof_at, side) for side, d in self._dirs.items() if d.eof_at is not None]
        return min(ends)[1] if ends else None

    def close_alert(self, side: Side) -> bool:
        """The side's last record is an encrypted alert: close_notify, at a clean close."""
        mine = [r for r in self.records if r.side is side]
        return bool(mine) and mine[-1].content_type == ContentType.ALERT and mine[-1].encrypted

    def handshake_messages(self, side: Side) -> list[str]:
        d = self._dirs.get(side)
        return list(d.messages) if d else []

    def plain_alerts(self, side: Side) -> list[str]:
        return [r.alert for r in self.records if r.side is side and r.alert]

    def small_records(self, side: Side) -> int:
        """Application-data records small enough to be an empty fragment or the 1 of a 1/n-1
        split (CBC: the minimum size; a stream cipher: 0 or 1 byte of plaintext), each followed
        by another application-data record of the same side."""
        data = self.sent(side, ContentType.APPLICATION_DATA)
        count = 0
        for first, nxt in zip(data, data[1:], strict=False):
            got = plaintext_range(self.server_suite, first.length)
            if got and got[0] <= 1 and nxt.length >= first.length:
                count += 1
        return count

    def split_kind(self, side: Side) -> str:
        """'none', 'empty fragments', '1/n-1' or 'empty fragments or 1/n-1' (CBC hides which)."""
        if not self.small_records(side):
            return "none"
        data = self.sent(side, ContentType.APPLICATION_DATA)
        shapes = {plaintext_range(self.server_suite, r.length) for r in data}
        if (0, 0) in shapes:
            return "empty fragments"
        if (1, 1) in shapes:
            return "1/n-1"
        return "empty fragments or 1/n-1"

    def summary(self) -> dict[str, object]:
        """JSON-ready facts for the results' `server` field."""
        out: dict[str, object] = {
            "version": self.server_version,
            "cipher": self.server_suite,
            "device_hello_version": self.client_version,
            "device_offered": self.offered,
        }
        for side in Side:
            out[f"{side}_handshake_records"] = [
                r.length for r in self.sent(side, ContentType.HANDSHAKE)
            ]
            out[f"{side}_app_records"] = [
                r.length for r in self.sent(side, ContentType.APPLICATION_DATA)
            ]
            out[f"{side}_split"] = self.split_kind(side)
            out[f"{side}_close_alert"] = self.close_alert(side)
            out[f"{side}_alerts"] = self.plain_alerts(side)
            out[f"{side}_handshake_messages"] = self.handshake_messages(side)
        first = self.first_close()
        out["first_to_close"] = str(first) if first else ""
        if self.upstream_error:
            out["relay_error"] = self.upstream_error
        if self.unparsed:
            out["unparsed"] = self.unparsed
        return out

    def describe(self) -> str:
        """One line for the report's detail column."""
        if not self.server_version:
            return "wire: no ServerHello" + (
                f" ({self.upstream_error})" if self.upstream_error else ""
            )
        srv = self.sent(Side.SERVER, ContentType.APPLICATION_DATA)
        parts = [
            f"wire: {self.server_version} {self.server_suite.removeprefix('TLS_RSA_WITH_')}",
            f"server hs records {[r.length for r in self.sent(Side.SERVER, HANDSHAKE)]}",
            f"server hs messages {self.handshake_messages(Side.SERVER)}",
            f"server data records {[r.length for r in srv][:8]}" + ("..." if len(srv) > 8 else ""),
            f"split: {self.split_kind(Side.SERVER)}",
            "server close_notify: " + ("yes" if self.close_alert(Side.SERVER) else "no"),
            "device close_notify: " + ("yes" if self.close_alert(Side.DEVICE) else "no"),
            f"first to close: {self.first_close() or '?'}",
        ]
        for side in Side:
            if self.plain_alerts(side):
                parts.append(f"{side} alert: {', '.join(self.plain_alerts(side))}")
        return "; ".join(parts)


Connector = Callable[[], socket.socket]


class RecordRelay:
    """Listen on `bind`, and for each connection open one to the server with `connect_upstream`
    and relay both ways, logging records in a WireLog. A context manager; stop() closes all."""

    def __init__(
        self, connect_upstream: Connector, bind: str = "127.0.0.1", idle_timeout: float = 30.0
    ) -> None:
        self.connect_upstream = connect_upstream
        self.idle_timeout = idle_timeout
        self.listener = socket.create_server((bind, 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.connections: list[WireLog] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._spawn(self._accept, "relay-accept")

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        for conn in accepted(self.listener, self._stop):
            log = WireLog()
            with self._lock:
                self.connections.append(log)
                self._sockets.append(conn)
            self._spawn(self._serve, "relay-conn", conn, log)

    def _serve(self, device: socket.socket, log: WireLog) -> None:
        try:
            upstream = self.connect_upstream()
        except OSError as exc:
            log.upstream_error = f"cannot reach the server: {exc}"
            device.close()
            log.done.set()
            return
        with self._lock:
            self._sockets.append(upstream)
        for s in (device, upstream):
            s.settimeout(self.idle_timeout)
        pumps = [
            threading.Thread(
                target=self._pump, args=(device, upstream, Side.DEVICE, log), daemon=True
            ),
            threading.Thread(
                target=self._pump, args=(upstream, device, Side.SERVER, log), daemon=True
            ),
        ]
        for p in pumps:
            p.start()
        for p in pumps:
            p.join()
        for s in (device, upstream):
            s.close()
        log.done.set()

    def _pump(self, src: socket.socket, dst: socket.socket, side: Side, log: WireLog) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                log.feed(side, data)
                dst.sendall(data)
        except OSError:
            pass  # a reset or the idle timeout ends this direction like an EOF
        log.eof(side)
        try:
            dst.shutdown(socket.SHUT_WR)  # pass the half-close on: the peer may still answer
        except OSError:
            pass

    def wait_closed(self, timeout: float = 5.0) -> bool:
        """Wait until every connection so far has ended on both sides."""
        deadline = time.monotonic() + timeout
        with self._lock:
            logs = list(self.connections)
        return all(log.done.wait(max(deadline - time.monotonic(), 0)) for log in logs)

    def stop(self) -> None:
        self._stop.set()
        stop_listening(self.listener)
        with self._lock:
            sockets = list(self._sockets)
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> RecordRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
