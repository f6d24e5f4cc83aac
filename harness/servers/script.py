"""A scriptable malicious server on tlslite-ng: misbehaviours as small declarative objects.

A `Misbehaviour` is data, not a branch in the server. It names itself and says, by optional
parts, what the server does differently; the tlslite backend reads the parts at fixed hook
points and knows nothing about any particular misbehaviour:

- `before_handshake`: replaces the whole handshake (read the ClientHello, then close or stall).
- `flight`: edits applied in order to the server's first flight, the list tlslite builds as
  [ServerHello, Certificate, (ServerKeyExchange), ServerHelloDone] (add, drop, reorder, edit,
  re-type, pad with trailing bytes, pack into one record, insert any message or a `RawRecord`
  of any content type and header version, written past the record layer).
- `finish`: the steps that replace tlslite's ChangeCipherSpec + Finished (skip, duplicate or
  re-body the CCS, corrupt the Finished, insert alerts or data between them).
- `handshake_record_size`: the largest handshake record (1 = every byte its own record).
- `wire`: how bytes leave the socket (trickle one byte per segment, split, coalesce).
- `first_records` and `after_handshake`: the application-data stage.

Extension point for application records (the record-layer misbehaviours: padding, MAC, empty
records, record versions...): a misbehaviour may set `after_handshake`, a callable
`(AppStage) -> None` that runs once the handshake is done and replaces the ordinary "send the
configured payload" step. `AppStage` gives it the live `TLSConnection` (`conn`, with
`conn._recordLayer` for per-record patches and `conn._sendMsg` / `_sendMsgThroughSocket` for
raw records), the payload it is to send (`records`), and `send_record(data)` for one ordinary
application record; the server then reads until the client closes, as usual, so the client's
alert still lands in the ConnectionReport. Record-level misbehaviours live in their own module
and are plain `Misbehaviour` values; nothing here needs to change to add one.

Every misbehaviour that reaches the handshake also records what the client did (see
`ObservingSocket`): its ClientHello, whether it sent ClientKeyExchange and how long its
encrypted premaster was, and its plaintext alerts (BoGo's expectedLocalError).
"""

from __future__ import annotations

import base64
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tlslite.api import TLSConnection
from tlslite.constants import AlertDescription, AlertLevel, ContentType, HandshakeType
from tlslite.mathtls import calc_key
from tlslite.messages import (
    Alert,
    ApplicationData,
    ChangeCipherSpec,
    ClientHello,
    Finished,
    Message,
)
from tlslite.utils.codec import Parser

from w24_harness.tlsfacts import suite_name, version_name

from .base import CertMaterial, ClientHelloView, ConnectionReport

if TYPE_CHECKING:
    from .session import ConnectionContext

HEADER_LEN = 5
CLIENT_RECORDS_KEPT = 32  # encrypted client records listed in a report (the rest are not)
HANDSHAKE_NAMES: dict[int, str] = {
    0: "HelloRequest",
    1: "ClientHello",
    2: "ServerHello",
    11: "Certificate",
    12: "ServerKeyExchange",
    13: "CertificateRequest",
    14: "ServerHelloDone",
    15: "CertificateVerify",
    16: "ClientKeyExchange",
    20: "Finished",
}


# -- the flight: what the server's first flight becomes ----------------------------------------


@dataclass
class Packed:
    """Several handshake messages sent in one record (BoGo PackHandshakeFlight)."""

    messages: list[Any]


@dataclass(frozen=True)
class RawRecord:
    """A record written straight to the socket, past tlslite's record layer: any content type,
    any header version, any body (in the clear, whatever the write state)."""

    content_type: int
    body: bytes
    version: tuple[int, int] = (3, 1)

    def wire(self) -> bytes:
        return (
            bytes([self.content_type, *self.version])
            + len(self.body).to_bytes(2, "big")
            + self.body
        )


@dataclass
class FlightContext:
    """What a flight edit may read: the connection (its version, randoms, keys)."""

    conn: ScriptedConnection

    @property
    def version(self) -> tuple[int, int]:
        return tuple(self.conn.version)  # type: ignore[return-value]


FlightItem = Any  # a tlslite message object, a raw Message, Packed, or RawRecord
FlightEdit = Callable[[list[FlightItem], FlightContext], list[FlightItem]]


def handshake_type(item: FlightItem) -> int | None:
    """The handshake type byte of a flight item as it will be sent; None for other records."""
    if (
        isinstance(item, Packed | RawRecord)
        or getattr(item, "contentType", None) != ContentType.handshake
    ):
        return None
    return int(item.write()[0])


