"""Interop with real peers: the `openssl` command line as the in-house CA (spec §8.2) and as a
TLS 1.0 server, tlslite-ng as an SSL 3.0 server; the simulated W24 is driven through the W24
driver over a real pty.

How data is checked against `openssl s_server` without -www: s_server writes what the client
sends straight to its stdout (an unbuffered write), and sends each line written to its stdin to
the client. A reader thread gathers stdout; the test waits (bounded) for the device's bytes to
show up there, writes one newline-terminated line to stdin and polls the device until it has
exactly those bytes. The lines are longer than two characters on purpose: s_server reads short
lines such as "Q" or "R" as commands (quit, renegotiate).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from w24_harness.at.codes import DeviceError, ResultCode
from w24_harness.device.w24 import W24
from w24_harness.pki import check_ca_fit
from w24_harness.profiles.table import get_profile
from w24_harness.servers import ServerConfig, StaticCert, TLSServer
from w24_harness.sim.server import Simulator

pytestmark = pytest.mark.timeout(60)
assert (
    ResultCode.SSL_NEGOTIATION == 220
)  # the code the brief and the suites name for a refused handshake

OPENSSL = "/usr/bin/openssl"
W24_SCRIPT = Path(sys.executable).parent / "w24"
TLS1 = "-tls1"
# OpenSSL 3 refuses SHA-1 certificates and TLS 1.0 below security level 0.
AES128 = "AES128-SHA:@SECLEVEL=0"
AES256 = "AES256-SHA:@SECLEVEL=0"
GET = b"GET / HTTP/1.0\r\n\r\n"


@dataclass(frozen=True)
class OpensslPKI:
    """Files made by the openssl command line, the in-house-CA way of spec §8.2."""

    ca_pem: Path  # RSA-2048, SHA-1, self-signed; signed the server certificate
    other_ca_pem: Path  # RSA-1024, SHA-1: a valid CA that did not sign it
    server_crt: Path
    server_key: Path


def openssl(command: str, cwd: Path) -> None:
    """Run one `openssl ...` command line, written as a person would type it."""
    subprocess.run(
        [OPENSSL, *shlex.split(command)], cwd=cwd, check=True, capture_output=True, timeout=30
    )


def make_openssl_ca(workdir: Path, stem: str, bits: int, subject: str) -> Path:
    openssl(f"genrsa -out {stem}.key {bits}", workdir)
    openssl(f"req -new -x509 -key {stem}.key -sha1 -days 3650 -subj '{subject}' -out {stem}.pem",
            workdir)  # fmt: skip
    return workdir / f"{stem}.pem"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> OpensslPKI:
    workdir = tmp_path_factory.mktemp("openssl-pki")
    ca = make_openssl_ca(workdir, "ca", 2048, "/O=w24-harness interop/CN=openssl in-house CA")
    other = make_openssl_ca(workdir, "other", 1024, "/CN=some other openssl CA")
    openssl("req -new -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
            "-subj /CN=localhost", workdir)  # fmt: skip
    openssl("x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 "
            "-sha1 -out server.crt", workdir)  # fmt: skip
    for pem, bits in ((ca, 2048), (other, 1024)):
        report = check_ca_fit(pem.read_bytes(), get_profile("w24"))
        assert report.fits, report.lines()
        assert (report.key_bits, report.signature_hash) == (bits, "sha1")
    return OpensslPKI(ca, other, workdir / "server.crt", workdir / "server.key")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SServer:
    """`openssl s_server` on a free local port, its stdout (and stderr) gathered on a thread."""

    def __init__(self, *options: str, cwd: Path, start_timeout: float = 10.0) -> None:
        self.options = options
        self.cwd = cwd
        for _ in range(3):  # another process may take the free port before s_server binds it
            self._spawn()
            if self._wait_listening(start_timeout):
                return
            self.stop()
        raise RuntimeError(f"openssl s_server {' '.join(options)} did not start: {self.output}")

    def _spawn(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [OPENSSL, "s_server", *self.options, "-accept", str(self.port)],
            cwd=self.cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._out = bytearray()
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while chunk := os.read(self.proc.stdout.fileno(), 65536):
            with self._changed:
                self._out += chunk
                self._changed.notify_all()

    def _wait_listening(self, timeout: float) -> bool:
        # The probe is one extra connection that ends before a handshake; s_server logs it as
        # "unexpected eof" and goes back to accept(). Its "ACCEPT" line is stdio-buffered, so
        # a connect is the only prompt sign that it listens.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            except OSError:
                time.sleep(0.02)
                continue
            return self.proc.poll() is None  # the listener was ours, not a stranger's
        return False

    @property
    def output(self) -> str:
        with self._changed:
            return self._out.decode("latin-1")

    def wait_for(self, pattern: str, timeout: float = 5.0) -> str:
        """Wait until stdout matches the regex `pattern`; return the output so far."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: re.search(pattern, self._out.decode("latin-1")), timeout
            )
        if not found:
            message = f"s_server never printed /{pattern}/ in {timeout}s:\n{self.output}"
            raise AssertionError(message)
        return self.output

    def send_line(self, line: bytes) -> None:
        assert self.proc.stdin is not None and line.endswith(b"\n") and len(line) > 3
        self.proc.stdin.write(line)
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()  # type: ignore[union-attr]
        self._reader.join(timeout=5)
        self.proc.stdout.close()  # type: ignore[union-attr]


