"""The engine front end (w24_harness.sim.engines): the module's rules around a real stack.

Driven with the `openssl` engine (the system OpenSSL, always present) against a Python ssl
server on 127.0.0.1; the built stacks (wolfSSL, mbed TLS, old tlslite-ng) are exercised by
tests/sim/test_engines_matrix.py when they are in the cache.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import trustme

from w24_harness.at.codes import ResultCode
from w24_harness.cli.sim import main as sim_main
from w24_harness.profiles.table import W24
from w24_harness.scenarios import SCENARIOS
from w24_harness.sim.engines import EngineUnavailable, factory, profile_for, resolve
from w24_harness.sim.engines import build as engines_build
from w24_harness.sim.engines.channel import EngineChannel
from w24_harness.sim.tls_engine import PeerClosed, SSLFailure
from w24_harness.suites.conftest import _lacking
from w24_harness.tlsfacts import ProtocolVersion

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # ssl.TLSVersion.TLSv1
]
AES128 = "TLS_RSA_WITH_AES_128_CBC_SHA"


@pytest.fixture(scope="module")
def pki() -> tuple[trustme.CA, trustme.LeafCert]:
    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    return ca, ca.issue_cert("localhost", key_type=trustme.KeyType.RSA)


@contextmanager
def tls1_server(
    leaf: trustme.LeafCert, serve: Callable[[ssl.SSLSocket], None]
) -> Iterator[tuple[str, int]]:
    """A TLS 1.0 AES128-SHA server on 127.0.0.1 that runs `serve` on its one connection."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("AES128-SHA:@SECLEVEL=0")
    leaf.configure_cert(ctx)
    listener = socket.create_server(("127.0.0.1", 0))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            conn, _ = listener.accept()
            conn.settimeout(10)
            with ctx.wrap_socket(conn, server_side=True) as tls:
                serve(tls)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()
    finally:
        thread.join(10)
        listener.close()
    assert not errors, errors


def _connect(address: tuple[str, int], ca: trustme.CA) -> EngineChannel:
    sock = socket.create_connection(address, timeout=5)
    made = factory("openssl")
    assert made is not None
    profile = profile_for(W24, "openssl")
    return EngineChannel.handshake(made, sock, profile, [ca.cert_pem.bytes()])


def _pump_until(channel: EngineChannel, want: int) -> bytes:
    got = b""
    for _ in range(200):
        got += channel.pump(16384)
        if len(got) >= want:
            break
        threading.Event().wait(0.01)
    return got


def test_openssl_profile_has_only_what_the_build_has():
    made = factory("openssl")
    assert made is not None
    profile = profile_for(W24, "openssl")
    # This OpenSSL has no SSL 3.0 (ssl.HAS_SSLv3) and no RC4 or 3DES: the profile must not
    # claim them, or the sanity handshake would pick RC4-MD5 and call the device wedged.
    assert ProtocolVersion.SSL3 not in profile.protocols or ssl.HAS_SSLv3
    assert set(profile.cipher_suites) == set(made.suites) & set(W24.cipher_suites)
    assert profile.cipher_suites[0] in made.suites
    assert profile.extras["engine"] == made.name


def test_no_ca_is_222_before_any_byte(pki):
    ca, leaf = pki
    listener = socket.create_server(("127.0.0.1", 0))
    sock = socket.create_connection(listener.getsockname(), timeout=5)
    server_side, _ = listener.accept()
    made = factory("openssl")
    assert made is not None
    with pytest.raises(SSLFailure) as failure:
        EngineChannel.handshake(made, sock, profile_for(W24, "openssl"), [])
    assert failure.value.code == ResultCode.SSL_NO_CA
    server_side.settimeout(0.2)
    with pytest.raises(TimeoutError):
        server_side.recv(1)  # no ClientHello went out
    server_side.close()
    listener.close()
    sock.close()


def test_wrong_ca_is_220(pki):
    _, leaf = pki
    other = trustme.CA(key_type=trustme.KeyType.RSA)

    def serve(tls: ssl.SSLSocket) -> None:
        pass  # the handshake fails on the client side; wrap_socket raises, reported below

    with pytest.raises(SSLFailure) as failure, tls1_server(leaf, serve) as address:
        _connect(address, other)
    assert failure.value.code == ResultCode.SSL_NEGOTIATION
    assert "CERTIFICATE_VERIFY_FAILED" in failure.value.reason


