"""The tlslite-ng client behind the simulator's SecureChannel: the device's ClientHello (a 2008
embedded client, see w24_harness.sim.tls_engine), the mid-handshake certificate check, and reads fed
one whole record at a time. Plus the suite and version tables both modules use.
"""

from __future__ import annotations

import errno
import random
import socket
from collections.abc import Callable
from typing import Any

from tlslite.api import HandshakeSettings, TLSConnection
from tlslite.constants import AlertDescription, AlertLevel, ContentType, HandshakeType
from tlslite.errors import TLSAbruptCloseError, TLSLocalAlert, TLSRemoteAlert
from tlslite.extensions import RenegotiationInfoExtension
from tlslite.keyexchange import RSAKeyExchange
from tlslite.messages import Alert, ClientHello, ServerHello
from tlslite.utils.cryptomath import getRandomBytes
from tlslite.utils.python_rsakey import Python_RSAKey

from w24_harness.profiles.table import DeviceProfile
from w24_harness.sim.faults import Faults
from w24_harness.sim.variants import EMPTY_RENEGOTIATION_INFO_SCSV, CertCheckAt, Variants
from w24_harness.sim.verify import CertRejected
from w24_harness.tlsfacts import SUITES, ProtocolVersion, suite_name, version_name
from w24_harness.vocab import ClientCheck, Renegotiation

# tlslite's own words for the checks a self-test fault may switch off (its _sendError texts).
_SWALLOWED_ERRORS: dict[ClientCheck, str] = {
    ClientCheck.FINISHED: "Finished message is incorrect",
    ClientCheck.OFFERED_SUITE: "Server responded with incorrect ciphersuite",
}

# The fault rng_reseeded's seed: a constant, as an empty entropy pool gives.
RESEEDED_SEED = 0x5EED

# TLS 1.0 alert -> the SSL 3.0 alert an SSL 3.0 session sends instead (OpenSSL's
# ssl3_alert_code): RFC 6101 §5.4 defines only 0, 10, 20, 30, 40..47.
SSL3_ALERT: dict[int, int] = {
    AlertDescription.decryption_failed: AlertDescription.bad_record_mac,
    AlertDescription.record_overflow: AlertDescription.bad_record_mac,
    AlertDescription.unknown_ca: AlertDescription.bad_certificate,
    **{
        code: AlertDescription.handshake_failure
        for code in (
            AlertDescription.access_denied,
            AlertDescription.decode_error,
            AlertDescription.decrypt_error,
            AlertDescription.export_restriction,
            AlertDescription.protocol_version,
            AlertDescription.insufficient_security,
            AlertDescription.internal_error,
            AlertDescription.user_canceled,
        )
    },
}

# The record types of SSL 3.0 / TLS 1.0.
_KNOWN_TYPES = frozenset(
    {
        ContentType.change_cipher_spec,
        ContentType.alert,
        ContentType.handshake,
        ContentType.application_data,
    }
)

# tlslite's words for a decrypted record of a type it does not know.
_UNKNOWN_TYPE_ERROR = "Received record with unknown ContentType"

# What the device's client can speak at all; a profile picks from these.
CLIENT_VERSIONS: tuple[ProtocolVersion, ...] = (ProtocolVersion.SSL3, ProtocolVersion.TLS1)


def tlslite_names(suite: str) -> tuple[str, str]:
    names = SUITES[suite].tlslite
    assert names is not None  # client_settings refused suites without tlslite names
    return names


def client_settings(profile: DeviceProfile) -> HandshakeSettings:
    """tlslite settings for the profile; the ClientHello is trimmed further by W24Client."""
    unknown = [str(p) for p in profile.protocols if p not in CLIENT_VERSIONS]
    unknown += [s for s in profile.cipher_suites if s not in SUITES or not SUITES[s].tlslite]
    if profile.hello_version not in CLIENT_VERSIONS:
        unknown.append(str(profile.hello_version))
    if unknown:
        raise ValueError(f"profile {profile.name}: unsupported protocol or suite {unknown}")
    settings = HandshakeSettings()
    hello = ProtocolVersion(profile.hello_version).wire
    versions = [ProtocolVersion(p).wire for p in profile.protocols] + [hello]
    settings.minVersion, settings.maxVersion = min(versions), hello
    settings.versions = sorted({v.wire for v in CLIENT_VERSIONS if v.wire <= hello})[::-1]
    settings.cipherNames = sorted({tlslite_names(s)[0] for s in profile.cipher_suites})
    settings.macNames = sorted({tlslite_names(s)[1] for s in profile.cipher_suites})
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


