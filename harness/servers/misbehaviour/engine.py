"""The misbehaviour engine: tlslite-ng's server with a Misbehaviour's hook points, and the
socket that records what the client did.

`ScriptedConnection` runs the parts of a `Misbehaviour` (w24_harness.servers.misbehaviour.language)
at fixed points of tlslite's server handshake; `ObservingSocket` parses the client's records as
they arrive (ClientHello, ClientKeyExchange, plaintext alerts) into the ConnectionReport.
"""

from __future__ import annotations

import base64
import re
import socket
import time
from collections.abc import Sequence
from typing import Any

from tlslite.api import TLSConnection
from tlslite.constants import AlertDescription, ContentType, HandshakeType
from tlslite.mathtls import calc_key
from tlslite.messages import (
    ChangeCipherSpec,
    ClientHello,
    Finished,
    Message,
)
from tlslite.utils.codec import Parser

from w24_harness.servers.base import CertMaterial, ClientHelloView, ConnectionReport
from w24_harness.servers.misbehaviour.language import (
    CLIENT_RECORDS_KEPT,
    FlightContext,
    FlightItem,
    Misbehaviour,
    Packed,
    RawRecord,
    SendCCS,
    SendFinished,
    Wire,
)
from w24_harness.tlsfacts import HANDSHAKE_NAMES, RECORD_HEADER_LEN, suite_name, version_name

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
        while len(self._in) >= RECORD_HEADER_LEN:
            length = int.from_bytes(self._in[3:5], "big")
            if len(self._in) < RECORD_HEADER_LEN + length:
                return
            ctype = self._in[0]
            version = (self._in[1], self._in[2])
            body = bytes(self._in[RECORD_HEADER_LEN : RECORD_HEADER_LEN + length])
            del self._in[: RECORD_HEADER_LEN + length]
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
