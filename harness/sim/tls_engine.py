"""The simulator's SSL 3.0 / TLS 1.0 client: tlslite-ng restricted to a device profile.

AT+iSSL hands a connected TCP socket to `SecureChannel.handshake`; AT+iSSND calls `send`, and
AT+iSRCV / AT+iSST call `pump`, which never blocks. Every failure is an `SSLFailure` carrying the
module's result code (harness.at.codes) and a sentence saying what went wrong.

What the ClientHello looks like (a 2008 embedded client, not tlslite's modern default):
- version `profile.hello_version`; exactly `profile.cipher_suites`, in profile order;
- no extensions at all: no SNI (the hostname only feeds the certificate check), no session
  ticket, no cert_type, no renegotiation_info, and no TLS_EMPTY_RENEGOTIATION_INFO_SCSV;
- no compression, empty session id (no resumption).
After the handshake, application data goes out one record per `send` (no 1/n-1 CBC splitting:
that BEAST countermeasure dates from 2011). What remains of tlslite: it answers a post-handshake
HelloRequest with a no_renegotiation warning, and returns close_notify for close_notify.

The server certificate is checked by harness.sim.verify at the moment tlslite extracts the server
key, i.e. after ServerHelloDone and before ClientKeyExchange, and a rejection sends the fatal alert
the check names (unknown_ca, bad_certificate, certificate_expired) as a real client does.

Receiving: `pump` reads the socket (non-blocking) only up to the end of the record being
assembled, and gives tlslite one whole record at a time, so it never blocks, a record is never
split, and TCP flow control still holds the server back while the host does not collect. An
application-data record whose length cannot fit `profile.max_record_plaintext` (plus MAC, IV and
padding) is refused from its header (226), one that decrypts to more is refused after (226).
Decrypted data that precedes a failure or a close is returned first; the failure, or
PeerClosed, comes on the next call.

Failure handling: 222 leaves the socket untouched; any handshake failure (220, or 226 for an
oversize handshake record when `profile.record_limit_in_handshake`) closes it, after the alert if
one was due. After a 224/226 from `pump` the channel is closed (alert sent best effort) and
further `pump` calls raise the same failure; `send` on a closed channel raises 208.
The socket gets TCP_NODELAY: each `send` is one record the module pushes out at once.
"""

from __future__ import annotations

import errno
import select
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, NoReturn

from tlslite.api import HandshakeSettings, TLSConnection
from tlslite.constants import AlertDescription, CipherSuite, ContentType
from tlslite.errors import TLSAbruptCloseError, TLSError, TLSLocalAlert, TLSRemoteAlert
from tlslite.messages import ClientHello, ServerHello

from harness.at import codes
from harness.profiles import SSL3, TLS1, DeviceProfile
from harness.sim import fastcipher
from harness.sim.verify import CertRejected, verify_server_chain

# The W24 suites: IANA name -> (suite id, tlslite cipher name, tlslite MAC name).
SUITES: dict[str, tuple[int, str, str]] = {
    "TLS_RSA_WITH_RC4_128_MD5": (0x0004, "rc4", "md5"),
    "TLS_RSA_WITH_RC4_128_SHA": (0x0005, "rc4", "sha"),
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": (0x000A, "3des", "sha"),
    "TLS_RSA_WITH_AES_128_CBC_SHA": (0x002F, "aes128", "sha"),
    "TLS_RSA_WITH_AES_256_CBC_SHA": (0x0035, "aes256", "sha"),
}
_SUITE_NAMES = {suite_id: name for name, (suite_id, _, _) in SUITES.items()}
VERSIONS: dict[str, tuple[int, int]] = {SSL3: (3, 0), TLS1: (3, 1)}
_VERSION_NAMES = {(3, 0): SSL3, (3, 1): TLS1, (3, 2): "TLS1.1", (3, 3): "TLS1.2", (3, 4): "TLS1.3"}
_MAC_BYTES = {"md5": 16, "sha": 20}
CLOSE_TIMEOUT_S = 1.0  # best-effort close_notify on close()


