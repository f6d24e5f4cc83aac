"""The serial transport and its transcript, over loop://, a real pty and socket://."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import time
from collections.abc import Callable, Iterator

import pytest

from w24_harness.at.codes import LineDeadError
from w24_harness.device.transport import Transcript, TranscriptEntry, Transport
from w24_harness.device.w24 import W24
from w24_harness.lab import ser2net
from w24_harness.sim.server import Simulator

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    """A pty master fd (the 'device' end) and the slave path a Transport opens."""
    master, slave = os.openpty()
    path = os.ttyname(slave)
    yield master, path
    for fd in (master, slave):
        with contextlib.suppress(OSError):
            os.close(fd)


def _read_master(fd: int, want: int, timeout: float = 2.0) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            got += os.read(fd, 4096)
    return got


def _read_until(transport: Transport, want: int, timeout: float = 2.0) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        got += transport.read_some(0.05)
    return got


# -- round trips ----------------------------------------------------------------------------


def test_loop_round_trip_records_both_directions() -> None:
    with Transport("loop://") as line:
        line.write(b"AT+i\r")
        assert _read_until(line, 5) == b"AT+i\r"
        entries = line.transcript.since(0)
    assert [e.direction for e in entries] == ["tx", "rx"]
    assert entries[0].data == entries[1].data == b"AT+i\r"
    assert entries[0].t <= entries[1].t


def test_pty_round_trip_is_8_bit_clean(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    every_byte = bytes(range(256))
    with Transport(path) as line:
        line.write(every_byte)
        assert _read_master(master, 256) == every_byte
        os.write(master, every_byte[::-1])
        assert _read_until(line, 256) == every_byte[::-1]
        rx = b"".join(e.data for e in line.transcript.since(0) if e.direction == "rx")
    assert rx == every_byte[::-1]


def test_read_some_returns_empty_after_its_timeout(pty_pair: tuple[int, str]) -> None:
    _master, path = pty_pair
    with Transport(path) as line:
        started = time.monotonic()
        assert line.read_some(0.2) == b""
        assert 0.15 < time.monotonic() - started < 2.0


# A command whose line time is long: 1000 bytes at 9600 baud take 1.04 s.
SLOW_BAUD, LONG_COMMAND = 9600, 1000


def test_a_reply_already_there_is_read_at_once_whatever_its_due_time(
    pty_pair: tuple[int, str],
) -> None:
    """expect_reply_after() only changes how the read waits, never holds data back."""
    master, path = pty_pair
    with Transport(path, baud=SLOW_BAUD) as line:
        line.expect_reply_after(LONG_COMMAND)  # due in 1.04 s
        os.write(master, b"I/OK\r\n")
        started = time.monotonic()
        assert _read_until(line, 6, timeout=3.0) == b"I/OK\r\n"
        assert time.monotonic() - started < 0.5


def test_a_reply_arriving_around_its_due_time_is_read(pty_pair: tuple[int, str]) -> None:
    """Before the due time (asleep), inside the polling window, and after it (asleep again)."""
    master, path = pty_pair
    with Transport(path, baud=SLOW_BAUD) as line:
        for delay in (0.0, 0.0025, 0.05):  # 40-byte commands: due 4.2 ms after the write
            line.expect_reply_after(40)
            time.sleep(delay)
            os.write(master, b"I/OK\r\n")
            assert _read_until(line, 6, timeout=3.0) == b"I/OK\r\n", delay


def test_a_far_due_time_does_not_stretch_a_reads_timeout(pty_pair: tuple[int, str]) -> None:
    _master, path = pty_pair
    with Transport(path, baud=SLOW_BAUD) as line:
        line.expect_reply_after(LONG_COMMAND)
        started = time.monotonic()
        assert line.read_some(0.05) == b""
        assert time.monotonic() - started < 0.5


def test_discard_input_drops_stale_bytes_and_notes_it(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    with Transport(path) as line:
        os.write(master, b"late I/OK\r\n")
        time.sleep(0.05)
        assert line.discard_input() == b"late I/OK\r\n"
        assert line.read_some(0) == b""
        notes = [e for e in line.transcript.since(0) if e.direction == "note"]
    assert len(notes) == 1 and b"11 stale bytes" in notes[0].data


# -- transcript -----------------------------------------------------------------------------


def test_transcript_keeps_order_and_mark_since_cut_out_a_share() -> None:
    transcript = Transcript()
    transcript.record("tx", b"AT+iRP0\r")
    transcript.record("rx", b"W24\r\nI/OK\r\n")
    mark = transcript.mark()
    transcript.note("second test starts")
    transcript.record("tx", b"AT+i\r")
    transcript.record("rx", b"")  # nothing arrived: not an entry
    assert [e.direction for e in transcript.since(0)] == ["tx", "rx", "note", "tx"]
    later = transcript.since(mark)
    assert [(e.direction, e.data) for e in later] == [
        ("note", b"second test starts"),
        ("tx", b"AT+i\r"),
    ]
    times = [e.t for e in transcript.since(0)]
    assert times == sorted(times)
    assert transcript.since(transcript.mark()) == []


def test_transcript_keeps_read_bytes_in_order_and_writes_apart() -> None:
    transcript = Transcript()
    for byte in b"I/OK\r\n":
        transcript.record("rx", bytes([byte]))
    transcript.record("tx", b"A")
    transcript.record("tx", b"B")
    rx = [e for e in transcript.since(0) if e.direction == "rx"]
    assert b"".join(e.data for e in rx) == b"I/OK\r\n"
    assert [e.data for e in transcript.since(0) if e.direction == "tx"] == [b"A", b"B"]


def test_render_escapes_control_bytes_and_truncates() -> None:
    entries = [
        TranscriptEntry(0.5, "tx", b"AT+iSSND:0,4:\x00\r\n\xff"),
        TranscriptEntry(0.6, "rx", b"I/OK\r\n"),
        TranscriptEntry(0.7, "note", "résumé".encode()),
        TranscriptEntry(0.8, "rx", b"x" * 600),
    ]
    text = Transcript.render(entries)
    lines = text.splitlines()
    assert len(lines) == 4 and text.endswith("\n")
    assert lines[0].endswith("-> AT+iSSND:0,4:\\x00\\r\\n\\xff")
    assert lines[1].endswith("<- I/OK\\r\\n")
    assert lines[2].endswith("## résumé")
    assert lines[3].endswith("... (600 bytes)") and "x" * 513 not in lines[3]
    assert "\r" not in text and "\x00" not in text
    assert Transcript.render([]) == ""


def test_save_and_save_json_write_the_share_after_a_mark(tmp_path) -> None:
    transcript = Transcript()
    transcript.record("tx", b"before\r")
    mark = transcript.mark()
    transcript.record("rx", b"after\r\n\xe9")
    text = transcript.save(tmp_path / "deep" / "t.txt", mark).read_text()
    assert "after\\r\\n\\xe9" in text and "before" not in text
    rows = json.loads(transcript.save_json(tmp_path / "t.json", mark).read_text())
    assert [(r["dir"], r["data"]) for r in rows] == [("rx", "after\r\n\xe9")]


# -- ports that cannot be opened, and ports whose peer went away ---------------------------


@pytest.mark.parametrize(
    "url",
    ["/dev/no-such-w24-port", "nosuchscheme://somewhere", "socket://127.0.0.1:notaport"],
)
def test_unopenable_port_raises_line_dead_naming_it(url: str) -> None:
    with pytest.raises(LineDeadError) as caught:
        Transport(url)
    assert url in str(caught.value)


def test_socket_url_with_nobody_listening_is_line_dead(sim_peer, sim_serves) -> None:
    peer = sim_peer(sim_serves.silent)
    url = peer.url
    peer.stop()
    with pytest.raises(LineDeadError, match=url.replace(".", r"\.")):
        Transport(url)


def _assert_dead_promptly(action: Callable[[], object]) -> None:
    started = time.monotonic()
    with pytest.raises(LineDeadError):
        action()
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("tcp", [False, True], ids=["pty", "tcp"])
def test_stopped_simulator_makes_reads_and_writes_line_dead(
    sim_start: Callable[..., Simulator], tcp: bool
) -> None:
    sim = sim_start(tcp=tcp)
    line = Transport(sim.url)
    try:
        line.write(b"AT+i\r")
        assert b"I/OK" in _read_until(line, 11)
        sim.stop()

        def read() -> bytes:
            return line.read_some(2.0)

        def write_twice() -> None:
            # The first write after a TCP close can still land in the kernel buffer.
            line.write(b"AT+i\r")
            time.sleep(0.05)
            line.write(b"AT+i\r")

        _assert_dead_promptly(read)
        _assert_dead_promptly(write_twice)
        _assert_dead_promptly(read)
    finally:
        line.close()


def test_driver_on_a_dead_line_raises_line_dead_not_timeout(
    sim_start: Callable[..., Simulator],
) -> None:
    sim = sim_start()
    device = W24.open(sim.url)
    try:
        device.ping()
        sim.stop()
        _assert_dead_promptly(device.ping)
    finally:
        device.close_port()


def test_socket_peer_closing_makes_reads_line_dead(sim_peer) -> None:
    def close_at_once(conn) -> None:
        conn.close()

    peer = sim_peer(close_at_once)
    with Transport(peer.url) as line:
        assert peer.accepted.wait(2)
        _assert_dead_promptly(lambda: line.read_some(2.0))


# -- RFC 2217 through a real ser2net ------------------------------------------------------

needs_ser2net = pytest.mark.skipif(
    ser2net.available() is None, reason="ser2net is not installed (apt-get install ser2net)"
)


@pytest.fixture
def sim_over_ser2net(sim_start: Callable[..., Simulator]) -> Iterator[ser2net.Ser2net]:
    """The simulator's pty exported as RFC 2217 on 127.0.0.1 by a real ser2net."""
    sim = sim_start()
    with ser2net.Ser2net(ser2net.Ser2netConfig(sim.url, ser2net.free_port())) as server:
        yield server


