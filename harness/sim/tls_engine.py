"""The simulator's SSL 3.0 / TLS 1.0 client: tlslite-ng restricted to a device profile.

AT+iSSL hands a connected TCP socket to `SecureChannel.handshake`; AT+iSSND calls `send`, and
AT+iSRCV / AT+iSST call `pump`, which never blocks. Every failure is an `SSLFailure` carrying the
module's result code (w24_harness.at.codes) and a sentence saying what went wrong.

What the ClientHello looks like (a 2008 embedded client, not tlslite's modern default):
- version `profile.hello_version`; exactly `profile.cipher_suites`, in profile order;
- no extensions at all: no SNI (the hostname only feeds the certificate check), no session
  ticket, no cert_type, no renegotiation_info, and no TLS_EMPTY_RENEGOTIATION_INFO_SCSV;
- no compression, empty session id (no resumption).
After the handshake, application data goes out one record per `send` (no 1/n-1 CBC splitting:
that BEAST countermeasure dates from 2011). A post-handshake HelloRequest is handled as
`profile.renegotiation` says (tlslite's own answer, a no_renegotiation warning, is `refuse`);
close_notify is answered with close_notify; the host's close sends close_notify before the FIN
when `profile.close_notify_on_scls`.

The server certificate is checked by w24_harness.sim.verify at the moment tlslite extracts the
server key, i.e. after ServerHelloDone and before ClientKeyExchange, and a rejection sends the
fatal alert the check names (unknown_ca, bad_certificate, certificate_expired) as a real
client does.

Receiving: `pump` reads the socket (non-blocking) only up to the end of the record being
assembled, and gives tlslite one whole record at a time, so it never blocks, a record is never
split, and TCP flow control still holds the server back while the host does not collect. An
application-data record whose length cannot fit `profile.max_record_plaintext` (plus MAC, IV and
padding) is refused from its header (226), one that decrypts to more is refused after (226).
Decrypted data that precedes a failure or a close is returned first; the failure, or
PeerClosed, comes on the next call.

Record checks (w24_harness.sim.records): TLS 1.0 padding bytes must all hold the padding length,
SSL 3.0 padding must be shorter than a block; a bad padding and a bad MAC are the same 224. A
record type outside 20..23 is 224 from its header. Empty records are skipped; warning alerts
other than close_notify are passed over when `profile.ignore_warning_alerts`. A peer close shows
as PeerClosed once the data before it are out: 203 after close_notify, the profile's
`unclean_close_code` after a bare FIN or RST.

Failure handling: 222 leaves the socket untouched; any handshake failure (220, or 226 for an
oversize handshake record when `profile.record_limit_in_handshake`) closes it, after the alert if
one was due. After a 224/226 from `pump` the channel is closed (alert sent best effort) and
further `pump` calls raise the same failure; `send` on a closed channel raises 208.
The socket gets TCP_NODELAY: each `send` is one record the module pushes out at once.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any, NoReturn

from tlslite.constants import AlertDescription, AlertLevel, ContentType
from tlslite.errors import TLSAbruptCloseError, TLSError, TLSLocalAlert, TLSRemoteAlert
from tlslite.messages import RecordHeader3
from tlslite.recordlayer import RecordSocket
from tlslite.utils.codec import Parser

from w24_harness.at.codes import ResultCode, describe
from w24_harness.profiles.table import DeviceProfile
from w24_harness.sim import records
from w24_harness.sim.faults import Faults
from w24_harness.sim.tls_client import W24Client, client_settings, tlslite_names
from w24_harness.sim.variants import CertCheckAt, Variants, WarningAlert
from w24_harness.sim.verify import verify_server_chain
from w24_harness.tlsaccel import cipher as fastcipher
from w24_harness.tlsfacts import ProtocolVersion, suite_name, version_name
from w24_harness.vocab import ClientCheck

_MAC_BYTES = {"md5": 16, "sha": 20}
CLOSE_TIMEOUT_S = 1.0  # best-effort close_notify on close()
# The record types of SSL 3.0 / TLS 1.0 (heartbeat, 24, is never negotiated by this client).
_KNOWN_TYPES = frozenset(
    {
        ContentType.change_cipher_spec,
        ContentType.alert,
        ContentType.handshake,
        ContentType.application_data,
    }
)


class _AnyTypeRecordSocket(RecordSocket):
    """tlslite's record socket, taking every header below 0x80 for an SSL 3.0 / TLS 1.0 one."""

    def _recvHeader(self):  # type: ignore[no-untyped-def]
        result: Any = None
        for result in self._sockRecvAll(5):
            if result in (0, 1):
                yield result
            else:
                break
        yield RecordHeader3().parse(Parser(result))