class W24Client(TLSConnection):
    """tlslite client with the device's ClientHello, certificate check and unbuffered reads."""

    def __init__(
        self,
        sock: socket.socket,
        profile: DeviceProfile,
        check: Callable,
        lenient: frozenset[ClientCheck] = frozenset(),
        compression: tuple[int, ...] = (0,),
        faults: Faults | None = None,
        variants: Variants | None = None,
    ) -> None:
        super().__init__(sock)
        # Self-test faults on what the client puts on the wire (w24_harness.sim.faults).
        self.faults = faults or Faults()
        # The fault rng_reseeded: the same seed at every handshake.
        self._rng = random.Random(RESEEDED_SEED) if self.faults.rng_reseeded else None
        # Correct-firmware variants (w24_harness.sim.variants): the ClientHello's signalling
        # value and extension, when the certificate is checked, warnings in the handshake.
        self.variants = variants or Variants()
        # The compression methods the ClientHello offers: null only, on a correct W24.
        self.compression = list(compression)
        # Checks a self-test fault switches off (w24_harness.sim.faults); empty on a correct W24.
        self.lenient = lenient
        self._expecting: tuple[int, ...] = ()
        self.export_key: Python_RSAKey | None = None
        self.raw = sock
        # tlslite's BufferedSocket reads ahead up to 4 KB. Reads here are exact during the
        # handshake (nothing after Finished is swallowed); afterwards tlslite reads only from
        # `feed`, which SecureChannel fills with one whole record at a time.
        self.feed: bytearray | None = None
        self.sock.recv = self._recv  # type: ignore[method-assign]
        self.profile = profile
        self.offered = [SUITES[name].code for name in profile.cipher_suites]
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

    def _random(self, n: int) -> bytearray:
        return bytearray(self._rng.randbytes(n) if self._rng else getRandomBytes(n))

    def _sendMsg(self, msg: Any, randomizeFirstBlock: bool = True, update_hashes: bool = True):
        if isinstance(msg, ClientHello):
            msg.cipher_suites = list(self.offered)
            if self.variants.hello_scsv:
                msg.cipher_suites.append(EMPTY_RENEGOTIATION_INFO_SCSV)
            msg.extensions = None
            if self.variants.hello_reneg_ext:
                msg.extensions = [RenegotiationInfoExtension().create(bytearray(0))]
            msg.compression_methods = list(self.compression)
            if self._rng is not None:
                msg.random = self._random(32)  # tlslite derives the keys from this object
        yield from super()._sendMsg(msg, False, update_hashes)

    def _sendError(self, alertDescription: Any, errorStr: Any = None):
        if (
            self.feed is not None
            and self.variants.unknown_record_ignored
            and errorStr == _UNKNOWN_TYPE_ERROR
        ):
            return  # the variant: _getNextRecordFromSocket drops the record instead
        for check in self.lenient:
            if errorStr is not None and _SWALLOWED_ERRORS.get(check) == errorStr:
                return  # the fault: the check is not made, the handshake goes on
        wire = alertDescription
        if tuple(self.version) == (3, 0):
            # SSL 3.0 (RFC 6101 §5.4) has no TLS-only alerts: send its nearest, as OpenSSL's
            # ssl3_alert_code does (decrypt_error, protocol_version ... -> handshake_failure).
            wire = SSL3_ALERT.get(alertDescription, alertDescription)
        # The fault alerts_as_warning: the level byte wrong.
        level = AlertLevel.warning if self.faults.alerts_as_warning else AlertLevel.fatal
        if wire == alertDescription and level == AlertLevel.fatal:
            yield from super()._sendError(alertDescription, errorStr)
            return
        # tlslite's _sendError with another alert on the wire; the error raised keeps what went
        # wrong (record_overflow is still 226 on an SSL 3.0 session, though it says
        # bad_record_mac on the wire).
        self.sock.flush()
        self.sock.buffer_writes = False
        yield from self._sendMsg(Alert().create(wire, level))
        self._shutdown(False)
        raise TLSLocalAlert(Alert().create(alertDescription, level), errorStr)

    def _clientKeyExchange(self, settings: Any, cipherSuite: Any, *rest: Any):
        key_exchange = rest[-1]
        wrong = self.faults.premaster_negotiated_version or self._rng is not None
        if wrong and isinstance(key_exchange, RSAKeyExchange):
            key_exchange.processServerKeyExchange = self._premaster_maker(key_exchange)
        yield from super()._clientKeyExchange(settings, cipherSuite, *rest)

    def _premaster_maker(self, kx: RSAKeyExchange) -> Callable[[Any, Any], bytearray]:
        """tlslite's RSAKeyExchange.processServerKeyExchange, with the faults' premaster."""

        def make(server_key: Any, _ske: Any) -> bytearray:
            premaster = self._random(48)
            if self.faults.premaster_negotiated_version:
                premaster[0:2] = bytes(kx.serverHello.server_version)
            else:
                premaster[0:2] = bytes(kx.clientHello.client_version)
            kx.encPremasterSecret = server_key.encrypt(premaster)
            return premaster

        return make

    def _getNextRecord(self):
        """tlslite's, but after the handshake a warning alert other than close_notify is
        passed over when the profile says so (RFC 2246 §7.2 leaves it to the receiver; tlslite
        alone would end the session on any warning); and under a fault, a record a correct
        client would refuse is dropped."""
        while True:
            result: Any = None
            for result in super()._getNextRecord():
                if result in (0, 1):
                    yield result
                else:
                    break
            header, parser = result
            if self.feed is not None and self._hello_request(header.type, parser):
                if self.profile.renegotiation == Renegotiation.IGNORE:
                    continue  # passed over: no answer, the session goes on
                if self.profile.renegotiation == Renegotiation.FAIL:
                    yield from self._sendError(
                        AlertDescription.unexpected_message, "HelloRequest during the session"
                    )
                # REFUSE: tlslite answers a no_renegotiation warning and goes on.
            passed_over = (
                self.profile.ignore_warning_alerts
                if self.feed is not None
                else self.variants.handshake_warning_ignored
            )
            if passed_over:
                body = parser.bytes[parser.index : parser.index + 2]
                if (
                    header.type == ContentType.alert
                    and len(body) == 2
                    and body[0] == AlertLevel.warning
                    and body[1] != AlertDescription.close_notify
                ):
                    continue
            if not self.lenient or not self._lenient_skip(header.type, parser):
                yield result
                return

    def _getNextRecordFromSocket(self):
        """tlslite's, but after the handshake a record of a type outside SSL 3.0 / TLS 1.0 is
        decrypted (its sequence number counts) and dropped under the unknown_record_ignored
        variant (RFC 2246 §6: "should just ignore it")."""
        while True:
            result: Any = None
            for result in super()._getNextRecordFromSocket():
                if result in (0, 1):
                    yield result
                else:
                    break
            header, _parser = result
            ignored = self.feed is not None and self.variants.unknown_record_ignored
            if ignored and header.type not in _KNOWN_TYPES:
                continue
            yield result
            return

    @staticmethod
    def _hello_request(ctype: int, parser: Any) -> bool:
        return (
            ctype == ContentType.handshake
            and len(parser.bytes) > parser.index
            and parser.bytes[parser.index] == HandshakeType.hello_request
        )

    def _lenient_skip(self, ctype: int, parser: Any) -> bool:
        """Under a fault: drop a record a correct client would refuse."""
        expecting = self._expecting
        if ClientCheck.CCS_ORDER in self.lenient and ctype == ContentType.change_cipher_spec:
            return ContentType.change_cipher_spec not in expecting
        if (
            ClientCheck.KEY_EXCHANGE in self.lenient
            and ctype == ContentType.handshake
            and parser.bytes[parser.index] == HandshakeType.server_key_exchange
            and ContentType.change_cipher_spec not in expecting
        ):
            body = bytes(parser.bytes[parser.index + 4 :])
            n_len = int.from_bytes(body[:2], "big")
            n = int.from_bytes(body[2 : 2 + n_len], "big")
            e_len = int.from_bytes(body[2 + n_len : 4 + n_len], "big")
            e = int.from_bytes(body[4 + n_len : 4 + n_len + e_len], "big")
            self.export_key = Python_RSAKey(n, e)
            return True
        return False

    def _getMsg(self, expectedType: Any, secondaryType: Any = None, constructorType: Any = None):
        self._expecting = expectedType if isinstance(expectedType, tuple) else (expectedType,)
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
            if self.variants.cert_check_at == CertCheckAt.CERTIFICATE:
                yield from self._sendError(getattr(AlertDescription, exc.alert), exc.reason)
            # CertCheckAt.FINISHED: SecureChannel.handshake refuses it once the handshake is done.
        for result in super()._clientGetKeyFromChain(certificate, settings, tack_ext):
            if self.export_key is not None and not isinstance(result, int):
                _key, chain, tack = result
                result = (self.export_key, chain, tack)  # the FREAK fault: the export key
            yield result

    def version_reason(self, hello: ServerHello) -> str:
        allowed = ", ".join(self.profile.protocols)
        return f"server chose {version_name(hello.server_version)}, profile allows {allowed}"

    def failure_reason(self, exc: BaseException) -> str:
        """A sentence for a tlslite handshake exception."""
        if isinstance(exc, TLSLocalAlert):
            if self.rejection is not None:
                return self.rejection.reason
            hello = self.server_hello
            # (In an SSL 3.0 session the protocol_version alert goes out as handshake_failure.)
            refused = (
                hello is not None
                and version_name(hello.server_version) not in self.profile.protocols
            )
            if hello is not None and refused:
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