def _index(items: list[FlightItem], htype: int) -> int:
    for i, item in enumerate(items):
        if handshake_type(item) == htype:
            return i
    raise ValueError(f"flight has no {HANDSHAKE_NAMES.get(htype, htype)}: script error")


def drop(*htypes: int) -> FlightEdit:
    return lambda items, _ctx: [i for i in items if handshake_type(i) not in htypes]


def duplicate(htype: int) -> FlightEdit:
    def edit(items: list[FlightItem], _ctx: FlightContext) -> list[FlightItem]:
        at = _index(items, htype)
        return [*items[: at + 1], items[at], *items[at + 1 :]]

    return edit


def move_before(htype: int, before: int) -> FlightEdit:
    def edit(items: list[FlightItem], _ctx: FlightContext) -> list[FlightItem]:
        item = items.pop(_index(items, htype))
        at = _index(items, before)
        return [*items[:at], item, *items[at:]]

    return edit


def insert(
    at: int | None,
    make: Callable[[FlightContext], FlightItem],
    *,
    before: int | None = None,
    after: int | None = None,
) -> FlightEdit:
    """Insert make(ctx) at list index `at`, or before / after the named handshake message."""

    def edit(items: list[FlightItem], ctx: FlightContext) -> list[FlightItem]:
        if before is not None:
            pos = _index(items, before)
        elif after is not None:
            pos = _index(items, after) + 1
        else:
            pos = len(items) if at is None else at
        return [*items[:pos], make(ctx), *items[pos:]]

    return edit


def set_fields(htype: int, **values: object) -> FlightEdit:
    """Edit fields of a parsed message (e.g. ServerHello.cipher_suite); tlslite re-encodes it."""

    def edit(items: list[FlightItem], _ctx: FlightContext) -> list[FlightItem]:
        msg = items[_index(items, htype)]
        for name, value in values.items():
            if not hasattr(msg, name):
                raise ValueError(f"{type(msg).__name__} has no field {name!r}: script error")
            setattr(msg, name, value)
        return items

    return edit


def rewrite(htype: int, change: Callable[[bytes], bytes]) -> FlightEdit:
    """Replace a message by raw bytes: change(encoded message incl. its 4-byte header)."""

    def edit(items: list[FlightItem], _ctx: FlightContext) -> list[FlightItem]:
        at = _index(items, htype)
        raw = change(bytes(items[at].write()))
        return [*items[:at], Message(ContentType.handshake, bytearray(raw)), *items[at + 1 :]]

    return edit


def retyped(new_type: int) -> Callable[[bytes], bytes]:
    return lambda raw: bytes([new_type]) + raw[1:]


def with_trailing(extra: bytes) -> Callable[[bytes], bytes]:
    """The body plus `extra`, with the handshake length fixed up to include it."""

    def change(raw: bytes) -> bytes:
        body = raw[4:] + extra
        return raw[:1] + len(body).to_bytes(3, "big") + body

    return change


def pack_all() -> FlightEdit:
    """Every handshake message of the flight in one record."""
    return lambda items, _ctx: [Packed(list(items))]


def ccs(body: bytes = b"\x01") -> Callable[[FlightContext], FlightItem]:
    return lambda _ctx: Message(ContentType.change_cipher_spec, bytearray(body))


def alert(description: int, level: int = AlertLevel.fatal) -> Callable[[FlightContext], FlightItem]:
    return lambda _ctx: Alert().create(description, level)


def app_data(data: bytes) -> Callable[[FlightContext], FlightItem]:
    return lambda _ctx: ApplicationData().create(bytearray(data))


def raw_handshake(htype: int, body: bytes) -> Callable[[FlightContext], FlightItem]:
    return lambda _ctx: Message(
        ContentType.handshake, bytearray(bytes([htype]) + len(body).to_bytes(3, "big") + body)
    )


def fake_finished(ctx: FlightContext) -> FlightItem:
    """A Finished the server cannot have computed (SKIP-TLS: no key exchange happened)."""
    size = 36 if ctx.version == (3, 0) else 12
    return Message(
        ContentType.handshake,
        bytearray(bytes([HandshakeType.finished]) + size.to_bytes(3, "big") + bytes(size)),
    )


# -- ChangeCipherSpec and Finished ---------------------------------------------------------------


