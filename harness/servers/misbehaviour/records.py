"""Record-level server behaviour after the handshake, as small declarative steps.

A `RecordPlan` is what a tlslite server does once its handshake is done: a sequence of steps
(application data cut into records of a chosen shape, empty records, alerts, a HelloRequest, raw
or malformed records) and how the connection ends (close_notify, FIN, RST, or kept open), plus
how the bytes meet TCP (normal, one byte per segment, all in one segment, or the first data in
the same segment as the server's Finished).

Records are built here, not by tlslite's `_sendMsg`, so every field can be chosen: content type,
header version, padding length and bytes, a wrong MAC. They use the connection's own write state
(the sequence number, the CBC chain, the MAC key), so records before and after a shaped one stay
valid, exactly as tlsfuzzer's record-layer fuzzers do it.

The application data a plan sends are one stream, `payload(plan.data_bytes, seed)`, cut by the
`Data` steps in order: the device must receive exactly that prefix of it that precedes the first
record it has to refuse.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from w24_harness.servers.misbehaviour.sockets import hold_until_closed
from w24_harness.servers.payload import payload
from w24_harness.servers.session import serve_application_data
from w24_harness.tlsfacts import RECORD_PLAINTEXT_FITS_ANY_LIMIT, ContentType

TRICKLE_GAP_S = 0.0001  # between the one-byte segments of a trickle: each its own segment


class AlertLevel(IntEnum):
    WARNING = 1
    FATAL = 2


class AlertDescription(IntEnum):
    CLOSE_NOTIFY = 0
    INTERNAL_ERROR = 80
    USER_CANCELED = 90
    NO_RENEGOTIATION = 100


class Segments(StrEnum):
    """How the server's bytes are cut into TCP segments."""

    NORMAL = "normal"  # each record written as it is made (TCP_NODELAY)
    TRICKLE = "trickle"  # the whole server side, handshake included, one byte per segment
    PACKED = "packed"  # everything the plan sends, in one write
    WITH_FINISHED = "with_finished"  # the plan's first bytes share the segment of Finished


class Ending(StrEnum):
    """How the server ends the connection after the plan's steps."""

    KEEP_OPEN = "keep_open"  # read (and count) what the device sends until it closes
    CLOSE_NOTIFY = "close_notify"  # close_notify alert, then wait for the device to close TCP
    FIN = "fin"  # TCP FIN without close_notify (a truncation)
    RESET = "reset"  # TCP RST (SO_LINGER 0)


@dataclass(frozen=True)
class Shape:
    """How one record departs from a well-formed one (the default is well-formed)."""

    pad_length: int | None = None  # the padding_length byte; None = the minimal padding
    pad_fill: int | None = None  # every padding byte but the length byte; None = TLS rule
    bad_padding_byte: bool = False  # first padding byte differs from the padding length
    bad_mac: bool = False  # last MAC byte flipped (padding stays valid)
    version: tuple[int, int] | None = None  # header version; None = the negotiated one
    content_type: int = ContentType.APPLICATION_DATA


WELL_FORMED = Shape()


@dataclass(frozen=True)
class Data:
    """The next `size` bytes of the payload stream, in records of at most `record_size`."""

    size: int
    # Under the W24's 2 KB limit whether it counts plaintext or the record on the wire.
    record_size: int = RECORD_PLAINTEXT_FITS_ANY_LIMIT
    shape: Shape = WELL_FORMED
    empty_before: int = 0  # empty application records before each record
    split_1n1: bool = False  # each record sent as a 1-byte record, then the rest


@dataclass(frozen=True)
class Empty:
    """`count` empty application-data records in a row."""

    count: int = 1


@dataclass(frozen=True)
class Alert:
    level: AlertLevel
    description: AlertDescription


@dataclass(frozen=True)
class HelloRequest:
    """A HelloRequest (an invitation to renegotiate) inside the encrypted session."""


@dataclass(frozen=True)
class Raw:
    """A record whose body is sent as given: no MAC, no padding, no encryption."""

    content_type: int
    body: bytes


@dataclass(frozen=True)
class Encrypted:
    """A record whose plaintext (MAC and padding included, if any) is encrypted as given."""

    content_type: int
    plaintext: bytes


@dataclass(frozen=True)
class Typed:
    """A well-formed protected record (MAC, padding, encryption as usual) of another content
    type, carrying `size` zero bytes that are not part of the payload stream."""

    content_type: int
    size: int = 16


Step = Data | Empty | Alert | HelloRequest | Raw | Encrypted | Typed


