"""SecureChannel against real peers: OpenSSL (Python ssl, TLS 1.0) and tlslite-ng (SSL 3.0, TLS 1.0,
fault injection). Each test opens a TCP pair on 127.0.0.1, runs the server side of the handshake in
a thread, and then drives the server directly from the test body.
"""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import algos, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from tlslite.api import HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey
from tlslite.constants import AlertDescription
from tlslite.errors import TLSAbruptCloseError, TLSRemoteAlert
from tlslite.messages import HelloRequest

from w24_harness.at.codes import ResultCode
from w24_harness.profiles.table import SSL3, TLS1, W24, W24_SUITES, DeviceProfile
from w24_harness.sim.faults import Faults
from w24_harness.sim.tls_engine import PeerClosed, SecureChannel, SSLFailure
from w24_harness.tlsaccel import cipher as fastcipher
from w24_harness.vocab import Renegotiation

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # ssl.TLSVersion.TLSv1
]

DER, PEM = serialization.Encoding.DER, serialization.Encoding.PEM
TLSLITE = {  # IANA name -> (tlslite cipher, tlslite MAC)
    "TLS_RSA_WITH_RC4_128_MD5": ("rc4", "md5"),
    "TLS_RSA_WITH_RC4_128_SHA": ("rc4", "sha"),
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": ("3des", "sha"),
    "TLS_RSA_WITH_AES_128_CBC_SHA": ("aes128", "sha"),
    "TLS_RSA_WITH_AES_256_CBC_SHA": ("aes256", "sha"),
}
RC4_SHA, AES128 = "TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA"


# ---- PKI: a SHA-1 CA and leaf as a 2008 module expects them, made once ----------------------


def _sign(builder: x509.CertificateBuilder, signer: rsa.RSAPrivateKey) -> x509.Certificate:
    """Sign with SHA-256 (all cryptography allows), then re-sign the TBS with SHA-1."""
    asn = asn1_x509.Certificate.load(builder.sign(signer, hashes.SHA256()).public_bytes(DER))
    sha1_rsa = algos.SignedDigestAlgorithm({"algorithm": "sha1_rsa", "parameters": core.Null()})
    asn["tbs_certificate"]["signature"] = sha1_rsa
    asn["signature_algorithm"] = sha1_rsa
    tbs = asn["tbs_certificate"].dump(force=True)
    asn["signature_value"] = signer.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    return x509.load_der_x509_certificate(asn.dump(force=True))


def _cert(cn: str, key: rsa.RSAPrivateKey, issuer: tuple[x509.Name, rsa.RSAPrivateKey] | None):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0] if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2040, 1, 1, tzinfo=UTC))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        san = x509.SubjectAlternativeName([x509.DNSName("localhost")])
        builder = builder.add_extension(san, False)
    return _sign(builder, issuer[1] if issuer else key)


@dataclass(frozen=True)
class Pki:
    ca_pem: bytes
    other_ca_pem: bytes
    leaf_der: bytes
    leaf_pem: str
    key_pem: str
    cert_file: Path
    key_file: Path


_FILES = tempfile.TemporaryDirectory(prefix="w24-engine-")  # removed at interpreter exit


