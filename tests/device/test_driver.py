"""The W24 driver against the in-process simulator over a pty, and against scripted peers that
answer the way real firmware may (CR-only line ends, `I/ERROR (nnn)`, no echo, slow links)."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from w24_harness.at.codes import (
    BusyError,
    CAError,
    CAFitError,
    DeviceError,
    DeviceTimeout,
    ResultCode,
    SocketError,
)
from w24_harness.at.commands import ca_text_length
from w24_harness.at.replies import ReplyKind, classify_line
from w24_harness.device.w24 import W24, Identity, Timeouts
from w24_harness.profiles.table import get_profile

pytestmark = pytest.mark.timeout(30)

SSND_HEADER = re.compile(rb"AT\+iSSND%:(\d+),(\d+):")
# Bytes a naive driver would mistake for framing: line ends and a complete result line.
TRICKY = b"I/OK\r\n\r\rI/ERROR(203)\n\x00\xffAT+i\r" + bytes(range(256))


def _tx(device: W24, mark: int = 0) -> bytes:
    return b"".join(e.data for e in device.transcript.since(mark) if e.direction == "tx")


def _wait_status(device: W24, handle: int, done: Callable[[int], bool]) -> int:
    deadline = time.monotonic() + 3
    while True:
        status = device.socket_status(handle)
        if done(status) or time.monotonic() > deadline:
            return status
        time.sleep(0.01)


# -- basics against the simulator ----------------------------------------------------------


def test_ping_and_identity(sim_w24: W24) -> None:
    sim_w24.ping()
    assert sim_w24.identity() == Identity("W24-CO2144-01", "I2144W24T01 (MAY 31 2008)")


def test_ca_set_get_clear_round_trip(sim_w24: W24, sim_ca_pem: bytes) -> None:
    assert sim_w24.get_ca().empty
    sim_w24.set_ca(sim_ca_pem)
    info = sim_w24.get_ca()
    assert info.pem == sim_ca_pem.decode()
    assert not info.empty
    sim_w24.clear_ca()
    cleared = sim_w24.get_ca()
    assert cleared.empty and cleared.pem == ""


def test_set_ca_refuses_an_oversized_ca_before_sending(sim_w24: W24) -> None:
    body = "".join("A" * 64 + "\n" for _ in range(25))
    pem = f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"
    length = ca_text_length(pem)
    assert length > 1300
    mark = sim_w24.transcript.mark()
    with pytest.raises(CAFitError) as caught:
        sim_w24.set_ca(pem)
    assert "1300" in str(caught.value) and str(length) in str(caught.value)
    assert [e for e in sim_w24.transcript.since(mark) if e.direction == "tx"] == []


@pytest.mark.parametrize("room", [0, -1], ids=["exactly-at-the-limit", "one-over"])
def test_set_ca_size_check_at_the_limit(sim_start, sim_open, sim_ca_pem: bytes, room: int) -> None:
    # A profile whose limit is exactly this CA's length (+room): at the limit it is sent and
    # loads; one character over, the driver refuses it before sending anything.
    length = ca_text_length(sim_ca_pem.decode())
    profile = get_profile("w24").with_changes(ca_max_chars=length + room)
    device = sim_open(sim_start(profile).url, profile)
    mark = device.transcript.mark()
    if room == 0:
        device.set_ca(sim_ca_pem)
        assert device.get_ca().pem == sim_ca_pem.decode()
        return
    with pytest.raises(CAFitError) as caught:
        device.set_ca(sim_ca_pem)
    assert f"CA PEM is {length} characters" in str(caught.value)
    assert f"holds at most {length - 1}" in str(caught.value)
    assert [e for e in device.transcript.since(mark) if e.direction == "tx"] == []


def test_set_ca_unchecked_lets_the_device_refuse(sim_w24: W24, sim_ca_pem: bytes) -> None:
    from w24_harness.pki import CertFactory

    long_ca = CertFactory().ca("x" * 100).cert_pem
    sim_w24.set_ca(sim_ca_pem)
    with pytest.raises(CAError) as caught:
        sim_w24.set_ca(long_ca, check=False)
    assert caught.value.code == 116
    assert sim_w24.get_ca().pem == sim_ca_pem.decode()


# -- sockets -------------------------------------------------------------------------------


def test_tcp_round_trip_with_framing_bytes_in_the_payload(sim_w24: W24, sim_echo_port: int) -> None:
    handle = sim_w24.open_tcp("127.0.0.1", sim_echo_port)
    assert handle == 0 and sim_w24.sockets[0].port == sim_echo_port
    assert sim_w24.send(handle, TRICKY) == 1
    assert sim_w24.receive(handle, len(TRICKY), timeout=3) == TRICKY
    assert sim_w24.close(handle) == "DONE"
    assert handle not in sim_w24.sockets


def test_send_splits_into_ssnd_chunks_of_at_most_2048(sim_w24: W24, sim_echo_port: int) -> None:
    data = bytes(i % 251 for i in range(5000))
    handle = sim_w24.open_tcp("127.0.0.1", sim_echo_port)
    mark = sim_w24.transcript.mark()
    assert sim_w24.send(handle, data) == 3
    sizes = [int(m.group(2)) for m in SSND_HEADER.finditer(_tx(sim_w24, mark))]
    assert sizes == [2048, 2048, 904]
    assert sim_w24.receive(handle, len(data), timeout=3) == data


def test_send_of_nothing_is_one_empty_ssnd(sim_w24: W24, sim_echo_port: int) -> None:
    handle = sim_w24.open_tcp("127.0.0.1", sim_echo_port)
    mark = sim_w24.transcript.mark()
    assert sim_w24.send(handle, b"") == 1
    assert SSND_HEADER.findall(_tx(sim_w24, mark)) == [(b"0", b"0")]


def test_receive_returns_at_eof_with_what_was_buffered(sim_w24: W24, sim_peer, sim_serves) -> None:
    payload = b"last words\r\nI/OK\r\n"
    peer = sim_peer(sim_serves.send_then_close(payload))
    handle = sim_w24.open_tcp("127.0.0.1", peer.port)
    started = time.monotonic()
    assert sim_w24.receive(handle, 1000, timeout=5) == payload
    assert time.monotonic() - started < 3  # ended by the EOF, not by the timeout


def test_receive_times_out_when_nothing_arrives(sim_w24: W24, sim_peer, sim_serves) -> None:
    handle = sim_w24.open_tcp("127.0.0.1", sim_peer(sim_serves.silent).port)
    with pytest.raises(DeviceTimeout):
        sim_w24.receive(handle, 10, timeout=0.2)
    assert sim_w24.receive_once(handle) == b""


def test_status_values_through_a_peer_close(sim_w24: W24, sim_peer, sim_serves) -> None:
    assert sim_w24.all_sockets() == (-200,) * 10
    payload = b"0123456789"
    peer = sim_peer(sim_serves.send_then_close(payload))
    echo_port = sim_peer(sim_serves.echo).port
    handle = sim_w24.open_tcp("127.0.0.1", peer.port)
    other = sim_w24.open_tcp("127.0.0.1", echo_port)
    assert sim_w24.connection_status(other) == 0 and sim_w24.socket_status(other) == 0
    # Data first: the count is reported while it is buffered, even though the peer is gone.
    assert _wait_status(sim_w24, handle, lambda s: s != 0) == len(payload)
    deadline = time.monotonic() + 3  # the FIN may land a moment after the data
    while sim_w24.connection_status(handle) != -203:
        assert time.monotonic() < deadline, "SCS never reported the peer's close"
        time.sleep(0.01)
    statuses = sim_w24.all_sockets()
    assert statuses[handle] == len(payload) and statuses[other] == 0
    assert statuses[2:] == (-200,) * 8
    assert sim_w24.receive(handle, len(payload)) == payload
    assert sim_w24.socket_status(handle) == -203
    assert sim_w24.all_sockets()[handle] == -203
    with pytest.raises(SocketError) as caught:
        sim_w24.receive_once(handle)
    assert caught.value.code == 203


def test_close_reports_done_for_the_last_socket_else_online(
    sim_w24: W24, sim_echo_port: int
) -> None:
    first = sim_w24.open_tcp("127.0.0.1", sim_echo_port)
    second = sim_w24.open_tcp("127.0.0.1", sim_echo_port)
    assert (first, second) == (0, 1)
    assert sim_w24.close(first) == "ONLINE"
    assert sim_w24.close(second) == "DONE"
    third = sim_w24.open_tcp("127.0.0.1", sim_echo_port)
    assert sim_w24.close(third, stay_online=True) == "ONLINE"
    with pytest.raises(SocketError) as caught:
        sim_w24.close(third)
    assert caught.value.code == 200


def test_reset_closes_everything(sim_w24: W24, sim_echo_port: int) -> None:
    for _ in range(3):
        sim_w24.open_tcp("127.0.0.1", sim_echo_port)
    assert sim_w24.reset() == "ERROR"  # it closed sockets (spec §4.12)
    assert sim_w24.sockets == {}
    assert sim_w24.all_sockets() == (-200,) * 10
    assert sim_w24.reset() == "ONLINE"


def test_device_errors_are_typed_with_their_code(sim_w24: W24, sim_peer, sim_serves) -> None:
    with pytest.raises(DeviceError) as illegal:
        sim_w24.execute("FOO")
    assert illegal.value.code == 53 and "Illegal command code" in str(illegal.value)
    closed = sim_peer(sim_serves.silent)
    port = closed.port
    closed.stop()
    with pytest.raises(SocketError) as refused:
        sim_w24.open_tcp("127.0.0.1", port)
    assert refused.value.code == 203


def test_resync_after_garbage_on_the_line(sim_w24: W24) -> None:
    sim_w24.transport.write(b"\x00\xffnoise\x1b[2J AT+iRP")  # no CR: a half line is pending
    sim_w24.resync()
    sim_w24.ping()
    assert sim_w24.identity().part_number == "W24-CO2144-01"


# -- scripted peers: what hardware may do and the simulator does not ------------------------


@dataclass
class Script:
    """A fake module: answers each CR-terminated command with canned bytes (53 if unknown)."""

    replies: dict[bytes, bytes] = field(default_factory=dict)
    byte_delay: float = 0.0  # > 0: write the reply one byte at a time

    def serve(self, conn: socket.socket) -> None:
        pending = b""
        while data := conn.recv(4096):
            pending += data
            while b"\r" in pending:
                line, _, pending = pending.partition(b"\r")
                reply = self.replies.get(line, b"I/ERROR(053)\r\n")
                if not self.byte_delay:
                    conn.sendall(reply)
                    continue
                for byte in reply:
                    conn.sendall(bytes([byte]))
                    time.sleep(self.byte_delay)


@pytest.fixture(scope="module")
def scripted_peer(sim_peer_type: type) -> Iterator[tuple[Script, W24]]:
    # One peer and one port for the module: closing a socket:// port costs pyserial 0.3 s.
    script = Script()
    peer = sim_peer_type(script.serve)
    device = W24.open(peer.url, timeouts=Timeouts(default=2.0, close=2.0))
    yield script, device
    device.close_port()
    peer.stop()


@pytest.fixture
def scripted_device(scripted_peer: tuple[Script, W24]) -> Callable[..., W24]:
    script, device = scripted_peer

    def start(replies: dict[bytes, bytes], *, byte_delay: float = 0.0) -> W24:
        script.replies, script.byte_delay = replies, byte_delay
        return device

    return start


def test_cr_only_line_ends(scripted_device) -> None:
    device = scripted_device(
        {
            b"AT+iRP0": b"AT+iRP0\rW24-X\rI/OK\r",
            b"AT+iRP1": b"AT+iRP1\r\rFW 1.0\rI/OK\r",
            b"AT+iSCLS:4": b"AT+iSCLS:4\rI/OK\rI/DONE\r",
            b"AT+iSST:4": b"I/(17)\r",
        }
    )
    assert device.identity() == Identity("W24-X", "FW 1.0")
    assert device.socket_status(4) == 17
    assert device.close(4) == "DONE"


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (b"I/ERROR (056)\r\n", 56),
        (b"I/ERROR(056)\r\n", 56),
        (b"I/ERROR\r\n", None),
        (b"AT+iFOO\r\nI/ERROR (203)\r", 203),
    ],
    ids=["space", "no-space", "bare", "echo-cr-only"],
)
def test_error_forms(scripted_device, reply: bytes, code: int | None) -> None:
    device = scripted_device({b"AT+iFOO": reply})
    with pytest.raises(DeviceError) as caught:
        device.execute("FOO")
    assert caught.value.code == code
    assert isinstance(caught.value, SocketError) == (code == 203)


def test_no_echo(scripted_device) -> None:
    device = scripted_device(
        {b"AT+i": b"I/OK\r\n", b"AT+iRP0": b"W24-X\r\nI/OK\r\n", b"AT+iRP1": b"FW\r\nI/OK\r\n"}
    )
    device.ping()
    assert device.identity() == Identity("W24-X", "FW")


def test_replies_dribbled_one_byte_at_a_time(scripted_device) -> None:
    data = b"ab\r\nI/OK\r\ncd"
    device = scripted_device(
        {
            b"AT+iRP0": b"AT+iRP0\r\nW24-X\r\nI/OK\r\n",
            b"AT+iSRCV:0": b"AT+iSRCV:0\r\nI/12:" + data,
            b"AT+iSTCP:10.0.0.1,443": b"AT+iSTCP:10.0.0.1,443\r\nI/7\r\n",
        },
        byte_delay=0.002,
    )
    assert device.report(0) == ("W24-X",)
    assert device.receive_once(0) == data
    assert device.open_tcp("10.0.0.1", 443) == 7


def test_leading_blank_lines(scripted_device) -> None:
    device = scripted_device(
        {b"AT+i": b"\r\n\r\n\r\nI/OK\r\n", b"AT+iRP4": b"\r\n\n\rI/(-200,5,-203)\r\n"}
    )
    device.ping()
    assert device.all_sockets() == (-200, 5, -203)


def test_stray_online_before_the_real_reply(scripted_device) -> None:
    device = scripted_device(
        {
            b"AT+i": b"I/ONLINE\r\nI/OK\r\n",
            b"AT+iSTCP:h,1": b"AT+iSTCP:h,1\r\nI/DONE\r\nI/ONLINE\r\nI/3\r\n",
        }
    )
    device.ping()
    assert device.open_tcp("h", 1) == 3


@pytest.mark.parametrize("head", ["AT+", "aT+", "at+"])
def test_a_ca_line_that_looks_like_an_echo_is_content(scripted_device, head: str) -> None:
    """Seen in CI: a trusted root whose base64 had a line starting "aT+" read back as another
    CA, and every row of the run was wedged. Only the command's own line is its echo."""
    body = [head + "x" * 61, "B" * 64, "Cw=="]
    pem = "\r\n".join(["-----BEGIN CERTIFICATE-----", *body, "-----END CERTIFICATE-----"])
    reply = b"AT+iCA?\r\nOU=x\r\n2000-01-01 - 2049-12-31\r\n" + pem.encode() + b"\r\nI/OK\r\n"
    device = scripted_device({b"AT+iCA?": reply})
    info = device.get_ca()
    assert info.pem.split("\n")[1:4] == body
    assert device.ca_cache.known["CA"].split("\n")[1] == body[0]


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Line starts that mean something to a reply parser, each made only of base64 characters.
_TOKEN_HEADS = ("", "AT+", "aT+", "At+", "at+", "AT+iCA", "I/", "I/0", "I/12", "I/OK", "I/ERROR")


