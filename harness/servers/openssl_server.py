"""OpenSSL backend: Python's ssl module, a real TLS 1.0 (to 1.2) peer.

This OpenSSL has no SSL 3.0, RC4 or 3DES; asking for them raises ValueError so the caller
switches to the tlslite backend.
"""

from __future__ import annotations

import os
import socket
import ssl
import tempfile
import time
import warnings
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TypeVar

from w24_harness.servers.base import ServerConfig
from w24_harness.servers.invariants import HEADER, ClientWire
from w24_harness.servers.names import (
    IANA_TO_OPENSSL,
    alert_from_openssl_reason,
    openssl_to_iana,
    openssl_version,
    version_range,
)
from w24_harness.servers.session import (
    READ_CHUNK,
    ConnectionContext,
    Failure,
    plain_records,
    serve_application_data,
)
from w24_harness.tlsfacts import W24_SUITES, ProtocolVersion

_T = TypeVar("_T")

_TLS_VERSIONS: dict[ProtocolVersion, ssl.TLSVersion] = {
    ProtocolVersion.TLS1: ssl.TLSVersion.TLSv1,
    ProtocolVersion.TLS11: ssl.TLSVersion.TLSv1_1,
    ProtocolVersion.TLS12: ssl.TLSVersion.TLSv1_2,
    ProtocolVersion.TLS13: ssl.TLSVersion.TLSv1_3,
}
# SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS. Python clears it, so OpenSSL would put an empty
# application record before every CBC record in TLS 1.0 (the BEAST countermeasure). Servers
# of 2008 (mod_ssl with SSL_OP_ALL) did not, and record counting needs one record per write.
_OP_DONT_INSERT_EMPTY_FRAGMENTS = 0x00000800