class SSLFailure(Exception):
    """A failure the device reports as I/ERROR(code)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code:03d} ({codes.describe(code)}): {reason}")
        self.code = code
        self.reason = reason


class PeerClosed(Exception):
    """The server closed the connection in order (close_notify or TCP EOF)."""


def version_name(version: tuple[int, int]) -> str:
    return _VERSION_NAMES.get(version, f"version {version[0]}.{version[1]}")


def suite_name(suite_id: int) -> str:
    return _SUITE_NAMES.get(suite_id) or CipherSuite.ietfNames.get(suite_id, f"0x{suite_id:04X}")


def client_settings(profile: DeviceProfile) -> HandshakeSettings:
    """tlslite settings for the profile; the ClientHello is trimmed further by _W24Client."""
    unknown = [p for p in profile.protocols if p not in VERSIONS]
    unknown += [s for s in profile.cipher_suites if s not in SUITES]
    if unknown:
        raise ValueError(f"profile {profile.name}: unsupported protocol or suite {unknown}")
    settings = HandshakeSettings()
    versions = [VERSIONS[p] for p in profile.protocols] + [VERSIONS[profile.hello_version]]
    settings.minVersion, settings.maxVersion = min(versions), VERSIONS[profile.hello_version]
    settings.versions = sorted({v for v in VERSIONS.values() if v <= settings.maxVersion})[::-1]
    settings.cipherNames = sorted({SUITES[s][1] for s in profile.cipher_suites})
    settings.macNames = sorted({SUITES[s][2] for s in profile.cipher_suites})
    settings.keyExchangeNames = ["rsa"]
    settings.certificateTypes = ["x509"]
    settings.useExtendedMasterSecret = False
    settings.requireExtendedMasterSecret = False
    settings.useEncryptThenMAC = False
    settings.usePaddingExtension = False
    settings.use_heartbeat_extension = False
    settings.sendFallbackSCSV = False
    settings.minKeySize, settings.maxKeySize = 512, 8192  # verify.py applies the profile's range
    return settings


class _W24Client(TLSConnection):
    """tlslite client with the device's ClientHello, certificate check and unbuffered reads."""

    def __init__(self, sock: socket.socket, profile: DeviceProfile, check: Callable) -> None:
        super().__init__(sock)
        self.raw = sock
        # tlslite's BufferedSocket reads ahead up to 4 KB. Reads here are exact during the
        # handshake (nothing after Finished is swallowed); afterwards tlslite reads only from
        # `feed`, which SecureChannel fills with one whole record at a time.
        self.feed: bytearray | None = None
        self.sock.recv = self._recv  # type: ignore[method-assign]
        self.profile = profile
        self.offered = [SUITES[name][0] for name in profile.cipher_suites]
        self.check = check
        self.rejection: CertRejected | None = None
        self.server_hello: ServerHello | None = None
        self.last_message = "nothing"

    def _recv(self, size: int) -> bytes:
        if self.feed is None:
            return self.raw.recv(size)
        if not self.feed:
            raise BlockingIOError(errno.EAGAIN, "no whole record assembled yet")
        chunk = bytes(self.feed[:size])
        del self.feed[:size]
        return chunk

    def _sendMsg(self, msg: Any, randomizeFirstBlock: bool = True, update_hashes: bool = True):
        if isinstance(msg, ClientHello):
            msg.cipher_suites = list(self.offered)
            msg.extensions = None
        yield from super()._sendMsg(msg, False, update_hashes)

    def _getMsg(self, expectedType: Any, secondaryType: Any = None, constructorType: Any = None):
        for result in super()._getMsg(expectedType, secondaryType, constructorType):
            if not isinstance(result, int):
                self.last_message = type(result).__name__
                if isinstance(result, ServerHello):
                    self.server_hello = result
            yield result

    def _clientGetServerHello(self, settings: Any, session: Any, clientHello: Any):
        for result in super()._clientGetServerHello(settings, session, clientHello):
            if isinstance(result, ServerHello):
                chosen = version_name(result.server_version)
                if chosen not in self.profile.protocols:
                    yield from self._sendError(
                        AlertDescription.protocol_version, self.version_reason(result)
                    )
            yield result

    def _clientGetKeyFromChain(self, certificate: Any, settings: Any, tack_ext: Any = None):
        chain = certificate.cert_chain
        ders = [bytes(c.bytes) for c in chain.x509List] if chain else []
        try:
            self.check(ders)
        except CertRejected as exc:
            self.rejection = exc
            yield from self._sendError(getattr(AlertDescription, exc.alert), exc.reason)
        yield from super()._clientGetKeyFromChain(certificate, settings, tack_ext)

    def version_reason(self, hello: ServerHello) -> str:
        allowed = ", ".join(self.profile.protocols)
        return f"server chose {version_name(hello.server_version)}, profile allows {allowed}"

    def failure_reason(self, exc: BaseException) -> str:
        """A sentence for a tlslite handshake exception."""
        if isinstance(exc, TLSLocalAlert):
            if self.rejection is not None:
                return self.rejection.reason
            hello = self.server_hello
            if exc.description == AlertDescription.protocol_version and hello is not None:
                return self.version_reason(hello)
            if hello is not None and hello.cipher_suite not in self.offered:
                offered = ", ".join(self.profile.cipher_suites)
                return f"server chose {suite_name(hello.cipher_suite)}, profile offers {offered}"
            return f"handshake aborted with alert {AlertDescription.toStr(exc.description)}: " + (
                exc.message or "(no detail)"
            )
        if isinstance(exc, TLSRemoteAlert):
            name = AlertDescription.toStr(exc.description)
            if self.server_hello is None:
                offer = ", ".join(self.profile.cipher_suites)
                return (
                    f"server sent alert {name} in answer to the ClientHello (offered "
                    f"{self.profile.hello_version} at most, suites {offer})"
                )
            return f"server sent alert {name} during the handshake (after {self.last_message})"
        if isinstance(exc, TLSAbruptCloseError):
            return f"server closed the connection mid-handshake (after {self.last_message})"
        if isinstance(exc, OSError):
            return f"socket error during the handshake: {exc}"
        return f"handshake failed: {type(exc).__name__}: {exc}"


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

    def __init__(self, conn: _W24Client, sock: socket.socket, profile: DeviceProfile) -> None:
        self._conn, self._sock, self._profile = conn, sock, profile
        self.version = version_name(conn.version)
        self.cipher = suite_name(conn.session.cipherSuite)
        self.server_cert_der = bytes(conn.session.serverCertChain.x509List[0].bytes)
        conn._recv_record_limit = profile.max_record_plaintext  # 226 after decryption
        cipher, mac = SUITES[self.cipher][1:]
        block = {"rc4": 0, "3des": 8}.get(cipher, 16)
        # Longest record a plaintext within the limit can make: MAC, explicit IV, 256 padding.
        self._max_wire = (
            profile.max_record_plaintext + _MAC_BYTES[mac] + (block + 256) * bool(block)
        )
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
    ) -> SecureChannel:
        """Run the client handshake on a connected TCP socket.

        `verify=False` is a fault-injection mode (a module that accepts any server certificate):
        no certificate check, and an empty `trusted_cas` is allowed.
        """
        if verify and not trusted_cas:
            raise SSLFailure(codes.SSL_NO_CA, "no trusted CA certificate is loaded")
        fastcipher.install()
        limit = profile.handshake_timeout_s if timeout is None else timeout

        def check(chain: list[bytes]) -> None:
            if verify:
                verify_server_chain(chain, trusted_cas, profile, hostname=server_hostname, now=now)

        settings = client_settings(profile)
        conn = _W24Client(sock, profile, check)
        if profile.record_limit_in_handshake:
            conn._recv_record_limit = profile.max_record_plaintext
        sock.setblocking(False)
        _no_delay(sock)
        steps = conn.handshakeClientCert(settings=settings, async_=True)
        try:
            finished = _drive(steps, sock, time.monotonic() + limit)
        except Exception as exc:  # every handshake failure is the module's 220 ...
            sock.close()
            code = codes.SSL_NEGOTIATION
            if (
                isinstance(exc, TLSLocalAlert)
                and exc.description == AlertDescription.record_overflow
            ):
                code = codes.SSL_RECORD_TOO_BIG  # ... but an oversize handshake record
            raise SSLFailure(code, conn.failure_reason(exc)) from exc
        if finished is None:
            sock.close()
            raise SSLFailure(
                codes.SSL_NEGOTIATION,
                f"handshake timed out after {limit:.1f} s (last received: {conn.last_message})",
            )
        return cls(conn, sock, profile)

    @property
    def closed(self) -> bool:
        return self._closed or self._peer_closed or self._failure is not None or self._conn.closed

    def send(self, data: bytes) -> None:
        if self._failure is not None or self._closed or self._conn.closed or self._peer_closed:
            raise SSLFailure(codes.SOCKET_SEND_ERROR, "the SSL connection is closed")
        deadline = time.monotonic() + self._profile.handshake_timeout_s
        try:
            sent = _drive(self._conn.writeAsync(bytes(data)), self._sock, deadline)
        except (OSError, TLSError) as exc:
            raise SSLFailure(codes.SOCKET_SEND_ERROR, f"send failed: {exc}") from exc
        if sent is None:
            raise SSLFailure(codes.SOCKET_SEND_ERROR, "send timed out: the server is not reading")

    def pump(self, max_bytes: int) -> bytes:
        if self._failure is not None:
            raise self._failure
        out = bytearray()
        try:
            while len(out) < max_bytes and not self._peer_closed and not self._conn.closed:
                if not self._assemble():
                    break
                self._conn.feed += self._record
                self._record = bytearray()
                data = self._read_record()
                if data is not None:
                    out += data
        except SSLFailure:
            if not out:
                raise
            # Plaintext decrypted before the bad record goes to the host first; the stored
            # failure is raised by the next call.
        if self._conn.closed and not self._closed:
            self._peer_closed = True  # close_notify (or EOF) processed by tlslite
        if not out and self._peer_closed:
            raise PeerClosed("the server closed the SSL connection")
        return bytes(out)

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
                if self._record[0] == ContentType.application_data and need - 5 > self._max_wire:
                    self._fail(
                        codes.SSL_RECORD_TOO_BIG,
                        f"incoming record of {need - 5} bytes cannot hold <= "
                        f"{self._profile.max_record_plaintext} bytes of plaintext with "
                        f"{self.cipher}",
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
                    self._fail(codes.SSL_DECODE_ERROR, "could not answer the server in time")
        except TLSLocalAlert as exc:
            if exc.description == AlertDescription.record_overflow:
                limit = self._profile.max_record_plaintext
                self._fail(
                    codes.SSL_RECORD_TOO_BIG,
                    f"incoming record has more than {limit} bytes of plaintext",
                )
            self._fail(codes.SSL_DECODE_ERROR, f"undecodable incoming record: {exc}")
        except TLSRemoteAlert as exc:
            name = AlertDescription.toStr(exc.description)
            self._fail(codes.SSL_DECODE_ERROR, f"server sent alert {name}")
        except (TLSAbruptCloseError, OSError):
            self._peer_closed = True
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
        if not self._conn.closed:
            try:
                _drive(self._conn.closeAsync(), self._sock, time.monotonic() + CLOSE_TIMEOUT_S)
            except Exception:  # close_notify is best effort
                pass
        self._sock.close()
