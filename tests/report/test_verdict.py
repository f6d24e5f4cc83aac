"""The verdict counts what was planned: every planned scenario is counted once, by its result,
by pytest's xfail/xpass, or as producing no result with the reason; infrastructure trouble makes
a run incomplete (red), a firmware failure makes it failed (red), notes make it amber."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import serial

from w24_harness.at.codes import DeviceTimeout, LineDeadError
from w24_harness.fixtures.recording import classify_trouble
from w24_harness.report.results import RunInfo, RunResults, ScenarioResult, write_results
from w24_harness.report.verdict import (
    Colour,
    Counts,
    NoResult,
    PlannedScenario,
    RunState,
    TestOutcome,
    TestStatus,
    judge,
)


def _planned(*ids: str) -> list[PlannedScenario]:
    return [PlannedScenario(f"t.py::test[{i}]", i) for i in ids]


def _result(sid: str, passed: bool = True, result_class: str = "") -> ScenarioResult:
    return ScenarioResult(
        id=sid,
        nodeid=f"t.py::test[{sid}]",
        profile="w24",
        description="",
        expected="accept",
        actual="accept" if passed else "reject 220 at ssl",
        passed=passed,
        result_class=result_class,
    )


def _done(sid: str, status: TestStatus, trouble: NoResult | None = None) -> TestOutcome:
    return TestOutcome(f"t.py::test[{sid}]", status, trouble, finished=True)


def test_all_planned_scenarios_as_expected_is_green() -> None:
    verdict = judge(
        _planned("a", "b"),
        [_result("a"), _result("b", result_class="observed")],
        [_done("a", TestStatus.PASSED), _done("b", TestStatus.PASSED)],
        0,
    )
    assert verdict.state == RunState.PASSED and verdict.colour == Colour.GREEN
    assert (verdict.counts.planned, verdict.counts.passed, verdict.counts.observed) == (2, 1, 1)
    assert verdict.headline.startswith("PASSED: 2 of 2 planned scenarios as expected")


def test_planned_scenarios_without_result_make_the_run_incomplete() -> None:
    # The device died after one scenario: the rest errored in setup, one never started.
    outcomes = [
        _done("a", TestStatus.PASSED),
        _done("b", TestStatus.FAILED, NoResult.DEVICE_DEAD),
        _done("c", TestStatus.ERROR, NoResult.PORT_LOST),
    ]
    verdict = judge(_planned("a", "b", "c", "d"), [_result("a")], outcomes, 1)
    assert verdict.state == RunState.INCOMPLETE and verdict.colour == Colour.RED
    c = verdict.counts
    assert (c.planned, c.passed, c.failed, c.no_result) == (4, 1, 0, 3)
    assert c.no_result_why == {"device dead": 1, "interrupted": 1, "port lost": 1}
    assert [(m.id, m.why) for m in verdict.missing] == [
        ("b", NoResult.DEVICE_DEAD),
        ("c", NoResult.PORT_LOST),
        ("d", NoResult.INTERRUPTED),
    ]
    assert "3 produced no result" in verdict.headline


def test_a_firmware_failure_is_failed_not_incomplete() -> None:
    verdict = judge(
        _planned("a", "b"),
        [_result("a"), _result("b", passed=False)],
        [_done("a", TestStatus.PASSED), _done("b", TestStatus.FAILED)],
        1,
    )
    assert verdict.state == RunState.FAILED and verdict.counts.failed == 1
    assert verdict.headline == "FAILED: 1 of 2 planned scenarios as expected; 1 failed"


def test_trouble_outside_the_plan_still_makes_the_run_incomplete() -> None:
    # Every scenario recorded, but a test without a scenario lost the port.
    outcomes = [
        _done("a", TestStatus.PASSED),
        _done("helper", TestStatus.FAILED, NoResult.PORT_LOST),
    ]
    verdict = judge(_planned("a"), [_result("a")], outcomes, 1)
    assert verdict.state == RunState.INCOMPLETE and verdict.counts.no_result == 0
    assert [t.nodeid for t in verdict.troubles] == ["t.py::test[helper]"]


def test_xfail_drift_and_skips_are_amber_xpass_is_red() -> None:
    planned = _planned("a", "b", "c", "d")
    results = [_result("a"), _result("b", passed=False), _result("c", result_class="drift")]
    outcomes = [
        _done("a", TestStatus.PASSED),
        _done("b", TestStatus.XFAIL),
        _done("c", TestStatus.PASSED),
        _done("d", TestStatus.SKIPPED),
    ]
    verdict = judge(planned, results, outcomes, 0)
    assert verdict.state == RunState.NOTES and verdict.colour == Colour.AMBER
    c = verdict.counts
    assert (c.passed, c.xfail, c.drift, c.failed, c.no_result_why) == (1, 1, 1, 0, {"skipped": 1})
    outcomes[1] = _done("b", TestStatus.XPASS)
    verdict = judge(planned, results, outcomes, 1)
    assert verdict.state == RunState.FAILED and verdict.counts.xpass == 1


def test_a_nonzero_exit_status_is_never_green() -> None:
    # e.g. a baseline regression, or a plain test that failed
    verdict = judge(_planned("a"), [_result("a")], [_done("a", TestStatus.PASSED)], 1)
    assert verdict.state == RunState.FAILED
    interrupted = judge(
        _planned("a"),
        [_result("a")],
        [_done("a", TestStatus.PASSED)],
        int(pytest.ExitCode.INTERRUPTED),
    )
    assert interrupted.state == RunState.INCOMPLETE


def test_a_test_that_ran_but_wrote_no_result_is_a_harness_error() -> None:
    verdict = judge(_planned("a"), [], [_done("a", TestStatus.PASSED)], 0)
    assert [m.why for m in verdict.missing] == [NoResult.HARNESS_ERROR]
    assert verdict.state == RunState.INCOMPLETE


def test_results_json_carries_the_counts_and_loads_back(tmp_path: Path) -> None:
    run = RunResults(
        [RunInfo(profile="w24", port="sim")],
        [_result("a")],
        exit_status=1,
        planned=_planned("a", "b"),
        outcomes=[
            _done("a", TestStatus.PASSED),
            _done("b", TestStatus.ERROR, NoResult.DEVICE_DEAD),
        ],
    )
    path = write_results(tmp_path, run)
    data = json.loads(path.read_text())
    assert data["counts"]["planned"] == 2 and data["counts"]["no_result"] == 1
    assert data["counts"]["no_result_why"] == {"device dead": 1}
    assert data["verdict"]["state"] == "incomplete" and data["verdict"]["colour"] == "red"
    assert data["verdict"]["missing"][0]["id"] == "b"
    again = RunResults.load(path)
    assert again.verdict().to_json() == run.verdict().to_json()
    assert again.outcomes[1].trouble is NoResult.DEVICE_DEAD


def test_an_old_results_json_without_a_plan_counts_its_results() -> None:
    old = RunResults.from_json(
        {
            "results": [
                {
                    "id": "a",
                    "nodeid": "t::a",
                    "profile": "w24",
                    "description": "",
                    "expected": "accept",
                    "actual": "accept",
                    "passed": True,
                }
            ]
        }
    )
    verdict = old.verdict()
    assert verdict.counts.planned == 1 and verdict.counts.passed == 1
    assert verdict.state == RunState.PASSED


def test_a_failing_test_outside_the_plan_is_counted_and_fails_the_run() -> None:
    outcomes = [_done("a", TestStatus.PASSED), _done("reset", TestStatus.FAILED)]
    verdict = judge(_planned("a"), [_result("a")], outcomes, 1)
    assert verdict.state == RunState.FAILED and verdict.counts.other_failed == 1
    assert [o.nodeid for o in verdict.other_failures] == ["t.py::test[reset]"]
    assert verdict.headline.endswith("; 1 other test failed")


def _raised_from(cause: BaseException) -> BaseException:
    try:
        raise RuntimeError("the runner gave up") from cause
    except RuntimeError as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "why"),
    [
        (LineDeadError("read from /dev/ttyUSB0 failed"), NoResult.PORT_LOST),
        (serial.SerialException("port gone"), NoResult.PORT_LOST),
        (DeviceTimeout("no reply"), NoResult.DEVICE_DEAD),
        (_raised_from(DeviceTimeout("no reply")), NoResult.DEVICE_DEAD),
        (RuntimeError("the TLS server would not start"), NoResult.HARNESS_ERROR),
        (KeyboardInterrupt(), NoResult.INTERRUPTED),
        (AssertionError("expected accept"), None),
    ],
)
def test_exceptions_are_told_apart(exc: BaseException, why: NoResult | None) -> None:
    assert classify_trouble(exc) == why


def test_counts_start_at_zero() -> None:
    # Counts() is what a run with nothing planned reports; every count must start empty.
    counts = asdict(Counts())
    assert counts.pop("no_result_why") == {}
    assert set(counts.values()) == {0}


def _alone(sid: str, **result: object) -> tuple[list[ScenarioResult], list[TestOutcome]]:
    return [_result(sid, **result)], [_done(sid, TestStatus.PASSED)]  # type: ignore[arg-type]


@pytest.mark.parametrize("result_class", ["wedged", "failed"], ids=["wedged-alone", "failed-alone"])
def test_each_firmware_failure_alone_makes_the_run_failed(result_class: str) -> None:
    # exit status 0 on purpose: the counts alone must decide, whatever pytest said.
    results, outcomes = _alone("a", passed=False, result_class=result_class)
    assert judge(_planned("a"), results, outcomes, 0).state == RunState.FAILED


def test_an_xpass_alone_makes_the_run_failed() -> None:
    verdict = judge(_planned("a"), [_result("a")], [_done("a", TestStatus.XPASS)], 0)
    assert verdict.state == RunState.FAILED and verdict.counts.xpass == 1


@pytest.mark.parametrize("others", [1, 2])
def test_failed_tests_outside_the_plan_alone_make_the_run_failed(others: int) -> None:
    outcomes = [_done("a", TestStatus.PASSED)]
    outcomes += [_done(f"other{i}", TestStatus.FAILED) for i in range(others)]
    verdict = judge(_planned("a"), [_result("a")], outcomes, 0)
    assert verdict.state == RunState.FAILED
    noun = "test" if others == 1 else "tests"
    assert verdict.headline.endswith(f"; {others} other {noun} failed")


@pytest.mark.parametrize("note", ["drift", "xfail", "skipped", "nothing planned"])
def test_each_note_alone_makes_the_run_amber(note: str) -> None:
    planned, results, outcomes = _planned("a"), [_result("a")], [_done("a", TestStatus.PASSED)]
    if note == "drift":
        results = [_result("a", result_class="drift")]
    elif note == "xfail":
        outcomes = [_done("a", TestStatus.XFAIL)]
    elif note == "skipped":
        results, outcomes = [], [_done("a", TestStatus.SKIPPED)]
    else:
        planned, results, outcomes = [], [], []
    verdict = judge(planned, results, outcomes, 0)
    assert verdict.state == RunState.NOTES and verdict.colour == Colour.AMBER


def test_only_a_skip_counts_as_skipped() -> None:
    # A test that ended in any other state without a result is the harness's fault.
    for status in (TestStatus.PASSED, TestStatus.FAILED, TestStatus.STARTED):
        verdict = judge(_planned("a"), [], [_done("a", status)], 0)
        assert [m.why for m in verdict.missing] == [NoResult.HARNESS_ERROR], status
        assert verdict.state == RunState.INCOMPLETE


def test_a_skip_is_the_one_no_result_that_is_not_infrastructure_trouble() -> None:
    assert [why for why in NoResult if not why.infrastructure] == [NoResult.SKIPPED]


def test_a_test_whose_teardown_never_reported_was_interrupted() -> None:
    # TestOutcome's default: not finished, until the teardown report arrives.
    verdict = judge(_planned("a"), [], [TestOutcome("t.py::test[a]", TestStatus.PASSED)], 0)
    assert [m.why for m in verdict.missing] == [NoResult.INTERRUPTED]