@dataclass(frozen=True)
class SendCCS:
    body: bytes = b"\x01"
    switch_keys: bool = True  # the server's write state changes after it


@dataclass(frozen=True)
class SendFinished:
    corrupt: bool = False  # verify_data[0] + 1 (tlslite's Fault.badFinished, without its trap)
    trailing: bytes = b""  # bytes after the Finished in the same record (BoGo TrailingData...)


@dataclass(frozen=True)
class SendRecord:
    """Any record in the current write state: an alert, application data, raw type bytes."""

    make: Callable[[FlightContext], FlightItem]


FinishStep = SendCCS | SendFinished | SendRecord
DEFAULT_FINISH: tuple[FinishStep, ...] = (SendCCS(), SendFinished())


# -- the socket: how bytes leave ------------------------------------------------------------------


@dataclass(frozen=True)
class Wire:
    """How the server's bytes are cut into TCP segments while the handshake runs."""

    chunk: int | None = None  # trickle: at most this many bytes per segment
    gap_s: float = 0.0  # pause between trickled segments
    coalesce: bool = False  # hold every write until the server next reads (one segment)
    handshake_only: bool = True


# -- the misbehaviour ------------------------------------------------------------------------------


@dataclass
class AppStage:
    """What an after_handshake hook works with (see the module docstring)."""

    conn: TLSConnection
    records: list[bytes]
    send_record: Callable[[bytes], None]
    report: ConnectionReport


@dataclass(frozen=True)
class Misbehaviour:
    """One named, declarative way for the server to misbehave."""

    name: str
    description: str = ""
    before_handshake: Callable[[ConnectionContext], None] | None = None
    flight: tuple[FlightEdit, ...] = ()
    finish: tuple[FinishStep, ...] | None = None  # None: tlslite's own CCS + Finished
    handshake_record_size: int | None = None
    wire: Wire | None = None
    # The application records sent first, from (send_on_connect, seed, record_cap); None: the
    # ordinary payload.
    first_records: Callable[[int, int, int], list[bytes]] | None = None
    after_handshake: Callable[[AppStage], None] | None = None
    tamper: bool = False  # flip the last byte of the first application record (TamperingSocket)

    def __str__(self) -> str:
        return self.name


