"""tlslite-ng backend: SSL 3.0 / TLS 1.0 with all five W24 suites, and the scripted misbehaviours
(w24_harness.servers.misbehaviour.language): the backend runs a Misbehaviour's parts at fixed hook
points and has no branch for any particular one."""

from __future__ import annotations

import time

from tlslite.api import HandshakeSettings, TLSConnection, X509CertChain
from tlslite.constants import AlertDescription
from tlslite.errors import TLSAbruptCloseError, TLSLocalAlert, TLSRemoteAlert
from tlslite.messages import ApplicationData

from w24_harness.servers.base import ConnectionReport, ServerConfig
from w24_harness.servers.capture import keylog_line
from w24_harness.servers.invariants import check_alert, strict_decrypt
from w24_harness.servers.misbehaviour.engine import ObservingSocket, ScriptedConnection
from w24_harness.servers.misbehaviour.language import AppStage, Misbehaviour
from w24_harness.servers.misbehaviour.records import serve_plan, wrap_socket
from w24_harness.servers.misbehaviour.sockets import TamperingSocket
from w24_harness.servers.names import IANA_TO_TLSLITE, version_range
from w24_harness.servers.session import (
    ConnectionContext,
    Failure,
    plain_records,
    serve_application_data,
)
from w24_harness.tlsaccel import cipher as fastcipher
from w24_harness.tlsaccel import rsa as fastrsa
from w24_harness.tlsfacts import W24_SUITES, suite_name, version_name

# tlslite's words when the peer's Finished does not verify (its _getFinished).
FINISHED_WRONG = "Finished message is incorrect"


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
        script: Misbehaviour | None,
    ) -> None:
        self.conn = conn
        self.report = report
        self.tamper = tamper
        self.script = script

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
        # A misbehaviour on application records is carried out with the first one that goes out
        # (the oversize record, the tampered record).
        script = self.script
        if script is not None and (script.first_records is not None or script.tamper):
            tampered = self.tamper is None or self.tamper.tampered_records
            if tampered and self.report.misbehaved is None:
                self.report.misbehaved = script.name

    def recv(self, max_bytes: int) -> bytes:
        return bytes(self.conn.read(max=max_bytes))

    def describe_failure(self, exc: BaseException) -> Failure:
        # What tlslite's own checks found wrong in the client's records: a wire invariant, when
        # the server behaved (a misbehaving server's transcript or keys are its own doing).
        if isinstance(exc, TLSRemoteAlert):
            # The client's alert as tlslite decrypted it (an encrypted one is opaque on the wire).
            wire = self.report.wire
            wire.add(check_alert(bytes([exc.level, exc.description]), wire.negotiated or (3, 1)))
        if isinstance(exc, TLSLocalAlert) and self.script is None:
            if exc.description == AlertDescription.bad_record_mac:
                self.report.wire.mac_ok = False
            elif exc.message == FINISHED_WRONG:
                self.report.wire.finished_ok = False
        return describe_tlslite_error(exc)


def _note_keys(conn: TLSConnection, report: ConnectionReport) -> None:
    """The session's keys for the capture, once the master secret exists (it does from the
    client's key exchange on, even when the Finished exchange then failed)."""
    session = getattr(conn, "session", None)
    secret = getattr(session, "masterSecret", b"") if session is not None else b""
    line = keylog_line(getattr(conn, "_clientRandom", b""), secret or b"")
    if line and line not in report.keylog:
        report.keylog.append(line)


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
        self.private_key = fastrsa.parse_private_key(cert.key_pem.decode("ascii"))

    def handle(self, ctx: ConnectionContext) -> None:
        script = self.config.misbehaviour
        assert script is None or isinstance(script, Misbehaviour)  # validate_common resolved it
        if script is not None and script.before_handshake is not None:
            script.before_handshake(ctx)
            return
        config = self.config
        report = ctx.report
        report.server_key_bytes = (len(self.private_key) + 7) // 8
        ctx.raw.settimeout(config.handshake_timeout_s)
        tamper = TamperingSocket(ctx.raw) if script is not None and script.tamper else None
        out = wrap_socket(config.records, tamper or ctx.raw)  # type: ignore[arg-type]
        # Duck-typed sockets all the way down (tamper, segmenting, observing wrappers).
        observer = ObservingSocket(out, report, script.wire if script else None)  # type: ignore[arg-type]
        conn = ScriptedConnection(observer, script, self.private_key)
        channel = _TlsliteChannel(conn, report, tamper, script)
        try:
            started = time.perf_counter()
            try:
                conn.handshakeServer(
                    certChain=self.cert_chain, privateKey=self.private_key, settings=self.settings
                )
            except Exception as exc:  # recorded in the report
                self._note_misbehaved(conn, report)
                self._check_key_exchange(report)
                ctx.fail(exc, channel, "handshake")
                return
            observer.handshake_done = True
            self._check_key_exchange(report)
            if script is None:
                report.wire.finished_ok = True  # tlslite verified it
            self._note_misbehaved(conn, report)
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
            records = self._first_records(script)
            if script is not None and script.after_handshake is not None:
                stage = AppStage(conn, records, channel.send_record, report)
                try:
                    script.after_handshake(stage)
                except Exception as exc:  # recorded in the report
                    ctx.fail(exc, channel, "application data")
                    return
                records = []
            serve_application_data(channel, ctx, records)
        finally:
            _note_keys(conn, report)
            if not conn.closed:
                try:
                    conn.close()  # close_notify, bounded by the socket timeout
                except Exception:  # the peer may be gone already
                    pass

    def _check_key_exchange(self, report: ConnectionReport) -> None:
        report.wire.check_key_exchange(
            report.server_key_bytes, lambda c: strict_decrypt(self.private_key, c)
        )

    @staticmethod
    def _note_misbehaved(conn: ScriptedConnection, report: ConnectionReport) -> None:
        # Application-record misbehaviours say so themselves once their record has gone out.
        if conn.script is not None and conn.carried_out:
            report.misbehaved = conn.script.name

    def _first_records(self, script: Misbehaviour | None) -> list[bytes]:
        config = self.config
        if script is not None and script.first_records is not None:
            return script.first_records(config.send_on_connect, config.seed, config.record_cap)
        return plain_records(config)
