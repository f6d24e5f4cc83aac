"""A stateful fuzz of the simulator with live peers (used by tests/sim/test_sim_stateful.py and by
bench/sim_fuzz.py for the long run).

The simulator runs in this process behind its TCP link (the same LineSession a pty uses) and is
driven with exact bytes. Its peers are real: OpenSSL and tlslite-ng TLS servers from
w24_harness.servers (echoing, after sending a known payload), a server that stalls the handshake,
a plain TCP echo peer and a peer that sends a few bytes and hangs up. The CA is a real one, loaded
with AT+iCA=. Rules open sockets, start SSL sessions, move data with AT+iSSND / AT+iSRCV and
interleave garbage lines, partial commands, oversize values and commands during a handshake.

Checked after every step: no simulator internal error (and so never I/ERROR(216)), every command
answered within its timeout with nothing stray on the line; and where the rules look: SST, SCS
and RP4 agree with the sockets the model knows, SRCV returns exactly the next bytes the peer sent
(nothing invented), and a drain gets every byte either way (nothing lost).
"""

from __future__ import annotations

import contextlib
import hashlib
import select
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from w24_harness.at.codes import ResultCode
from w24_harness.at.commands import encode_ca
from w24_harness.at.replies import Reply, ReplyKind, ReplyParser
from w24_harness.listener import accepted
from w24_harness.pki.sets import CertSets
from w24_harness.profiles.table import SSL3, TLS1, get_profile
from w24_harness.servers import ServerConfig, TLSServer, payload
from w24_harness.sim.server import Simulator, SimulatorConfig

PROFILE = get_profile("w24").with_changes(
    handshake_timeout_s=2.0, host_data_timeout_s=0.2, connect_timeout_s=1.0, echo_default=False
)
HANDLES = PROFILE.socket_count
TLS_SEND = 3000  # what each TLS server sends after the handshake: more than one record
TLS_SEED = 5
CLOSER_BYTES = b"goodbye from a peer that hangs up\r\n" * 3
REPLY_TIMEOUT_S = 5.0  # a plain command on a shared 2-core machine
SSL_TIMEOUT_S = 2 * PROFILE.handshake_timeout_s + 3.0
LATE_GRACE_S = 30.0  # after a missed timeout, how long to wait to tell "late" from "never"
MAX_PENDING = 12 * 1024  # keep unread data under the 16 KB receive buffer
STEPS = {"count": 0}  # commands sent in this process (the bench reports it)
OUTCOMES: Counter[str] = Counter()  # "SSL -> OK", "SRCV -> DATA" ...: the states reached


class _PlainPeer:
    """A local TCP server: `echo` sends back what it gets; else it sends CLOSER_BYTES and hangs
    up. A thread per connection, so any number of device sockets can be open at once."""

    def __init__(self, echo: bool) -> None:
        self.echo = echo
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        for conn in accepted(self.listener, self.stopped):
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if not self.echo:
                conn.sendall(CLOSER_BYTES)
                conn.close()
                return
            while data := conn.recv(65536):
                conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopped.set()
        self._thread.join(timeout=5)
        self.listener.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