class Registry:
    """Every Misbehaviour by name; a second one with a taken name is a script error."""

    def __init__(self) -> None:
        self._by_name: dict[str, Misbehaviour] = {}
        self._lock = threading.Lock()

    def add(self, m: Misbehaviour) -> Misbehaviour:
        with self._lock:
            if m.name in self._by_name and self._by_name[m.name] is not m:
                raise ValueError(f"two misbehaviours named {m.name!r}")
            self._by_name[m.name] = m
        return m

    def get(self, name: str) -> Misbehaviour:
        try:
            return self._by_name[name]
        except KeyError:
            raise ValueError(
                f"unknown misbehaviour {name!r}; known: {sorted(self._by_name)}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._by_name)


REGISTRY = Registry()


def misbehaviour(name: str, description: str = "", **parts: Any) -> Misbehaviour:
    """Build and register a Misbehaviour."""
    return REGISTRY.add(Misbehaviour(name, description, **parts))


# -- the connection --------------------------------------------------------------------------------


class ScriptedConnection(TLSConnection):
    """tlslite's server, with the misbehaviour's flight and finish hooks."""

    def __init__(self, sock: Any, script: Misbehaviour | None, private_key: Any = None) -> None:
        super().__init__(sock)
        self.script = script
        self.observer: ObservingSocket | None = sock if isinstance(sock, ObservingSocket) else None
        self.private_key = private_key  # the certificate's key (a ServerKeyExchange signs with it)
        self.client_random = b""
        self.server_random = b""
        self._flight_pending = script is not None and bool(script.flight)
        # The misbehaviour's handshake part has gone out (its first flight or its finish).
        self.carried_out = False
        if script is not None and script.handshake_record_size:
            self.recordSize = script.handshake_record_size

    def _sendMsgs(self, msgs: Sequence[Any]):
        if self.observer is not None and self.observer.negotiated is None:
            self.observer.negotiated = tuple(self.version)  # type: ignore[assignment]
        script = self.script
        if script is not None and (script.flight or script.wire or script.handshake_record_size):
            self.carried_out = True
        if not self._flight_pending:
            yield from super()._sendMsgs(msgs)
            return
        self._flight_pending = False
        assert self.script is not None
        items = list(msgs)
        self.server_random = bytes(getattr(items[0], "random", b""))
        if self.observer is not None:
            self.client_random = self.observer.client_random
        ctx = FlightContext(self)
        for edit in self.script.flight:
            items = edit(items, ctx)
        yield from self._send_items(items)

    def _send_items(self, items: list[FlightItem]):
        self.sock.buffer_writes = True
        for item in items:
            if isinstance(item, Packed):
                for msg in item.messages:
                    self._queue_message(msg)
                yield from self._queue_flush()
            elif isinstance(item, RawRecord):
                self.sock.send(item.wire())
            else:
                yield from self._sendMsg(item, False)
        self.sock.flush()
        self.sock.buffer_writes = False

    def _sendFinished(
        self,
        masterSecret,
        cipherSuite=None,
        nextProto=None,
        settings=None,
        send_session_ticket=False,
        client_cert_chain=None,
    ):
        if self.script is None or self.script.finish is None:
            yield from super()._sendFinished(
                masterSecret,
                cipherSuite,
                nextProto,
                settings,
                send_session_ticket,
                client_cert_chain,
            )
            return
        self.carried_out = True
        self.sock.buffer_writes = True
        for step in self.script.finish:
            if isinstance(step, SendCCS):
                msg = (
                    ChangeCipherSpec()
                    if step.body == b"\x01"
                    else Message(ContentType.change_cipher_spec, bytearray(step.body))
                )
                yield from self._sendMsg(msg)
                if step.switch_keys:
                    self._changeWriteState()
            elif isinstance(step, SendFinished):
                verify = calc_key(
                    self.version,
                    masterSecret,
                    cipherSuite,
                    b"server finished",
                    handshake_hashes=self._handshake_hash,
                    output_length=12,
                )
                if step.corrupt:
                    verify[0] = (verify[0] + 1) % 256
                finished = Finished(self.version).create(verify)
                if step.trailing:
                    raw = bytes(finished.write())
                    self._handshake_hash.update(raw)
                    yield from self._sendMsg(
                        Message(ContentType.handshake, bytearray(raw + step.trailing)),
                        update_hashes=False,
                    )
                else:
                    yield from self._sendMsg(finished)
            else:
                record = step.make(FlightContext(self))
                if isinstance(record, RawRecord):
                    self.sock.send(record.wire())
                else:
                    yield from self._sendMsg(record, False)
        self.sock.flush()
        self.sock.buffer_writes = False


# -- what the client did ---------------------------------------------------------------------------


class ObservingSocket:
    """Sits under the TLSConnection: reads the client's records as they pass (the ClientHello,
    ClientKeyExchange, plaintext alerts), and cuts outgoing bytes as the Wire says."""

    def __init__(self, sock: socket.socket, report: ConnectionReport, wire: Wire | None) -> None:
        self._sock = sock
        self._report = report
        self._wire = wire
        self._in = bytearray()
        self._encrypted = False  # the client has sent its ChangeCipherSpec
        self._version: tuple[int, int] = (3, 1)
        self._held = bytearray()
        self.handshake_done = False
        self.client_random = b""
        self.negotiated: tuple[int, int] | None = None  # set by the server at its first flight

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    # outgoing
    def send(self, data: bytes | bytearray | memoryview) -> int:
        self.sendall(data)
        return len(data)

    def sendall(self, data: bytes | bytearray | memoryview) -> None:
        wire = self._wire
        if wire is None or (wire.handshake_only and self.handshake_done):
            self._flush_held()
            self._sock.sendall(data)
            return
        if wire.coalesce:
            self._held += data
            return
        chunk = wire.chunk or len(data)
        view = bytes(data)
        for i in range(0, len(view), chunk):
            self._sock.sendall(view[i : i + chunk])
            if wire.gap_s:
                time.sleep(wire.gap_s)

    def _flush_held(self) -> None:
        if self._held:
            held, self._held = bytes(self._held), bytearray()
            self._sock.sendall(held)

    # incoming
    def recv(self, size: int) -> bytes:
        self._flush_held()
        data = self._sock.recv(size)
        if data:
            self._in += data
            self._parse()
        return data

    def _parse(self) -> None:
        while len(self._in) >= HEADER_LEN:
            length = int.from_bytes(self._in[3:5], "big")
            if len(self._in) < HEADER_LEN + length:
                return
            ctype = self._in[0]
            version = (self._in[1], self._in[2])
            body = bytes(self._in[HEADER_LEN : HEADER_LEN + length])
            del self._in[: HEADER_LEN + length]
            wire = self._report.wire
            if self.negotiated is not None and wire.negotiated is None:
                wire.negotiated = self.negotiated  # the ServerHello has gone out
            wire.feed(ctype, version, body)
            self._record(ctype, body)

    def _record(self, ctype: int, body: bytes) -> None:
        report = self._report
        if self._encrypted:
            # Past the handshake the list would grow with every data record: keep the start.
            if len(report.client_records) < CLIENT_RECORDS_KEPT:
                report.client_records.append(f"encrypted {_content_name(ctype)}")
            return
        if ctype == ContentType.change_cipher_spec:
            self._encrypted = True
            report.client_records.append("ChangeCipherSpec")
        elif ctype == ContentType.alert and len(body) >= 2:
            name = AlertDescription.toStr(body[1])
            report.client_records.append(f"alert {name}")
            report.alert_received = report.alert_received or name
        elif ctype == ContentType.handshake:
            self._handshake(body)
        else:
            report.client_records.append(_content_name(ctype))

    def _handshake(self, body: bytes) -> None:
        # The client's messages here are small and unfragmented (ClientHello, CKE).
        report = self._report
        while len(body) >= 4:
            htype = body[0]
            length = int.from_bytes(body[1:4], "big")
            msg, body = body[4 : 4 + length], body[4 + length :]
            report.client_records.append(HANDSHAKE_NAMES.get(htype, f"handshake type {htype}"))
            if htype == HandshakeType.client_hello:
                report.client_hello = parse_client_hello(
                    bytes([htype]) + length.to_bytes(3, "big") + msg
                )
                if report.client_hello is not None:
                    self._version = report.client_hello.wire
                    self.client_random = client_random(msg)
            elif htype == HandshakeType.client_key_exchange:
                # SSL 3.0 sends the RSA ciphertext bare; TLS prefixes a two-byte length.
                report.key_exchange_bytes = (
                    len(msg) if self._negotiated() == (3, 0) else int.from_bytes(msg[:2], "big")
                )

    def _negotiated(self) -> tuple[int, int]:
        return self.negotiated or self._version


def _content_name(ctype: int) -> str:
    return {20: "ChangeCipherSpec", 21: "alert", 22: "handshake", 23: "application data"}.get(
        ctype, f"record type {ctype}"
    )


def client_random(body: bytes) -> bytes:
    """The 32-byte random of a ClientHello body (after its 2 version bytes)."""
    return bytes(body[2:34])


def parse_client_hello(raw: bytes) -> ClientHelloView | None:
    try:
        hello = ClientHello().parse(Parser(bytearray(raw[1:])))  # from the 3-byte length
    except Exception:  # a malformed hello is itself evidence; the server fails it anyway
        return None
    return ClientHelloView(
        version=version_name(tuple(hello.client_version)),
        wire=tuple(hello.client_version),  # type: ignore[arg-type]
        suites=[suite_name(c) for c in hello.cipher_suites],
        compression=list(hello.compression_methods),
        extensions=[e.extType for e in (hello.extensions or [])],
        session_id_len=len(hello.session_id),
    )


__all__ = [
    "DEFAULT_FINISH",
    "REGISTRY",
    "AppStage",
    "FlightContext",
    "Misbehaviour",
    "ObservingSocket",
    "Packed",
    "RawRecord",
    "ScriptedConnection",
    "SendCCS",
    "SendFinished",
    "SendRecord",
    "Wire",
    "alert",
    "app_data",
    "ccs",
    "certificate_message_length",
    "drop",
    "duplicate",
    "fake_finished",
    "insert",
    "misbehaviour",
    "move_before",
    "pack_all",
    "raw_handshake",
    "retyped",
    "resolve",
    "rewrite",
    "set_fields",
    "with_trailing",
]


def resolve(name: str) -> Misbehaviour:
    """The registered Misbehaviour called `name` (the built-in library is loaded first)."""
    from . import misbehaviours  # noqa: F401  (registers the library)

    return REGISTRY.get(name)


def certificate_message_length(cert: CertMaterial) -> int:
    """Bytes of the Certificate handshake message a server presenting `cert` sends (4-byte
    header, 3-byte list length, 3-byte length per certificate): what has to fit a record."""
    ders = [
        base64.b64decode(b"".join(block.split()))
        for block in re.findall(
            rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----",
            cert.cert_pem + b"\n" + cert.chain_pem,
            re.S,
        )
    ]
    return 4 + 3 + sum(3 + len(der) for der in ders)
