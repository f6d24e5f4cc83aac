"""The simulator answers SSND once the bytes are in the socket's output buffer (IC832 13-8) and
sends them after the reply (SimDevice.defer_sends, set by every line session): the bytes still
reach the peer, in order, before anything the next command does; a send that fails after its
I/OK is the next SSND's error, never lost; and a reset TCP has already taken in refuses the
SSND at once, as a send into it would."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from tlslite.api import TLSConnection, X509CertChain

from w24_harness.at.codes import DeviceError, ResultCode
from w24_harness.at.commands import encode_ca
from w24_harness.at.reader import Command, CommandReader
from w24_harness.device.w24 import W24
from w24_harness.pki.sets import CertSets
from w24_harness.profiles.table import TLS1, get_profile
from w24_harness.servers import ServerConfig
from w24_harness.servers.tlslite_server import build_settings
from w24_harness.sim.device import SimDevice
from w24_harness.tlsaccel.rsa import parse_private_key

pytestmark = pytest.mark.timeout(30)


class Peer:
    """One accepted TCP connection the test reads from or resets by hand; with `tls`, the
    server side of a TLS 1.0 handshake runs on it first (tlslite-ng)."""

    def __init__(self, tls: Callable[[socket.socket], None] | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conn: socket.socket | None = None
        self._tls = tls
        self._accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        conn, _ = self.listener.accept()
        if self._tls is not None:
            self._tls(conn)
        self.conn = conn
        self._accepted.set()

    def accepted(self) -> socket.socket:
        assert self._accepted.wait(5), "the simulator never connected"
        assert self.conn is not None
        return self.conn

    def received(self, quiet_s: float = 0.1) -> bytes:
        conn = self.accepted()
        conn.settimeout(quiet_s)
        got = b""
        try:
            while chunk := conn.recv(65536):
                got += chunk
        except TimeoutError:
            pass
        return got

    def reset(self) -> None:
        """Close with RST (SO_LINGER 0), and give the simulator's TCP time to take it in."""
        conn = self.accepted()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        time.sleep(0.1)

    def close(self) -> None:
        self.listener.close()
        if self.conn is not None:
            self.conn.close()


@pytest.fixture
def peer() -> Iterator[Peer]:
    p = Peer()
    yield p
    p.close()


def parse(line: bytes) -> Command:
    """A complete command as the simulator's reader cuts it from the line."""
    reader = CommandReader(max_line=2048, host_data_timeout_s=1.0, ssnd_limit=lambda _h: None)
    items = reader.feed(line, time.monotonic())
    assert len(items) == 1 and isinstance(items[0], Command), items
    return items[0]


@pytest.fixture
def deferring() -> Iterator[Callable[[int], SimDevice]]:
    devices: list[SimDevice] = []

    def make(port: int) -> SimDevice:
        device = SimDevice(get_profile("w24"))
        device.defer_sends = True  # as LineSession sets it
        assert device.handle(parse(f"AT+iSTCP:127.0.0.1,{port}\r".encode())) == b"I/0\r\n"
        devices.append(device)
        return device

    yield make
    for device in devices:
        device.shutdown()


def ssnd(data: bytes) -> Command:
    return parse(b"AT+iSSND%:0," + str(len(data)).encode() + b":" + data)


def test_the_reply_comes_first_then_the_bytes_in_order(peer: Peer, deferring) -> None:
    device = deferring(peer.port)
    assert device.handle(ssnd(b"first ")) == b"I/OK\r\n"
    assert device.has_deferred
    assert peer.received() == b""  # answered, not yet sent
    device.run_deferred()
    assert not device.has_deferred
    assert device.handle(ssnd(b"second")) == b"I/OK\r\n"
    device.run_deferred()
    assert peer.received() == b"first second"


def test_a_send_failing_after_its_ok_is_the_next_ssnds_error(peer: Peer, deferring) -> None:
    device = deferring(peer.port)
    peer.accepted()
    assert device.handle(ssnd(b"answered")) == b"I/OK\r\n"
    peer.reset()  # after the I/OK, before the bytes go out
    device.run_deferred()  # the send fails: kept for the next SSND, not raised here
    assert device.internal_errors == 0
    assert device.handle(ssnd(b"next")) == b"I/ERROR(203)\r\n"
    # Reported once; the socket stays down, as after any failed send.
    assert device.handle(ssnd(b"again")) == b"I/ERROR(203)\r\n"
    assert device.handle(parse(b"AT+iSST:0\r")) == b"I/(-203)\r\n"


def test_an_ssl_send_failing_after_its_ok_is_the_next_ssnds_208() -> None:
    """The code the failing SSND itself gave before sends were deferred: 208, not the 203 of
    a socket merely down (which is what the SSND after that one gets)."""
    certs = CertSets(get_profile("w24"))
    valid = certs.get("valid")
    assert valid.server is not None and valid.ca_pem is not None
    server = valid.server
    settings = build_settings(ServerConfig(cert=server, backend="tlslite", versions=(TLS1,)))
    chain = X509CertChain()
    chain.parsePemList((server.cert_pem.rstrip(b"\n") + b"\n" + server.chain_pem).decode())
    key = parse_private_key(server.key_pem.decode())

    def handshake(conn: socket.socket) -> None:
        TLSConnection(conn).handshakeServer(certChain=chain, privateKey=key, settings=settings)

    peer = Peer(tls=handshake)
    device = SimDevice(get_profile("w24"))
    try:
        device.defer_sends = True
        assert device.handle(parse(encode_ca(valid.ca_pem.decode()))) == b"I/OK\r\n"
        assert device.handle(parse(f"AT+iSTCP:127.0.0.1,{peer.port}\r".encode())) == b"I/0\r\n"
        assert device.handle(parse(b"AT+iSSL:0\r")) == b"I/OK\r\n"
        peer.accepted()
        assert device.handle(ssnd(b"answered")) == b"I/OK\r\n"
        peer.reset()
        device.run_deferred()
        assert device.internal_errors == 0
        assert device.handle(ssnd(b"next")) == b"I/ERROR(208)\r\n"
        assert device.handle(ssnd(b"again")) == b"I/ERROR(203)\r\n"
    finally:
        device.shutdown()
        peer.close()


def test_a_reset_already_taken_in_refuses_the_ssnd_at_once(peer: Peer, deferring) -> None:
    device = deferring(peer.port)
    peer.reset()
    assert device.handle(ssnd(b"too late")) == b"I/ERROR(203)\r\n"
    assert not device.has_deferred


def test_through_a_line_session_every_byte_arrives_before_the_close(
    sim_start, sim_open, sim_peer, sim_serves
) -> None:
    """The driver's view: many SSNDs back to back, then SCLS at once; the peer has them all."""
    got = bytearray()
    done = threading.Event()

    def collect(conn: socket.socket) -> None:
        while chunk := conn.recv(65536):
            got.extend(chunk)
        done.set()

    device: W24 = sim_open(sim_start().url)
    handle = device.open_tcp("127.0.0.1", sim_peer(collect).port)
    data = bytes(range(256)) * 40
    for start in range(0, len(data), 1000):
        device.send_raw(handle, data[start : start + 1000])
    device.close(handle)
    assert done.wait(5)
    assert bytes(got) == data


def test_ssnd_after_the_peer_reset_through_the_driver(sim_start, sim_open, peer: Peer) -> None:
    device: W24 = sim_open(sim_start().url)
    handle = device.open_tcp("127.0.0.1", peer.port)
    peer.reset()
    with pytest.raises(DeviceError) as caught:
        device.send_raw(handle, b"x")
    assert caught.value.code == ResultCode.SOCKET_DOWN
