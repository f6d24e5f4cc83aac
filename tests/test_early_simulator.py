"""The simulator of a process that collects the device suites starts while it collects
(plugin.start_simulator_early), and the session uses that one. Child pytest runs of the real
suites via pytester; a probe plugin counts the simulators each process starts and leaves."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from child_runs import run_child

ROOT = Path(__file__).resolve().parents[1]
SUITES = ROOT / "suites"

pytestmark = [pytest.mark.timeout(120)]

# Loaded with -p in the child: logs each SimulatorProcess started, with the process that started
# it, whether that was before collection ended, and its pid (the tests check it is gone after).
PROBE = """
import os
from pathlib import Path

from w24_harness.sim import server

LOG = Path(os.environ["W24_PROBE_LOG"])
WHO = os.environ.get("PYTEST_XDIST_WORKER", "main")
_collected = []
_init = server.SimulatorProcess.__init__

def _counting_init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    when = "after-collection" if _collected else "during-collection"
    with LOG.open("a") as fh:
        fh.write(f"start {WHO} {when} {self.proc.pid}\\n")

server.SimulatorProcess.__init__ = _counting_init

if os.environ.get("W24_PROBE_BREAK_OPEN"):  # the port cannot be opened, the child runs
    from w24_harness.at.codes import LineDeadError
    from w24_harness.device import w24

    def _broken_open(*args, **kwargs):
        raise LineDeadError("probe: this port cannot be opened")

    w24.W24.open = staticmethod(_broken_open)

def pytest_collection_finish(session):
    _collected.append(True)
"""


def _run(
    pytester: pytest.Pytester, *args: str, env: dict[str, str] | None = None
) -> tuple[pytest.RunResult, list[list[str]]]:
    log = pytester.path / "probe.log"
    pytester.makepyfile(w24_start_probe=PROBE)
    result = run_child(
        pytester,
        str(SUITES),
        "-p",
        "w24_start_probe",
        *args,
        env={
            "W24_PROBE_LOG": str(log),
            "PYTHONPATH": f"{pytester.path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            **(env or {}),
        },
        unset=("PYTEST_XDIST_WORKER",),  # this test's own worker, if any
    )
    rows = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
    return result, rows


def _alive(pid: int) -> bool:
    """Running, not exited: an exited child whose parent is gone may linger as a zombie where
    nothing reaps orphans (a container's PID 1)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_the_session_uses_the_simulator_started_during_collection(pytester):
    result, starts = _run(pytester, "-k", "ca-fits or valid-tls1-aes128-sha")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=2)
    # One simulator, started before collection ended, and no second one for the session.
    assert [row[:3] for row in starts] == [["start", "main", "during-collection"]], starts


def test_each_xdist_worker_starts_its_own_early_and_the_controller_none(pytester):
    result, starts = _run(pytester, "-n", "2", "-k", "ca-fits or ca-garbage or ca-too-long")
    assert result.ret == 0, result.stdout.str()
    assert sorted(row[1:3] for row in starts) == [
        ["gw0", "during-collection"],
        ["gw1", "during-collection"],
    ], starts


def test_collect_only_starts_no_simulator(pytester):
    result, starts = _run(pytester, "--collect-only", "-q")
    assert result.ret == 0, result.stdout.str()
    assert starts == []


def test_a_simulator_no_test_took_is_stopped(pytester):
    # Nothing selected: the early simulator was started for nothing, and must not outlive the
    # run (pytest exits 5, no tests ran).
    result, starts = _run(pytester, "-k", "no-such-scenario-anywhere")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED, result.stdout.str()
    assert len(starts) == 1, starts
    pid = int(starts[0][3])
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)  # leave nothing behind, then fail
        pytest.fail(f"the early simulator {pid} outlived the run")


def test_a_simulator_the_session_cannot_talk_to_is_stopped(pytester):
    # The simulator came up, but the port to it cannot be opened: the session fixture fails
    # (the tests error) and must not leave the simulator running.
    result, starts = _run(pytester, "-k", "ca-fits", env={"W24_PROBE_BREAK_OPEN": "1"})
    assert result.ret != 0
    assert "probe: this port cannot be opened" in result.stdout.str()
    assert len(starts) == 1, starts
    pid = int(starts[0][3])
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        pytest.fail(f"the simulator {pid} outlived a session that could not connect")
