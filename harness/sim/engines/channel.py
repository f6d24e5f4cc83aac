"""The AT front end around a memory-BIO engine: the module's rules, the stack's TLS.

Same surface as w24_harness.sim.tls_engine.SecureChannel (handshake / send / pump / close,
SSLFailure and PeerClosed), so SimDevice and SimSocket do not know which engine runs.

What stays here, whatever the stack (the module's own rules, not the stack's):
- no CA loaded -> 222 before any byte is sent;
- the handshake runs within profile.handshake_timeout_s; any failure is 220 and closes TCP;
- receiving reads the socket only up to the end of the record being assembled and feeds the
  engine one whole record at a time (TCP flow control holds the server back while the host does
  not collect; every stack here returns at most one record's plaintext per read, measured);
- a record type outside 20..23 is 224 from its header; an application-data record that cannot
  hold <= profile.max_record_plaintext bytes (plus MAC, padding) is 226 from its header, one
  that decrypts to more is 226 after;
- plaintext before a failure or close is delivered first; PeerClosed is 203 after the stack's
  end of connection, the profile's unclean_close_code after a bare FIN/RST;
- the server's close_notify is answered with the stack's own (RFC 2246 §7.2.1); SCLS sends the
  stack's close_notify when profile.close_notify_on_scls.
"""

from __future__ import annotations

import socket
import time
from datetime import datetime
from typing import NoReturn

from w24_harness.at.codes import ResultCode
from w24_harness.profiles.table import DeviceProfile
from w24_harness.sim.engines.base import Engine, EngineConfig, EngineError, EngineFactory, Failure
from w24_harness.sim.faults import Faults
from w24_harness.sim.tls_engine import PeerClosed, SSLFailure, _no_delay, _wait
from w24_harness.tlsfacts import SUITE_TABLE
from w24_harness.vocab import ClientCheck

_KNOWN_TYPES = frozenset({20, 21, 22, 23})
_APPLICATION_DATA = 23
CLOSE_TIMEOUT_S = 1.0
_BATCH_BYTES = 16384 + 2048  # one full record: what a stack's receive buffer holds
# The front end's mapping of an engine failure after the handshake to the module's code.
CODES: dict[Failure, int] = {
    Failure.HANDSHAKE: ResultCode.SSL_NEGOTIATION,
    Failure.BAD_RECORD: ResultCode.SSL_DECODE_ERROR,
    Failure.ALERT: ResultCode.SSL_DECODE_ERROR,
    Failure.RECORD_TOO_BIG: ResultCode.SSL_RECORD_TOO_BIG,
    Failure.CLOSED: ResultCode.SOCKET_DOWN,
}


def _max_wire(limit: int, cipher: str, counts_wire: bool) -> int:
    """The longest record a plaintext within `limit` can make under `cipher`."""
    if counts_wire:
        return limit
    openssl = next((s.openssl for s in SUITE_TABLE if s.iana == cipher), "")
    mac = 16 if openssl.endswith("MD5") else 20
    block = 0 if openssl.startswith("RC4") else 8 if "DES" in openssl else 16
    return limit + mac + (block + 256) * bool(block)


