"""No silent internal errors: an exception inside a simulator command handler still answers
I/ERROR(216) on the wire (a module does not crash), but it is logged with its traceback, counted
in the simulator's status file, fails `w24 sim`'s exit status, and fails the test during which it
happened with "simulator internal error", reported apart from the firmware verdicts.

The crash is the self-test fault `internal_error` (the SSND handler raises after sending)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from w24_harness.at.codes import DeviceError
from w24_harness.at.reader import CommandReader
from w24_harness.cli.sim import INTERNAL_ERROR_EXIT
from w24_harness.profiles.table import get_profile
from w24_harness.sim.device import SimDevice
from w24_harness.sim.faults import Faults
from w24_harness.sim.server import SimulatorProcess
from w24_harness.sim.status import SimStatus

ROOT = Path(__file__).resolve().parents[2]
W24_PROFILE = get_profile("w24")

pytestmark = pytest.mark.timeout(120)


def _commands(device: SimDevice, wire: bytes):
    reader = CommandReader(
        max_line=device.profile.max_command_line,
        host_data_timeout_s=device.profile.host_data_timeout_s,
        ssnd_limit=device.ssnd_limit,
    )
    return reader.feed(wire, 0.0)


def test_handler_crash_answers_216_and_is_counted_and_logged(sim_echo_port: int) -> None:
    log: list[str] = []
    device = SimDevice(W24_PROFILE, faults=Faults(internal_error=True), log=log.append)
    try:
        (stcp,) = _commands(device, f"AT+iSTCP:127.0.0.1,{sim_echo_port}\r".encode())
        assert device.handle(stcp) == b"I/0\r\n"
        assert device.internal_errors == 0
        (ssnd,) = _commands(device, b"AT+iSSND%:0,3:abc")
        assert device.handle(ssnd) == b"I/ERROR(216)\r\n"
        assert device.internal_errors == 1
        assert "the SSND handler crashed" in device.last_internal_error
        assert "Traceback" in device.last_internal_error and "_ssnd" in device.last_internal_error
        assert any("Traceback" in line for line in log)
        (ping,) = _commands(device, b"AT+i\r")
        assert device.handle(ping) == b"I/OK\r\n"  # it carries on, as a module would
    finally:
        device.shutdown()


def test_command_failures_are_not_internal_errors() -> None:
    device = SimDevice(W24_PROFILE)
    (bad,) = _commands(device, b"AT+iSSND%:7,3:abc")
    assert device.handle(bad).startswith(b"I/ERROR(")
    assert device.internal_errors == 0


def test_status_file_and_exit_status_of_w24_sim(tmp_path: Path) -> None:
    status = tmp_path / "sim.status.json"
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        with SimulatorProcess(
            ["--tcp", "127.0.0.1:0", "--fault", "internal_error", "--log", str(tmp_path / "log")],
            status=status,
        ) as sim:
            assert sim.status() == SimStatus(0, "")  # written at start
            host, port = sim.url.removeprefix("socket://").rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=5) as line:
                line.settimeout(5)
                line.sendall(f"AT+iSTCP:127.0.0.1,{listener.getsockname()[1]}\r".encode())
                _read_until(line, b"I/0\r\n")
                line.sendall(b"AT+iSSND%:0,2:hi")
                _read_until(line, b"I/ERROR(216)\r\n")
            got = sim.status()
            assert got.internal_errors == 1
            assert "the SSND handler crashed" in got.last_error
        assert sim.returncode == INTERNAL_ERROR_EXIT
        assert "Traceback" in (tmp_path / "log").read_text()
    finally:
        listener.close()


def _read_until(conn: socket.socket, want: bytes) -> bytes:
    got = b""
    while want not in got:
        chunk = conn.recv(4096)
        assert chunk, f"line closed; got {got!r}"
        got += chunk
    return got


def test_w24_sim_exits_0_without_internal_errors(tmp_path: Path) -> None:
    with SimulatorProcess(["--tcp", "127.0.0.1:0"], status=tmp_path / "s.json") as sim:
        pass
    assert sim.returncode == 0


# A suite-style test that swallows the device's error: with the crash injected its own asserts
# still pass, so only the plugin's internal-error check can fail it.
SWALLOWING_TEST = """
import socket

from w24_harness.at.codes import DeviceError


def test_swallows_the_error(w24):
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        handle = w24.open_tcp("127.0.0.1", listener.getsockname()[1])
        try:
            w24.send(handle, b"hello")
        except DeviceError:
            pass
        w24.close(handle)
    finally:
        listener.close()


def test_untouched(w24):
    w24.ping()
"""


@pytest.mark.parametrize("fault", [True, False], ids=["internal_error", "no_fault"])
def test_plugin_fails_the_test_with_simulator_internal_error(pytester, tmp_path, fault):
    pytester.makepyfile(test_swallow=SWALLOWING_TEST)
    report_dir = tmp_path / "reports"
    args = ["-p", "no:cacheprovider", "--w24-report-dir", str(report_dir)]
    if fault:
        args += ["--w24-sim-fault", "internal_error"]
    result = pytester.runpytest_subprocess(*args, timeout=100)
    data = json.loads((report_dir / "results.json").read_text())
    if not fault:
        result.assert_outcomes(passed=2)
        assert data["simulator_internal_errors"] == []
        return
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "FAILED test_swallow.py::test_swallows_the_error" in out
    assert "simulator internal error: 1 during this test (call)" in out
    assert "the SSND handler crashed" in out
    assert "w24: simulator internal error in 1 test(s)" in out
    (entry,) = data["simulator_internal_errors"]
    assert entry["nodeid"] == "test_swallow.py::test_swallows_the_error"
    assert entry["count"] == 1 and entry["phase"] == "call"
    assert data["summary"]["simulator_internal_errors"] == 1
    assert data["results"] == []  # no scenario verdict was recorded, none is invented
    assert "Simulator internal error" in (report_dir / "report.html").read_text()


def test_swallowing_is_real(sim_start, sim_open, sim_echo_port) -> None:
    # The premise of the plugin test: with the fault the driver does see 216 on SSND.
    device = sim_open(sim_start(faults=Faults(internal_error=True)).url)
    handle = device.open_tcp("127.0.0.1", sim_echo_port)
    with pytest.raises(DeviceError) as err:
        device.send(handle, b"x")
    assert err.value.code == 216