@dataclass(frozen=True)
class RecordPlan:
    name: str
    steps: tuple[Step, ...]
    ending: Ending = Ending.KEEP_OPEN
    segments: Segments = Segments.NORMAL
    # Send the steps from a second thread while the connection reads what the device sends.
    duplex: bool = False
    # After the steps (KEEP_OPEN), note each record the device sends, decrypted, until it
    # closes (report.client_after_plan): its close_notify, or an answer to a HelloRequest.
    watch_client: bool = False

    @property
    def data_bytes(self) -> int:
        return sum(s.size for s in self.steps if isinstance(s, Data))

    def has(self, predicate: Callable[[Step], bool]) -> bool:
        return any(predicate(s) for s in self.steps)

    def stopping_points(self) -> frozenset[int]:
        """How many payload bytes a correct client may have delivered when it ends the session
        with an error: all the data before a step that may end it, never part of a record, and
        never a byte of or after a malformed record. Plain data records cannot end a session; a
        malformed one must (nothing after it is readable); an alert, a HelloRequest, empty or
        split records, an unknown record type may be taken as the end or passed over; the end
        of the plan is a stopping point too (a close after all the data). A record larger than
        fits every W24 limit may be refused (226) where the limit is lower."""
        points: set[int] = set()
        delivered = 0
        for step in self.steps:
            if isinstance(step, Data) and step.shape == WELL_FORMED:
                unusual = step.empty_before or step.split_1n1
                if unusual or step.record_size > RECORD_PLAINTEXT_FITS_ANY_LIMIT:
                    points.add(delivered)  # a client may refuse these records
                delivered += step.size
                continue
            points.add(delivered)
            if isinstance(step, Data):  # malformed: the session ends at it
                return frozenset(points)
        points.add(delivered)
        return frozenset(points)


# -- the record writer -------------------------------------------------------------------------


class SegmentingSocket:
    """Wraps the raw socket under the TLSConnection and cuts what is sent into segments."""

    def __init__(self, sock: socket.socket, segments: Segments) -> None:
        self._sock = sock
        self.segments = segments
        self._held = bytearray()
        # WITH_FINISHED holds from the server's ChangeCipherSpec on; PACKED from the plan's start.
        self.holding = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def send(self, data: bytes | bytearray | memoryview) -> int:
        self.sendall(data)
        return len(data)

    def sendall(self, data: bytes | bytearray | memoryview) -> None:
        data = bytes(data)
        if self.segments == Segments.WITH_FINISHED and data[:1] == bytes(
            [ContentType.CHANGE_CIPHER_SPEC]
        ):
            self.holding = True
        if self.holding:
            self._held += data
        elif self.segments == Segments.TRICKLE:
            for i in range(len(data)):
                self._sock.sendall(data[i : i + 1])
                time.sleep(TRICKLE_GAP_S)
        else:
            self._sock.sendall(data)

    def flush(self) -> None:
        """Send whatever is held in one write, and stop holding."""
        self.holding = False
        if self._held:
            held, self._held = bytes(self._held), bytearray()
            self._sock.sendall(held)


@dataclass
class RecordWriter:
    """Builds records with the connection's write state and sends them through `out`."""

    conn: Any  # tlslite TLSConnection, handshake done
    out: SegmentingSocket
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, content_type: int, data: bytes, shape: Shape = WELL_FORMED) -> int:
        layer = self.conn._recordLayer
        state = layer._writeState
        version = tuple(layer.version)
        body = bytearray(data)
        pad_length = 0
        if state.macContext:
            mac = layer.calculateMAC(
                state.macContext.copy(), state.getSeqNumBytes(), content_type, bytearray(data)
            )
            if shape.bad_mac:
                mac[-1] ^= 0xFF
            body += mac
        enc = state.encContext
        if enc is not None and enc.isBlockCipher:
            pad_length = _pad_length(len(body), enc.block_size, shape)
            fill = pad_length if shape.pad_fill is None else shape.pad_fill
            padding = bytearray([fill] * pad_length + [pad_length])
            if shape.bad_padding_byte:
                padding[0] ^= 0xFF
            body += padding
        if enc is not None:
            body = enc.encrypt(body)
        self._send(content_type, shape.version or version, bytes(body))
        return pad_length

    def raw(self, content_type: int, body: bytes) -> None:
        self._send(content_type, tuple(self.conn._recordLayer.version), body)

    def encrypted(self, content_type: int, plaintext: bytes) -> None:
        layer = self.conn._recordLayer
        state = layer._writeState
        state.getSeqNumBytes()  # the record uses a sequence number, as a real one would
        body = state.encContext.encrypt(bytearray(plaintext)) if state.encContext else plaintext
        self._send(content_type, tuple(layer.version), bytes(body))

    def _send(self, content_type: int, version: tuple[int, ...], body: bytes) -> None:
        header = struct.pack(">BBBH", content_type, version[0], version[1], len(body))
        with self.lock:
            self.out.sendall(header + body)


