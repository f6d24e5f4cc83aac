"""Bad set-up ends a session with one clear message before any test runs, and two runs in one
checkout keep their reports apart. Child pytest runs via pytester, real ports and processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from w24_harness.exitcodes import RunExit
from w24_harness.fixtures import rundir

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.timeout(120)]

ONE_SCENARIO = """
from w24_harness.scenarios import get

def test_valid(scenario_runner, check_scenario):
    check_scenario(get("valid-tls1-aes128-sha"), scenario_runner.run(get("valid-tls1-aes128-sha")))

def test_another(w24):
    w24.ping()
"""


def _run(pytester: pytest.Pytester, report_dir: Path, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_one=ONE_SCENARIO)
    return pytester.runpytest_subprocess(
        f"--rootdir={ROOT}",
        "-p",
        "no:cacheprovider",
        "--w24-report-dir",
        str(report_dir),
        *args,
        timeout=100,
    )


def test_unknown_fault_is_one_usage_error_naming_the_known_faults(pytester, tmp_path):
    result = _run(pytester, tmp_path / "r", "--w24-sim-fault", "typo")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "--w24-sim-fault: unknown fault(s) ['typo']" in err
    assert "accept_any_cert" in err and "wrong_code" in err
    assert "closed file" not in result.stdout.str() + err


@pytest.mark.parametrize(
    ("port", "says"),
    [
        ("/dev/ttyNOPE", "cannot open /dev/ttyNOPE at 115200 baud"),
        # loop:// opens and echoes every byte, but nothing ever answers I/OK.
        ("loop://", "loop:// at 115200 baud opened, but the device does not answer AT+i"),
    ],
    ids=["no-such-port", "silent-device"],
)
def test_unusable_port_ends_the_session_before_any_test(pytester, tmp_path, port, says):
    report_dir = tmp_path / "r"
    result = _run(pytester, report_dir, "--w24-port", port)
    out = result.stdout.str() + result.stderr.str()
    assert result.ret == RunExit.UNREACHABLE  # not 4: a typo in a flag is a usage error
    assert says in out
    assert "ERROR at setup" not in out and " passed" not in out
    results = json.loads((report_dir / "results.json").read_text())
    assert says in results["aborted"]
    assert results["results"] == []


def test_a_second_run_in_the_same_checkout_gets_its_own_report_dir(pytester, tmp_path):
    report_dir = tmp_path / "reports"
    pytester.makepyfile(
        test_slow="""
import time

def test_hold(w24):
    time.sleep(4)
    w24.ping()
"""
    )
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            f"--rootdir={ROOT}",
            "-p",
            "no:cacheprovider",
            "--w24-report-dir",
            str(report_dir),
            "test_slow.py",
        ],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lock = report_dir / rundir.LOCK_NAME
        deadline = time.monotonic() + 30
        while not lock.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock.read_text().strip() == str(first.pid)
        second = _run(pytester, report_dir, "-k", "test_another", "test_one.py")
    finally:
        out, _ = first.communicate(timeout=60)
    assert first.returncode == 0, out
    assert second.ret == 0, second.stdout.str()
    own = [d for d in report_dir.glob("run-*") if (d / "results.json").exists()]
    assert len(own) == 1, list(report_dir.iterdir())
    # Each run's reports are intact and its own: the first run's results were not deleted.
    assert "test_hold" in (report_dir / "junit.xml").read_text()
    assert "test_another" not in (report_dir / "junit.xml").read_text()
    assert "test_another" in (own[0] / "junit.xml").read_text()
    assert "test_hold" not in (own[0] / "junit.xml").read_text()
    assert not lock.exists(), "the first run releases its claim"


def test_claim_takes_over_a_stale_lock_and_steps_aside_for_a_live_one(tmp_path):
    stale = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (tmp_path / rundir.LOCK_NAME).write_text(stale.stdout.strip())  # that process is gone
    assert rundir.claim(tmp_path) == tmp_path
    rundir.release(tmp_path)
    assert not (tmp_path / rundir.LOCK_NAME).exists()

    (tmp_path / rundir.LOCK_NAME).write_text(str(os.getppid()))  # alive: the test runner's parent
    mine = rundir.claim(tmp_path)
    assert mine == tmp_path / f"run-{os.getpid()}"
    assert (tmp_path / rundir.LOCK_NAME).read_text() == str(os.getppid())
    rundir.release(mine)