@pytest.fixture
def s_server() -> Iterator[Callable[..., SServer]]:
    """Start s_servers (`s_server(*options, cwd=dir)`); every one is stopped at teardown."""
    started: list[SServer] = []

    def start(*options: str, cwd: Path) -> SServer:
        server = SServer(*options, cwd=cwd)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def serve_openssl_cert(
    s_server: Callable[..., SServer], pki: OpensslPKI, *options: str, version: str = TLS1
) -> SServer:
    cert = ("-cert", str(pki.server_crt), "-key", str(pki.server_key))
    return s_server(version, *options, *cert, cwd=pki.server_crt.parent)


def expect_rejection(device: W24, port: int, code: int = ResultCode.SSL_NEGOTIATION) -> None:
    handle = device.open_tcp("127.0.0.1", port)
    with pytest.raises(DeviceError) as refused:
        device.start_ssl(handle)
    device.close_quietly(handle)
    assert refused.value.code == code


# ------------------------------------------------------------------------- openssl s_server


def test_www_page_over_tls1_aes128(
    sim_w24: W24, pki: OpensslPKI, s_server: Callable[..., SServer]
) -> None:
    server = serve_openssl_cert(s_server, pki, "-cipher", AES128, "-www")
    sim_w24.set_ca(pki.ca_pem.read_text())
    handle = sim_w24.open_tcp("127.0.0.1", server.port)
    sim_w24.start_ssl(handle)
    sim_w24.send(handle, GET)
    page = sim_w24.receive(handle, 1 << 20, timeout=5).decode("latin-1")  # until s_server closes
    assert page.startswith("HTTP/1.0 200 ok\r\n")
    assert "Cipher is AES128-SHA" in page
    assert re.search(r"Protocol\s*:\s*TLSv1\n", page)  # TLS 1.0 exactly, not TLSv1.x
    assert sim_w24.close(handle) == "DONE"


@pytest.mark.parametrize("cipher", [AES128, AES256], ids=["AES128-SHA", "AES256-SHA"])
def test_data_both_ways_with_plain_s_server(
    sim_w24: W24, pki: OpensslPKI, s_server: Callable[..., SServer], cipher: str
) -> None:
    server = serve_openssl_cert(s_server, pki, "-cipher", cipher)
    sim_w24.set_ca(pki.ca_pem.read_text())
    handle = sim_w24.open_tcp("127.0.0.1", server.port)
    sim_w24.start_ssl(handle)
    to_server = b"W24 to s_server: 0123456789 over TLS 1.0\n"
    sim_w24.send(handle, to_server)
    shown = server.wait_for(re.escape(to_server.decode()))
    assert f"CIPHER is {cipher.split(':')[0]}" in shown
    to_device = b"s_server to the W24: abcdefghij\n"
    server.send_line(to_device)
    assert sim_w24.receive(handle, len(to_device), timeout=5) == to_device
    assert sim_w24.close(handle) == "DONE"


