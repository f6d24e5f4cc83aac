"""An older tlslite-ng (from PyPI, see build.py) as a plain memory-BIO client.

The version is loaded from its cache directory under a private package name
(`w24_tlslite_0_7_3`), so it never replaces the tlslite-ng the harness itself runs on; its
modules import each other relatively, and its `__init__` (the one file with absolute imports)
is not run. Unlike the simulator's own engine (w24_harness.sim.tls_engine) nothing of the
simulator's record checks is added: the version's own record layer is what is measured.

tlslite-ng has no certificate-path validation of its own; a firmware on it would check the chain
itself, so the engine runs the simulator's check (w24_harness.sim.verify, profile w24) once the
handshake is done and fails it with 220. Configuration otherwise: SSL 3.0..TLS 1.0 as the
profile allows, static RSA key exchange, the W24 suites by cipher and MAC name, tlslite's own
defaults for the rest (extensions included).
"""

from __future__ import annotations

import errno
import importlib
import sys
import types
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from w24_harness.profiles.table import get_profile
from w24_harness.sim.engines.base import Engine, EngineConfig, EngineError, Failure
from w24_harness.sim.verify import verify_server_chain
from w24_harness.tlsfacts import SUITE_TABLE, W24_SUITES, ProtocolVersion, version_from_wire

_RECORD_OVERFLOW, _CLOSE_NOTIFY = 22, 0


def load(prefix: Path, name: str) -> types.ModuleType:
    """The tlslite package of this build under a private name; submodules import on demand."""
    alias = "w24_" + name.replace("-", "_").replace(".", "_")
    if alias not in sys.modules:
        package = types.ModuleType(alias)
        package.__path__ = [str(prefix / "site" / "tlslite")]
        sys.modules[alias] = package
    return sys.modules[alias]


class _Pipe:
    """The socket tlslite sees: reads what was fed, writes into the outgoing buffer."""

    def __init__(self) -> None:
        self.inbox = bytearray()
        self.outbox = bytearray()

    def recv(self, size: int) -> bytes:
        if not self.inbox:
            raise BlockingIOError(errno.EAGAIN, "no data fed yet")
        data = bytes(self.inbox[:size])
        del self.inbox[:size]
        return data

    def send(self, data: bytes) -> int:
        self.outbox += data
        return len(data)

    def sendall(self, data: bytes) -> None:
        self.outbox += data

    def close(self) -> None:
        pass


class TlsliteEngine:
    def __init__(self, tls: types.ModuleType, config: EngineConfig) -> None:
        alias = tls.__name__
        conn_mod = importlib.import_module(f"{alias}.tlsconnection")
        settings_mod = importlib.import_module(f"{alias}.handshakesettings")
        errors = importlib.import_module(f"{alias}.errors")
        self._errors = errors
        if not config.versions or not config.suites:
            raise EngineError(Failure.HANDSHAKE, "no version or suite in common with the profile")
        settings = settings_mod.HandshakeSettings()
        wires = sorted(v.wire for v in config.versions)
        settings.minVersion, settings.maxVersion = wires[0], wires[-1]
        names = [s.tlslite for s in SUITE_TABLE if s.iana in config.suites and s.tlslite]
        settings.cipherNames = list(dict.fromkeys(c for c, _ in names))
        settings.macNames = list(dict.fromkeys(m for _, m in names))
        settings.keyExchangeNames = ["rsa"]
        self._config = config
        self._pipe = _Pipe()
        self._conn = conn_mod.TLSConnection(self._pipe)
        self._steps: Generator[Any, None, None] | None = self._conn.handshakeClientCert(
            settings=settings, async_=True
        )

    def feed(self, data: bytes) -> None:
        self._pipe.inbox += data

    def outgoing(self) -> bytes:
        data, self._pipe.outbox = bytes(self._pipe.outbox), bytearray()
        return data

    def handshake(self) -> bool:
        assert self._steps is not None
        try:
            for step in self._steps:
                if step == 0:
                    return False
        except (self._errors.TLSError, OSError, ValueError) as exc:
            raise EngineError(Failure.HANDSHAKE, f"tlslite: {exc!r}") from exc
        self._steps = None
        if self._config.verify:
            chain = [bytes(c.bytes) for c in self._conn.session.serverCertChain.x509List]
            cas = list(self._config.trusted_cas)
            try:
                verify_server_chain(chain, cas, get_profile("w24").resolved())
            except Exception as exc:  # the simulator's check raises SSLFailure
                raise EngineError(Failure.HANDSHAKE, f"certificate: {exc}") from exc
        return True

    def read(self) -> bytes | None:
        steps = self._conn.readAsync(max=None, min=1)
        try:
            for step in steps:
                if step == 0:
                    steps.close()
                    return None
                if not isinstance(step, int):
                    if not step and self._conn.closed:
                        raise EngineError(Failure.CLOSED, "close_notify")
                    return bytes(step)
        except self._errors.TLSLocalAlert as exc:
            kind = Failure.RECORD_TOO_BIG if exc.description == _RECORD_OVERFLOW else None
            raise EngineError(kind or Failure.BAD_RECORD, f"tlslite: {exc}") from exc
        except self._errors.TLSRemoteAlert as exc:
            raise EngineError(Failure.ALERT, f"tlslite: {exc}") from exc
        except (self._errors.TLSError, OSError) as exc:
            raise EngineError(Failure.BAD_RECORD, f"tlslite: {exc!r}") from exc
        return None

    def write(self, data: bytes) -> None:
        try:
            for _ in self._conn.writeAsync(data):
                pass
        except (self._errors.TLSError, OSError) as exc:
            raise EngineError(Failure.BAD_RECORD, f"tlslite: {exc!r}") from exc

    def shutdown(self) -> None:
        try:
            for step in self._conn.closeAsync():
                if step == 0:
                    break  # the peer's close_notify is not waited for
        except (self._errors.TLSError, OSError):
            pass

    def free(self) -> None:
        pass

    @property
    def version(self) -> ProtocolVersion:
        version = version_from_wire(self._conn.version)
        assert version is not None
        return version

    @property
    def cipher(self) -> str:
        code = self._conn.session.cipherSuite
        return next((s.iana for s in SUITE_TABLE if s.code == code), f"0x{code:04X}")

    @property
    def peer_cert_der(self) -> bytes:
        return bytes(self._conn.session.serverCertChain.x509List[0].bytes)


@dataclass
class TlsliteFactory:
    name: str
    prefix: Path
    versions: tuple[ProtocolVersion, ...] = (ProtocolVersion.SSL3, ProtocolVersion.TLS1)
    suites: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Pure-Python 3DES came with tlslite-ng 0.8; before, 3DES needed pycrypto/m2crypto.
        factory = importlib.import_module(
            f"{load(self.prefix, self.name).__name__}.utils.cipherfactory"
        )
        has_3des = bool(getattr(factory, "tripleDESPresent", False))
        self.suites = tuple(s for s in W24_SUITES if has_3des or "3DES" not in s)

    def connect(self, config: EngineConfig) -> Engine:
        return TlsliteEngine(load(self.prefix, self.name), config)