def _pad_length(base: int, block: int, shape: Shape) -> int:
    minimal = block - 1 - (base % block)
    if shape.pad_length is None:
        length = minimal
        if shape.bad_padding_byte and length == 0:
            length = block  # a padding byte to get wrong (still valid length in TLS 1.0)
        return length
    if (base + shape.pad_length + 1) % block:
        raise ValueError(
            f"padding length {shape.pad_length} does not align {base} bytes of data and MAC "
            f"to the {block}-byte block (minimal padding is {minimal})"
        )
    return shape.pad_length


# -- running a plan ----------------------------------------------------------------------------


def wrap_socket(plan: RecordPlan | None, sock: socket.socket) -> socket.socket | SegmentingSocket:
    """The socket the TLSConnection is built on: segmenting when the plan asks for it."""
    if plan is None or plan.segments == Segments.NORMAL:
        return sock
    return SegmentingSocket(sock, plan.segments)


@dataclass
class PlanResult:
    records: int = 0
    data_bytes: int = 0
    largest: int = 0
    notes: list[str] = field(default_factory=list)


def send_plan(
    plan: RecordPlan,
    conn: Any,
    out: socket.socket | SegmentingSocket,
    seed: int,
    stopping: threading.Event,
) -> PlanResult:
    """Send the plan's steps (not its ending) through `out`."""
    segmenter = out if isinstance(out, SegmentingSocket) else SegmentingSocket(out, Segments.NORMAL)
    if segmenter.segments == Segments.PACKED:
        segmenter.holding = True
    writer = RecordWriter(conn, segmenter)
    stream = payload(plan.data_bytes, seed)
    result = PlanResult()
    at = 0
    for step in plan.steps:
        if stopping.is_set():
            break
        if isinstance(step, Data):
            _send_data(writer, step, stream[at : at + step.size], result)
            at += step.size
        else:
            _send_other(writer, step, result)
    segmenter.flush()
    return result


def _send_data(writer: RecordWriter, step: Data, chunk: bytes, result: PlanResult) -> None:
    for start in range(0, len(chunk), step.record_size):
        piece = chunk[start : start + step.record_size]
        parts = [piece[:1], piece[1:]] if step.split_1n1 and len(piece) > 1 else [piece]
        for part in parts:
            for _ in range(step.empty_before):
                writer.record(ContentType.APPLICATION_DATA, b"")
                result.records += 1
            pad = writer.record(step.shape.content_type, part, step.shape)
            result.records += 1
            result.data_bytes += len(part)
            result.largest = max(result.largest, len(part))
            if step.shape != WELL_FORMED:
                result.notes.append(f"{len(part)}-byte record, {pad} padding, {step.shape}")


def _send_other(writer: RecordWriter, step: Step, result: PlanResult) -> None:
    if isinstance(step, Empty):
        for _ in range(step.count):
            writer.record(ContentType.APPLICATION_DATA, b"")
            result.records += 1
    elif isinstance(step, Alert):
        writer.record(ContentType.ALERT, bytes([step.level, step.description]))
    elif isinstance(step, HelloRequest):
        writer.record(ContentType.HANDSHAKE, b"\x00\x00\x00\x00")
    elif isinstance(step, Raw):
        writer.raw(step.content_type, step.body)
    elif isinstance(step, Encrypted):
        writer.encrypted(step.content_type, step.plaintext)
    elif isinstance(step, Typed):
        writer.record(step.content_type, bytes(step.size))
        result.records += 1


def end_connection(plan: RecordPlan, conn: Any, raw: socket.socket) -> None:
    """Carry out the plan's ending (not KEEP_OPEN) and mark the TLS connection done."""
    if plan.ending == Ending.CLOSE_NOTIFY:
        writer = RecordWriter(conn, SegmentingSocket(raw, Segments.NORMAL))
        writer.record(ContentType.ALERT, bytes([AlertLevel.WARNING, AlertDescription.CLOSE_NOTIFY]))
    elif plan.ending == Ending.FIN:
        raw.shutdown(socket.SHUT_WR)
    elif plan.ending == Ending.RESET:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.close()
    # The session is over from the server's side: no close_notify of tlslite's own afterwards.
    conn.closed = True