def available_openssl_suites() -> set[str]:
    """IANA names of the suites this OpenSSL can serve at security level 0 up to TLS 1.2."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    names = {c["name"] for c in ctx.get_ciphers()}
    return {iana for iana, name in IANA_TO_OPENSSL.items() if name in names}


def build_context(config: ServerConfig) -> ssl.SSLContext:
    if config.misbehaviour is not None:
        raise ValueError(
            f"misbehaviour {config.misbehaviour!r} needs backend='tlslite'; "
            "the openssl backend only behaves"
        )
    low, high = version_range(config.versions)
    if ProtocolVersion.SSL3 in (low, high):
        raise ValueError("this OpenSSL has no SSL 3.0; use backend='tlslite' for SSL3.0")
    available = available_openssl_suites()
    if config.suites is None:
        suites = tuple(s for s in W24_SUITES if s in available)
    else:
        unknown = [s for s in config.suites if s not in IANA_TO_OPENSSL]
        if unknown:
            raise ValueError(f"no OpenSSL name known for suite(s) {unknown}")
        missing = [s for s in config.suites if s not in available]
        if missing:
            raise ValueError(
                f"this OpenSSL cannot do {missing} (no RC4 / 3DES here); use backend='tlslite'"
            )
        suites = config.suites

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1/TLSv1_1 are deprecated
        ctx.minimum_version = _TLS_VERSIONS[low]
        ctx.maximum_version = _TLS_VERSIONS[high]
    ctx.options |= _OP_DONT_INSERT_EMPTY_FRAGMENTS
    # Before load_cert_chain: at the default level small keys fail to load and SHA-256 chains
    # fail the TLS 1.0 handshake.
    ctx.set_ciphers(":".join(IANA_TO_OPENSSL[s] for s in suites) + ":@SECLEVEL=0")
    with tempfile.TemporaryDirectory(prefix="w24-server-") as tmp:
        chain_file = Path(tmp, "chain.pem")
        key_file = Path(tmp, "key.pem")
        chain_file.write_bytes(_ensure_newline(config.cert.cert_pem) + config.cert.chain_pem)
        key_file.write_bytes(config.cert.key_pem)
        ctx.load_cert_chain(chain_file, key_file)
    if config.client_ca_pem:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=config.client_ca_pem.decode("ascii"))
    return ctx


def _ensure_newline(pem: bytes) -> bytes:
    return pem if pem.endswith(b"\n") else pem + b"\n"


class _BioChannel:
    """TLS over memory BIOs: OpenSSL never touches the socket, so every byte passes through the
    connection's recording socket (servers/capture.py). Behaves as the SSLSocket it replaces:
    a ragged EOF reads as b"", a timeout raises TimeoutError, an alert OpenSSL sends on an
    error goes out before the error is raised."""

    def __init__(
        self, context: ssl.SSLContext, raw: socket.socket, wire: ClientWire | None = None
    ) -> None:
        self.raw = raw
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        # The wire invariants see the client's first record (its ClientHello) as it arrives;
        # OpenSSL checks the rest itself (describe_failure reads its verdict).
        self.wire = wire
        self._first: bytearray | None = bytearray()

    def _observe(self, data: bytes) -> None:
        if self.wire is None or self._first is None:
            return
        self._first += data
        if len(self._first) >= HEADER:
            length = int.from_bytes(self._first[3:5], "big")
            if len(self._first) >= HEADER + length:
                first = bytes(self._first)
                self.wire.feed(first[0], (first[1], first[2]), first[HEADER : HEADER + length])
                self._first = None

    def _flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.raw.sendall(data)

    def _run(self, op: Callable[[], _T]) -> _T:
        while True:
            try:
                result = op()
            except ssl.SSLWantReadError:
                self._flush()
                data = self.raw.recv(READ_CHUNK)
                if data:
                    self._observe(data)
                    self.incoming.write(data)
                else:
                    self.incoming.write_eof()
                continue
            except ssl.SSLError:
                with suppress(OSError):  # the alert OpenSSL queued, if the peer still reads
                    self._flush()
                raise
            self._flush()
            return result

    def do_handshake(self) -> None:
        self._run(self.obj.do_handshake)

    def send_record(self, data: bytes) -> None:
        # One SSL_write of <= 16384 bytes is one record (empty fragments are switched off).
        self._run(lambda: self.obj.write(data))

    def recv(self, max_bytes: int) -> bytes:
        try:
            return self._run(lambda: self.obj.read(max_bytes))
        except ssl.SSLEOFError:
            return b""  # as an SSLSocket with suppress_ragged_eofs

    def describe_failure(self, exc: BaseException) -> Failure:
        # OpenSSL's own checks of the client's records (wire invariants rec-mac, fin-verify).
        reason = getattr(exc, "reason", None) if isinstance(exc, ssl.SSLError) else None
        if self.wire is not None and reason in _BAD_MAC:
            self.wire.mac_ok = False
        elif self.wire is not None and reason in _BAD_FINISHED:
            self.wire.finished_ok = False
        return describe_ssl_error(exc)


# OpenSSL's reasons when the client's record MAC or Finished does not verify.
_BAD_MAC = frozenset({"DECRYPTION_FAILED_OR_BAD_RECORD_MAC", "BAD_RECORD_MAC"})
_BAD_FINISHED = frozenset({"DIGEST_CHECK_FAILED"})


def describe_ssl_error(exc: BaseException) -> Failure:
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return Failure("client", error=f"client closed: {exc.reason}")
    if isinstance(exc, ssl.SSLError):
        alert = alert_from_openssl_reason(exc.reason)
        if alert is not None:
            return Failure("client", alert=alert, error=f"client sent alert {alert}")
        return Failure("server", error=exc.reason or str(exc))
    return Failure("server", error=f"{type(exc).__name__}: {exc}")


class OpenSSLBackend:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.context = build_context(config)
        self._keylog = _KeyLog(self.context)

    def close(self) -> None:
        self._keylog.close()

    def handle(self, ctx: ConnectionContext) -> None:
        config = self.config
        report = ctx.report
        ctx.raw.settimeout(config.handshake_timeout_s)
        channel = _BioChannel(self.context, ctx.raw, report.wire)
        try:
            started = time.perf_counter()
            try:
                channel.do_handshake()
            except Exception as exc:  # recorded in the report
                ctx.fail(exc, channel, "handshake")
                return
            report.handshake_s = time.perf_counter() - started
            report.handshake_ok = True
            report.version = openssl_version(channel.obj.version() or "")
            cipher = channel.obj.cipher()
            if cipher is not None:
                report.cipher = openssl_to_iana(cipher[0])
            ctx.raw.settimeout(config.idle_timeout_s)
            serve_application_data(channel, ctx, plain_records(config))
        finally:
            report.keylog.extend(self._keylog.take())


class _KeyLog:
    """OpenSSL's key log (SSLContext.keylog_filename), one file per server, read after each
    connection: the server serves one connection at a time, so the new lines are its own."""

    def __init__(self, context: ssl.SSLContext) -> None:
        fd, name = tempfile.mkstemp(prefix="w24-keylog-", suffix=".txt")
        os.close(fd)
        self.path = Path(name)
        self._seen = 0
        context.keylog_filename = name

    def take(self) -> list[str]:
        try:
            text = self.path.read_text(encoding="ascii", errors="replace")
        except OSError:
            return []
        new, self._seen = text[self._seen :], len(text)
        return [ln for ln in new.splitlines() if ln.startswith("CLIENT_RANDOM ")]

    def close(self) -> None:
        self.path.unlink(missing_ok=True)