def test_rfc2217_port_with_nobody_listening_is_line_dead() -> None:
    url = f"rfc2217://127.0.0.1:{ser2net.free_port()}"
    with pytest.raises(LineDeadError, match=re.escape(url)):
        Transport(url)


@needs_ser2net
def test_rfc2217_reads_never_renegotiate_the_port(
    sim_over_ser2net: ser2net.Ser2net, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Upstream pyserial 3.5 renegotiates the whole port (>= 150 ms) on every timeout change;
    # the transport must configure the port once, at open, whatever the reads wait for.
    from serial import rfc2217

    calls: list[float] = []
    original = rfc2217.Serial._reconfigure_port

    def counting(self: rfc2217.Serial) -> None:
        calls.append(time.monotonic())
        original(self)

    monkeypatch.setattr(rfc2217.Serial, "_reconfigure_port", counting)
    device = W24.open(sim_over_ser2net.url + "?ign_set_control")
    try:
        assert device.transport.polled
        device.resync()
        for _ in range(5):
            assert device.report(1) == (device.profile.firmware,)
        assert device.transport.read_some(0.05) == b""
    finally:
        device.close_port()
    assert len(calls) == 1


@needs_ser2net
def test_rfc2217_pty_behind_ser2net_is_reopened_with_ign_set_control(
    sim_over_ser2net: ser2net.Ser2net,
) -> None:
    # ser2net cannot set DTR/RTS on a pty, so it never acknowledges SET-CONTROL.
    line = Transport(sim_over_ser2net.url)
    try:
        assert line.url == sim_over_ser2net.url + "?ign_set_control"
        notes = [e.data for e in line.transcript.since(0) if e.direction == "note"]
        assert any(b"did not acknowledge DTR/RTS" in n for n in notes)
        line.write(b"AT+i\r")
        assert b"I/OK" in _read_until(line, 11)
    finally:
        line.close()


@needs_ser2net
def test_rfc2217_with_rtscts_needs_an_acknowledged_control_option(
    sim_over_ser2net: ser2net.Ser2net,
) -> None:
    # Flow control that the server never confirmed is not flow control: refuse, with the hint.
    with pytest.raises(LineDeadError, match="ign_set_control"):
        Transport(sim_over_ser2net.url, rtscts=True)