def _observe_client(ctx: Any, conn: Any) -> None:
    """After the plan: read the device's records, decrypted by the connection's own read state
    (not by tlslite's reader, which answers any warning alert with close_notify and closes,
    racing the host reading its data), and note each in `report.client_after_plan` ("alert
    warning no_renegotiation", "handshake ClientHello", "application data", ... then "FIN")
    until the device closes. A HelloRequest's answer and the device's close_notify (or its
    absence before the FIN) show there."""
    from tlslite.errors import TLSAbruptCloseError

    report = ctx.report
    seen = report.client_after_plan
    ended_by: str | None = None
    try:
        while len(seen) < CLIENT_RECORDS_NOTED:
            result: Any = None
            for result in conn._recordLayer.recvRecord():
                if result not in (0, 1):
                    break
            header, parser = result
            seen.append(describe_client_record(header.type, bytes(parser.bytes)))
    except TimeoutError:
        ended_by = "timeout"
    except (ConnectionError, OSError, TLSAbruptCloseError):
        seen.append(FIN)
        ended_by = "client"
    except Exception as exc:  # an undecryptable record: say so; the rest is not read
        seen.append(f"undecodable record ({type(exc).__name__})")
    if ended_by is None:
        ended_by = hold_until_closed(ctx.raw)
        if ended_by == "client":
            seen.append(FIN)
    report.closed_by = "server" if ctx.stopping.is_set() else ended_by
    conn.closed = True  # the server sends nothing more: no close_notify of tlslite's own


# The device's records after a plan, as the report names them.
FIN = "FIN"
CLIENT_RECORDS_NOTED = 64


def describe_client_record(content_type: int, body: bytes) -> str:
    """One decrypted record of the device's, as the report names it."""
    from tlslite.constants import AlertDescription as Names

    if content_type == ContentType.ALERT and len(body) >= 2:
        level = "warning" if body[0] == AlertLevel.WARNING else "fatal"
        return f"alert {level} {Names.toStr(body[1])}"
    if content_type == ContentType.HANDSHAKE and body:
        return "handshake ClientHello" if body[0] == CLIENT_HELLO else f"handshake type {body[0]}"
    if content_type == ContentType.APPLICATION_DATA:
        return "application data"
    return f"record type {content_type}"


CLIENT_HELLO = 1  # HandshakeType.client_hello


def serve_plan(plan: RecordPlan, channel: Any, conn: Any, out: Any, ctx: Any) -> None:
    """A tlslite connection after its handshake, when its config carries a record plan.

    Sends the plan (from a second thread when `duplex`, while this one reads), records it in
    the report, then ends the connection as the plan says; KEEP_OPEN reads and counts what the
    device sends until it closes, as an ordinary server does.
    """

    report = ctx.report
    done: list[PlanResult] = []

    def send() -> None:
        try:
            done.append(send_plan(plan, conn, out, ctx.config.seed, ctx.stopping))
        except Exception as exc:  # recorded in the report
            ctx.fail(exc, channel, "record plan")

    sender = threading.Thread(target=send, name=f"plan-{plan.name}", daemon=True)
    if plan.duplex:
        sender.start()
        serve_application_data(channel, ctx, [])
        sender.join(timeout=ctx.config.idle_timeout_s)
    else:
        send()
    if not done:
        return
    result = done[0]
    report.bytes_out += result.data_bytes
    report.records_out += result.records
    report.max_record_out = max(report.max_record_out, result.largest)
    if result.notes:
        report.misbehaved = "; ".join(result.notes[:3])
    if plan.duplex or plan.ending == Ending.KEEP_OPEN:
        report.records_plan = plan.name
        if plan.watch_client or plan.has(lambda s: isinstance(s, HelloRequest)):
            _observe_client(ctx, conn)
        elif not plan.duplex:
            serve_application_data(channel, ctx, [])
        return
    _end(plan, channel, conn, ctx)


def _end(plan: RecordPlan, channel: Any, conn: Any, ctx: Any) -> None:

    report = ctx.report
    try:
        end_connection(plan, conn, ctx.raw)
    except OSError as exc:  # the device may be gone already
        ctx.fail(exc, channel, "record plan ending")
        return
    report.records_plan = plan.name  # steps and ending sent: everything is on its way
    if plan.ending == Ending.RESET:
        report.closed_by = "server"
        return
    ended_by = hold_until_closed(ctx.raw)
    report.closed_by = "server" if ctx.stopping.is_set() else ended_by
