"""The simulator's escape sequence (spec §2.4): "+++" after 0.5 s of silence, in Internet mode,
is a software reset that closes every socket and answers I/ERROR(056); without the silence it
is not an escape. The model suite's `escape` step relies on it."""

from __future__ import annotations

import socket
import time

import pytest

from w24_harness.at.codes import DeviceError, ResultCode
from w24_harness.at.reader import ESCAPE_GUARD_S, Command, CommandReader
from w24_harness.device.w24 import W24
from w24_harness.sim.server import Simulator


def test_reader_takes_plus_plus_plus_after_silence_as_the_escape():
    reader = CommandReader()
    assert reader.feed(b"AT+i\r", 1.0)[0] == Command("", "", "", line=b"AT+i")
    items = reader.feed(b"+++", 1.0 + ESCAPE_GUARD_S + 0.01)
    assert [i.name for i in items if isinstance(i, Command)] == ["+++"]


@pytest.mark.parametrize("chunks", [[b"+++"], [b"+", b"++"]])
def test_reader_without_the_silence_is_no_escape(chunks):
    reader = CommandReader()
    reader.feed(b"AT+i\r", 1.0)
    items = [item for c in chunks for item in reader.feed(c, 1.1)]
    assert not any(isinstance(i, Command) and i.name == "+++" for i in items)


def test_escape_online_closes_every_socket():
    with socket.create_server(("127.0.0.1", 0)) as listener, Simulator() as sim:
        w24 = W24.open(sim.start_pty())
        try:
            port = listener.getsockname()[1]
            handles = [w24.open_tcp("127.0.0.1", port) for _ in range(2)]
            peers = [listener.accept()[0] for _ in handles]
            time.sleep(ESCAPE_GUARD_S + 0.1)
            with pytest.raises(DeviceError) as info:
                w24.execute("+++", wire=b"+++", timeout=5)
            assert info.value.code == ResultCode.USER_ABORT
            assert w24.all_sockets() == (-200,) * 10
            for peer in peers:
                peer.settimeout(5)
                assert peer.recv(1) == b""  # the connection ended
                peer.close()
        finally:
            w24.close_port()
