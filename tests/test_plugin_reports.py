"""The plugin keeps its promises when things go wrong: reports are written when the run is
interrupted or the device dies half-way, the device comes back for the next test, and the
options and markers are there. Child pytest runs via pytester."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from w24_harness.exitcodes import RunExit

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.timeout(120)]

SCENARIO_TEST = """
from w24_harness.scenarios import get

def test_a_valid(scenario_runner, check_scenario):
    check_scenario(get("valid-tls1-aes128-sha"), scenario_runner.run(get("valid-tls1-aes128-sha")))
"""


def _run(pytester: pytest.Pytester, report_dir: Path, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        f"--rootdir={ROOT}",
        "-p",
        "no:cacheprovider",
        "--w24-report-dir",
        str(report_dir),
        *args,
        timeout=100,
    )


def _results(report_dir: Path) -> dict:
    return json.loads((report_dir / "results.json").read_text())


def test_interrupted_run_still_writes_reports(pytester, tmp_path):
    pytester.makepyfile(
        test_interrupt=SCENARIO_TEST
        + """
def test_b_interrupt():
    raise KeyboardInterrupt

def test_c_never_runs(scenario_runner, check_scenario):
    raise AssertionError("must not run")
"""
    )
    report_dir = tmp_path / "reports"
    result = _run(pytester, report_dir)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    data = _results(report_dir)
    assert [r["id"] for r in data["results"]] == ["valid-tls1-aes128-sha"]
    assert data["exit_status"] == int(pytest.ExitCode.INTERRUPTED)
    assert data["runs"][0]["firmware"], "firmware identity recorded"
    assert data["verdict"]["state"] == "incomplete"
    assert [(m["id"], m["why"]) for m in data["verdict"]["missing"]] == [
        ("test_c_never_runs", "interrupted")
    ]
    html = (report_dir / "report.html").read_text()
    assert "valid-tls1-aes128-sha" in html and data["runs"][0]["firmware"] in html
    assert (report_dir / "junit.xml").is_file()


def test_device_death_is_recovered_and_reported(pytester, tmp_path):
    pytester.makepyfile(
        test_death=SCENARIO_TEST
        + """
def test_b_device_dies(w24, w24_session):
    w24_session.simulator.proc.kill()
    w24_session.simulator.proc.wait(timeout=10)
    w24.ping()

def test_c_after_recovery(w24, w24_session, scenario_runner, check_scenario):
    assert w24_session.restarts == 1
    check_scenario(get("no-ca"), scenario_runner.run(get("no-ca")))
"""
    )
    report_dir = tmp_path / "reports"
    result = _run(pytester, report_dir)
    result.assert_outcomes(passed=2, failed=1)
    assert "LineDeadError" in result.stdout.str() or "DeviceTimeout" in result.stdout.str()
    data = _results(report_dir)
    assert {r["id"]: r["passed"] for r in data["results"]} == {
        "valid-tls1-aes128-sha": True,
        "no-ca": True,
    }


def test_failure_message_names_scenario_codes_and_transcript(pytester, tmp_path):
    pytester.makepyfile(
        test_fail="""
from w24_harness.scenarios import get

def test_wrong_ca(scenario_runner, check_scenario):
    check_scenario(get("wrong-ca"), scenario_runner.run(get("wrong-ca")))
"""
    )
    report_dir = tmp_path / "reports"
    result = _run(pytester, report_dir, "--w24-sim-fault", "accept_any_cert")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "scenario wrong-ca on profile w24: expected reject 220 at ssl, got accept" in out
    transcript = out.split("serial transcript: ", 1)[1].split()[0]
    text = Path(transcript).read_text()
    assert "AT+iSSL" in text and "I/OK" in text


def test_options_and_markers_are_registered(pytester):
    result = pytester.runpytest_subprocess(f"--rootdir={ROOT}", "--help")
    out = result.stdout.str()
    for option in (
        "--w24-port",
        "--w24-baud",
        "--w24-profile",
        "--w24-host",
        "--w24-bind",
        "--w24-report-dir",
    ):
        assert option in out
    markers = pytester.runpytest_subprocess(f"--rootdir={ROOT}", "--markers").stdout.str()
    for marker in ("hardware_only", "simulator_only", "slow"):
        assert f"@pytest.mark.{marker}" in markers


def test_hardware_only_is_skipped_on_the_simulator(pytester, tmp_path):
    pytester.makepyfile(
        test_marks="""
