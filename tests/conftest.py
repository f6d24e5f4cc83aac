"""Shared fixtures for the transport, driver and simulator tests (all named sim_*).

Everything here is real: in-process simulators served over a pty, local TCP peers on 127.0.0.1,
and pyserial ports opened the way hardware is reached.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import serial
from hypothesis import settings

from w24_harness.at.replies import ReplyParser
from w24_harness.device.w24 import W24, Timeouts
from w24_harness.listener import accepted, stop_listening
from w24_harness.pki import CertFactory
from w24_harness.profiles.table import DeviceProfile, get_profile
from w24_harness.sim.server import Simulator, SimulatorConfig

Serve = Callable[[socket.socket], None]

# On a shared 2-core CI machine one example can stall past Hypothesis's 200 ms default deadline
# for reasons that have nothing to do with the code under test.
settings.register_profile("w24-harness", deadline=None)
# CI (.ci/run) explores the same examples every run, so a red run is the change's doing and
# can be repeated; a developer's run draws new ones each time, and a find becomes an @example.
settings.register_profile("ci", deadline=None, derandomize=True)
settings.load_profile(os.environ.get("W24_HYPOTHESIS_PROFILE", "w24-harness"))


class TcpPeer:
    """A local TCP server that runs `serve(conn)` on its own thread for every connection."""

    def __init__(self, serve: Serve) -> None:
        self._serve = serve
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port: int = self.listener.getsockname()[1]
        self.url = f"socket://127.0.0.1:{self.port}"
        self.stopped = threading.Event()
        self.conns: list[socket.socket] = []
        self.accepted = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        for conn in accepted(self.listener, self.stopped):
            conn.settimeout(10)
            self.conns.append(conn)
            self.accepted.set()
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self._serve(conn)

    def stop(self) -> None:
        self.stopped.set()
        stop_listening(self.listener)  # the accept loop ends now, not at its timeout
        self._thread.join(timeout=5)
        for conn in self.conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)  # wakes a recv() blocked in a serve thread
            except OSError:
                pass
            conn.close()


class Serves:
    """What a TcpPeer does with each connection (reached through the sim_serves fixture)."""

    @staticmethod
    def echo(conn: socket.socket) -> None:
        while data := conn.recv(65536):
            conn.sendall(data)
        conn.close()

    @staticmethod
    def silent(conn: socket.socket) -> None:
        """Read and never answer: a server that accepts and then says nothing."""
        while conn.recv(65536):
            pass

    @staticmethod
    def send_then_close(payload: bytes) -> Serve:
        def serve(conn: socket.socket) -> None:
            conn.sendall(payload)
            conn.close()

        return serve


class RawPort:
    """The device's port through plain pyserial: exact bytes, no driver in between."""

    def __init__(self, url: str) -> None:
        self.port = serial.serial_for_url(url, timeout=0.05)

    def write(self, data: bytes) -> None:
        self.port.write(data)
        self.port.flush()

    def read_some(self) -> bytes:
        """What has arrived, waiting at most the port timeout for the first byte."""
        first = self.port.read(1)
        return first + self.port.read(self.port.in_waiting) if first else b""

    def read_for(self, seconds: float) -> bytes:
        """Everything that arrives within `seconds`."""
        got = b""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            got += self.read_some()
        return got

    def read_finals(self, finals: int = 1, timeout: float = 3.0) -> bytes:
        """Raw bytes up to and including the `finals`-th final reply (I/OK, I/ERROR, I/n ...)."""
        parser, got, seen = ReplyParser(), b"", 0
        deadline = time.monotonic() + timeout
        while seen < finals:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {seen} of {finals} final replies in {got!r}")
            chunk = self.read_some()
            got += chunk
            seen += sum(1 for r in parser.feed(chunk) if r.final)
        return got

    def exchange(self, wire: bytes, finals: int = 1, timeout: float = 3.0) -> bytes:
        self.write(wire)
        return self.read_finals(finals, timeout)

    def wait_buffered(self, handle: int, n: int, timeout: float = 3.0) -> None:
        """Poll AT+iSST until socket `handle` holds `n` bytes (echo on or off)."""
        want = f"I/({n})\r\n".encode()
        deadline = time.monotonic() + timeout
        while not self.exchange(f"AT+iSST:{handle}\r".encode()).endswith(want):
            assert time.monotonic() < deadline, f"socket {handle} never held {n} bytes"
            time.sleep(0.01)

    def close(self) -> None:
        self.port.close()


@pytest.fixture(scope="session")
def sim_ca_pem() -> bytes:
    return CertFactory().ca("x").cert_pem


@pytest.fixture(scope="session")
def sim_other_ca_pem() -> bytes:
    return CertFactory().ca("y").cert_pem


@pytest.fixture
def sim_start() -> Iterator[Callable[..., Simulator]]:
    """Start in-process simulators on a pty (or TCP with tcp=True); all stopped at teardown."""
    started: list[Simulator] = []

    def start(
        profile: str | DeviceProfile = "w24", *, tcp: bool = False, **config: object
    ) -> Simulator:
        prof = get_profile(profile) if isinstance(profile, str) else profile
        sim = Simulator(SimulatorConfig(profile=prof, **config))  # type: ignore[arg-type]
        started.append(sim)
        sim.start_tcp() if tcp else sim.start_pty()
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def sim_open() -> Iterator[Callable[..., W24]]:
    """Open W24 drivers on URLs; all ports closed at teardown."""
    opened: list[W24] = []

    def open_(url: str, profile: str | DeviceProfile = "w24", **timeouts: float) -> W24:
        device = W24.open(url, profile=profile, timeouts=Timeouts(**timeouts))
        opened.append(device)
        return device

    yield open_
    for device in opened:
        device.close_port()


@pytest.fixture
def sim_w24(sim_start: Callable[..., Simulator], sim_open: Callable[..., W24]) -> W24:
    """A driver on a fresh in-process w24 simulator over a pty."""
    return sim_open(sim_start().url)


@pytest.fixture
def sim_raw() -> Iterator[Callable[[str], RawPort]]:
    ports: list[RawPort] = []

    def open_(url: str) -> RawPort:
        port = RawPort(url)
        ports.append(port)
        return port

    yield open_
    for port in ports:
        port.close()


@pytest.fixture
def sim_peer() -> Iterator[Callable[[Serve], TcpPeer]]:
    """Start local TCP peers (`sim_peer(echo)`, `sim_peer(silent)`); all stopped at teardown."""
    peers: list[TcpPeer] = []

    def start(serve: Serve) -> TcpPeer:
        peer = TcpPeer(serve)
        peers.append(peer)
        return peer

    yield start
    for peer in peers:
        peer.stop()


@pytest.fixture(scope="session")
def sim_serves() -> type[Serves]:
    return Serves


@pytest.fixture(scope="session")
def sim_peer_type() -> type[TcpPeer]:
    """The TcpPeer class, for module-scoped peers (test files cannot import conftest)."""
    return TcpPeer


@pytest.fixture
def sim_echo_port(sim_peer: Callable[[Serve], TcpPeer]) -> int:
    return sim_peer(Serves.echo).port