class Peers:
    """Every peer the machine dials, started once and shared by all examples."""

    def __init__(self) -> None:
        sets = CertSets(PROFILE)
        self.valid = sets.get("valid")
        self.wrong_ca_pem = sets.get("wrong_ca").ca_pem
        self.too_long_pem = sets.get("ca_too_long").ca_pem
        self.garbage_pem = sets.get("ca_garbage").ca_pem
        common = dict(cert=self.valid.server, echo=True, send_on_connect=TLS_SEND, seed=TLS_SEED)
        self.tls = {
            "tls-openssl": TLSServer(ServerConfig(backend="openssl", versions=(TLS1,), **common)),
            "tls-tlslite-ssl3": TLSServer(
                ServerConfig(backend="tlslite", versions=(SSL3,), **common)
            ),
        }
        self.stall = TLSServer(
            ServerConfig(
                cert=self.valid.server,
                backend="tlslite",
                misbehaviour="stall",
                handshake_timeout_s=3.0,
            )
        )
        self.echo = _PlainPeer(echo=True)
        self.closer = _PlainPeer(echo=False)
        for server in (*self.tls.values(), self.stall):
            server.start()
        # Connections each TLS server has accepted so far, to find the report of the next one.
        self.accepted = dict.fromkeys(self.tls, 0)

    def port(self, name: str) -> int:
        if name == "echo":
            return self.echo.port
        if name == "closer":
            return self.closer.port
        if name == "stall":
            return self.stall.port
        return self.tls[name].port

    def stop(self) -> None:
        for server in (*self.tls.values(), self.stall):
            server.stop()
        self.echo.stop()
        self.closer.stop()


_PEERS: dict[str, Peers] = {}


def peers() -> Peers:
    if "p" not in _PEERS:
        _PEERS["p"] = Peers()
    return _PEERS["p"]


def stop_peers() -> None:
    if "p" in _PEERS:
        _PEERS.pop("p").stop()