import pytest

@pytest.mark.hardware_only
def test_needs_hardware():
    raise AssertionError("must be skipped")

@pytest.mark.simulator_only
def test_on_simulator():
    pass
"""
    )
    result = _run(pytester, tmp_path / "reports", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    assert "needs a real W24" in result.stdout.str()


def test_ssnd_chunk_option_reaches_the_driver(pytester, tmp_path):
    report_dir = tmp_path / "reports"
    result = pytester.runpytest_subprocess(
        str(ROOT / "suites"),
        f"--rootdir={ROOT}",
        "-p",
        "no:cacheprovider",
        "-k",
        "data-up-2049",
        "--w24-ssnd-chunk",
        "256",
        "--w24-report-dir",
        str(report_dir),
        timeout=100,
    )
    result.assert_outcomes(passed=1)
    transcript = Path(_results(report_dir)["results"][0]["transcript"]).read_text()
    sent = [
        line.split(" -> AT+iSSND%:", 1)[1]
        for line in transcript.splitlines()
        if " -> AT+iSSND%:" in line
    ]  # host-to-device lines, not the echo
    sizes = [int(header.split(":")[0].split(",")[1]) for header in sent]
    assert sizes == [256] * 8 + [1], sizes  # 2049 bytes in chunks of at most 256


def test_bad_ssnd_chunk_is_a_usage_error(pytester, tmp_path):
    result = _run(pytester, tmp_path / "reports", "--w24-ssnd-chunk", "4096")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--w24-ssnd-chunk must be 1..2048" in result.stderr.str()


KILLED_MIDWAY = """
import pytest
from w24_harness.scenarios import get

IDS = ["valid-tls1-aes128-sha", "no-ca", "wrong-ca"]

@pytest.mark.parametrize("scenario", [get(i) for i in IDS], ids=IDS)
def test_scenario(scenario, w24_session, scenario_runner, check_scenario):
    if scenario.id == "no-ca":  # the device dies in the middle of the run
        w24_session.simulator.proc.kill()
        w24_session.simulator.proc.wait(timeout=10)
    check_scenario(scenario, scenario_runner.run(scenario))
