"""The live peers of the model suite: listeners on 127.0.0.1 whose connections the suite can
drive (send, close with close_notify or FIN) and observe (every byte the device sent, in
plaintext; whether a close_notify came; whether the device's FIN came).

A TLS peer is tlslite-ng (SSL 3.0 / TLS 1.0, the W24 suites), as the catalogue's tlslite
server; the peer reads the device's records with the connection's own read state, not with
tlslite's reader (which answers a close_notify and closes, hiding the order of events).
"""

from __future__ import annotations

import queue
import select
import socket
import threading
import time
from dataclasses import dataclass, field

from tlslite.api import TLSConnection, X509CertChain
from tlslite.constants import AlertDescription, AlertLevel, ContentType
from tlslite.errors import TLSAbruptCloseError, TLSError

from w24_harness.servers.base import CertMaterial, ServerConfig
from w24_harness.servers.misbehaviour.records import RecordWriter, SegmentingSocket, Segments
from w24_harness.servers.tlslite_server import build_settings
from w24_harness.tlsaccel import cipher as fastcipher
from w24_harness.tlsaccel import rsa as fastrsa
from w24_harness.vocab import Backend

RECORD_CHUNK = 1024  # plaintext per record the peer sends: under the 2 KB limit however counted
READ_TIMEOUT_S = 5.0  # the rest of a record, once its first byte arrived


@dataclass
class PeerConn:
    """One accepted connection, served by its own thread."""

    raw: socket.socket
    tls: TLSConnection | None = None  # set for a TLS peer's connection
    received: bytearray = field(default_factory=bytearray)
    close_notify: bool = False  # the device sent a close_notify alert
    fin: bool = False  # the device closed TCP (FIN or RST)
    handshake: str = ""  # "", "ok" or "failed: <why>"
    other_records: list[str] = field(default_factory=list)  # alerts other than close_notify
    changed: threading.Condition = field(default_factory=threading.Condition)
    _writer: RecordWriter | None = None
    # tlslite's record layer is not made for a reader and a writer in two threads: the
    # connection's thread reads one record at a time under this lock, the suite writes under it.
    _io: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def send(self, data: bytes) -> None:
        if self.tls is None:
            self.raw.sendall(data)
            return
        self._wait_handshake()
        assert self._writer is not None
        with self._io:
            for start in range(0, len(data), RECORD_CHUNK):
                chunk = data[start : start + RECORD_CHUNK]
                self._writer.record(ContentType.application_data, chunk)

    def send_record(self, data: bytes) -> None:
        """Exactly one application-data record (empty, at the limit, or over it)."""
        self._wait_handshake()
        assert self._writer is not None
        with self._io:
            self._writer.record(ContentType.application_data, data)

    def close(self, close_notify: bool) -> None:
        """End the peer's side: a close_notify (TLS) then FIN, or a bare FIN."""
        if close_notify and self._writer is not None:
            alert = bytes([AlertLevel.warning, AlertDescription.close_notify])
            with self._io:
                self._writer.record(ContentType.alert, alert)
        try:
            self.raw.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the device already reset it

    def _wait_handshake(self, timeout: float = 10.0) -> None:
        with self.changed:
            self.changed.wait_for(lambda: bool(self.handshake), timeout)
        if self.handshake != "ok":
            raise RuntimeError(f"no TLS session to send on ({self.handshake or 'pending'})")

    def alive(self) -> bool:
        """Not ended by the device (no EOF waiting): a new connection has nothing to read
        yet, a leftover one has its EOF queued. Peeks, so the connection's thread loses nothing."""
        try:
            ready, _, _ = select.select([self.raw], [], [], 0)
            return not ready or self.raw.recv(1, socket.MSG_PEEK) != b""
        except (OSError, ValueError):
            return False

    def wait_for(self, predicate, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    def stop(self) -> None:
        self._stop.set()
        try:
            self.raw.close()
        except OSError:
            pass

    # -- the connection's thread ----------------------------------------------------------

    def serve(self, cert: CertMaterial | None, settings) -> None:
        try:
            if self.tls is not None:
                self._handshake(cert, settings)
            if self.handshake.startswith("failed"):
                self._hold_until_closed()
                return
            self._read_loop()
        except (OSError, ValueError):  # ValueError: the socket was closed under select()
            self._set(fin=True)

    def _handshake(self, cert: CertMaterial | None, settings) -> None:
        assert cert is not None and self.tls is not None
        chain = X509CertChain()
        chain.parsePemList((cert.cert_pem.rstrip(b"\n") + b"\n" + cert.chain_pem).decode())
        key = fastrsa.parse_private_key(cert.key_pem.decode())
        self.raw.settimeout(30.0)  # the device opens the TCP socket long before its AT+iSSL
        try:
            self.tls.handshakeServer(certChain=chain, privateKey=key, settings=settings)
        except Exception as exc:  # any handshake end but success: the device refused or left
            self._set(handshake=f"failed: {type(exc).__name__}")
            return
        self.tls.closed = True  # tlslite sends no close_notify of its own
        self._writer = RecordWriter(self.tls, SegmentingSocket(self.raw, Segments.NORMAL))
        self._set(handshake="ok")

    def _buffered(self) -> bool:
        """Whether tlslite's socket wrapper holds bytes already read off the socket (it reads
        4 KB at a time): select() on the socket cannot see those."""
        return self.tls is not None and bool(getattr(self.tls.sock, "_read_buffer", b""))

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            if not self._buffered():
                ready, _, _ = select.select([self.raw], [], [], 0.05)
                if not ready:
                    continue
            self.raw.settimeout(READ_TIMEOUT_S)
            if self.tls is None:
                data = self.raw.recv(65536)
                if not data:
                    self._set(fin=True)
                    return
                self._add(data)
                continue
            try:
                with self._io:
                    content_type, body = self._record()
            except (OSError, EOFError, TLSAbruptCloseError):
                self._set(fin=True)
                return
            except TLSError as exc:  # a record the peer cannot read: noted, then the end
                with self.changed:
                    self.other_records.append(f"unreadable record: {type(exc).__name__}")
                self._hold_until_closed()
                return
            if content_type == ContentType.application_data:
                self._add(body)
            elif content_type == ContentType.alert and body[1:2] == b"\x00":
                self._set(close_notify=True)
            else:
                with self.changed:
                    self.other_records.append(f"type {content_type}: {body[:2].hex()}")
                    self.changed.notify_all()

    def _record(self) -> tuple[int, bytes]:
        assert self.tls is not None
        result = None
        for result in self.tls._recordLayer.recvRecord():
            if result not in (0, 1):
                break
        if result in (None, 0, 1):
            raise EOFError
        header, parser = result
        return header.type, bytes(parser.bytes)

    def _hold_until_closed(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.raw], [], [], 0.05)
            if ready:
                try:
                    if not self.raw.recv(65536):
                        break
                except OSError:
                    break
        self._set(fin=True)

    def _add(self, data: bytes) -> None:
        with self.changed:
            self.received += data
            self.changed.notify_all()

    def _set(self, **values: object) -> None:
        with self.changed:
            for name, value in values.items():
                setattr(self, name, value)
            self.changed.notify_all()


