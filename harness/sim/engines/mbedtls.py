"""mbed TLS 2.x (a cached build, see build.py) as the client, through ctypes and BIO callbacks.

Configured as a firmware author would: mbedtls_ssl_config_defaults(CLIENT, STREAM, DEFAULT), then
versions 3.0..3.1 (SSL 3.0 .. TLS 1.0) as the profile allows, the W24 suites by id, the AT+iCA=
PEMs as the CA chain, MBEDTLS_SSL_VERIFY_REQUIRED, no mbedtls_ssl_set_hostname (no name check,
no SNI), and a certificate profile allowing MD5/SHA-1 and RSA >= 1024 (the default profile of
2.x wants SHA-2, which a 2008 chain does not have: see the notes on python-mbedtls), and RC4
enabled with mbedtls_ssl_conf_arc4_support (2.x's run-time default leaves it off).

The contexts are opaque structs of a size only the C compiler knows; each gets a 64 KB buffer
(larger than any of them in 2.x), which the library's *_init functions set up.
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

_SEND = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_RECV = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_WANT_READ, _WANT_WRITE = -0x6900, -0x6880
_PEER_CLOSE_NOTIFY, _FATAL_ALERT = -0x7880, -0x7780
_CONTEXT_BYTES = 65536
_MINOR = {ProtocolVersion.SSL3: 0, ProtocolVersion.TLS1: 1}
_VERSIONS = {"SSLv3.0": ProtocolVersion.SSL3, "TLSv1.0": ProtocolVersion.TLS1}
_CODE = {s.iana: s.code for s in SUITE_TABLE}


class _CrtProfile(ctypes.Structure):
    _fields_ = [
        ("allowed_mds", ctypes.c_uint32),
        ("allowed_pks", ctypes.c_uint32),
        ("allowed_curves", ctypes.c_uint32),
        ("rsa_min_bitlen", ctypes.c_uint32),
    ]


class _Buf(ctypes.Structure):  # mbedtls_x509_buf
    _fields_ = [("tag", ctypes.c_int), ("len", ctypes.c_size_t), ("p", ctypes.c_void_p)]


class _CrtHead(ctypes.Structure):  # the first fields of mbedtls_x509_crt (2.x)
    _fields_ = [("own_buffer", ctypes.c_int), ("raw", _Buf)]


# MD5 (3) .. SHA-512 (8) as MBEDTLS_X509_ID_FLAG(id) = 1 << (id - 1); every key type and curve.
_PROFILE = _CrtProfile(sum(1 << (md - 1) for md in range(3, 9)), 0x0FFFFFFF, 0x0FFFFFFF, 1024)


def load(prefix: Path) -> ctypes.CDLL:
    lib_dir = prefix / "lib"
    # libmbedtls needs the other two by soname; loaded first, they satisfy it.
    ctypes.CDLL(str(lib_dir / "libmbedcrypto.so"), mode=ctypes.RTLD_GLOBAL)
    ctypes.CDLL(str(lib_dir / "libmbedx509.so"), mode=ctypes.RTLD_GLOBAL)
    lib = ctypes.CDLL(str(lib_dir / "libmbedtls.so"), mode=ctypes.RTLD_GLOBAL)
    p, i, z = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t
    for name, res, args in (
        ("mbedtls_ssl_init", None, [p]),
        ("mbedtls_ssl_config_init", None, [p]),
        ("mbedtls_x509_crt_init", None, [p]),
        ("mbedtls_ctr_drbg_init", None, [p]),
        ("mbedtls_entropy_init", None, [p]),
        ("mbedtls_ctr_drbg_seed", i, [p, p, p, p, z]),
        ("mbedtls_ssl_config_defaults", i, [p, i, i, i]),
        ("mbedtls_ssl_conf_rng", None, [p, p, p]),
        ("mbedtls_ssl_conf_min_version", None, [p, i, i]),
        ("mbedtls_ssl_conf_max_version", None, [p, i, i]),
        ("mbedtls_ssl_conf_ciphersuites", None, [p, p]),
        ("mbedtls_x509_crt_parse", i, [p, ctypes.c_char_p, z]),
        ("mbedtls_ssl_conf_ca_chain", None, [p, p, p]),
        ("mbedtls_ssl_conf_authmode", None, [p, i]),
        ("mbedtls_ssl_conf_cert_profile", None, [p, p]),
        ("mbedtls_ssl_conf_arc4_support", None, [p, ctypes.c_char]),
        ("mbedtls_ssl_setup", i, [p, p]),
        ("mbedtls_ssl_set_bio", None, [p, p, _SEND, _RECV, p]),
        ("mbedtls_ssl_handshake", i, [p]),
        ("mbedtls_ssl_read", i, [p, ctypes.c_char_p, z]),
        ("mbedtls_ssl_write", i, [p, ctypes.c_char_p, z]),
        ("mbedtls_ssl_close_notify", i, [p]),
        ("mbedtls_ssl_get_version", ctypes.c_char_p, [p]),
        ("mbedtls_ssl_get_ciphersuite", ctypes.c_char_p, [p]),
        ("mbedtls_ssl_get_peer_cert", p, [p]),
        ("mbedtls_strerror", None, [i, ctypes.c_char_p, z]),
        ("mbedtls_ssl_free", None, [p]),
        ("mbedtls_ssl_config_free", None, [p]),
        ("mbedtls_x509_crt_free", None, [p]),
        ("mbedtls_ctr_drbg_free", None, [p]),
        ("mbedtls_entropy_free", None, [p]),
    ):
        func = getattr(lib, name)
        func.restype, func.argtypes = res, args
    return lib


class MbedTLSEngine(CallbackBuffers):
    def __init__(self, lib: ctypes.CDLL, config: EngineConfig) -> None:
        super().__init__()
        self._lib = lib
        if not config.versions or not config.suites:
            raise EngineError(Failure.HANDSHAKE, "no version or suite in common with the profile")
        new = lambda: ctypes.create_string_buffer(_CONTEXT_BYTES)  # noqa: E731
        self._ssl, self._conf, self._crt, self._drbg, self._entropy = (new() for _ in range(5))
        lib.mbedtls_ssl_init(self._ssl)
        lib.mbedtls_ssl_config_init(self._conf)
        lib.mbedtls_x509_crt_init(self._crt)
        lib.mbedtls_ctr_drbg_init(self._drbg)
        lib.mbedtls_entropy_init(self._entropy)
        self._live = True
        entropy_func = ctypes.cast(lib.mbedtls_entropy_func, ctypes.c_void_p)
        if lib.mbedtls_ctr_drbg_seed(self._drbg, entropy_func, self._entropy, None, 0):
            raise EngineError(Failure.HANDSHAKE, "mbedtls_ctr_drbg_seed failed")
        conf = self._conf
        if lib.mbedtls_ssl_config_defaults(conf, 0, 0, 0):  # CLIENT, STREAM, PRESET_DEFAULT
            raise EngineError(Failure.HANDSHAKE, "mbedtls_ssl_config_defaults failed")
        lib.mbedtls_ssl_conf_rng(
            conf, ctypes.cast(lib.mbedtls_ctr_drbg_random, ctypes.c_void_p), self._drbg
        )
        minors = sorted(_MINOR[v] for v in config.versions)
        lib.mbedtls_ssl_conf_min_version(conf, 3, minors[0])
        lib.mbedtls_ssl_conf_max_version(conf, 3, minors[-1])
        self._suites = (ctypes.c_int * (len(config.suites) + 1))(
            *(_CODE[s] for s in config.suites), 0
        )
        lib.mbedtls_ssl_conf_ciphersuites(conf, self._suites)
        # 2.x refuses RC4 at run time unless asked (its default is MBEDTLS_SSL_ARC4_DISABLED).
        lib.mbedtls_ssl_conf_arc4_support(conf, b"\0")  # MBEDTLS_SSL_ARC4_ENABLED
        lib.mbedtls_ssl_conf_cert_profile(conf, ctypes.byref(_PROFILE))
        if config.verify:
            for pem in config.trusted_cas:
                text = pem + b"\0"  # PEM input is NUL-terminated, the NUL counted
                if lib.mbedtls_x509_crt_parse(self._crt, text, len(text)) != 0:
                    raise EngineError(Failure.HANDSHAKE, "mbed TLS cannot parse the CA")
            lib.mbedtls_ssl_conf_ca_chain(conf, self._crt, None)
            lib.mbedtls_ssl_conf_authmode(conf, 2)  # MBEDTLS_SSL_VERIFY_REQUIRED
        else:
            lib.mbedtls_ssl_conf_authmode(conf, 0)
        if lib.mbedtls_ssl_setup(self._ssl, conf):
            raise EngineError(Failure.HANDSHAKE, "mbedtls_ssl_setup failed")
        self._send_cb, self._recv_cb = _SEND(self._send), _RECV(self._recv)
        lib.mbedtls_ssl_set_bio(self._ssl, None, self._send_cb, self._recv_cb, None)

    def _recv(self, _ctx: int, buf: int, size: int) -> int:
        return self.take(buf, size, _WANT_READ)

    def _send(self, _ctx: int, buf: int, size: int) -> int:
        return self.put(buf, size)

    def _text(self, ret: int) -> str:
        buf = ctypes.create_string_buffer(200)
        self._lib.mbedtls_strerror(ret, buf, len(buf))
        return f"mbed TLS -0x{-ret:04X}: {buf.value.decode(errors='replace')}"

    def handshake(self) -> bool:
        ret = self._lib.mbedtls_ssl_handshake(self._ssl)
        if ret == 0:
            return True
        if ret in (_WANT_READ, _WANT_WRITE):
            return False
        raise EngineError(Failure.HANDSHAKE, self._text(ret))

    def read(self) -> bytes | None:
        buf = ctypes.create_string_buffer(16384 + 2048)
        ret = self._lib.mbedtls_ssl_read(self._ssl, buf, len(buf))
        if ret > 0:
            return buf.raw[:ret]
        if ret in (_WANT_READ, _WANT_WRITE):
            return None
        if ret == 0:
            # Documented: "0 if the read end of the underlying transport was closed".
            raise EngineError(Failure.CLOSED, "mbedtls_ssl_read returned 0 (transport closed)")
        if ret == _PEER_CLOSE_NOTIFY:
            raise EngineError(Failure.CLOSED, self._text(ret))
        kind = Failure.ALERT if ret == _FATAL_ALERT else Failure.BAD_RECORD
        raise EngineError(kind, self._text(ret))

    def write(self, data: bytes) -> None:
        ret = self._lib.mbedtls_ssl_write(self._ssl, data, len(data))
        if ret != len(data):
            raise EngineError(Failure.BAD_RECORD, self._text(ret) if ret < 0 else "short write")

    def shutdown(self) -> None:
        self._lib.mbedtls_ssl_close_notify(self._ssl)

    def free(self) -> None:
        if self._live:
            self._live = False
            lib = self._lib
            lib.mbedtls_ssl_free(self._ssl)
            lib.mbedtls_ssl_config_free(self._conf)
            lib.mbedtls_x509_crt_free(self._crt)
            lib.mbedtls_ctr_drbg_free(self._drbg)
            lib.mbedtls_entropy_free(self._entropy)

    @property
    def version(self) -> ProtocolVersion:
        return _VERSIONS[self._lib.mbedtls_ssl_get_version(self._ssl).decode()]

    @property
    def cipher(self) -> str:
        return self._lib.mbedtls_ssl_get_ciphersuite(self._ssl).decode().replace("-", "_")

    @property
    def peer_cert_der(self) -> bytes:
        crt = self._lib.mbedtls_ssl_get_peer_cert(self._ssl)
        if not crt:
            return b""
        head = _CrtHead.from_address(crt)
        return ctypes.string_at(head.raw.p, head.raw.len)


@dataclass
class MbedTLSFactory:
    name: str
    prefix: Path
    versions: tuple[ProtocolVersion, ...] = (ProtocolVersion.SSL3, ProtocolVersion.TLS1)
    suites: tuple[str, ...] = W24_SUITES  # build.py turns RC4 and 3DES suites back on
    _lib: ctypes.CDLL | None = field(default=None, repr=False)

    def connect(self, config: EngineConfig) -> Engine:
        if self._lib is None:
            self._lib = load(self.prefix)
        return MbedTLSEngine(self._lib, config)
