"""tlslite-ng backend: SSL 3.0 / TLS 1.0 with all five W24 suites, and the misbehaviours."""

from __future__ import annotations

import time

from tlslite.api import HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey
from tlslite.constants import AlertDescription
from tlslite.errors import TLSAbruptCloseError, TLSLocalAlert, TLSRemoteAlert
from tlslite.messages import ApplicationData

from w24_harness import fastcipher
from w24_harness.tlsfacts import W24_SUITES, suite_name, version_name

from .base import OVERSIZE_RECORD_BYTES, ConnectionReport, ServerConfig
from .misbehave import TamperingSocket, hold_until_closed, read_first_record
from .names import IANA_TO_TLSLITE, version_range
from .payload import payload
from .records import serve_plan, wrap_socket
from .session import (
    ConnectionContext,
    Failure,
    plain_records,
    serve_application_data,
    slices,
)


def build_settings(config: ServerConfig) -> HandshakeSettings:
    if config.client_ca_pem:
        raise ValueError("client_ca_pem (demanding a client certificate) needs backend='openssl'")
    low, high = version_range(config.versions)
    suites = config.suites if config.suites is not None else W24_SUITES
    unknown = [s for s in suites if s not in IANA_TO_TLSLITE]
    if unknown:
        raise ValueError(
            f"the tlslite backend serves only the W24 suites {list(W24_SUITES)}; got {unknown}"
        )
    ciphers = list(dict.fromkeys(IANA_TO_TLSLITE[s][0] for s in suites))
    macs = list(dict.fromkeys(IANA_TO_TLSLITE[s][1] for s in suites))
    # tlslite filters suites by cipher x MAC, so e.g. {RC4-MD5, AES128-SHA} would also enable
    # RC4-SHA. Refuse rather than serve a suite the caller did not ask for.
    enabled = {s for s, (c, m) in IANA_TO_TLSLITE.items() if c in ciphers and m in macs}
    extra = sorted(enabled - set(suites))
    if extra:
        raise ValueError(
            f"tlslite cannot enable {sorted(suites)} without also enabling {extra} "
            "(it selects ciphers and MACs independently)"
        )
    settings = HandshakeSettings()
    settings.minVersion = low.wire
    settings.maxVersion = high.wire
    settings.cipherNames = ciphers
    settings.macNames = macs
    settings.keyExchangeNames = ["rsa"]
    # EMS on meets an SSL3-only peer with an AssertionError; ETM is not 2008 behaviour.
    settings.useExtendedMasterSecret = False
    settings.useEncryptThenMAC = False
    settings.minKeySize = 512
    settings.maxKeySize = 8192
    settings.validate()  # raises ValueError now rather than at the first handshake
    return settings


class _TlsliteChannel:
    def __init__(
        self,
        conn: TLSConnection,
        report: ConnectionReport,
        tamper: TamperingSocket | None,
        oversize: bool,
    ) -> None:
        self.conn = conn
        self.report = report
        self.tamper = tamper
        self.oversize = oversize  # the oversize_record misbehaviour is on

    def send_record(self, data: bytes) -> None:
        # _sendMsg with randomizeFirstBlock=False: no 1/n-1 split of CBC records (a BEAST
        # countermeasure no 2008 server had), so one call is exactly one record.
        message = ApplicationData().create(bytearray(data))
        self.conn.recordSize = max(len(data), 1)
        try:
            for _ in self.conn._sendMsg(message, randomizeFirstBlock=False):
                pass
        except Exception:
            self.conn._shutdown(False)
            raise
        if self.tamper is not None and self.tamper.tampered_records:
            self.report.misbehaved = "tamper"
        elif self.oversize and len(data) == OVERSIZE_RECORD_BYTES:
            self.report.misbehaved = "oversize_record"

    def recv(self, max_bytes: int) -> bytes:
        return bytes(self.conn.read(max=max_bytes))

    def describe_failure(self, exc: BaseException) -> Failure:
        return describe_tlslite_error(exc)