def _not_a_result(line: str) -> bool:
    # A whole line that is a result by itself ("I/OK" as a 4-character last line, "I/" and 62
    # digits) would end the module's own reply there: no reader can tell. Under 1 CA in 10^8.
    return classify_line(line.encode()).kind in (ReplyKind.TEXT, ReplyKind.ECHO)


@st.composite
def _pem_body(draw: st.DrawFn) -> list[str]:
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        head = draw(st.sampled_from(_TOKEN_HEADS))
        fill = st.text(_B64, min_size=64 - len(head), max_size=64 - len(head))
        lines.append(draw(fill.map(lambda f, h=head: h + f).filter(_not_a_result)))
    # The last line: any length a DER length gives (a multiple of 4, "=" padding at the end).
    last = draw(st.text(_B64, min_size=2, max_size=62)) + draw(st.sampled_from(("", "=", "==")))
    last = last[: len(last) // 4 * 4] or "Cw=="
    return [*lines, last if _not_a_result(last) else "Cw=="]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=_pem_body())
def test_any_base64_line_of_a_ca_reads_back_as_sent(scripted_device, body: list[str]) -> None:
    """What the module prints of a CA is content, whatever its lines start with: the reply
    ends at the I/OK line, not at a line that looks like an echo, a number or a result."""
    pem = "\r\n".join(["-----BEGIN CERTIFICATE-----", *body, "-----END CERTIFICATE-----"])
    reply = b"AT+iCA?\r\nOU=x\r\n" + pem.encode() + b"\r\nI/OK\r\n"
    device = scripted_device({b"AT+iCA?": reply})
    assert device.get_ca().pem.split("\n")[1:-2] == body