def test_ca_that_did_not_sign_the_server_is_rejected_with_220(
    sim_w24: W24, pki: OpensslPKI, s_server: Callable[..., SServer]
) -> None:
    server = serve_openssl_cert(s_server, pki, "-cipher", AES128)
    sim_w24.set_ca(pki.other_ca_pem.read_text())
    expect_rejection(sim_w24, server.port)
    server.wait_for(r"alert unknown ca")  # the device said why, with a fatal alert


def test_tls1_2_only_server_is_rejected_with_220(
    sim_w24: W24, pki: OpensslPKI, s_server: Callable[..., SServer]
) -> None:
    server = serve_openssl_cert(s_server, pki, "-cipher", AES128, version="-tls1_2")
    sim_w24.set_ca(pki.ca_pem.read_text())
    expect_rejection(sim_w24, server.port)
    server.wait_for(r"unsupported protocol")


# ------------------------------------------------------------------- tlslite-ng, SSL 3.0


def ssl3_rc4_server(pki: OpensslPKI) -> TLSServer:
    cert = StaticCert(pki.server_crt.read_bytes(), pki.server_key.read_bytes())
    return TLSServer(
        ServerConfig(
            cert=cert,
            backend="tlslite",
            versions=("SSL3.0",),
            suites=("TLS_RSA_WITH_RC4_128_SHA",),
            echo=True,
        )
    )


def test_ssl3_tlslite_server_with_the_openssl_certificate(sim_w24: W24, pki: OpensslPKI) -> None:
    with ssl3_rc4_server(pki) as server:
        sim_w24.set_ca(pki.ca_pem.read_text())
        handle = sim_w24.open_tcp(*server.address)
        sim_w24.start_ssl(handle)
        data = bytes(range(256)) * 4
        sim_w24.send(handle, data)
        assert sim_w24.receive(handle, len(data), timeout=5) == data
        assert sim_w24.close(handle) == "DONE"
        seen = server.wait_closed(timeout=5)
    assert (seen.handshake_ok, seen.version, seen.cipher) == (
        True,
        "SSL3.0",
        "TLS_RSA_WITH_RC4_128_SHA",
    )
    assert seen.bytes_in == len(data) and seen.alert_received is None


def test_ssl3_tlslite_server_rejected_with_another_ca(sim_w24: W24, pki: OpensslPKI) -> None:
    with ssl3_rc4_server(pki) as server:
        sim_w24.set_ca(pki.other_ca_pem.read_text())
        expect_rejection(sim_w24, server.port)
        seen = server.wait_closed(timeout=5)
    # SSL 3.0 has no unknown_ca (RFC 6101 §5.4): its nearest is bad_certificate.
    assert not seen.handshake_ok and seen.alert_received == "bad_certificate"


# ----------------------------------------------------------- the certificate workflow


def w24_cli(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed `w24` console script; it must succeed."""
    done = subprocess.run(
        [str(W24_SCRIPT), *shlex.split(command)], cwd=cwd, capture_output=True, text=True,
        timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, f"w24 {command} -> {done.returncode}:\n{done.stderr}"
    return done


def test_certificate_workflow_w24_certs_then_w24_ca_load(
    tmp_path: Path,
    s_server: Callable[..., SServer],
    sim_start: Callable[..., Simulator],
    sim_open: Callable[..., W24],
) -> None:
    w24_cli("certs ca ca/", tmp_path)
    w24_cli("certs issue --ca ca/ --out srv/ localhost 127.0.0.1", tmp_path)
    pem = ("-cert", "srv/server.pem", "-key", "srv/server.key")
    server = s_server(TLS1, "-cipher", AES128, "-www", *pem, cwd=tmp_path)
    url = sim_start().url

    # Before the CA is loaded the module trusts nobody: the same server is refused (222).
    before = sim_open(url)
    expect_rejection(before, server.port, ResultCode.SSL_NO_CA)
    before.close_port()  # the pty serves one host at a time: let `w24 ca load` have it

    loaded = w24_cli(f"ca load ca/ca.pem --port {url}", tmp_path)
    assert "loaded" in loaded.stdout

    device = sim_open(url)
    handle = device.open_tcp("127.0.0.1", server.port)
    device.start_ssl(handle)
    device.send(handle, GET)
    page = device.receive(handle, 1 << 20, timeout=5)
    assert page.startswith(b"HTTP/1.0 200 ok") and b"Cipher is AES128-SHA" in page
    assert device.close(handle) == "DONE"