@cache
def pki() -> Pki:
    new_key = lambda bits: rsa.generate_private_key(public_exponent=65537, key_size=bits)  # noqa: E731
    ca_key, other_key, leaf_key = new_key(2048), new_key(1024), new_key(2048)
    ca = _cert("W24 Test CA", ca_key, None)
    other = _cert("Other CA", other_key, None)
    leaf = _cert("localhost", leaf_key, (ca.subject, ca_key))
    key_pem = leaf_key.private_bytes(
        PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    folder = Path(_FILES.name)  # Python ssl loads the server identity from files
    cert_file, key_file = folder / "leaf.pem", folder / "leaf.key"
    cert_file.write_bytes(leaf.public_bytes(PEM))
    key_file.write_text(key_pem)
    return Pki(
        ca.public_bytes(PEM),
        other.public_bytes(PEM),
        leaf.public_bytes(DER),
        leaf.public_bytes(PEM).decode(),
        key_pem,
        cert_file,
        key_file,
    )


# ---- peers ------------------------------------------------------------------------------------


@contextmanager
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(device side, server side) of one loopback TCP connection."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=5)
        server, _ = listener.accept()
    server.settimeout(5)
    server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls
    try:
        yield client, server
    finally:
        client.close()
        server.close()


class Background:
    """Run one server-side call in a thread; `result()` joins and re-raises its exception."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self._box: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self._box["value"] = call()
        except BaseException as exc:  # handed to the test thread
            self._box["error"] = exc

    def result(self) -> Any:
        self._thread.join(10)
        assert not self._thread.is_alive(), "server thread still running"
        if "error" in self._box:
            raise self._box["error"]
        return self._box.get("value")


class WireTap:
    """Socket wrapper under a tlslite server: can hold back or corrupt what the server sends."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.hold = False
        self.held = bytearray()
        self.corrupt_next = False

    def _out(self, data: bytes) -> bytes | None:
        if self.hold:
            self.held += data
            return None
        if self.corrupt_next:
            self.corrupt_next = False
            data = bytes(data[:-1]) + bytes([data[-1] ^ 0x01])
        return data

    def send(self, data: bytes) -> int:
        out = self._out(data)
        if out is not None:
            self._sock.sendall(out)
        return len(data)

    def sendall(self, data: bytes) -> None:
        self.send(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def tlslite_settings(versions: tuple[tuple[int, int], ...], suites: tuple[str, ...]):
    settings = HandshakeSettings()
    settings.minVersion, settings.maxVersion = min(versions), max(versions)
    settings.cipherNames = sorted({TLSLITE[s][0] for s in suites})
    settings.macNames = sorted({TLSLITE[s][1] for s in suites})
    settings.keyExchangeNames = ["rsa"]
    settings.useExtendedMasterSecret = False
    settings.useEncryptThenMAC = False
    return settings


def tlslite_server(sock: Any, versions=((3, 0), (3, 1)), suites=tuple(W24_SUITES)) -> Background:
    fastcipher.install()
    chain = X509CertChain()
    chain.parsePemList(pki().leaf_pem)
    key = parsePEMKey(pki().key_pem, private=True)
    conn = TLSConnection(sock)

    def run() -> TLSConnection:
        conn.handshakeServer(
            certChain=chain, privateKey=key, settings=tlslite_settings(versions, suites)
        )
        return conn

    return Background(run)


def openssl_server(sock: socket.socket, version: ssl.TLSVersion, ciphers: str) -> Background:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ctx.maximum_version = version
    ctx.set_ciphers(ciphers + ":@SECLEVEL=0")  # before load_cert_chain, or the chain is refused
    ctx.load_cert_chain(pki().cert_file, pki().key_file)
    tls = ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)

    def run() -> ssl.SSLSocket:
        tls.do_handshake()
        return tls

    return Background(run)


def handshake(client: socket.socket, profile=W24, cas=None, **kwargs: Any) -> SecureChannel:
    trusted = [pki().ca_pem] if cas is None else cas
    return SecureChannel.handshake(client, profile, trusted, **kwargs)


def receive(channel: SecureChannel, size: int, timeout: float = 5.0) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < size and time.monotonic() < deadline:
        chunk = channel.pump(65536)
        data += chunk
        if not chunk:
            time.sleep(0.002)
    return data


def wait_for_wire(client: socket.socket, size: int, timeout: float = 5.0) -> None:
    """Wait until `size` bytes sit in the device socket's kernel buffer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(client.recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT)) >= size:
                return
        except BlockingIOError:
            pass
        time.sleep(0.002)
    raise AssertionError(f"{size} bytes never arrived")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- acceptance and data ------------------------------------------------------------------------


@pytest.mark.parametrize("suite", W24_SUITES)
@pytest.mark.parametrize("version", [SSL3, TLS1])
def test_tlslite_server_every_suite_and_version(version: str, suite: str) -> None:
    wire_version = {SSL3: (3, 0), TLS1: (3, 1)}[version]
    up, down = os.urandom(3000), os.urandom(5000)
    with tcp_pair() as (client, server_sock):
        server = tlslite_server(server_sock, (wire_version,), (suite,))
        channel = handshake(client)
        conn = server.result()
        assert (channel.version, channel.cipher) == (version, suite)
        assert channel.server_cert_der == pki().leaf_der
        channel.send(up[:2048])
        channel.send(up[2048:])
        assert sha(conn.read(max=3000, min=3000)) == sha(up)
        for start in range(0, len(down), 2048):  # the device takes records of <= 2 KB
            conn.write(down[start : start + 2048])
        assert sha(receive(channel, len(down))) == sha(down)
        channel.close()
        assert channel.closed


@pytest.mark.parametrize(
    "openssl_cipher, suite",
    [("AES128-SHA", AES128), ("AES256-SHA", "TLS_RSA_WITH_AES_256_CBC_SHA")],
)
def test_openssl_tls10_server_accepts_and_moves_data(openssl_cipher: str, suite: str) -> None:
    up, down = os.urandom(4096), os.urandom(6000)
    with tcp_pair() as (client, server_sock):
        server = openssl_server(server_sock, ssl.TLSVersion.TLSv1, openssl_cipher)
        channel = handshake(client)
        tls = server.result()
        assert (channel.version, channel.cipher) == (TLS1, suite)
        assert tls.version() == "TLSv1" and tls.cipher()[0] == openssl_cipher
        channel.send(up[:2048])
        channel.send(up[2048:])
        got = b""
        while len(got) < len(up):
            got += tls.recv(65536)
        assert sha(got) == sha(up)
        for start in range(0, len(down), 2048):
            tls.sendall(down[start : start + 2048])
        assert sha(receive(channel, len(down))) == sha(down)
        channel.close()
        assert tls.recv(10) == b""  # our close_notify reached OpenSSL as an orderly close


def test_openssl_server_with_wrong_ca_is_220_and_server_sees_unknown_ca() -> None:
    with tcp_pair() as (client, server_sock):
        server = openssl_server(server_sock, ssl.TLSVersion.TLSv1, "AES128-SHA")
        with pytest.raises(SSLFailure) as caught:
            handshake(client, cas=[pki().other_ca_pem])
        assert caught.value.code == ResultCode.SSL_NEGOTIATION
        assert "not signed by a trusted CA: issuer CN=W24 Test CA" in caught.value.reason
        with pytest.raises(ssl.SSLError, match="(?i)unknown.ca"):
            server.result()
    assert client.fileno() == -1  # a failed handshake closes the socket


def test_no_ca_is_222_and_leaves_the_socket_untouched() -> None:
    with tcp_pair() as (client, server_sock):
        with pytest.raises(SSLFailure) as caught:
            SecureChannel.handshake(client, W24, [])
        assert caught.value.code == ResultCode.SSL_NO_CA
        client.sendall(b"plain")  # still open, nothing sent before
        assert server_sock.recv(100) == b"plain"


def test_verify_false_accepts_any_certificate_even_without_a_ca() -> None:
    with tcp_pair() as (client, server_sock):
        server = tlslite_server(server_sock)
        channel = SecureChannel.handshake(client, W24, [], verify=False)
        server.result()
        assert channel.server_cert_der == pki().leaf_der


def test_tlslite_server_sees_unknown_ca_before_any_key_exchange() -> None:
    with tcp_pair() as (client, server_sock):
        server = tlslite_server(server_sock)
        with pytest.raises(SSLFailure) as caught:
            handshake(client, cas=[pki().other_ca_pem])
        assert caught.value.code == ResultCode.SSL_NEGOTIATION
        with pytest.raises(TLSRemoteAlert) as alert:
            server.result()
        assert alert.value.description == AlertDescription.unknown_ca


def test_hostname_mismatch_is_220_when_the_profile_checks_it() -> None:
    with tcp_pair() as (client, server_sock):
        server = tlslite_server(server_sock)
        with pytest.raises(SSLFailure) as caught:
            handshake(client, W24.with_changes(check_hostname=True), server_hostname="else.test")
        assert caught.value.code == ResultCode.SSL_NEGOTIATION
        assert "SAN names localhost; the host is else.test" in caught.value.reason
        with pytest.raises(TLSRemoteAlert):
            server.result()


# ---- what the device offers ----------------------------------------------------------------------


def _hello_then_hang_up(faults: Faults | None = None) -> tuple[bytes, SSLFailure]:
    """The ClientHello the device sends, and its failure when the server then hangs up."""
    with tcp_pair() as (client, server_sock):
        got: dict[str, bytes] = {}

        def read_hello_and_hang_up() -> None:
            got["hello"] = server_sock.recv(4096)
            server_sock.close()

        server = Background(read_hello_and_hang_up)
        with pytest.raises(SSLFailure) as caught:
            handshake(client, faults=faults)
        server.result()
    return got["hello"], caught.value


def test_client_hello_is_a_2008_hello_and_early_close_is_220() -> None:
    hello, failure = _hello_then_hang_up()
    assert failure.code == ResultCode.SSL_NEGOTIATION
    assert "closed the connection mid-handshake" in failure.reason
    assert hello[0] == 22 and hello[5] == 1  # handshake record, ClientHello
    body = hello[9:]
    assert body[:2] == b"\x03\x01"  # hello_version TLS1.0
    assert body[34] == 0  # empty session id: no resumption
    suites_len = int.from_bytes(body[35:37], "big")
    suites = [int.from_bytes(body[37 + i : 39 + i], "big") for i in range(0, suites_len, 2)]
    assert suites == [0x0004, 0x0005, 0x000A, 0x002F, 0x0035]  # exactly the profile, no SCSV
    assert body[37 + suites_len :] == b"\x01\x00"  # null compression, then no extensions at all


def test_the_compression_fault_offers_deflate_then_null() -> None:
    hello, _ = _hello_then_hang_up(Faults(hello_offers_compression=True))
    body = hello[9:]
    suites_len = int.from_bytes(body[35:37], "big")
    assert body[37 + suites_len :] == b"\x02\x01\x00"  # two methods: DEFLATE, null


def test_server_choosing_ssl3_is_refused_by_a_tls1_only_profile() -> None:
    with tcp_pair() as (client, server_sock):
        server = tlslite_server(server_sock, ((3, 0),))
        with pytest.raises(SSLFailure) as caught:
            handshake(client, W24.with_changes(protocols=(TLS1,)))
        with pytest.raises(TLSRemoteAlert):
            server.result()
    assert caught.value.reason == "server chose SSL3.0, profile allows TLS1.0"


def test_ssl3_only_profile_negotiates_ssl3() -> None:
    with tcp_pair() as (client, server_sock):
        server = tlslite_server(server_sock)
        profile = W24.with_changes(protocols=(SSL3,), hello_version=SSL3)
        channel = handshake(client, profile)
        server.result()
        assert channel.version == SSL3


def test_tls12_only_openssl_server_is_220() -> None:
    with tcp_pair() as (client, server_sock):
        server = openssl_server(server_sock, ssl.TLSVersion.TLSv1_2, "AES128-SHA")
        with pytest.raises(SSLFailure) as caught:
            handshake(client)
        with pytest.raises(ssl.SSLError):
            server.result()
    assert caught.value.code == ResultCode.SSL_NEGOTIATION
    assert "protocol_version" in caught.value.reason


def test_no_common_suite_is_220() -> None:
    with tcp_pair() as (client, server_sock):
        server = tlslite_server(server_sock, suites=(RC4_SHA,))
        with pytest.raises(SSLFailure) as caught:
            handshake(client, W24.with_changes(cipher_suites=(AES128,)))
        with pytest.raises(Exception):  # noqa: B017 - tlslite's own "no shared cipher" error
            server.result()
    assert caught.value.code == ResultCode.SSL_NEGOTIATION
    assert "handshake_failure" in caught.value.reason


def test_oversize_handshake_record_is_226_when_the_limit_covers_the_handshake() -> None:
    small = W24.with_changes(max_record_plaintext=512)
    with tcp_pair() as (client, server_sock):
        server = tlslite_server(server_sock)
        channel = handshake(client, small)  # by default the handshake is buffered apart
        server.result()
        channel.close()
    with tcp_pair() as (client, server_sock):
        server = tlslite_server(server_sock)
        with pytest.raises(SSLFailure) as caught:
            handshake(client, small.with_changes(record_limit_in_handshake=True))
        with pytest.raises(TLSRemoteAlert):
            server.result()
    assert caught.value.code == ResultCode.SSL_RECORD_TOO_BIG  # the ~900-byte Certificate record


def test_stalled_server_times_out_with_220() -> None:
    with tcp_pair() as (client, _server_sock):
        started = time.monotonic()
        with pytest.raises(SSLFailure) as caught:
            handshake(client, timeout=0.3)
        elapsed = time.monotonic() - started
    assert caught.value.code == ResultCode.SSL_NEGOTIATION
    assert caught.value.reason.startswith("handshake timed out after 0.3 s")
    assert 0.3 <= elapsed < 2.0


# ---- records after the handshake -----------------------------------------------------------------


@contextmanager
def established(
    suite: str = RC4_SHA, profile: DeviceProfile = W24
) -> Iterator[tuple[SecureChannel, TLSConnection, WireTap, socket.socket]]:
    with tcp_pair() as (client, server_sock):
        tap = WireTap(server_sock)
        server = tlslite_server(tap, ((3, 1),), (suite,))
        channel = handshake(client, profile)
        yield channel, server.result(), tap, client


@pytest.mark.parametrize("suite", [RC4_SHA, AES128])
def test_tampered_record_is_224_and_the_server_gets_bad_record_mac(suite: str) -> None:
    with established(suite) as (channel, conn, tap, _client):
        tap.corrupt_next = True
        conn.write(b"hello device")
        with pytest.raises(SSLFailure) as caught:
            receive(channel, 12)
        assert caught.value.code == ResultCode.SSL_DECODE_ERROR
        with pytest.raises(TLSRemoteAlert) as alert:
            conn.read()
        assert alert.value.description == AlertDescription.bad_record_mac
        with pytest.raises(SSLFailure) as again:
            channel.pump(100)
        assert again.value.code == ResultCode.SSL_DECODE_ERROR
        with pytest.raises(SSLFailure) as send_failure:
            channel.send(b"x")
        assert send_failure.value.code == ResultCode.SOCKET_SEND_ERROR


def test_send_is_one_record_without_the_1_n_minus_1_split() -> None:
    """A 2008 client predates the BEAST countermeasure: 100 bytes of AES-CBC make one record."""
    with established(AES128) as (channel, conn, tap, _client):
        channel.send(b"x" * 100)
        deadline = time.monotonic() + 5
        wire = b""
        while len(wire) < 5 + 128 and time.monotonic() < deadline:
            wire = tap._sock.recv(4096, socket.MSG_PEEK)
        assert wire[:5] == b"\x17\x03\x01\x00\x80"  # one record: 100 + MAC 20 + padding 8
        assert len(wire) == 5 + 128
        assert conn.read(max=100, min=100) == b"x" * 100


def test_data_before_a_bad_record_is_delivered_first() -> None:
    with established() as (channel, conn, tap, client):
        conn.write(b"good")
        tap.corrupt_next = True
        conn.write(b"evil")
        wait_for_wire(client, 2 * (5 + 4 + 20))
        assert channel.pump(4096) == b"good"
        with pytest.raises(SSLFailure) as caught:
            channel.pump(4096)
        assert caught.value.code == ResultCode.SSL_DECODE_ERROR


@pytest.mark.parametrize(
    "suite, size, path",
    [
        (RC4_SHA, 4096, "cannot hold"),  # refused from the header, before decryption
        (RC4_SHA, 2049, "cannot hold"),
        (AES128, 4096, "cannot hold"),
        (
            AES128,
            2100,
            "more than 2048 bytes of plaintext",
        ),  # within the CBC overhead: decrypted, then refused
    ],
)
def test_oversize_record_is_226(suite: str, size: int, path: str) -> None:
    with established(suite) as (channel, conn, _tap, _client):
        conn.write(os.urandom(size))
        with pytest.raises(SSLFailure) as caught:
            receive(channel, size)
        assert caught.value.code == ResultCode.SSL_RECORD_TOO_BIG
        assert path in caught.value.reason
        with pytest.raises(TLSRemoteAlert) as alert:
            conn.read()
        assert alert.value.description == AlertDescription.record_overflow


def test_record_of_exactly_the_limit_is_accepted() -> None:
    with established(RC4_SHA) as (channel, conn, _tap, _client):
        data = os.urandom(2048)
        conn.write(data)
        assert receive(channel, 2048) == data


def test_orderly_close_gives_data_then_peer_closed() -> None:
    with established() as (channel, conn, _tap, client):
        conn.write(b"last words")
        conn.close()  # close_notify, then FIN
        wait_for_wire(client, 2 * 5 + 10 + 20 + 2 + 20)
        assert channel.pump(4096) == b"last words"
        with pytest.raises(PeerClosed):
            channel.pump(4096)
        assert channel.closed
        with pytest.raises(SSLFailure) as caught:
            channel.send(b"too late")
        assert caught.value.code == ResultCode.SOCKET_SEND_ERROR


@pytest.mark.parametrize("notify", [True, False], ids=["close_notify", "bare-fin"])
def test_host_close_sends_close_notify_as_the_profile_says(notify: bool) -> None:
    with established(profile=W24.with_changes(close_notify_on_scls=notify)) as (
        channel,
        conn,
        _tap,
        _client,
    ):
        channel.close()  # what AT+iSCLS does
        if notify:
            assert conn.read() == b""  # close_notify, then the FIN: an orderly end
        else:
            with pytest.raises(TLSAbruptCloseError):  # the FIN alone
                conn.read()


@pytest.mark.parametrize("value", list(Renegotiation), ids=[str(v) for v in Renegotiation])
def test_hello_request_is_handled_as_the_profile_says(value: Renegotiation) -> None:
    with established(profile=W24.with_changes(renegotiation=value)) as (
        channel,
        conn,
        _tap,
        _client,
    ):
        for _ in conn._sendMsg(HelloRequest().create()):
            pass
        conn.write(b"after")
        if value == Renegotiation.FAIL:
            with pytest.raises(SSLFailure) as caught:
                receive(channel, 5)
            assert caught.value.code == ResultCode.SSL_DECODE_ERROR
            with pytest.raises(TLSRemoteAlert) as fatal:
                conn.read()
            assert fatal.value.description == AlertDescription.unexpected_message
            return
        assert receive(channel, 5) == b"after"  # the session goes on
        channel.send(b"x")
        if value == Renegotiation.REFUSE:
            with pytest.raises(TLSRemoteAlert) as warning:  # tlslite raises on any warning
                conn.read()
            assert warning.value.description == AlertDescription.no_renegotiation
        else:
            assert conn.read(max=1, min=1) == b"x"  # no answer came before the data


@pytest.mark.parametrize("value", [Renegotiation.IGNORE, Renegotiation.REFUSE])
def test_the_hello_request_fault_loses_the_next_record_only(value: Renegotiation) -> None:
    faults = Faults(hello_request_drops_data=True)
    with tcp_pair() as (client, server_sock):
        tap = WireTap(server_sock)
        server = tlslite_server(tap, ((3, 1),), (RC4_SHA,))
        channel = handshake(client, W24.with_changes(renegotiation=value), faults=faults)
        conn = server.result()
        conn.write(b"before")
        assert receive(channel, 6) == b"before"  # untouched until a HelloRequest comes
        for _ in conn._sendMsg(HelloRequest().create()):
            pass
        conn.write(b"lost!")
        conn.write(b"after")
        assert receive(channel, 5) == b"after"  # the record behind the HelloRequest is gone


def test_tcp_eof_without_close_notify_gives_data_then_peer_closed() -> None:
    with established() as (channel, conn, tap, client):
        conn.write(b"abrupt")
        tap._sock.shutdown(socket.SHUT_WR)
        wait_for_wire(client, 5 + 6 + 20)
        time.sleep(0.05)  # let the FIN land behind the record
        assert channel.pump(4096) == b"abrupt"
        with pytest.raises(PeerClosed):
            channel.pump(4096)


def test_pump_returns_whole_records_up_to_max_bytes() -> None:
    with established() as (channel, conn, _tap, client):
        for fill in (b"a", b"b", b"c"):
            conn.write(fill * 1000)
        wait_for_wire(client, 3 * (5 + 1000 + 20))
        assert channel.pump(1500) == b"a" * 1000 + b"b" * 1000  # never splits a record
        assert channel.pump(1500) == b"c" * 1000
        assert channel.pump(1500) == b""


@pytest.mark.parametrize("suite", [AES128, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"])
def test_bulk_download_with_split_records_does_not_stall(suite: str) -> None:
    """Regression: holding a partial record in the kernel closed the loopback receive window
    (the server's 1/n-1 split makes many small segments) and both sides waited forever."""
    with established(suite) as (channel, conn, _tap, _client):
        data = os.urandom(2048 * 150)
        writer = Background(
            lambda: [conn.write(data[i : i + 2048]) for i in range(0, len(data), 2048)]
        )
        assert sha(receive(channel, len(data), timeout=10)) == sha(data)
        writer.result()


def test_pump_never_blocks_on_nothing_or_a_partial_record() -> None:
    with established() as (channel, conn, tap, client):
        started = time.monotonic()
        assert channel.pump(4096) == b""
        assert time.monotonic() - started < 0.5
        tap.hold = True
        conn.write(b"in two pieces")
        record = bytes(tap.held)
        assert len(record) == 5 + 13 + 20
        tap._sock.sendall(record[:5])  # the header alone
        wait_for_wire(client, 5)
        started = time.monotonic()
        assert channel.pump(4096) == b""
        tap._sock.sendall(record[5:20])  # part of the body
        wait_for_wire(client, 15)
        assert channel.pump(4096) == b""
        assert time.monotonic() - started < 0.5
        tap._sock.sendall(record[20:])
        wait_for_wire(client, len(record) - 20)
        assert channel.pump(4096) == b"in two pieces"


def test_empty_record_then_partial_record_is_resumed_not_lost() -> None:
    with established() as (channel, conn, tap, client):
        tap.hold = True
        conn.write(b"")
        conn.write(b"after empty")
        held = bytes(tap.held)
        empty_len = 5 + 20
        tap._sock.sendall(held[: empty_len + 3])  # the empty record and 3 header bytes
        wait_for_wire(client, empty_len + 3)
        assert channel.pump(4096) == b""
        tap._sock.sendall(held[empty_len + 3 :])
        assert receive(channel, 11) == b"after empty"