"""


def test_device_killed_midway_makes_the_verdict_red_and_names_the_lost_scenario(pytester, tmp_path):
    pytester.makepyfile(test_killed=KILLED_MIDWAY)
    report_dir = tmp_path / "reports"
    result = _run(pytester, report_dir)
    result.assert_outcomes(passed=2, failed=1)
    data = _results(report_dir)
    counts = data["counts"]
    assert (counts["planned"], counts["passed"], counts["failed"], counts["no_result"]) == (
        3,
        2,
        0,
        1,
    )
    assert counts["no_result_why"] == {"device dead": 1}
    assert data["verdict"]["colour"] == "red" and data["verdict"]["state"] == "incomplete"
    assert [m["id"] for m in data["verdict"]["missing"]] == ["no-ca"]
    assert "INCOMPLETE: 2 of 3 planned scenarios as expected; 1 produced no result" in (
        result.stdout.str()
    )
    assert "no result: 1 device dead: LineDeadError" in result.stdout.str()
    assert "[no-ca]" in result.stdout.str()
    html = (report_dir / "report.html").read_text()
    assert 'class="verdict red"' in html and "no-ca" in html


STAYS_DEAD = KILLED_MIDWAY.replace(
    "w24_session.simulator.proc.wait(timeout=10)",
    "w24_session.simulator.proc.wait(timeout=10)\n"
    "        w24_session.recover = lambda: w24_session.device.ping(timeout=0.5)",
)


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_device_that_stays_dead_stops_the_run_with_one_cause(pytester, tmp_path, xdist):
    # On hardware nothing restarts a dead module: the run stops at the first row that cannot
    # get it back, and every row not yet started is "not run" under that one cause.
    pytester.makepyfile(test_dead=STAYS_DEAD)
    report_dir = tmp_path / "reports"
    result = _run(pytester, report_dir, *xdist)
    assert result.ret == RunExit.INCOMPLETE
    out = result.stdout.str()
    assert "Traceback" not in out and "most recent call last" not in out
    assert out.rstrip().splitlines()[-1].startswith("w24 verdict: INCOMPLETE")
    data = _results(report_dir)
    assert data["stopped"].startswith("w24: device dead in test_scenario[no-ca]")
    missing = {m["id"]: m for m in data["verdict"]["missing"]}
    assert missing["no-ca"]["why"] == "device dead"
    # Under xdist the other worker may have run wrong-ca before the loss; one process cannot.
    assert set(missing) == {"no-ca", "wrong-ca"} if not xdist else "no-ca" in missing
    for m in missing.values():
        if m["id"] != "no-ca":
            assert (m["why"], m["detail"]) == ("not run", data["stopped"])
    assert data["verdict"]["colour"] == "red" and data["exit_status"] == RunExit.INCOMPLETE
    for name in ("results.json", "report.html", "junit.xml"):
        assert (report_dir / name).is_file(), name


def test_counts_cover_skips_harness_errors_xfail_and_xpass(pytester, tmp_path):
    pytester.makepyfile(
        test_counts="""
import pytest
from w24_harness.scenarios import get

VALID = get("valid-tls1-aes128-sha")

def test_passes(scenario_runner, check_scenario):
    check_scenario(VALID, scenario_runner.run(VALID))

def test_skipped(check_scenario):
    pytest.skip("no second module on this bench")

def test_harness_breaks(check_scenario):
    raise RuntimeError("the TLS server would not start")

@pytest.mark.xfail(reason="known bug", strict=True)
def test_known_bug(w24_record):
    w24_record(id="known", description="", expected="accept", actual="reject", passed=False)
    raise AssertionError("reject")

@pytest.mark.xfail(reason="known bug, fixed now", strict=True)
def test_fixed_bug(scenario_runner, check_scenario):
    check_scenario(VALID, scenario_runner.run(VALID))

def test_not_a_scenario():
    pass
"""
    )
    report_dir = tmp_path / "reports"
    result = _run(pytester, report_dir)
    result.assert_outcomes(passed=2, failed=2, skipped=1, xfailed=1)
    counts = _results(report_dir)["counts"]
    assert {k: counts[k] for k in ("planned", "passed", "xfail", "xpass", "no_result")} == {
        "planned": 5,
        "passed": 1,
        "xfail": 1,
        "xpass": 1,
        "no_result": 2,
    }
    assert counts["no_result_why"] == {"harness error": 1, "skipped": 1}
    missing = _results(report_dir)["verdict"]["missing"]
    assert {m["id"]: m["why"] for m in missing} == {
        "test_harness_breaks": "harness error",
        "test_skipped": "skipped",
    }
    assert "the TLS server would not start" in next(
        m["detail"] for m in missing if m["why"] == "harness error"
    )


def test_a_passing_test_that_records_no_scenario_fails_the_session(pytester, tmp_path):
    pytester.makepyfile(
        test_silent="""
def test_forgets_to_record(check_scenario):
    pass
"""
    )
    report_dir = tmp_path / "reports"
    result = _run(pytester, report_dir)
    result.assert_outcomes(passed=1)
    assert result.ret == RunExit.INCOMPLETE
    data = _results(report_dir)
    assert data["verdict"]["state"] == "incomplete" and data["exit_status"] == RunExit.INCOMPLETE
    assert [(m["id"], m["why"]) for m in data["verdict"]["missing"]] == [
        ("test_forgets_to_record", "harness error")
    ]