def test_record_over_2k_is_226_after_the_data_before_it(pki):
    ca, leaf = pki
    done = threading.Event()

    def serve(tls: ssl.SSLSocket) -> None:
        tls.sendall(b"a" * 2048)  # one record at the module's limit
        tls.sendall(b"b" * 2049)  # one record a byte over
        done.wait(5)

    with tls1_server(leaf, serve) as address:
        channel = _connect(address, ca)
        assert channel.version == "TLS1.0" and channel.cipher == AES128
        assert _pump_until(channel, 2048) == b"a" * 2048
        with pytest.raises(SSLFailure) as failure:
            _pump_until(channel, 1)
        done.set()
    assert failure.value.code == ResultCode.SSL_RECORD_TOO_BIG
    assert channel.closed


def test_close_notify_is_203_after_the_data(pki):
    ca, leaf = pki

    def serve(tls: ssl.SSLSocket) -> None:
        tls.sendall(b"hello")
        tls.unwrap()  # close_notify, then the client's answer

    with tls1_server(leaf, serve) as address:
        channel = _connect(address, ca)
        assert _pump_until(channel, 5) == b"hello"
        with pytest.raises(PeerClosed) as closed:
            _pump_until(channel, 1)
    assert closed.value.code == ResultCode.SOCKET_DOWN


def test_send_is_one_record_the_server_reads(pki):
    ca, leaf = pki
    got: list[bytes] = []

    def serve(tls: ssl.SSLSocket) -> None:
        got.append(tls.recv(4096))

    with tls1_server(leaf, serve) as address:
        channel = _connect(address, ca)
        channel.send(b"x" * 2048)
    channel.close()
    assert got == [b"x" * 2048]


def test_unknown_or_unbuilt_engine_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("W24_ENGINES_CACHE", str(tmp_path))
    with pytest.raises(EngineUnavailable, match="unknown engine"):
        resolve("boringssl")
    with pytest.raises(EngineUnavailable, match="engines.build wolfssl-9.9.9"):
        resolve("wolfssl-9.9.9")
    with pytest.raises(EngineUnavailable, match="w24-test engines"):
        resolve("mbedtls")
    assert sim_main(["--tcp", "127.0.0.1:0", "--engine", "mbedtls"]) == 2
    assert "no mbedtls build" in capsys.readouterr().err


def test_build_names_the_missing_toolchain(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("W24_ENGINES_CACHE", str(tmp_path))
    monkeypatch.setattr(engines_build.shutil, "which", lambda tool: None)
    monkeypatch.setattr(engines_build, "ensure_deb_src", lambda archive=False: None)
    assert engines_build.main(["wolfssl-5.7.2", "nosuch-1.0"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "wolfssl-5.7.2: missing toolchain: apt-get install apt autoconf automake gcc libtool make",
        "nosuch-1.0: unknown build 'nosuch-1.0': want wolfssl-X.Y.Z, mbedtls-X.Y.Z or "
        "tlslite-X.Y.Z",
    ]


def test_rows_needing_what_the_engine_lacks_are_not_run():
    profile = profile_for(W24, "openssl")
    by_id = {s.id: s for s in SCENARIOS}
    if "TLS_RSA_WITH_3DES_EDE_CBC_SHA" not in profile.cipher_suites:
        assert "has none of" in _lacking(by_id["rec-bad-mac-3des"], profile)
    if ProtocolVersion.SSL3 not in profile.protocols:
        assert "SSL3.0" in _lacking(by_id["rec-ssl3-zero-padding-aes128"], profile)
    assert _lacking(by_id["rec-bad-mac-aes128"], profile) == ""
    # On the full W24 profile (the default simulator) nothing is skipped.
    assert not [s.id for s in SCENARIOS if _lacking(s, W24)]


def test_faults_inside_the_own_client_are_refused_on_a_real_stack(capsys):
    # padding_unchecked breaks the simulator's own record check: a real stack has no such
    # switch, so the run would silently test nothing.
    assert (
        sim_main(["--tcp", "127.0.0.1:0", "--engine", "openssl", "--fault", "padding_unchecked"])
        == 2
    )
    assert "padding_unchecked need --engine tlslite" in capsys.readouterr().err


def test_record_limit_in_handshake_is_226_when_the_profile_says_so(pki):
    ca, _ = pki
    # leaf + two intermediates: a Certificate message (one record) over 2048 bytes.
    rsa = trustme.KeyType.RSA
    middle = ca.create_child_ca(key_type=rsa).create_child_ca(key_type=rsa)
    chained = middle.issue_cert("localhost", key_type=rsa)
    made = factory("openssl")
    assert made is not None
    profile = profile_for(W24, "openssl").with_changes(record_limit_in_handshake=True)

    def serve(tls: ssl.SSLSocket) -> None:
        pass

    with pytest.raises(SSLFailure) as failure, tls1_server(chained, serve) as address:
        sock = socket.create_connection(address, timeout=5)
        EngineChannel.handshake(made, sock, profile, [ca.cert_pem.bytes()])
    assert failure.value.code == ResultCode.SSL_RECORD_TOO_BIG
