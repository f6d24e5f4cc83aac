"""Local TLS servers against real clients: Python ssl, the openssl command line, tlslite-ng."""

from __future__ import annotations

import os
import select
import socket
import ssl
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from tlslite.constants import AlertDescription
from tlslite.errors import TLSAbruptCloseError, TLSLocalAlert, TLSRemoteAlert
from tlslite_client import TlsliteClient

from w24_harness.profiles.table import SSL3, TLS1, W24_SUITES
from w24_harness.servers import (
    ServerConfig,
    StaticCert,
    TLSServer,
    payload,
    sha256_hex,
)
from w24_harness.tlsfacts import RECORD_PLAINTEXT_FITS_ANY_LIMIT

pytestmark = pytest.mark.timeout(30)

AES128 = "TLS_RSA_WITH_AES_128_CBC_SHA"
AES256 = "TLS_RSA_WITH_AES_256_CBC_SHA"
RC4_SHA = "TLS_RSA_WITH_RC4_128_SHA"
RC4_MD5 = "TLS_RSA_WITH_RC4_128_MD5"
ECDHE_AES128 = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"


@dataclass
class Pki:
    ca: trustme.CA
    leaf: StaticCert
    chained_leaf: StaticCert  # signed by an intermediate that the server must send
    ca_pem: str


def _static(issued: trustme.LeafCert) -> StaticCert:
    pems = [blob.bytes() for blob in issued.cert_chain_pems]
    return StaticCert(pems[0], issued.private_key_pem.bytes(), b"".join(pems[1:]))


@pytest.fixture(scope="module")
def pki() -> Pki:
    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    leaf = ca.issue_cert("localhost", key_type=trustme.KeyType.RSA)
    intermediate = ca.create_child_ca(key_type=trustme.KeyType.RSA)
    chained = intermediate.issue_cert("localhost", key_type=trustme.KeyType.RSA)
    return Pki(ca, _static(leaf), _static(chained), ca.cert_pem.bytes().decode())