def describe_tlslite_error(exc: BaseException) -> Failure:
    if isinstance(exc, TLSRemoteAlert):
        name = AlertDescription.toStr(exc.description)
        return Failure("client", alert=name, error=f"client sent alert {name}")
    if isinstance(exc, TLSLocalAlert):
        return Failure("server", error=f"server sent alert {exc}")
    if isinstance(exc, TLSAbruptCloseError):
        return Failure("client", error="client closed the connection without an alert")
    return Failure("server", error=f"{type(exc).__name__}: {exc}")


class TlsliteBackend:
    def __init__(self, config: ServerConfig) -> None:
        # cryptography-backed ciphers: tlslite's pure-Python 3DES (~14 KB/s) would make the
        # server, not the device, the bottleneck of a throughput test.
        fastcipher.install()
        self.config = config
        self.settings = build_settings(config)
        cert = config.cert
        chain_text = (cert.cert_pem.rstrip(b"\n") + b"\n" + cert.chain_pem).decode("ascii")
        self.cert_chain = X509CertChain()
        self.cert_chain.parsePemList(chain_text)
        self.private_key = parsePEMKey(cert.key_pem.decode("ascii"), private=True)

    def handle(self, ctx: ConnectionContext) -> None:
        if self.config.misbehaviour in ("close_mid_handshake", "stall"):
            self._sabotage_handshake(ctx)
            return
        config = self.config
        report = ctx.report
        ctx.raw.settimeout(config.handshake_timeout_s)
        tamper = TamperingSocket(ctx.raw) if config.misbehaviour == "tamper" else None
        out = wrap_socket(config.records, tamper if tamper is not None else ctx.raw)
        conn = TLSConnection(out)
        oversize = config.misbehaviour == "oversize_record"
        channel = _TlsliteChannel(conn, report, tamper, oversize)
        try:
            started = time.perf_counter()
            try:
                conn.handshakeServer(
                    certChain=self.cert_chain, privateKey=self.private_key, settings=self.settings
                )
            except Exception as exc:  # recorded in the report
                ctx.fail(exc, channel, "handshake")
                return
            report.handshake_s = time.perf_counter() - started
            report.handshake_ok = True
            report.version = version_name(tuple(conn.version))
            report.cipher = suite_name(conn.session.cipherSuite)
            ctx.raw.settimeout(config.idle_timeout_s)
            if tamper is not None:
                tamper.arm()
            if config.records is not None:
                serve_plan(config.records, channel, conn, out, ctx)
                return
            serve_application_data(channel, ctx, self._first_records())
        finally:
            if not conn.closed:
                try:
                    conn.close()  # close_notify, bounded by the socket timeout
                except Exception:  # the peer may be gone already
                    pass

    def _first_records(self) -> list[bytes]:
        config = self.config
        if config.misbehaviour == "tamper":
            # Only the tampered record: whatever follows would meet a client that has failed.
            size = min(max(config.send_on_connect, 1), config.record_cap)
            return [payload(size, config.seed)]
        if config.misbehaviour == "oversize_record":
            data = payload(max(config.send_on_connect, OVERSIZE_RECORD_BYTES), config.seed)
            head = data[:OVERSIZE_RECORD_BYTES]
            return [head, *slices(data[OVERSIZE_RECORD_BYTES:], config.record_cap)]
        return plain_records(config)

    def _sabotage_handshake(self, ctx: ConnectionContext) -> None:
        """close_mid_handshake: read the ClientHello, then close TCP without answering.
        stall: read the ClientHello, then answer nothing until idle timeout, close or stop."""
        config = self.config
        report = ctx.report
        ctx.raw.settimeout(config.handshake_timeout_s)
        try:
            hello = read_first_record(ctx.raw)
        except Exception as exc:  # recorded in the report
            ctx.fail(exc, None, "handshake")
            return
        if not hello:
            report.closed_by = "server" if ctx.stopping.is_set() else "client"
            return
        report.misbehaved = config.misbehaviour
        if config.misbehaviour == "close_mid_handshake":
            report.closed_by = "server"
            return
        ctx.raw.settimeout(config.idle_timeout_s)
        ended_by = hold_until_closed(ctx.raw)
        report.closed_by = "server" if ctx.stopping.is_set() else ended_by
