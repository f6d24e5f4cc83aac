"""`python -m w24_harness.sim` and `w24 sim` as child processes: addresses, signals, state, log."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from w24_harness.at.codes import DeviceError
from w24_harness.device.w24 import W24
from w24_harness.sim.server import SimulatorProcess

pytestmark = pytest.mark.timeout(60)

W24_SCRIPT = Path(sys.executable).parent / "w24"


@pytest.fixture
def sim_process() -> Iterator[Callable[..., SimulatorProcess]]:
    started: list[SimulatorProcess] = []

    def start(*args: str) -> SimulatorProcess:
        process = SimulatorProcess(list(args))
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def run_sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "w24_harness.sim", *args],
        capture_output=True,
        text=True,
        timeout=20,
    )


def test_pty_prints_its_path_first_and_the_device_answers_there(sim_process, sim_open) -> None:
    process = sim_process("--pty")
    assert process.url.startswith("/dev/") and Path(process.url).exists()
    device = sim_open(process.url)
    device.ping()
    assert device.identity().part_number == "W24-CO2144-01"


def test_tcp_port_zero_prints_the_real_port(sim_process, sim_open) -> None:
    process = sim_process("--tcp", "127.0.0.1:0", "--profile", "ichip", "--no-echo")
    match = re.fullmatch(r"socket://127\.0\.0\.1:(\d+)", process.url)
    assert match and int(match.group(1)) != 0
    device = sim_open(process.url, profile="ichip")
    device.ping()
    assert device.report(0) == ("CO2144AD-01",)
    mark = device.transcript.mark()
    device.ping()
    rx = b"".join(e.data for e in device.transcript.since(mark) if e.direction == "rx")
    assert rx == b"I/OK\r\n"  # --no-echo


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_signals_make_it_exit_0_promptly(sim_process, sim_open, signum: int) -> None:
    process = sim_process("--pty")
    sim_open(process.url).ping()
    process.proc.send_signal(signum)
    assert process.proc.wait(timeout=3) == 0


def test_state_file_persists_across_two_runs(
    sim_process, sim_open, sim_ca_pem: bytes, tmp_path: Path
) -> None:
    state = tmp_path / "nv.json"
    first = sim_process("--pty", "--state", str(state))
    device = sim_open(first.url)
    device.set_ca(sim_ca_pem)
    device.execute("BDRF=5")
    first.stop()
    assert state.exists()
    second = sim_open(sim_process("--pty", "--state", str(state)).url)
    assert second.get_ca().pem == sim_ca_pem.decode()
    assert second.execute("BDRF?").text == ("5",)
    without_state = sim_open(sim_process("--pty").url)
    assert without_state.get_ca().empty


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pty", "--baud", "-1"], "--baud must be >= 0"),
        (["--pty", "--baud", "fast"], "invalid int value"),
        (["--tcp", "nonsense"], "--tcp wants HOST:PORT"),
        (["--tcp", "127.0.0.1:http"], "--tcp wants HOST:PORT"),
        (["--tcp", "127.0.0.1:99999"], "--tcp wants HOST:PORT"),
        (["--tcp", "203.0.113.7:0"], "cannot serve"),
        (["--pty", "--fault", "no-such-fault"], "invalid choice"),
        (["--pty", "--profile", "w99"], "invalid choice"),
        ([], "one of the arguments --pty --tcp is required"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(args: list[str], message: str) -> None:
    result = run_sim(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_corrupt_state_file_exits_2_naming_it(tmp_path: Path) -> None:
    state = tmp_path / "nv.json"
    state.write_text("{ half a json")
    result = run_sim("--pty", "--state", str(state))
    assert result.returncode == 2
    assert str(state) in result.stderr and "not a simulator state" in result.stderr


def test_log_file_gets_the_transcript(sim_process, sim_open, tmp_path: Path) -> None:
    log = tmp_path / "sim.log"
    process = sim_process("--pty", "--log", str(log))
    device: W24 = sim_open(process.url)
    device.ping()
    with pytest.raises(DeviceError, match="053"):
        device.execute("NOPE")
    process.stop()
    text = log.read_text()
    assert re.search(r"^\s*\d+\.\d{4} <- AT\+i\\r$", text, re.M)
    assert re.search(r"^\s*\d+\.\d{4} -> I/OK\\r\\n$", text, re.M)
    assert "-> I/ERROR(053)\\r\\n" in text
    assert "## illegal command code 'NOPE'" in text


def test_w24_console_script_help() -> None:
    assert W24_SCRIPT.exists(), f"no console script at {W24_SCRIPT}"
    result = subprocess.run(
        [str(W24_SCRIPT), "sim", "--help"], capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 0
    for option in ("--pty", "--tcp", "--baud", "--state", "--log", "--no-echo", "--profile"):
        assert option in result.stdout


def test_w24_console_script_runs_the_simulator(sim_open) -> None:
    proc = subprocess.Popen(
        [str(W24_SCRIPT), "sim", "--tcp", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("socket://127.0.0.1:")
        sim_open(url).ping()
        proc.terminate()
        assert proc.wait(timeout=3) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        proc.stdout.close()  # type: ignore[union-attr]