class Peer:
    """A listener of one kind: plain TCP, or a TLS server presenting `cert`."""

    def __init__(
        self,
        name: str,
        cert: CertMaterial | None = None,
        versions: tuple[str, ...] = ("SSL3.0", "TLS1.0"),
        bind: str = "127.0.0.1",
    ):
        self.name = name
        self.cert = cert
        self.settings = None
        if cert is not None:
            fastcipher.install()
            self.settings = build_settings(
                ServerConfig(cert=cert, backend=Backend.TLSLITE, versions=versions)
            )
        self.listener = socket.create_server((bind, 0))
        self.listener.settimeout(0.02)
        self.port = self.listener.getsockname()[1]
        self.accepted: queue.Queue[PeerConn] = queue.Queue()
        self.conns: list[PeerConn] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=f"peer-{name}", daemon=True)
        self._thread.start()

    @property
    def tls(self) -> bool:
        return self.cert is not None

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return  # the listener was closed
                continue  # e.g. a connection reset before it was accepted
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls = TLSConnection(raw) if self.tls else None
            if tls is not None:
                tls.closeSocket = False  # the peer watches for the device's FIN itself
            conn = PeerConn(raw, tls)
            # Ended connections go (their sockets close once nothing holds them): a long run
            # opens thousands.
            self.conns = [c for c in self.conns if not c.fin]
            self.conns.append(conn)
            threading.Thread(
                target=conn.serve, args=(self.cert, self.settings), daemon=True
            ).start()
            self.accepted.put(conn)

    def next_conn(self, timeout: float = 5.0) -> PeerConn:
        """The connection the device's last STCP made (connect() returns once it is queued).
        One that has already ended is a leftover of an earlier device process: skipped."""
        deadline = time.monotonic() + timeout
        while True:
            conn = self.accepted.get(timeout=max(0.0, deadline - time.monotonic()))
            if not conn.fin and conn.alive():
                return conn

    def quiesce(self, timeout: float = 2.0) -> None:
        """After the device closed every socket: let each connection see its end, take in
        what is still in the listen backlog, then forget them all."""
        for conn in list(self.conns):
            conn.wait_for(lambda c=conn: c.fin, timeout)
        while not self.accepted.empty():
            self.accepted.get_nowait()
        self.conns = [c for c in self.conns if not c.fin]

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(timeout=2)
        for conn in self.conns:
            conn.stop()


def refused_port(bind: str = "127.0.0.1") -> int:
    """A loopback port nobody listens on (bound, then closed: the OS gives it out rarely)."""
    with socket.create_server((bind, 0)) as s:
        return int(s.getsockname()[1])