def test_busy_maps_to_busy_error(scripted_device) -> None:
    device = scripted_device({b"AT+iRP0": b"AT+iRP0\r\nI/BUSY\r\n"})
    with pytest.raises(BusyError, match="RP0"):
        device.report(0)


def test_device_that_never_answers_times_out(sim_peer, sim_serves, sim_open) -> None:
    device = sim_open(sim_peer(sim_serves.silent).url)
    started = time.monotonic()
    with pytest.raises(DeviceTimeout, match="no complete reply"):
        device.ping(timeout=0.3)
    assert 0.25 < time.monotonic() - started < 1.5


def test_timeout_reports_the_partial_reply(scripted_device) -> None:
    device = scripted_device({b"AT+iRP0": b"AT+iRP0\r\nW24-X\r\nI/O"})
    with pytest.raises(DeviceTimeout, match="I/O"):
        device.execute("RP0", timeout=0.3)


# A read that ends early keeps what arrived: 4 bytes, then the socket fails on the next SRCV.
PARTIAL_READ = {b"AT+iSRCV:0,10": b"I/4:abcd\r\n", b"AT+iSRCV:0,6": b"I/ERROR(209)\r\n"}


def test_receive_all_keeps_the_bytes_before_an_error_and_counts_srcv(scripted_device) -> None:
    got = scripted_device(PARTIAL_READ).receive_all(0, 10, timeout=2.0)
    assert (got.data, got.commands, got.timed_out) == (b"abcd", 2, False)
    assert got.error is not None and got.error.code == ResultCode.SOCKET_RECEIVE_ERROR
    assert not got.complete


def test_receive_raises_an_error_other_than_socket_down(scripted_device) -> None:
    with pytest.raises(DeviceError) as caught:
        scripted_device(PARTIAL_READ).receive(0, 10, timeout=2.0)
    assert caught.value.code == ResultCode.SOCKET_RECEIVE_ERROR


def test_receive_ends_quietly_at_socket_down_with_what_arrived(scripted_device) -> None:
    replies = {**PARTIAL_READ, b"AT+iSRCV:0,6": b"I/ERROR(203)\r\n"}
    assert scripted_device(replies).receive(0, 10, timeout=2.0) == b"abcd"


def test_receive_all_times_out_without_raising(scripted_device) -> None:
    got = scripted_device({b"AT+iSRCV:0,10": b"I/0\r\n"}).receive_all(0, 10, timeout=0.05)
    assert got.timed_out and got.data == b"" and got.error is None and got.commands >= 1
