"""The misbehaviour language: a misbehaving server as small declarative objects.

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

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tlslite.api import TLSConnection
from tlslite.constants import AlertLevel, ContentType, HandshakeType
from tlslite.messages import (
    Alert,
    ApplicationData,
    Message,
)

from w24_harness.tlsfacts import HANDSHAKE_NAMES

if TYPE_CHECKING:
    from w24_harness.servers.base import ConnectionReport
    from w24_harness.servers.misbehaviour.engine import ScriptedConnection
    from w24_harness.servers.session import ConnectionContext

CLIENT_RECORDS_KEPT = 32  # encrypted client records listed in a report (the rest are not)


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