class EngineChannel:
    version: str
    cipher: str
    server_cert_der: bytes

    def __init__(self, engine: Engine, sock: socket.socket, profile: DeviceProfile) -> None:
        self._engine, self._sock, self._profile = engine, sock, profile
        self.version = str(engine.version)
        self.cipher = engine.cipher
        self.server_cert_der = engine.peer_cert_der
        self._limit = profile.max_record_plaintext
        self._max_wire = _max_wire(self._limit, self.cipher, bool(profile.record_limit_counts_wire))
        self._record = bytearray()
        self._unclean = False
        self._eof = False  # TCP EOF or RST seen
        self._peer_closed = False
        self._failure: SSLFailure | None = None
        self._closed = False

    @classmethod
    def handshake(
        cls,
        factory: EngineFactory,
        sock: socket.socket,
        profile: DeviceProfile,
        trusted_cas: list[bytes],
        *,
        server_hostname: str | None = None,  # the stacks are configured without a name check
        now: datetime | None = None,  # real stacks read the real clock
        timeout: float | None = None,
        verify: bool = True,
        faults: Faults | None = None,
        lenient: frozenset[ClientCheck] = frozenset(),
    ) -> EngineChannel:
        del server_hostname, now, faults, lenient  # the stack's own defaults decide these
        if verify and not trusted_cas:
            raise SSLFailure(ResultCode.SSL_NO_CA, "no trusted CA certificate is loaded")
        profile = profile.resolved()
        limit = profile.handshake_timeout_s if timeout is None else timeout
        versions = tuple(v for v in factory.versions if v in profile.protocols)
        suites = tuple(s for s in profile.cipher_suites if s in factory.suites)
        config = EngineConfig(versions, suites, tuple(trusted_cas), verify)
        sock.setblocking(False)
        _no_delay(sock)
        engine = factory.connect(config)
        deadline = time.monotonic() + limit
        try:
            while True:
                done = engine.handshake()
                _flush(sock, engine.outgoing(), deadline)
                if done:
                    break
                # One whole record at a time, never past it: what follows the server's Finished
                # (application data) stays in the socket for pump().
                record = _handshake_record(sock, deadline, limit)
                if (
                    profile.record_limit_in_handshake
                    and len(record) - 5 > profile.max_record_plaintext
                ):
                    sock.close()
                    engine.free()
                    raise SSLFailure(
                        ResultCode.SSL_RECORD_TOO_BIG,
                        f"handshake record of {len(record) - 5} bytes is over "
                        f"{profile.max_record_plaintext}",
                    )
                engine.feed(record)
        except (EngineError, OSError) as exc:
            sock.close()
            engine.free()
            reason = exc.detail if isinstance(exc, EngineError) else f"socket error: {exc}"
            raise SSLFailure(ResultCode.SSL_NEGOTIATION, f"{factory.name}: {reason}") from exc
        return cls(engine, sock, profile)

    @property
    def closed(self) -> bool:
        return self._closed or self._peer_closed or self._failure is not None

    def send(self, data: bytes) -> None:
        if self.closed:
            raise SSLFailure(ResultCode.SOCKET_SEND_ERROR, "the SSL connection is closed")
        deadline = time.monotonic() + self._profile.handshake_timeout_s
        try:
            self._engine.write(bytes(data))
            if not _flush(self._sock, self._engine.outgoing(), deadline):
                raise SSLFailure(
                    ResultCode.SOCKET_SEND_ERROR, "send timed out: the server is not reading"
                )
        except (OSError, EngineError) as exc:
            raise SSLFailure(ResultCode.SOCKET_SEND_ERROR, f"send failed: {exc}") from exc

    def pump(self, max_bytes: int) -> bytes:
        if self._failure is not None:
            raise self._failure
        out = bytearray()
        try:
            while len(out) < max_bytes and not self._peer_closed:
                chunk = self._read_engine()
                if chunk is not None:
                    out += chunk
                elif self._eof or not self._feed_available():
                    break
        except SSLFailure:
            if not out:
                raise
            # Plaintext decrypted before the bad record goes to the host first.
        if not out and self._eof and not self._peer_closed:
            self._peer_closed = True  # TCP is gone and the stack holds nothing more
            self._unclean = True
        if not out and self._peer_closed:
            if self._unclean:
                code = self._profile.unclean_close_code
                assert code is not None  # a resolved profile
                raise PeerClosed("the server closed TCP without close_notify", code)
            raise PeerClosed("the server closed the SSL connection")
        return bytes(out)

    def _read_engine(self) -> bytes | None:
        """One read from the stack: at most one record's plaintext (every stack here returns
        no more per read, measured), or None when it needs more bytes."""
        error: EngineError | None = None
        chunk: bytes | None = None
        try:
            chunk = self._engine.read()
        except EngineError as exc:
            error = exc
        if error is not None and error.kind == Failure.CLOSED:
            # The module answers the server's close_notify with its own (RFC 2246 §7.2.1), as
            # the simulator's own engine does; a stack reports the close and the firmware calls
            # its shutdown function.
            try:
                self._engine.shutdown()
            except EngineError:
                pass
        try:  # whatever the stack answers (a close_notify, an alert) goes out best effort
            self._sock.send(self._engine.outgoing())
        except OSError:
            pass
        if error is not None and error.kind == Failure.CLOSED:
            self._peer_closed = True
            return b""
        if error is not None:
            self._fail(CODES[error.kind], error.detail)
        if chunk is not None and len(chunk) > self._limit:
            self._fail(
                ResultCode.SSL_RECORD_TOO_BIG,
                f"incoming record has more than {self._limit} bytes of plaintext",
            )
        return chunk

    def _feed_available(self) -> bool:
        """Give the stack every whole record the socket holds now (up to one 16 KB batch), as a
        socket BIO would: a stack may act on two records at once (mbed TLS 2.x reads a second
        empty record as the end). False if not one whole record was there."""
        fed = 0
        while fed < _BATCH_BYTES and self._assemble(first=fed == 0):
            self._engine.feed(bytes(self._record))
            fed += len(self._record)
            self._record = bytearray()
        return fed > 0

    def _assemble(self, first: bool = True) -> bool:
        """Read from the socket until one whole record is held; False if not there yet. A bad
        header fails at once only for the batch's `first` record; after others it waits, so
        their plaintext reaches the host before the failure."""
        while True:
            have = len(self._record)
            need = 5
            if have >= 5:
                need += int.from_bytes(self._record[3:5], "big")
                bad_type = self._record[0] not in _KNOWN_TYPES
                too_big = self._record[0] == _APPLICATION_DATA and need - 5 > self._max_wire
                if (bad_type or too_big) and not first:
                    return False
                if bad_type:
                    self._fail(
                        ResultCode.SSL_DECODE_ERROR,
                        f"incoming record of unknown content type {self._record[0]}",
                    )
                if too_big:
                    self._fail(
                        ResultCode.SSL_RECORD_TOO_BIG,
                        f"incoming record of {need - 5} bytes cannot hold <= {self._limit} "
                        f"bytes of plaintext with {self.cipher}",
                    )
                if have == need:
                    return True
            try:
                chunk = self._sock.recv(need - have)
            except BlockingIOError:
                return False
            except OSError:
                chunk = b""  # connection reset
            if not chunk:
                self._eof = True  # the records before it are still read out of the stack
                return False
            self._record += chunk

    def _fail(self, code: int, reason: str) -> NoReturn:
        self._failure = SSLFailure(code, reason)
        self.close()
        raise self._failure

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._profile.close_notify_on_scls and not self._peer_closed and not self._failure:
            try:
                self._engine.shutdown()
                _flush(self._sock, self._engine.outgoing(), time.monotonic() + CLOSE_TIMEOUT_S)
            except (OSError, EngineError):
                pass  # close_notify is best effort
        self._engine.free()
        self._sock.close()


def _flush(sock: socket.socket, data: bytes, deadline: float) -> bool:
    """Send all of `data` on the non-blocking socket by `deadline`; False on timeout."""
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view) :]
        except BlockingIOError:
            if not _wait(sock, True, deadline - time.monotonic()):
                return False
    return True


def _handshake_record(sock: socket.socket, deadline: float, limit: float) -> bytes:
    record = bytearray()
    need = 5
    while len(record) < need:
        if not _wait(sock, False, deadline - time.monotonic()):
            raise EngineError(Failure.HANDSHAKE, f"handshake timed out after {limit:.1f} s")
        try:
            chunk = sock.recv(need - len(record))
        except BlockingIOError:
            continue
        if not chunk:
            raise EngineError(Failure.HANDSHAKE, "the server closed during the handshake")
        record += chunk
        if len(record) == 5:
            need = 5 + int.from_bytes(record[3:5], "big")
    return bytes(record)