class Line:
    """The host end of the simulator's TCP link, with a reply parser that keeps its state."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("socket://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.parser = ReplyParser()
        self.replies: list[Reply] = []

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _read(self, wait: float) -> bytes:
        ready, _, _ = select.select([self.sock], [], [], wait)
        if not ready:
            return b""
        data = self.sock.recv(65536)
        assert data, "the simulator closed the line"
        return data

    def finals(self, n: int, timeout: float, what: object) -> list[Reply]:
        """The next n final replies (text lines before them dropped), within `timeout`."""
        return [r for r in self.until(n, timeout, what) if r.final]

    def until(self, n: int, timeout: float, what: object) -> list[Reply]:
        """The next replies up to and including the n-th final one, within `timeout`."""
        deadline = time.monotonic() + timeout
        got: list[Reply] = []
        while sum(r.final for r in got) < n:
            if not self.replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(self._late(what, timeout, got))
                self.replies.extend(self.parser.feed(self._read(min(left, 0.5))))
                continue
            got.append(self.replies.pop(0))
        return got

    def _late(self, what: object, timeout: float, got: list[Reply]) -> str:
        """Why a reply missed its timeout: late (a starved machine) or never (a hang)."""
        started = time.monotonic()
        while time.monotonic() - started < LATE_GRACE_S:
            data = self._read(0.5)
            if data:
                late = time.monotonic() - started + timeout
                return (
                    f"no answer to {what!r} within {timeout} s (got {got}); it came after "
                    f"{late:.1f} s: {data[:80]!r}"
                )
        return f"no answer to {what!r} within {timeout} s, nor {LATE_GRACE_S} s later: a hang"

    def assert_quiet(self) -> None:
        """Nothing unasked-for arrived (an extra reply would desynchronise everything)."""
        stray = self._read(0)
        self.replies.extend(self.parser.feed(stray))
        assert not self.replies and self.parser.pending == b"", (
            f"stray bytes from the simulator: {stray!r} {self.replies}"
        )

    def close(self) -> None:
        self.sock.close()


@dataclass
class SockModel:
    peer: str  # "echo", "closer", "stall", or a TLS server name
    ssl: bool = False
    expected: bytearray = field(default_factory=bytearray)  # what the peer will deliver
    received: int = 0
    sent: bytearray = field(default_factory=bytearray)  # what the device sent on it
    conn: int = 0  # TLS servers: which accepted connection (1-based)
    down: bool = False  # the simulator reported the peer gone (-203)
    # The hang-up peer closes with the device's bytes unread: TCP then answers with a reset,
    # and a reset discards what the device's kernel had not handed over yet. Loss is then TCP's,
    # not the simulator's (a module loses the same): only "nothing invented" still holds.
    lossy: bool = False

    @property
    def pending(self) -> int:
        return len(self.expected) - self.received


def _err(reply: Reply) -> int | None:
    assert reply.kind is ReplyKind.ERROR, reply
    return reply.code


GARBAGE_BYTE = st.integers(0, 255).filter(lambda b: (b & 0x7F) not in (8, 10, 13, 127))
# Prefixes of read-only commands: with a CR they are some command or error, never a change.
PARTIALS = [
    b"A",
    b"AT",
    b"AT+",
    b"AT+i",
    b"AT+iR",
    b"AT+iRP",
    b"AT+iS",
    b"AT+iSS",
    b"AT+iSST",
    b"AT+iSST:",
    b"AT+iSCS",
    b"AT+iRP4,",
    b"AT+iEC",
    b"at+irp1",
]
# Oversize or out-of-range values, each with the error code the simulator gives (None: an
# error whose code depends on the state, e.g. on whether socket 0 exists).
OVERSIZE: list[tuple[bytes, int | None]] = [
    (b"AT+iRP" + b"9" * 30 + b"\r", ResultCode.ILLEGAL_VALUE),
    (b"AT+iRP-1\r", ResultCode.ILLEGAL_VALUE),
    (b"AT+iSTCP:127.0.0.1,99999999999\r", ResultCode.ILLEGAL_VALUE),
    (b"AT+iSTCP:127.0.0.1,0\r", ResultCode.ILLEGAL_VALUE),
    (b"AT+iSTCP:127.0.0.1," + b"9" * 5000 + b"\r", ResultCode.SERIAL_OVERFLOW),
    (b"AT+iSST:" + b"9" * 40 + b"\r", ResultCode.SOCKET_NOT_EXIST),
    (b"AT+iSCS:99\r", ResultCode.SOCKET_NOT_EXIST),
    (b"AT+iSSND%:99999999999,1:x", ResultCode.SOCKET_NOT_EXIST),
    (b"AT+iSRCV:0,-1\r", None),
    (b"AT+iSRCV:0,x\r", None),
    (b"AT+iSSL:-1\r", ResultCode.SSL_ILLEGAL_HANDLE),
    (b"AT+iBDRF=" + b"z" * 10 + b"\r", ResultCode.ILLEGAL_VALUE),
    (b"AT+iECHO=2\r", ResultCode.ILLEGAL_VALUE),
    (b"AT+iRP4" + b"4" * 300 + b"\r", ResultCode.SERIAL_OVERFLOW),
]


class SimMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.peers = peers()
        self.sim = Simulator(SimulatorConfig(profile=PROFILE))
        # The simulator's own notes (why a command failed), to tell a handshake that timed out
        # on a starved machine from a refusal. (In-process only: the device's log callable.)
        self.notes: list[str] = []
        note = self.sim.device._log
        self.sim.device._log = lambda text: (self.notes.append(text), note(text))
        self.line = Line(self.sim.start_tcp())
        self.socks: dict[int, SockModel] = {}
        self.ca: bytes = b""  # the CA slot as the model knows it

    def teardown(self) -> None:
        self.line.close()
        self.sim.stop()

    # -- helpers ----------------------------------------------------------------------------

    def _ask(self, wire: bytes, finals: int = 1, timeout: float = REPLY_TIMEOUT_S) -> list[Reply]:
        STEPS["count"] += 1
        self.line.write(wire)
        replies = self.line.finals(finals, timeout, wire[:80])
        command = wire[:12].split(b":")[0].split(b"=")[0].decode("latin-1")
        outcome = ",".join(r.kind.name + (f"({r.code})" if r.code else "") for r in replies)
        OUTCOMES[f"{command} -> {outcome}"] += 1  # which states the run reached
        return replies

    def _await_down(self, handle: int) -> None:
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while True:
            (reply,) = self._ask(f"AT+iSCS:{handle}\r".encode())
            if reply.values == (-ResultCode.SOCKET_DOWN,):
                self.socks[handle].down = True
                return
            assert reply.values == (0,), reply
            assert time.monotonic() < deadline, f"socket {handle}: the hang-up never showed"
            time.sleep(0.002)

    def _timed_out(self) -> bool:
        return bool(self.notes) and "handshake timed out" in self.notes[-1]

    def _handle(self, data) -> int:
        """Mostly a socket that is open, sometimes any handle (closed, or out of range)."""
        # (Hypothesis leans to small integers: "3" is the rare branch, not "0".)
        if self.socks and data.draw(st.integers(0, 3), label="any handle?") != 3:
            return data.draw(st.sampled_from(sorted(self.socks)), label="handle")
        return data.draw(st.integers(0, HANDLES + 1), label="handle")

    def _free(self) -> int | None:
        return next((h for h in range(HANDLES) if h not in self.socks), None)

    def _check_data(self, model: SockModel, data: bytes) -> None:
        want = bytes(model.expected[model.received : model.received + len(data)])
        assert data == want, (
            f"SRCV on {model.peer} gave {len(data)} bytes that are not the next ones the peer "
            f"sent (at offset {model.received}; {model.pending} pending)"
        )
        model.received += len(data)

    def _check_status(self, handle: int, value: int) -> None:
        model = self.socks.get(handle)
        if model is None:
            assert value == -ResultCode.SOCKET_NOT_EXIST, (handle, value)
            return
        if value >= 0:
            assert value <= model.pending, f"socket {handle} claims {value} > {model.pending}"
            return
        # Only the hang-up peer goes away, and only once its bytes are all read.
        assert model.peer == "closer" and value == -ResultCode.SOCKET_DOWN, (handle, value)
        assert model.pending == 0 or model.lossy, f"socket {handle} down, {model.pending} unread"
        model.down = True
        model.expected = model.expected[: model.received]

    def _dropped(self, handle: int) -> None:
        self.socks.pop(handle, None)

    # -- sockets ----------------------------------------------------------------------------

    @rule(peer=st.sampled_from(["echo", "closer", "tls-openssl", "tls-tlslite-ssl3"]))
    def open_tcp(self, peer: str) -> None:
        if peer.startswith("tls") and any(m.peer == peer for m in self.socks.values()):
            peer = "echo"  # a TLS server serves one connection at a time
        (reply,) = self._ask(f"AT+iSTCP:127.0.0.1,{self.peers.port(peer)}\r".encode())
        handle = self._free()
        if handle is None:
            assert _err(reply) == ResultCode.NO_SOCKETS
            return
        assert reply.kind is ReplyKind.NUMBER and reply.value == handle, reply
        model = SockModel(peer)
        if peer == "closer":
            model.expected += CLOSER_BYTES
        if peer.startswith("tls"):
            self.peers.accepted[peer] += 1
            model.conn = self.peers.accepted[peer]
        self.socks[handle] = model

    @rule(peer=st.sampled_from(["tls-openssl", "tls-tlslite-ssl3"]), chase=st.booleans())
    def tls_session(self, peer: str, chase: bool) -> None:
        """What a host program does: a TCP socket to a TLS server, then AT+iSSL on it."""
        if any(m.peer == peer for m in self.socks.values()):
            return
        self.open_tcp(peer)
        handle = next((h for h, m in self.socks.items() if m.peer == peer), None)
        if handle is not None:
            self._start_ssl(handle, chase)

    @rule(
        peer=st.sampled_from(["tls-openssl", "tls-tlslite-ssl3"]),
        sizes=st.lists(st.sampled_from([1, 100, 1000, 2048]), max_size=3),
        seed=st.integers(0, 1000),
    )
    def trusted_session(self, peer: str, sizes: list[int], seed: int) -> None:
        """A host program's whole sequence: trust the right CA, connect, SSL, send, receive.
        (The other rules then meet an SSL session far more often than by chance.)"""
        if self.ca != self.peers.valid.ca_pem:
            self.load_ca("valid")
        if not any(m.ssl for m in self.socks.values()):
            self.tls_session(peer, chase=False)
        handle = next((h for h, m in self.socks.items() if m.ssl), None)
        if handle is None:
            return  # all handles taken, or that server busy with a plain socket of ours
        for size in sizes:
            self._send(handle, size, seed)
            self._receive(handle, None)

    @rule(data=st.data(), chase=st.booleans())
    def start_ssl(self, data, chase: bool) -> None:
        self._start_ssl(self._handle(data), chase)

    def _start_ssl(self, handle: int, chase: bool) -> None:
        model = self.socks.get(handle)
        if model is not None and model.peer == "closer" and not model.down:
            # Whether AT+iSSL meets the hang-up (221) or the handshake does (220, socket
            # dropped) would depend on timing, and the socket table must not: wait until the
            # simulator has seen it (SCS pumps the socket).
            self._await_down(handle)
        # chase: a ping right behind AT+iSSL, i.e. during the handshake: I/BUSY, or served after.
        wire = f"AT+iSSL:{handle}\r".encode() + (b"AT+i\r" if chase else b"")
        replies = self._ask(wire, 2 if chase else 1, SSL_TIMEOUT_S)
        if chase:
            busy = [r for r in replies if r.kind is ReplyKind.BUSY]
            if busy:
                # Usually I/BUSY comes first; when the handshake ends just as the grace for
                # the ping runs out, the SSL reply can get out first. Either way one of each.
                (reply,) = [r for r in replies if r.kind is not ReplyKind.BUSY]
            else:
                reply, ping = replies
                assert ping.kind is ReplyKind.OK, replies
        else:
            (reply,) = replies
        model = self.socks.get(handle)
        if model is None or model.ssl:
            assert _err(reply) == ResultCode.SSL_ILLEGAL_HANDLE, (handle, reply)
            return
        if model.peer == "closer":
            assert _err(reply) == ResultCode.SSL_ILLEGAL_HANDLE, reply  # a socket that is down
            return
        if any(m.ssl for m in self.socks.values()):
            assert _err(reply) == ResultCode.SSL_NO_MORE_SOCKETS, reply
            return
        if not self.ca:
            assert _err(reply) == ResultCode.SSL_NO_CA, reply
            return
        if model.peer.startswith("tls") and self.ca == self.peers.valid.ca_pem:
            if reply.kind is ReplyKind.ERROR and self._timed_out():
                # The server (one connection at a time, on a loaded machine) did not answer
                # within the handshake timeout: the documented 220, and the socket is dropped.
                OUTCOMES["SSL timed out (a starved machine)"] += 1
                assert reply.code == ResultCode.SSL_NEGOTIATION, reply
                self._dropped(handle)
                return
            assert reply.kind is ReplyKind.OK, (model.peer, reply, self.notes[-1:])
            model.ssl = True
            model.expected += payload(TLS_SEND, TLS_SEED)
            return
        # A wrong CA, or a peer that is no TLS server: refused, and the socket is dropped. The
        # echo peer may first return bytes sent on the plain socket: read as a record header,
        # they can announce an oversize handshake record, which the profile answers with 226.
        refusals = {ResultCode.SSL_NEGOTIATION}
        if model.peer == "echo":
            refusals.add(ResultCode.SSL_RECORD_TOO_BIG)
        assert _err(reply) in refusals, (model.peer, reply, self.notes[-1:])
        self._dropped(handle)

    @rule(
        gate=st.integers(0, 9), command=st.sampled_from([b"AT+iRP4\r", b"AT+i\r", b"AT+iSST:0\r"])
    )
    def command_during_a_stalled_handshake(self, gate: int, command: bytes) -> None:
        # A server that never answers the ClientHello: a command sent meanwhile gets I/BUSY, and
        # the handshake ends with 220 at the timeout (rare: each costs the handshake timeout).
        handle = self._free()
        if gate or handle is None or not self.ca or any(m.ssl for m in self.socks.values()):
            return
        (reply,) = self._ask(f"AT+iSTCP:127.0.0.1,{self.peers.stall.port}\r".encode())
        assert reply.value == handle, reply
        self.socks[handle] = SockModel("stall")
        self.line.write(f"AT+iSSL:{handle}\r".encode())
        time.sleep(0.15)
        self.line.write(command)
        first, second = self.line.finals(2, SSL_TIMEOUT_S, "SSL on a stalled server")
        if first.kind is ReplyKind.BUSY:
            assert _err(second) == ResultCode.SSL_NEGOTIATION, second
        else:  # the machine was so slow that the handshake timed out first
            assert _err(first) == ResultCode.SSL_NEGOTIATION, first
        self._dropped(handle)

    @rule(
        data=st.data(),
        size=st.sampled_from([0, 1, 17, 300, 2047, 2048, 2049, 4000]),
        seed=st.integers(0, 1000),
    )
    def send(self, data, size: int, seed: int) -> None:
        self._send(self._handle(data), size, seed)

    def _send(self, handle: int, size: int, seed: int) -> None:
        model = self.socks.get(handle)
        if model is not None and model.peer.startswith("tls") and not model.ssl:
            return  # raw bytes into a TLS server's handshake: not a case with a known answer
        if model is not None and model.peer == "echo" and model.pending + size > MAX_PENDING:
            return
        if model is not None and model.ssl and (model.pending + size > MAX_PENDING or not size):
            return  # (an empty SSND on SSL: what the module sends is not documented)
        body = payload(size, seed)
        (reply,) = self._ask(f"AT+iSSND%:{handle},{size}:".encode() + body)
        if model is None:
            assert _err(reply) == ResultCode.SOCKET_NOT_EXIST, reply
            return
        if model.ssl and size > PROFILE.max_ssnd_ssl:
            assert _err(reply) == ResultCode.SSND_TOO_BIG, reply
            return
        if model.peer == "closer":
            if reply.kind is ReplyKind.ERROR:  # the hang-up already seen, or seen now
                assert reply.code in (ResultCode.SOCKET_DOWN, ResultCode.SOCKET_SEND_ERROR), reply
                model.down = True
            elif size:
                model.lossy = True
            return
        assert reply.kind is ReplyKind.OK, (model.peer, size, reply)
        model.sent += body
        if model.peer == "echo" or model.ssl:
            model.expected += body  # both echo it back

    @rule(data=st.data(), limit=st.sampled_from([None, 0, 1, 7, 100, 2048, 5000, 20000]))
    def receive(self, data, limit: int | None) -> None:
        self._receive(self._handle(data), limit)

    def _receive(self, handle: int, limit: int | None) -> None:
        tail = "" if limit is None else f",{limit}"
        (reply,) = self._ask(f"AT+iSRCV:{handle}{tail}\r".encode())
        model = self.socks.get(handle)
        if model is None:
            assert _err(reply) == ResultCode.SOCKET_NOT_EXIST, reply
            return
        if reply.kind is ReplyKind.ERROR:
            assert model.peer == "closer" and reply.code == ResultCode.SOCKET_DOWN, reply
            assert model.pending == 0 or model.lossy, "down while the peer's bytes were unread"
            model.down = True
            model.expected = model.expected[: model.received]  # the rest was reset away
            return
        if reply.kind is ReplyKind.NUMBER:
            assert reply.value == 0, reply
            return
        assert reply.kind is ReplyKind.DATA, reply
        assert limit is None or len(reply.data) <= limit
        self._check_data(model, reply.data)

    @precondition(lambda self: bool(self.socks))
    @rule(data=st.data())
    def drain(self, data) -> None:
        """Nothing lost: everything the peer sent arrives, and the server got what was sent."""
        handle = data.draw(st.sampled_from(sorted(self.socks)))
        model = self.socks[handle]
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while model.pending:
            assert time.monotonic() < deadline, (
                f"socket {handle} ({model.peer}): {model.pending} bytes never arrived"
            )
            (reply,) = self._ask(f"AT+iSRCV:{handle}\r".encode())
            if reply.kind is ReplyKind.DATA:
                self._check_data(model, reply.data)
            elif reply.kind is ReplyKind.ERROR and model.lossy:
                assert reply.code == ResultCode.SOCKET_DOWN, reply  # reset: the rest is gone
                model.down = True
                model.expected = model.expected[: model.received]
            else:
                assert reply.kind is ReplyKind.NUMBER and reply.value == 0, reply
                time.sleep(0.002)
        if model.ssl:
            server = self.peers.tls[model.peer]
            conn = server.wait_for_connection(model.conn, timeout=REPLY_TIMEOUT_S)
            while conn.bytes_in < len(model.sent) and time.monotonic() < deadline:
                time.sleep(0.002)
            assert conn.bytes_in == len(model.sent), (conn.bytes_in, len(model.sent))
            assert conn.sha256_in == hashlib.sha256(model.sent).hexdigest()

    @rule(data=st.data())
    def close(self, data) -> None:
        handle = self._handle(data)
        model = self.socks.get(handle)
        if model is None:
            (reply,) = self._ask(f"AT+iSCLS:{handle}\r".encode())
            assert _err(reply) == ResultCode.SOCKET_NOT_EXIST, reply
            return
        first, second = self._ask(f"AT+iSCLS:{handle}\r".encode(), 2)
        self._dropped(handle)
        assert first.kind is ReplyKind.OK, first
        assert second.kind is (ReplyKind.ONLINE if self.socks else ReplyKind.DONE), second

    @rule(gate=st.integers(0, 9))
    def down(self, gate: int) -> None:
        if gate:
            return
        first, second = self._ask(b"AT+iDOWN\r", 2)
        assert first.kind is ReplyKind.OK, first
        # I/ERROR when it had sockets to close (the manual's own wording), I/ONLINE otherwise.
        assert second.kind is (ReplyKind.ERROR if self.socks else ReplyKind.ONLINE), second
        self.socks.clear()

    # -- status -----------------------------------------------------------------------------

    @rule()
    def report_all(self) -> None:
        (reply,) = self._ask(b"AT+iRP4\r")
        assert reply.kind is ReplyKind.TUPLE and len(reply.values) == HANDLES, reply
        for handle, value in enumerate(reply.values):
            self._check_status(handle, value)

    @rule(
        which=st.sampled_from(
            ["RP0", "RP1", "RP2", "RP8", "CA=?", "BDRF?", "BDRF=?", "ECHO?", "BDRF=a"]
        )
    )
    def report(self, which: str) -> None:
        STEPS["count"] += 1
        self.line.write(f"AT+i{which}\r".encode())
        *text, final = self.line.until(1, REPLY_TIMEOUT_S, which)
        assert final.kind is ReplyKind.OK, (which, final)
        lines = [r.text for r in text]
        expected = {
            "RP0": [PROFILE.part_number],
            "RP1": [PROFILE.firmware],
            "RP2": ["Connected" if self.socks else "Command mode"],
            "CA=?": ["String"],
            "BDRF?": ["a"],
            "ECHO?": ["0"],
            "BDRF=a": [],
        }
        if which in expected:
            assert lines == expected[which], (which, lines)
        else:
            assert len(lines) == 1, (which, lines)

    @rule(data=st.data())
    def status(self, data) -> None:
        handle = self._handle(data)
        (reply,) = self._ask(f"AT+iSST:{handle}\r".encode())
        if handle not in self.socks:
            assert _err(reply) == ResultCode.SOCKET_NOT_EXIST, reply
            return
        assert reply.kind is ReplyKind.TUPLE and len(reply.values) == 1, reply
        self._check_status(handle, reply.values[0])

    @rule(data=st.data())
    def socket_check(self, data) -> None:
        handle = self._handle(data)
        (reply,) = self._ask(f"AT+iSCS:{handle}\r".encode())
        model = self.socks.get(handle)
        if model is None:
            assert _err(reply) == ResultCode.SOCKET_NOT_EXIST, reply
            return
        assert reply.kind is ReplyKind.TUPLE, reply
        if reply.values != (0,):
            assert model.peer == "closer" and reply.values == (-ResultCode.SOCKET_DOWN,), reply
            model.down = True

    # -- the CA parameter -------------------------------------------------------------------

    @initialize(kind=st.sampled_from(["valid", "valid", "wrong", "empty"]))
    def first_ca(self, kind: str) -> None:
        # A host loads its CA first; most runs start trusted, some with the wrong CA or none.
        self.load_ca(kind)

    @rule(kind=st.sampled_from(["valid", "wrong", "empty", "garbage", "too_long"]))
    def load_ca(self, kind: str) -> None:
        p = self.peers
        pem = {
            "valid": p.valid.ca_pem,
            "wrong": p.wrong_ca_pem,
            "empty": b"",
            "garbage": p.garbage_pem,
            "too_long": p.too_long_pem,
        }[kind]
        (reply,) = self._ask(encode_ca(pem.decode()))
        if kind == "garbage":
            assert _err(reply) == ResultCode.CA_PARSE_ERROR, reply
        elif kind == "too_long":
            assert _err(reply) == PROFILE.resolved().ca_too_long_code, reply
        else:
            assert reply.kind is ReplyKind.OK, reply
            self.ca = pem

    @rule()
    def read_ca(self) -> None:
        STEPS["count"] += 1
        self.line.write(b"AT+iCA?\r")
        *text, final = self.line.until(1, REPLY_TIMEOUT_S, "AT+iCA?")
        assert final.kind is ReplyKind.OK, final
        lines = [r.text for r in text]
        if not self.ca:
            assert lines == [], lines
            return
        # name, validity, then the PEM as stored
        assert lines[2:] == self.ca.decode().strip().splitlines(), lines[:3]

    # -- bad input --------------------------------------------------------------------------

    @rule(body=st.lists(GARBAGE_BYTE, max_size=40))
    def garbage_line(self, body: list[int]) -> None:
        (reply,) = self._ask(b"X" + bytes(body) + b"\r")
        assert _err(reply) == ResultCode.SYNTAX_ERROR, reply

    @rule(partial=st.sampled_from(PARTIALS), noise=st.lists(GARBAGE_BYTE, max_size=5))
    def partial_command(self, partial: bytes, noise: list[int]) -> None:
        # A command cut short, maybe with noise after it, ended by CR: one answer, never a
        # change of state (all are prefixes of read-only commands).
        (reply,) = self._ask(partial + bytes(noise) + b"\r")
        assert reply.kind is not ReplyKind.ERROR or reply.code != ResultCode.GENERAL_EXCEPTION

    @rule(case=st.sampled_from(OVERSIZE))
    def oversize_value(self, case: tuple[bytes, int | None]) -> None:
        wire, code = case
        (reply,) = self._ask(wire)
        got = _err(reply)
        if code is not None:
            assert got == code, (wire[:60], reply)

    @rule(gate=st.integers(0, 9), handle=st.integers(0, HANDLES - 1))
    def short_ssnd_payload(self, gate: int, handle: int) -> None:
        # An SSND whose payload stops short: 69 after the host-data timeout, nothing sent.
        if gate:
            return
        (reply,) = self._ask(f"AT+iSSND%:{handle},10:abc".encode(), timeout=REPLY_TIMEOUT_S)
        assert _err(reply) == ResultCode.HOST_TIMEOUT, reply

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def no_internal_error(self) -> None:
        status = self.sim.status
        assert status.internal_errors == 0, status.last_error

    @invariant()
    def nothing_stray(self) -> None:
        self.line.assert_quiet()
