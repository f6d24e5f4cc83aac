"""The system OpenSSL (Python's `ssl`) as the client: an SSLObject over two MemoryBIOs.

Configured as a firmware author would: TLS 1.0 only (this OpenSSL build has no SSL 3.0), the
W24 suites this build has (AES128-SHA, AES256-SHA: no RC4, no 3DES here), `@SECLEVEL=0` so
SHA-1/MD5 signatures and 1024-bit keys are allowed as in 2008, the AT+iCA= certificates as the
only trust anchors (no system store), verification required, no host-name check and no SNI.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from w24_harness.sim.engines.base import Engine, EngineConfig, EngineError, Failure
from w24_harness.tlsfacts import SUITE_TABLE, W24_SUITES, ProtocolVersion, version_from_openssl

_BY_OPENSSL = {s.openssl: s.iana for s in SUITE_TABLE}
_OPENSSL_NAME = {s.iana: s.openssl for s in SUITE_TABLE}


def _available_suites() -> tuple[str, ...]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        return ()
    names = {c["name"] for c in ctx.get_ciphers()}
    return tuple(s for s in W24_SUITES if _OPENSSL_NAME[s] in names)


def _available_versions() -> tuple[ProtocolVersion, ...]:
    have = []
    if getattr(ssl, "HAS_SSLv3", False):
        have.append(ProtocolVersion.SSL3)
    if getattr(ssl, "HAS_TLSv1", False):
        have.append(ProtocolVersion.TLS1)
    return tuple(have)


class OpenSSLEngine:
    def __init__(self, config: EngineConfig) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        if config.verify:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cadata=b"\n".join(config.trusted_cas).decode())
        else:
            ctx.verify_mode = ssl.CERT_NONE
        wire = sorted(config.versions, key=lambda v: v.wire)
        if not wire or not config.suites:
            raise EngineError(Failure.HANDSHAKE, "no version or suite in common with the profile")
        tls = {
            ProtocolVersion.SSL3: ssl.TLSVersion.SSLv3,
            ProtocolVersion.TLS1: ssl.TLSVersion.TLSv1,
        }
        ctx.minimum_version, ctx.maximum_version = tls[wire[0]], tls[wire[-1]]
        ctx.set_ciphers(":".join(_OPENSSL_NAME[s] for s in config.suites) + ":@SECLEVEL=0")
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._obj = ctx.wrap_bio(self._in, self._out, server_side=False)

    def feed(self, data: bytes) -> None:
        self._in.write(data)

    def outgoing(self) -> bytes:
        return self._out.read()

    def handshake(self) -> bool:
        try:
            self._obj.do_handshake()
        except ssl.SSLWantReadError:
            return False
        except ssl.SSLError as exc:
            raise EngineError(Failure.HANDSHAKE, f"OpenSSL: {exc.reason or exc}") from exc
        return True

    def read(self) -> bytes | None:
        try:
            data = self._obj.read(65536)
        except ssl.SSLWantReadError:
            return None
        except ssl.SSLZeroReturnError as exc:
            raise EngineError(Failure.CLOSED, "close_notify") from exc
        except ssl.SSLError as exc:
            reason = exc.reason or str(exc)
            kind = Failure.RECORD_TOO_BIG if "RECORD_OVERFLOW" in reason else Failure.BAD_RECORD
            if "ALERT" in reason:
                kind = Failure.ALERT
            raise EngineError(kind, f"OpenSSL: {reason}") from exc
        if not data:
            raise EngineError(Failure.CLOSED, "end of connection")
        return data

    def write(self, data: bytes) -> None:
        try:
            self._obj.write(data)
        except ssl.SSLError as exc:
            raise EngineError(Failure.BAD_RECORD, f"OpenSSL: {exc.reason or exc}") from exc

    def shutdown(self) -> None:
        try:
            self._obj.unwrap()
        except ssl.SSLError:
            pass  # the close_notify is queued; the peer's answer is not waited for

    def free(self) -> None:
        pass  # garbage collected

    @property
    def version(self) -> ProtocolVersion:
        version = version_from_openssl(self._obj.version() or "")
        assert version is not None  # a finished handshake has a version
        return version

    @property
    def cipher(self) -> str:
        info = self._obj.cipher()
        assert info is not None
        return _BY_OPENSSL.get(info[0], info[0])

    @property
    def peer_cert_der(self) -> bytes:
        return self._obj.getpeercert(binary_form=True) or b""


@dataclass
class OpenSSLFactory:
    name: str = field(default_factory=lambda: f"openssl-{ssl.OPENSSL_VERSION.split()[1]}")
    versions: tuple[ProtocolVersion, ...] = field(default_factory=_available_versions)
    suites: tuple[str, ...] = field(default_factory=_available_suites)

    def connect(self, config: EngineConfig) -> Engine:
        return OpenSSLEngine(config)
