"""The simulator under bad input: garbage, overlong lines, noise, short and long SSND payloads,
commands while busy, fuzzing of the interpreter; and the emulated line rate."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from w24_harness.at.commands import encode_ca
from w24_harness.at.reader import ESCAPE, BadInput, Command, CommandReader
from w24_harness.at.replies import ReplyKind, ReplyParser
from w24_harness.device.w24 import W24
from w24_harness.profiles.table import get_profile
from w24_harness.sim.device import SimDevice
from w24_harness.sim.server import Simulator

pytestmark = pytest.mark.timeout(60)

W24_PROFILE = get_profile("w24")
FIRMWARE_REPLY = b"I2144W24T01 (MAY 31 2008)\r\nI/OK\r\n"


def _wait_socket_bytes(device: W24, handle: int, n: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while device.socket_status(handle) < n:
        assert time.monotonic() < deadline, f"socket {handle} never buffered {n} bytes"
        time.sleep(0.01)


# -- bad lines -----------------------------------------------------------------------------


def test_garbage_line_overlong_line_then_a_good_command(sim_start, sim_raw) -> None:
    raw = sim_raw(sim_start().url)
    assert raw.exchange(b"hello world\r") == b"hello world\r\nI/ERROR(051)\r\n"
    assert raw.exchange(b"AT+i\x01RP0\r").endswith(b"I/ERROR(051)\r\n")  # control byte
    overlong = raw.exchange(b"AT+iRP0" + b"9" * 400 + b"\r")
    assert overlong.endswith(b"\r\nI/ERROR(111)\r\n")
    assert len(overlong) < 300  # the echo is the kept head of the line, not all 407 bytes
    assert raw.exchange(b"AT+iRP1\r") == b"AT+iRP1\r\n" + FIRMWARE_REPLY


def test_line_editing_and_bit_7(sim_start, sim_raw) -> None:
    raw = sim_raw(sim_start().url)
    assert raw.exchange(b"AT+iRP9\x081\r").endswith(FIRMWARE_REPLY)  # BS removes the 9
    assert raw.exchange(b"\xc1\xd4+iRP1\r").endswith(FIRMWARE_REPLY)  # bit 7 ignored
    assert raw.exchange(b"\n\nAT+iRP1\r\n").endswith(FIRMWARE_REPLY)  # LF ignored


def test_binary_noise_then_resync(sim_w24: W24) -> None:
    noise = random.Random(2008).randbytes(4096)
    sim_w24.transport.write(noise)
    sim_w24.resync()
    assert sim_w24.identity().firmware == "I2144W24T01 (MAY 31 2008)"
    assert sim_w24.all_sockets() == (-200,) * 10


# -- SSND payloads that do not match their count -------------------------------------------


def test_short_ssnd_payload_times_out_with_69(sim_start, sim_open, sim_peer) -> None:
    received = bytearray()

    def record(conn) -> None:
        while data := conn.recv(4096):
            received.extend(data)

    profile = W24_PROFILE.with_changes(host_data_timeout_s=0.3)
    sim = sim_start(profile)
    device = sim_open(sim.url)
    handle = device.open_tcp("127.0.0.1", sim_peer(record).port)
    started = time.monotonic()
    line = device.transport
    line.write(b"AT+iSSND%:0,10:abc")
    raw = b""
    while b"I/ERROR" not in raw and time.monotonic() - started < 3:
        raw += line.read_some(0.05)
    elapsed = time.monotonic() - started
    assert raw.endswith(b"I/ERROR(069)\r\n")
    assert 0.25 < elapsed < 2.0
    device.ping()
    assert device.receive_once(handle) == b"" and bytes(received) == b""  # nothing went out


def test_ssnd_surplus_bytes_become_a_garbage_line(sim_start, sim_raw, sim_echo_port) -> None:
    raw = sim_raw(sim_start().url)
    assert raw.exchange(f"AT+iSTCP:127.0.0.1,{sim_echo_port}\r".encode()).endswith(b"I/0\r\n")
    raw.write(b"AT+iSSND%:0,3:abcXYZ\r")
    replies = raw.read_finals(2)
    assert replies == b"AT+iSSND%:0,3:\r\nI/OK\r\nXYZ\r\nI/ERROR(051)\r\n"
    raw.wait_buffered(0, 3)
    assert raw.exchange(b"AT+iSRCV:0\r") == b"AT+iSRCV:0\r\nI/3:abc"


# -- I/BUSY --------------------------------------------------------------------------------


def test_command_during_a_handshake_gets_busy(
    sim_start, sim_raw, sim_peer, sim_serves, sim_ca_pem: bytes
) -> None:
    profile = W24_PROFILE.with_changes(handshake_timeout_s=1.0)
    raw = sim_raw(sim_start(profile).url)
    stalled = sim_peer(sim_serves.silent)  # accepts, reads the ClientHello, never answers
    assert raw.exchange(encode_ca(sim_ca_pem.decode())).endswith(b"I/OK\r\n")
    assert raw.exchange(f"AT+iSTCP:127.0.0.1,{stalled.port}\r".encode()).endswith(b"I/0\r\n")
    started = time.monotonic()
    raw.write(b"AT+iSSL:0\r")
    assert raw.read_for(0.2) == b"AT+iSSL:0\r\n"
    assert raw.exchange(b"AT+i\r") == b"AT+i\r\nI/BUSY\r\n"
    assert raw.exchange(b"AT+iRP4\r") == b"AT+iRP4\r\nI/BUSY\r\n"
    assert raw.read_finals(1, timeout=5) == b"I/ERROR(220)\r\n"
    assert 0.9 < time.monotonic() - started < 3
    assert raw.exchange(b"AT+i\r") == b"AT+i\r\nI/OK\r\n"
    # The failed handshake dropped the TCP socket (the profile's documented choice).
    assert raw.exchange(b"AT+iSST:0\r").endswith(b"I/ERROR(200)\r\n")


# -- fuzzing -------------------------------------------------------------------------------

# Commands are built from a prefix, an argument and (usually) a CR, mixed with raw bytes, so that
# most examples reach a handler instead of stopping at "syntax error".
PREFIXES = [
    b"AT+i",
    b"AT+iRP",
    b"AT+iCA",
    b"AT+iCA2",
    b"AT+iCA4",
    b"AT+iSSND%:",
    b"AT+iSSND:",
    b"AT+i!SSND:",
    b"AT+iSRCV:",
    b"AT+iSST:",
    b"AT+iSCS:",
    b"AT+iSCLS:",
    b"AT+i!SCLS:",
    b"AT+iSSL:",
    b"AT+iSTCP:127.0.0.1,",
    b"AT+iDOWN",
    b"AT+iBDRF",
    b"AT+iECHO",
    b"at+i",
    b"-----BEGIN CERTIFICATE-----",
    b"-----END CERTIFICATE-----",
    b"MIIBkTCB+wIJAK",
]
ARGS = [
    b"",
    b"0",
    b"1",
    b"2",
    b"4",
    b"8",
    b"9",
    b"=",
    b"?",
    b"=?",
    b"=0",
    b"=1",
    b"=9",
    b"=h",
    b"~",
    b"0,5:",
    b"3,0:",
    b"0,3:abc",
    b"0,",
    b"0,0",
    b"0,-1",
    b"--5",
    b"-",
    b"9" * 12,
    b"x",
    b"=-----BEGIN CERTIFICATE-----",
]
command = st.builds(
    lambda start, prefix, arg, end: start + prefix + arg + end,
    st.sampled_from([b"\r", b""]),
    st.sampled_from(PREFIXES),
    st.one_of(st.sampled_from(ARGS), st.binary(max_size=6)),
    st.sampled_from([b"\r", b"\r", b""]),
)
pieces = st.lists(
    st.tuples(
        st.one_of(command, st.binary(max_size=30), st.sampled_from([b"\r", b"\n", b"\x08"])),
        st.sampled_from([0.0, 0.01, 10.0]),  # 10 s: past the host-data timeout
    ),
    max_size=25,
)


def _check_reply(reply: bytes, item: object) -> None:
    assert isinstance(reply, bytes) and reply, f"no reply to {item!r}"
    parser = ReplyParser()
    replies = parser.feed(reply)
    assert parser.pending == b"", f"incomplete reply {reply!r} to {item!r}"
    assert any(r.final for r in replies), f"no final I/ line in {reply!r} to {item!r}"
    assert reply.endswith(b"\r\n") or replies[-1].kind is ReplyKind.DATA, reply


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=pieces, profile=st.sampled_from(["w24", "ichip"]))
@example(pieces=[(b"+++", 0.0)], profile="w24")  # found by a CI run: the silent escape
def test_interpreter_fuzz_never_raises(pieces: list[tuple[bytes, float]], profile: str) -> None:
    prof = get_profile(profile).with_changes(connect_timeout_s=0.5)
    device = SimDevice(prof)
    reader = CommandReader(
        max_line=prof.max_command_line,
        host_data_timeout_s=prof.host_data_timeout_s,
        ssnd_limit=device.ssnd_limit,
    )
    now = 0.0

    def answer(item: Command | BadInput) -> None:
        # '+++' in command mode with no socket: nothing to escape from, and the module stays
        # silent (sim/device.py _escape; spec §2.4 documents the escape only online). Every
        # other item gets a complete reply.
        idle = not device.online and not device.table.slots
        reply = device.handle(item)
        escape = isinstance(item, Command) and item.name == ESCAPE.decode()
        if not (escape and idle and reply == b""):
            _check_reply(reply, item)

    try:
        for data, pause in pieces:
            now += pause
            for item in reader.feed(data, now) + reader.expire(now + 0.001):
                answer(item)
                # handle() answers 216 to a crashed handler: the crash must still fail the fuzz.
                assert device.internal_errors == 0, device.last_internal_error
        for item in reader.feed(b"\r", now) + reader.expire(now + 60):
            answer(item)
        assert device.internal_errors == 0, device.last_internal_error
    finally:
        device.shutdown()


@pytest.mark.timeout(120)
def test_pty_fuzz_then_ping(sim_start, sim_open) -> None:
    profile = W24_PROFILE.with_changes(host_data_timeout_s=0.3)
    device = sim_open(sim_start(profile).url)
    port = device.transport

    def sync() -> None:
        # A marker command after the noise; its reply proves everything before was handled.
        port.write(b"\rAT+iRP1\r")
        seen = b""
        deadline = time.monotonic() + 3
        while FIRMWARE_REPLY not in seen:
            assert time.monotonic() < deadline, f"no reply to the marker; got {seen[-200:]!r}"
            seen += port.read_some(0.05)

    @settings(max_examples=50, deadline=None, database=None)
    @given(noise=st.one_of(st.binary(max_size=50), st.binary(min_size=200, max_size=600)))
    def feed(noise: bytes) -> None:
        port.write(noise)
        sync()
        fed.append(len(noise))

    fed: list[int] = []
    feed()
    assert len(fed) >= 50 and max(fed) >= 200
    device.ping()
    assert device.identity().part_number == "W24-CO2144-01"


# -- emulated line rate --------------------------------------------------------------------


@pytest.mark.parametrize("baud", [9600, 0], ids=["9600", "unthrottled"])
def test_baud_rate_paces_a_960_byte_reply(
    sim_start: Callable[..., Simulator], sim_open, sim_peer, sim_serves, baud: int
) -> None:
    payload = bytes(range(256)) * 3 + bytes(192)  # 960 bytes
    device = sim_open(sim_start(baud=baud).url)
    handle = device.open_tcp("127.0.0.1", sim_peer(sim_serves.send_then_close(payload)).port)
    _wait_socket_bytes(device, handle, len(payload))
    started = time.monotonic()
    assert device.receive_once(handle) == payload
    elapsed = time.monotonic() - started
    if baud:
        assert elapsed > 0.7  # ~1.0 s: 960 bytes at 960 bytes/s
    else:
        assert elapsed < 0.5


def test_commands_written_back_to_back_are_served_in_order(sim_start, sim_raw) -> None:
    # A UART buffers: a command right behind a quick one is not BUSY, and replies keep order.
    raw = sim_raw(sim_start().url)
    raw.write(b"AT+iRP0\rAT+iRP1\rjunk\rAT+i\r")
    assert raw.read_finals(4) == (
        b"AT+iRP0\r\nW24-CO2144-01\r\nI/OK\r\n"
        b"AT+iRP1\r\n" + FIRMWARE_REPLY + b"junk\r\nI/ERROR(051)\r\nAT+i\r\nI/OK\r\n"
    )


def test_ssnd_header_echo_is_one_line(sim_start, sim_raw, sim_echo_port) -> None:
    raw = sim_raw(sim_start().url)
    raw.exchange(f"AT+iSTCP:127.0.0.1,{sim_echo_port}\r".encode())
    reply = raw.exchange(b"AT+iSSND:0,6:I/OK\r\n")
    assert re.fullmatch(rb"AT\+iSSND:0,6:\r\nI/OK\r\n", reply)
