"""wolfSSL (a cached build, see build.py) as the client, through ctypes and I/O callbacks.

Configured as a firmware author would: `wolfTLSv1_client_method()` (a TLS 1.0 ClientHello) with
its downgrade flag set and the minimum version at SSL 3.0 (wolfSSL's own way to let a TLS 1.0
client accept an SSL 3.0 server: only its SSLv23 method sets the flag, and that one offers
TLS 1.2+), the W24 suites by name, the AT+iCA= PEMs loaded with wolfSSL_CTX_load_verify_buffer as
the only anchors, SSL_VERIFY_PEER | FAIL_IF_NO_PEER_CERT, no domain check, no SNI.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from pathlib import Path

from w24_harness.sim.engines.base import (
    CallbackBuffers,
    Engine,
    EngineConfig,
    EngineError,
    Failure,
)
from w24_harness.tlsfacts import SUITE_TABLE, W24_SUITES, ProtocolVersion

_IO = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p
)
_WANT_IO = -2  # WOLFSSL_CBIO_ERR_WANT_READ / _WANT_WRITE
_ERROR_WANT_READ, _ERROR_WANT_WRITE, _ERROR_ZERO_RETURN = 2, 3, 6
_FATAL_ALERT = -313  # FATAL_ERROR: "revcd alert fatal error"
_VERIFY_PEER_AND_FAIL = 0x01 | 0x02
_PEM = 1
_BY_NAME = {s.openssl: s.iana for s in SUITE_TABLE} | {s.iana: s.iana for s in SUITE_TABLE}
_WOLF_NAME = {s.iana: s.openssl for s in SUITE_TABLE}
_VERSIONS = {"SSLv3": ProtocolVersion.SSL3, "TLSv1": ProtocolVersion.TLS1}


def load(prefix: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(prefix / "lib" / "libwolfssl.so"))
    p, i = ctypes.c_void_p, ctypes.c_int
    for name, res, args in (
        ("wolfSSL_Init", i, []),
        ("wolfTLSv1_client_method", p, []),
        ("wolfSSL_CTX_new", p, [p]),
        ("wolfSSL_CTX_free", None, [p]),
        ("wolfSSL_CTX_SetMinVersion", i, [p, i]),
        ("wolfSSL_CTX_set_cipher_list", i, [p, ctypes.c_char_p]),
        ("wolfSSL_CTX_load_verify_buffer", i, [p, ctypes.c_char_p, ctypes.c_long, i]),
        ("wolfSSL_CTX_set_verify", None, [p, i, p]),
        ("wolfSSL_CTX_SetIORecv", None, [p, _IO]),
        ("wolfSSL_CTX_SetIOSend", None, [p, _IO]),
        ("wolfSSL_new", p, [p]),
        ("wolfSSL_free", None, [p]),
        ("wolfSSL_connect", i, [p]),
        ("wolfSSL_read", i, [p, ctypes.c_char_p, i]),
        ("wolfSSL_write", i, [p, ctypes.c_char_p, i]),
        ("wolfSSL_shutdown", i, [p]),
        ("wolfSSL_get_error", i, [p, i]),
        ("wolfSSL_ERR_error_string", ctypes.c_char_p, [ctypes.c_ulong, ctypes.c_char_p]),
        ("wolfSSL_get_version", ctypes.c_char_p, [p]),
        ("wolfSSL_get_cipher_name", ctypes.c_char_p, [p]),
        ("wolfSSL_get_peer_chain", p, [p]),
        ("wolfSSL_get_chain_cert", p, [p, i]),
        ("wolfSSL_get_chain_length", i, [p, i]),
        ("wolfSSL_lib_version", ctypes.c_char_p, []),
    ):
        func = getattr(lib, name)
        func.restype, func.argtypes = res, args
    lib.wolfSSL_Init()
    return lib


class WolfSSLEngine(CallbackBuffers):
    def __init__(self, lib: ctypes.CDLL, config: EngineConfig) -> None:
        super().__init__()
        self._lib = lib
        if not config.versions or not config.suites:
            raise EngineError(Failure.HANDSHAKE, "no version or suite in common with the profile")
        method = lib.wolfTLSv1_client_method()
        if ProtocolVersion.SSL3 in config.versions:
            # WOLFSSL_METHOD is {ProtocolVersion version (2 bytes); byte side; byte downgrade}.
            ctypes.c_uint8.from_address(method + 3).value = 1
        self._ctx = lib.wolfSSL_CTX_new(method)
        if ProtocolVersion.SSL3 in config.versions:
            lib.wolfSSL_CTX_SetMinVersion(self._ctx, 0)  # WOLFSSL_SSLV3
        names = ":".join(_WOLF_NAME[s] for s in config.suites).encode()
        if lib.wolfSSL_CTX_set_cipher_list(self._ctx, names) != 1:
            raise EngineError(Failure.HANDSHAKE, f"wolfSSL refuses the suites {names.decode()}")
        if config.verify:
            for pem in config.trusted_cas:
                if lib.wolfSSL_CTX_load_verify_buffer(self._ctx, pem, len(pem), _PEM) != 1:
                    raise EngineError(Failure.HANDSHAKE, "wolfSSL cannot load the CA")
            lib.wolfSSL_CTX_set_verify(self._ctx, _VERIFY_PEER_AND_FAIL, None)
        else:
            lib.wolfSSL_CTX_set_verify(self._ctx, 0, None)
        # The callbacks live as long as the engine (ctypes frees a collected CFUNCTYPE).
        self._recv_cb, self._send_cb = _IO(self._recv), _IO(self._send)
        lib.wolfSSL_CTX_SetIORecv(self._ctx, self._recv_cb)
        lib.wolfSSL_CTX_SetIOSend(self._ctx, self._send_cb)
        self._ssl = lib.wolfSSL_new(self._ctx)

    def _recv(self, _ssl: int, buf: int, size: int, _ctx: int) -> int:
        return self.take(buf, size, _WANT_IO)

    def _send(self, _ssl: int, buf: int, size: int, _ctx: int) -> int:
        return self.put(buf, size)

    def _error(self, ret: int) -> tuple[int, str]:
        err = self._lib.wolfSSL_get_error(self._ssl, ret)
        text = ctypes.create_string_buffer(80)
        self._lib.wolfSSL_ERR_error_string(err & 0xFFFFFFFF, text)
        return err, f"wolfSSL error {err}: {text.value.decode(errors='replace')}"

    def handshake(self) -> bool:
        ret = self._lib.wolfSSL_connect(self._ssl)
        if ret == 1:
            return True
        err, text = self._error(ret)
        if err in (_ERROR_WANT_READ, _ERROR_WANT_WRITE):
            return False
        raise EngineError(Failure.HANDSHAKE, text)

    def read(self) -> bytes | None:
        buf = ctypes.create_string_buffer(16384 + 2048)
        ret = self._lib.wolfSSL_read(self._ssl, buf, len(buf))
        if ret > 0:
            return buf.raw[:ret]
        err, text = self._error(ret)
        if err in (_ERROR_WANT_READ, _ERROR_WANT_WRITE):
            return None
        if err == _ERROR_ZERO_RETURN or ret == 0:
            raise EngineError(Failure.CLOSED, f"wolfSSL_read returned {ret} ({text})")
        raise EngineError(Failure.ALERT if err == _FATAL_ALERT else Failure.BAD_RECORD, text)

    def write(self, data: bytes) -> None:
        ret = self._lib.wolfSSL_write(self._ssl, data, len(data))
        if ret != len(data):
            raise EngineError(Failure.BAD_RECORD, self._error(ret)[1])

    def shutdown(self) -> None:
        self._lib.wolfSSL_shutdown(self._ssl)

    def free(self) -> None:
        if self._ssl:
            self._lib.wolfSSL_free(self._ssl)
            self._lib.wolfSSL_CTX_free(self._ctx)
            self._ssl = self._ctx = None

    @property
    def version(self) -> ProtocolVersion:
        return _VERSIONS[self._lib.wolfSSL_get_version(self._ssl).decode()]

    @property
    def cipher(self) -> str:
        name = self._lib.wolfSSL_get_cipher_name(self._ssl).decode()
        return _BY_NAME.get(name, name)

    @property
    def peer_cert_der(self) -> bytes:
        chain = self._lib.wolfSSL_get_peer_chain(self._ssl)
        if not chain:
            return b""
        size = self._lib.wolfSSL_get_chain_length(chain, 0)
        return ctypes.string_at(self._lib.wolfSSL_get_chain_cert(chain, 0), size)


@dataclass
class WolfSSLFactory:
    name: str
    prefix: Path
    versions: tuple[ProtocolVersion, ...] = (ProtocolVersion.SSL3, ProtocolVersion.TLS1)
    suites: tuple[str, ...] = W24_SUITES  # the build script enables RC4, 3DES and static RSA
    _lib: ctypes.CDLL | None = field(default=None, repr=False)

    def connect(self, config: EngineConfig) -> Engine:
        if self._lib is None:
            self._lib = load(self.prefix)
        return WolfSSLEngine(self._lib, config)