@pytest.fixture(scope="module")
def small_legacy_leaf(tmp_path_factory: pytest.TempPathFactory) -> StaticCert:
    """A self-signed RSA-512 / SHA-1 leaf, which cryptography refuses to make."""
    workdir = tmp_path_factory.mktemp("legacy")
    key, cert = workdir / "key.pem", workdir / "cert.pem"
    subprocess.run(
        ["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:512", "-sha1", "-nodes",
         "-subj", "/CN=localhost", "-days", "30", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=20,
    )  # fmt: skip
    return StaticCert(cert.read_bytes(), key.read_bytes())


@pytest.fixture
def serve(pki: Pki) -> Iterator:
    """serve(**config) -> a started TLSServer with the module's leaf; stopped at teardown."""
    servers: list[TLSServer] = []

    def start(**kwargs: object) -> TLSServer:
        kwargs.setdefault("cert", pki.leaf)
        server = TLSServer(ServerConfig(**kwargs))  # type: ignore[arg-type]
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# -- clients ---------------------------------------------------------------------------


def ssl_client_context(pki: Pki, ciphers: str, max_version: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = max_version
    ctx.set_ciphers(ciphers + ":@SECLEVEL=0")
    ctx.load_verify_locations(cadata=pki.ca_pem)
    return ctx


def ssl_connect(server: TLSServer, ctx: ssl.SSLContext, timeout: float = 5.0) -> ssl.SSLSocket:
    raw = socket.create_connection(server.address, timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def recv_exactly(sock: ssl.SSLSocket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


# -- payload ---------------------------------------------------------------------------


def test_payload_is_deterministic_seeded_prefix_stable_and_fast() -> None:
    assert payload(1000, seed=3) == payload(1000, seed=3)
    assert payload(1000, seed=3) != payload(1000, seed=4)
    assert payload(5000)[:1000] == payload(1000)
    assert payload(0) == b""
    assert sha256_hex(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    started = time.perf_counter()
    big = payload(4 << 20, seed=1)
    assert len(big) == 4 << 20
    assert time.perf_counter() - started < 0.5
    assert len(set(big[:4096])) > 200  # not a constant fill


# -- openssl backend -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suite", "openssl_name"), [(AES128, "AES128-SHA"), (AES256, "AES256-SHA")]
)
def test_openssl_tls10_transfers_both_ways(serve, pki: Pki, suite: str, openssl_name: str) -> None:
    server = serve(backend="openssl", suites=(suite,), send_on_connect=5000, seed=7)
    ctx = ssl_client_context(pki, openssl_name, ssl.TLSVersion.TLSv1)
    upload = payload(3000, seed=99)
    with ssl_connect(server, ctx) as sock:
        assert sock.version() == "TLSv1"
        received = recv_exactly(sock, 5000)
        sock.sendall(upload)
    report = server.wait_closed()
    assert sha256_hex(received) == sha256_hex(payload(5000, seed=7))
    assert report.handshake_ok and report.version == "TLS1.0" and report.cipher == suite
    # The default cap fits the W24's 2 KB limit however it counts (plaintext or wire).
    assert report.bytes_out == 5000 and report.max_record_out == RECORD_PLAINTEXT_FITS_ANY_LIMIT
    assert report.bytes_in == 3000 and report.sha256_in == sha256_hex(upload)
    assert report.closed_by == "client" and report.error is None


def test_wait_bytes_in_returns_once_the_bytes_are_in(serve, pki: Pki) -> None:
    server = serve(backend="openssl", suites=(AES128,))
    ctx = ssl_client_context(pki, "AES128-SHA", ssl.TLSVersion.TLSv1)
    upload = payload(3000, seed=5)
    with ssl_connect(server, ctx) as sock:
        sock.sendall(upload)
        # The client is still connected: only the byte count can end this wait.
        report = server.wait_bytes_in(len(upload), timeout=10.0)
        assert report.bytes_in == len(upload) and not report.finished
        assert report.sha256_in == sha256_hex(upload)


@pytest.mark.timeout(30)
def test_wait_bytes_in_ends_when_the_connection_does(serve, pki: Pki) -> None:
    # Fewer bytes than asked, then the client goes: the wait ends with the connection (the
    # test's timeout is under the wait's), and the report says how much came.
    server = serve(backend="openssl", suites=(AES128,))
    ctx = ssl_client_context(pki, "AES128-SHA", ssl.TLSVersion.TLSv1)
    with ssl_connect(server, ctx) as sock:
        sock.sendall(b"abc")
    report = server.wait_bytes_in(10, timeout=60.0)
    assert report.finished and report.bytes_in == 3


def test_openssl_record_cap_counted_by_client_and_no_empty_fragments(serve) -> None:
    server = serve(backend="openssl", send_on_connect=10_000, record_cap=2048)
    client = TlsliteClient(server, TLS1, AES128).handshake()
    assert client.read_exactly(10_000) == payload(10_000)
    client.close()
    assert client.app_records_in == [2048, 2048, 2048, 2048, 1808]
    report = server.wait_closed()
    assert report.records_out == 5 and report.max_record_out == 2048


def test_openssl_sends_intermediate_chain(serve, pki: Pki) -> None:
    server = serve(backend="openssl", cert=pki.chained_leaf)
    ctx = ssl_client_context(pki, "AES128-SHA", ssl.TLSVersion.TLSv1)
    with ssl_connect(server, ctx) as sock:  # verifies against the root only
        assert sock.version() == "TLSv1"
    assert server.wait_closed().handshake_ok


def test_openssl_s_client_tls1(serve, pki: Pki, tmp_path: Path) -> None:
    server = serve(backend="openssl", send_on_connect=3000, seed=5)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(pki.ca_pem)
    command = [
        "/usr/bin/openssl", "s_client", "-tls1", "-cipher", "AES128-SHA:@SECLEVEL=0",
        "-connect", f"{server.host}:{server.port}", "-CAfile", str(ca_file),
        "-verify_return_error", "-verify_hostname", "localhost",
        "-quiet", "-no_ign_eof", "-nocommands",
    ]  # fmt: skip
    message = b"hello from s_client\n" * 50
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        received = _read_pipe(proc.stdout.fileno(), 3000, timeout=10)
        proc.stdin.write(message)
        proc.stdin.flush()
        deadline = time.monotonic() + 10
        report = server.wait_for_connection()
        while report.bytes_in < len(message) and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.stdin.close()  # -no_ign_eof: EOF on stdin ends the session
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    assert received == payload(3000, seed=5)
    report = server.wait_closed()
    assert report.version == "TLS1.0" and report.cipher == AES128
    assert report.sha256_in == sha256_hex(message)


def _read_pipe(fd: int, n: int, timeout: float) -> bytes:
    data = bytearray()
    deadline = time.monotonic() + timeout
    while len(data) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            break
        chunk = os.read(fd, n - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def test_tls12_only_server_rejects_tls10_client(serve, pki: Pki) -> None:
    server = serve(backend="openssl", versions=("TLS1.2",))
    ctx = ssl_client_context(pki, "AES128-SHA", ssl.TLSVersion.TLSv1)
    with pytest.raises(ssl.SSLError):
        ssl_connect(server, ctx)
    report = server.wait_closed()
    assert not report.handshake_ok
    assert report.error is not None and "UNSUPPORTED_PROTOCOL" in report.error
    # Control: the same server accepts a TLS 1.2 client.
    ok_ctx = ssl_client_context(pki, "AES128-SHA", ssl.TLSVersion.TLSv1_2)
    with ssl_connect(server, ok_ctx) as sock:
        assert sock.version() == "TLSv1.2"
    assert server.wait_closed().version == "TLS1.2"


def test_ecdhe_only_server_rejects_rsa_key_exchange_client(serve, pki: Pki) -> None:
    server = serve(backend="openssl", suites=(ECDHE_AES128,))
    client = TlsliteClient(server, TLS1, AES128, kex="rsa")
    with pytest.raises(TLSRemoteAlert) as excinfo:
        client.handshake()
    client.sock.close()
    assert excinfo.value.description == AlertDescription.handshake_failure
    report = server.wait_closed()
    assert not report.handshake_ok and "NO_SHARED_CIPHER" in (report.error or "")
    # Control: a client offering ECDHE gets through.
    ctx = ssl_client_context(pki, "ECDHE-RSA-AES128-SHA", ssl.TLSVersion.TLSv1)
    with ssl_connect(server, ctx):
        pass
    assert server.wait_closed().cipher == ECDHE_AES128


@pytest.mark.parametrize("backend", ["openssl", "tlslite"])
def test_reports_alert_from_client_that_rejects_the_ca(serve, backend: str) -> None:
    server = serve(backend=backend)
    other_ca = trustme.CA(key_type=trustme.KeyType.RSA)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("AES128-SHA:@SECLEVEL=0")
    ctx.load_verify_locations(cadata=other_ca.cert_pem.bytes().decode())
    with pytest.raises(ssl.SSLCertVerificationError):
        ssl_connect(server, ctx)
    report = server.wait_closed()
    assert not report.handshake_ok
    assert report.alert_received == "unknown_ca" and report.closed_by == "client"


def test_openssl_idle_timeout_drops_connection(serve, pki: Pki) -> None:
    server = serve(backend="openssl", idle_timeout_s=0.3)
    ctx = ssl_client_context(pki, "AES128-SHA", ssl.TLSVersion.TLSv1)
    with ssl_connect(server, ctx) as sock:
        report = server.wait_closed(timeout=3)
        assert report.closed_by == "timeout" and report.handshake_ok
        assert sock.recv(10) == b""


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"suites": (RC4_SHA,)}, "tlslite"),
        ({"suites": ("TLS_RSA_WITH_3DES_EDE_CBC_SHA",)}, "tlslite"),
        ({"versions": (SSL3, TLS1)}, "SSL 3.0"),
        ({"misbehaviour": "tamper"}, "tlslite"),
        ({"versions": ("TLS9.9",)}, "unknown protocol version"),
        ({"suites": ("TLS_NO_SUCH_SUITE",)}, "no OpenSSL name"),
        ({"backend": "gnutls"}, "unknown backend"),
        ({"backend": "tlslite", "suites": (ECDHE_AES128,)}, "only the W24 suites"),
        ({"backend": "tlslite", "suites": (RC4_MD5, AES128)}, "also enabling"),
        ({"backend": "tlslite", "misbehaviour": "explode"}, "unknown misbehaviour"),
    ],
)
def test_unsupported_configs_raise_value_error(pki: Pki, changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TLSServer(ServerConfig(cert=pki.leaf, **changes))


# -- tlslite backend -------------------------------------------------------------------


@pytest.mark.parametrize("suite", W24_SUITES)
@pytest.mark.parametrize("version", [SSL3, TLS1])
def test_tlslite_every_w24_suite_and_version(serve, version: str, suite: str) -> None:
    server = serve(backend="tlslite", versions=(SSL3, TLS1), suites=(suite,), send_on_connect=3000)
    client = TlsliteClient(server, version, suite).handshake()
    assert client.read_exactly(3000) == payload(3000)
    upload = payload(700, seed=2)
    client.conn.write(upload)
    client.close()
    report = server.wait_closed()
    assert report.handshake_ok and report.version == version and report.cipher == suite
    cap = RECORD_PLAINTEXT_FITS_ANY_LIMIT  # the default record cap
    assert client.app_records_in == [cap, 3000 - cap]
    assert report.sha256_in == sha256_hex(upload) and report.bytes_in == 700
    assert report.closed_by == "client" and report.error is None


def test_tlslite_record_cap_for_10k(serve) -> None:
    server = serve(backend="tlslite", send_on_connect=10_240, record_cap=2048)
    client = TlsliteClient(server, TLS1, AES128).handshake()
    assert client.read_exactly(10_240) == payload(10_240)
    client.close()
    assert client.app_records_in == [2048] * 5  # no 1/n-1 split either
    report = server.wait_closed()
    assert report.records_out == 5 and report.max_record_out == 2048


def test_tlslite_echo_respects_record_cap(serve) -> None:
    server = serve(backend="tlslite", echo=True, record_cap=1000)
    client = TlsliteClient(server, TLS1, RC4_SHA).handshake()
    upload = payload(2500, seed=11)
    client.conn.write(upload)
    assert client.read_exactly(2500) == upload
    client.close()
    assert max(client.app_records_in) <= 1000 and sum(client.app_records_in) == 2500
    report = server.wait_closed()
    assert report.bytes_in == report.bytes_out == 2500


def test_tlslite_sends_intermediate_chain(serve, pki: Pki) -> None:
    server = serve(backend="tlslite", cert=pki.chained_leaf)
    client = TlsliteClient(server, TLS1, AES128).handshake()
    assert client.conn.session.serverCertChain.getNumCerts() == 2
    client.close()


def test_ssl3_only_server_accepts_tls10_hello_at_ssl3(serve) -> None:
    server = serve(backend="tlslite", versions=(SSL3,), send_on_connect=10)
    client = TlsliteClient(server, TLS1, AES128)
    client.settings.minVersion = (3, 0)
    client.handshake()
    assert client.conn.version == (3, 0)
    client.close()
    assert server.wait_closed().version == SSL3


@pytest.mark.parametrize("backend", ["openssl", "tlslite"])
def test_serves_512_bit_sha1_leaf(serve, small_legacy_leaf: StaticCert, backend: str) -> None:
    server = serve(backend=backend, cert=small_legacy_leaf, send_on_connect=100)
    client = TlsliteClient(server, TLS1, AES128)
    client.settings.minKeySize = 512
    client.handshake()
    assert client.conn.session.serverCertChain.x509List[0].publicKey.n.bit_length() == 512
    assert client.read_exactly(100) == payload(100)
    client.close()
    assert server.wait_closed().handshake_ok


@pytest.mark.parametrize("suite", [AES128, RC4_MD5])
def test_tamper_breaks_the_first_application_record(serve, suite: str) -> None:
    server = serve(backend="tlslite", suites=(suite,), misbehaviour="tamper", send_on_connect=500)
    client = TlsliteClient(server, TLS1, suite).handshake()
    with pytest.raises(TLSLocalAlert) as excinfo:
        client.conn.read()
    client.sock.close()
    assert excinfo.value.description == AlertDescription.bad_record_mac
    assert client.app_records_in == []  # nothing was delivered
    report = server.wait_closed()
    assert report.misbehaved == "tamper" and report.records_out == 1
    assert report.alert_received == "bad_record_mac" and report.closed_by == "client"


def test_close_mid_handshake(serve) -> None:
    server = serve(backend="tlslite", misbehaviour="close_mid_handshake")
    client = TlsliteClient(server, TLS1, AES128)
    with pytest.raises((TLSAbruptCloseError, ConnectionError)):
        client.handshake()
    client.sock.close()
    report = server.wait_closed()
    assert report.misbehaved == "close_mid_handshake" and report.closed_by == "server"
    assert not report.handshake_ok


def test_stall_client_times_out(serve) -> None:
    server = serve(backend="tlslite", misbehaviour="stall")
    client = TlsliteClient(server, TLS1, AES128, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        client.handshake()
    assert 0.25 < time.monotonic() - started < 2
    assert server.wait_for_connection().misbehaved == "stall"
    client.sock.close()
    report = server.wait_closed()
    assert report.closed_by == "client" and not report.handshake_ok


def test_stall_server_drops_at_idle_timeout(serve) -> None:
    server = serve(backend="tlslite", misbehaviour="stall", idle_timeout_s=0.3)
    client = TlsliteClient(server, TLS1, AES128, timeout=5)
    with pytest.raises(TLSAbruptCloseError):
        client.handshake()
    client.sock.close()
    assert server.wait_closed().closed_by == "timeout"


def test_oversize_record(serve) -> None:
    server = serve(backend="tlslite", misbehaviour="oversize_record", send_on_connect=6000)
    client = TlsliteClient(server, TLS1, AES128).handshake()
    assert client.read_exactly(6000) == payload(6000)
    client.close()
    assert client.app_records_in == [4096, 1904]
    report = server.wait_closed()
    assert report.misbehaved == "oversize_record" and report.max_record_out == 4096


# -- lifecycle -------------------------------------------------------------------------


def test_stop_is_prompt_with_a_stalled_connection(pki: Pki) -> None:
    server = TLSServer(ServerConfig(cert=pki.leaf, backend="tlslite", misbehaviour="stall"))
    with server:
        client = TlsliteClient(server, TLS1, AES128, timeout=5)
        client.sock.sendall(b"\x16\x03\x01\x00\x01\x01")  # a (tiny) first record
        server.wait_for_connection()
        time.sleep(0.1)
        started = time.monotonic()
    assert time.monotonic() - started < 1.0
    assert server._thread is not None and not server._thread.is_alive()
    assert server.connections[0].closed_by == "server" and server.connections[0].finished
    client.sock.close()
    with pytest.raises(OSError):
        socket.create_connection(server.address, timeout=1).close()


def test_connections_are_served_in_order_and_waits_time_out(serve, pki: Pki) -> None:
    server = serve(backend="openssl")
    with pytest.raises(TimeoutError):
        server.wait_for_connection(timeout=0.1)
    ctx = ssl_client_context(pki, "AES128-SHA", ssl.TLSVersion.TLSv1)
    ports = []
    for _ in range(2):
        with ssl_connect(server, ctx) as sock:
            ports.append(sock.getsockname()[1])
        server.wait_closed()
    assert [r.peer[1] for r in server.connections] == ports
    assert server.wait_for_connection(2) is server.connections[1]


@pytest.mark.parametrize("backend", ["openssl", "tlslite"])
def test_handshake_time(serve, backend: str) -> None:
    server = serve(backend=backend)
    for _ in range(5):
        TlsliteClient(server, TLS1, AES128).handshake().close()
        server.wait_closed()
    times = sorted(r.handshake_s or 0.0 for r in server.connections)
    print(f"{backend} server handshake median {times[2] * 1000:.1f} ms")
    assert 0 < times[2] < 1.0


def test_openssl_server_can_demand_a_client_certificate(tmp_path):
    """client_ca_pem: a client without a certificate is refused, one with a CA-signed one is not."""
    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    leaf = ca.issue_cert("localhost", key_type=trustme.KeyType.RSA)
    cert = StaticCert(leaf.cert_chain_pems[0].bytes(), leaf.private_key_pem.bytes())
    config = ServerConfig(cert=cert, client_ca_pem=ca.cert_pem.bytes())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("AES128-SHA:@SECLEVEL=0")
    ca.configure_trust(ctx)
    with TLSServer(config) as server:
        with pytest.raises((ssl.SSLError, ConnectionError)), ssl_connect(server, ctx) as sock:
            sock.recv(1)  # the server's refusal arrives after the client's Finished
        assert server.wait_closed().handshake_ok is False
    client = ca.issue_cert("device", key_type=trustme.KeyType.RSA)
    client.configure_cert(ctx)
    with TLSServer(config) as server:
        with ssl_connect(server, ctx) as sock:
            sock.sendall(b"x")
        assert server.wait_closed().handshake_ok is True


def test_tlslite_backend_refuses_client_auth():
    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    leaf = ca.issue_cert("localhost", key_type=trustme.KeyType.RSA)
    cert = StaticCert(leaf.cert_chain_pems[0].bytes(), leaf.private_key_pem.bytes())
    with pytest.raises(ValueError, match="openssl"):
        TLSServer(ServerConfig(cert=cert, backend="tlslite", client_ca_pem=ca.cert_pem.bytes()))