class SSLFailure(Exception):
    """A failure the device reports as I/ERROR(code)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code:03d} ({describe(code)}): {reason}")
        self.code = code
        self.reason = reason


class PeerClosed(Exception):
    """The server closed the connection (close_notify, TCP EOF or RST).

    `code` is what the socket reports once its buffer is empty: 203 after close_notify, the
    profile's `unclean_close_code` after a TCP close without one (a possible truncation).
    """

    def __init__(self, reason: str, code: int = ResultCode.SOCKET_DOWN, clean: bool = True) -> None:
        super().__init__(reason)
        self.code = code
        self.clean = clean  # False: TCP closed without close_notify


def _no_delay(sock: socket.socket) -> None:
    # Each send() is one record the module pushes out at once; Nagle plus the peer's delayed ACK
    # would hold the next small record back ~40 ms.
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass  # not TCP (a socketpair in a test)


def _wait(sock: socket.socket, for_write: bool, seconds: float) -> bool:
    if seconds <= 0:
        return False
    readers, writers = ([], [sock]) if for_write else ([sock], [])
    ready = select.select(readers, writers, [], seconds)
    return bool(ready[0] or ready[1])


def _drive(steps: Iterator[Any], sock: socket.socket, deadline: float) -> Any:
    """Run a tlslite async generator on a non-blocking socket; None on timeout."""
    for step in steps:
        if not isinstance(step, int):
            return step
        if not _wait(sock, step == 1, deadline - time.monotonic()):
            steps.close()  # type: ignore[attr-defined]
            return None
    return True


class SecureChannel:
    version: str
    cipher: str
    server_cert_der: bytes

    def __init__(
        self,
        conn: W24Client,
        sock: socket.socket,
        profile: DeviceProfile,
        faults: Faults | None = None,
        variants: Variants | None = None,
    ) -> None:
        self._conn, self._sock, self._profile = conn, sock, profile
        self._faults = faults = faults or Faults()
        self._variants = variants or Variants()
        self._empty_run = 0  # empty application records in a row (empty_record_limit)
        self._end_code: int | None = None  # the close code of a warning taken as the end
        self.version = version_name(conn.version)
        self.cipher = suite_name(conn.session.cipherSuite)
        self.server_cert_der = bytes(conn.session.serverCertChain.x509List[0].bytes)
        self._limit = profile.max_record_plaintext + faults.record_limit_off_by_one
        conn._recv_record_limit = self._limit  # 226 after decryption
        records.install(conn._recordLayer, check_padding_bytes=not faults.padding_unchecked)
        if faults.record_version_offered:
            # The fault: the record headers (only: MACs use the negotiated version) keep the
            # ClientHello's version.
            conn._recordLayer._recordSocket.version = ProtocolVersion(profile.hello_version).wire
        if self._variants.unknown_record_ignored:
            # tlslite reads a header whose type it does not know as SSLv2; this one reads every
            # type below 0x80 as an SSL 3.0 / TLS 1.0 header, so the record is decrypted (its
            # MAC covers the type) and W24Client can drop it.
            conn._recordLayer._recordSocket.__class__ = _AnyTypeRecordSocket
        cipher, mac = tlslite_names(self.cipher)
        block = {"rc4": 0, "3des": 8}.get(cipher, 16)
        # Longest record a plaintext within the limit can make: MAC, explicit IV, 256 padding;
        # or, when the limit counts the record on the wire, the limit itself.
        self._max_wire = (
            self._limit
            if profile.record_limit_counts_wire
            else self._limit + _MAC_BYTES[mac] + (block + 256) * bool(block)
        )
        self._unclean = False  # the peer closed TCP without close_notify
        self._drop_next_data = False  # the hello_request_drops_data fault is armed
        self._record = bytearray()  # the incoming record being assembled from the socket
        conn.feed = bytearray()
        self._peer_closed = False
        self._failure: SSLFailure | None = None
        self._closed = False

    @classmethod
    def handshake(
        cls,
        sock: socket.socket,
        profile: DeviceProfile,
        trusted_cas: list[bytes],
        *,
        server_hostname: str | None = None,
        now: datetime | None = None,
        timeout: float | None = None,
        verify: bool = True,
        faults: Faults | None = None,
        lenient: frozenset[ClientCheck] = frozenset(),
        variants: Variants | None = None,
    ) -> SecureChannel:
        """Run the client handshake on a connected TCP socket.

        `verify=False` is a fault-injection mode (a module that accepts any server certificate):
        no certificate check, and an empty `trusted_cas` is allowed. `faults` reach the
        certificate check (w24_harness.sim.verify).
        no certificate check, and an empty `trusted_cas` is allowed. `lenient` names client
        checks a self-test fault switches off (w24_harness.sim.faults.CHECK_FAULTS).
        """
        if verify and not trusted_cas:
            raise SSLFailure(ResultCode.SSL_NO_CA, "no trusted CA certificate is loaded")
        fastcipher.install()
        profile = profile.resolved()  # UNKNOWN fields: the simulator's documented defaults
        limit = profile.handshake_timeout_s if timeout is None else timeout

        def check(chain: list[bytes]) -> None:
            if verify:
                verify_server_chain(
                    chain, trusted_cas, profile, hostname=server_hostname, now=now, faults=faults
                )

        settings = client_settings(profile)
        offers_deflate = faults is not None and faults.hello_offers_compression
        variants = variants or Variants()
        compression = (1, 0) if offers_deflate else (0,)
        conn = W24Client(sock, profile, check, lenient, compression, faults, variants)
        if profile.record_limit_in_handshake:
            conn._recv_record_limit = profile.max_record_plaintext
        sock.setblocking(False)
        _no_delay(sock)
        steps = conn.handshakeClientCert(settings=settings, async_=True)
        try:
            finished = _drive(steps, sock, time.monotonic() + limit)
        except Exception as exc:  # every handshake failure is the module's 220 ...
            sock.close()
            code = ResultCode.SSL_NEGOTIATION
            if (
                isinstance(exc, TLSLocalAlert)
                and exc.description == AlertDescription.record_overflow
            ):
                code = ResultCode.SSL_RECORD_TOO_BIG  # ... but an oversize handshake record
            raise SSLFailure(code, conn.failure_reason(exc)) from exc
        if finished is None:
            sock.close()
            raise SSLFailure(
                ResultCode.SSL_NEGOTIATION,
                f"handshake timed out after {limit:.1f} s (last received: {conn.last_message})",
            )
        if conn.rejection is not None and variants.cert_check_at == CertCheckAt.FINISHED:
            # The late check: the handshake is complete, now the certificate is refused.
            _send_alert(conn, sock, conn.rejection.alert, conn.rejection.reason)
            sock.close()
            raise SSLFailure(ResultCode.SSL_NEGOTIATION, conn.rejection.reason)
        return cls(conn, sock, profile, faults, variants)

    @property
    def closed(self) -> bool:
        return self._closed or self._peer_closed or self._failure is not None or self._conn.closed

    def send(self, data: bytes) -> None:
        if self._failure is not None or self._closed or self._conn.closed or self._peer_closed:
            raise SSLFailure(ResultCode.SOCKET_SEND_ERROR, "the SSL connection is closed")
        deadline = time.monotonic() + self._profile.handshake_timeout_s
        try:
            sent = _drive(self._conn.writeAsync(bytes(data)), self._sock, deadline)
        except (OSError, TLSError) as exc:
            raise SSLFailure(ResultCode.SOCKET_SEND_ERROR, f"send failed: {exc}") from exc
        if sent is None:
            raise SSLFailure(
                ResultCode.SOCKET_SEND_ERROR, "send timed out: the server is not reading"
            )

    def pump(self, max_bytes: int) -> bytes:
        if self._failure is not None:
            raise self._failure
        out = bytearray()
        try:
            while len(out) < max_bytes and not self._peer_closed and not self._conn.closed:
                if not self._assemble():
                    break
                out += self._take_record()
        except SSLFailure:
            if not out:
                raise
            # Plaintext decrypted before the bad record goes to the host first; the stored
            # failure is raised by the next call.
        if self._conn.closed and not self._closed and not self._faults.ignore_close_notify:
            self._peer_closed = True  # close_notify (or EOF) processed by tlslite
        if not out and self._peer_closed:
            if self._end_code is not None:
                raise PeerClosed("a warning alert ended the session", self._end_code)
            if self._unclean:
                code = self._profile.unclean_close_code
                assert code is not None  # the simulator runs a resolved profile
                raise PeerClosed("the server closed TCP without close_notify", code, clean=False)
            raise PeerClosed(
                "the server closed the SSL connection", self._variants.close_notify_code
            )
        return bytes(out)

    def _take_record(self) -> bytes:
        """Hand the assembled record to tlslite; its plaintext (b"" if it carried none)."""
        record_type = self._record[0]
        feed = self._conn.feed
        assert feed is not None  # set by the constructor; None only before it
        feed += self._record
        self._record = bytearray()
        data = self._read_record()
        if record_type == ContentType.handshake and self._faults.hello_request_drops_data:
            self._drop_next_data = True  # after the handshake, only a HelloRequest comes here
        elif data and self._drop_next_data:
            self._drop_next_data = False
            return b""  # the fault: the record after the HelloRequest is lost
        empty = data is None and record_type == ContentType.application_data
        if empty and self._faults.empty_record_eof:
            self._peer_closed = True  # the fault: an empty record read as the end
        if record_type == ContentType.application_data:
            self._empty_run = self._empty_run + 1 if empty else 0
            limit = self._variants.empty_record_limit
            if limit and self._empty_run > limit:
                self._fail(
                    ResultCode.SSL_DECODE_ERROR,
                    f"more than {limit} empty records in a row",
                    AlertDescription.unexpected_message,
                )
        return data or b""

    def _assemble(self) -> bool:
        """Read from the socket until one whole record is held; False if it is not there yet.

        Never reads past the current record, so TCP flow control still holds the server back
        when the host does not collect. (Leaving a partial record in the kernel and peeking
        instead can deadlock on loopback: the partial segment's buffer accounting closes the
        receive window while the client waits for the rest of the record.)
        """
        while True:
            have = len(self._record)
            need = 5
            if have >= 5:
                need += int.from_bytes(self._record[3:5], "big")
                # The unknown_record_ignored variant: tlslite decrypts it (its MAC counts the
                # type and the sequence number) and W24Client drops it. Not for a type with the
                # high bit set: no SSL 3.0 / TLS 1.0 header (a client may read it as SSLv2).
                ignored = self._variants.unknown_record_ignored and self._record[0] < 0x80
                if self._record[0] not in _KNOWN_TYPES and not ignored:
                    # Not a type of SSL 3.0 / TLS 1.0 (tlslite would read a high first byte as
                    # an SSLv2 header): unexpected_message, a decoding error for the host.
                    self._fail(
                        ResultCode.SSL_DECODE_ERROR,
                        f"incoming record of unknown content type {self._record[0]}",
                        AlertDescription.unexpected_message,
                    )
                if self._variants.record_version_checked and tuple(self._record[1:3]) != tuple(
                    self._conn.version
                ):
                    self._fail(
                        ResultCode.SSL_DECODE_ERROR,
                        f"incoming record of version {bytes(self._record[1:3]).hex()} in a "
                        f"{self.version} session",
                        AlertDescription.protocol_version,
                    )
                if self._record[0] == ContentType.application_data and need - 5 > self._max_wire:
                    what = "is over" if self._profile.record_limit_counts_wire else "cannot hold <="
                    self._fail(
                        ResultCode.SSL_RECORD_TOO_BIG,
                        f"incoming record of {need - 5} bytes {what} "
                        f"{self._limit} bytes of plaintext with {self.cipher}",
                        AlertDescription.record_overflow,
                    )
                if have == need:
                    return True
            try:
                chunk = self._sock.recv(need - have)
            except BlockingIOError:
                return False
            except OSError:
                chunk = b""  # connection reset: the peer is gone
            if not chunk:
                self._peer_closed = True  # TCP EOF; a truncated record is dropped
                self._unclean = not self._conn.closed
                return False
            self._record += chunk

    def _read_record(self) -> bytes | None:
        """Let tlslite decrypt the record in the feed; None when it carried no data."""
        steps = self._conn.readAsync(max=None, min=0)
        deadline = time.monotonic() + self._profile.handshake_timeout_s
        try:
            for step in steps:
                if not isinstance(step, int):
                    return bytes(step)
                if step == 0:
                    # The record held no data (empty record, HelloRequest) and tlslite asks for
                    # the next one; it has read nothing of it (the feed is empty), so stop here.
                    steps.close()  # type: ignore[attr-defined]
                    return None
                if not _wait(self._sock, True, deadline - time.monotonic()):
                    self._fail(ResultCode.SSL_DECODE_ERROR, "could not answer the server in time")
        except TLSLocalAlert as exc:
            if exc.description == AlertDescription.record_overflow:
                limit = self._limit
                self._fail(
                    ResultCode.SSL_RECORD_TOO_BIG,
                    f"incoming record has more than {limit} bytes of plaintext",
                )
            self._fail(ResultCode.SSL_DECODE_ERROR, f"undecodable incoming record: {exc}")
        except TLSRemoteAlert as exc:
            name = AlertDescription.toStr(exc.description)
            if exc.level == AlertLevel.fatal:
                self._fail(self._variants.fatal_alert_code, f"server sent fatal alert {name}")
            if self._variants.warning_alert == WarningAlert.END:
                # The variant: a warning ends the session like a close, after the data before it.
                self._end_code = self._variants.close_notify_code
                self._peer_closed = True
                return b""
            self._fail(ResultCode.SSL_DECODE_ERROR, f"server sent alert {name}")
        except (TLSAbruptCloseError, OSError):
            self._peer_closed = True
            self._unclean = True
        return b""

    def _fail(self, code: int, reason: str, alert: int | None = None) -> NoReturn:
        if alert is not None and not self._conn.closed:
            try:
                for _ in self._conn._sendError(alert, reason):
                    pass
            except Exception:  # the alert is best effort
                pass
        self._failure = SSLFailure(code, reason)
        self.close()
        raise self._failure

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # The host's close (SCLS, DOWN): close_notify first when the profile says so; without
        # it, only the FIN. (A close_notify from the peer was answered by tlslite already.)
        if not self._conn.closed and self._profile.close_notify_on_scls:
            try:
                _drive(self._conn.closeAsync(), self._sock, time.monotonic() + CLOSE_TIMEOUT_S)
            except Exception:  # close_notify is best effort
                pass
        self._sock.close()


def _send_alert(conn: W24Client, sock: socket.socket, alert: str, reason: str) -> None:
    """A fatal alert after the handshake, best effort (the late certificate check)."""
    try:
        _drive(
            conn._sendError(getattr(AlertDescription, alert), reason),
            sock,
            time.monotonic() + CLOSE_TIMEOUT_S,
        )
    except Exception:  # tlslite raises the TLSLocalAlert it sent; a dead peer is fine too
        pass
