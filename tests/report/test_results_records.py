"""results.json and the per-process part files write each record's fields as they are
(report.results.record), not through dataclasses.asdict's deep copy: the same JSON, read back
to equal records, and a dataclass nested in a result's `server` dict still written as fields."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from w24_harness.report.results import (
    ResultLog,
    RunInfo,
    RunResults,
    ScenarioResult,
    json_default,
    record,
    write_results,
)
from w24_harness.report.verdict import PlannedScenario, TestOutcome, TestStatus


@dataclass
class _Wire:
    records: int
    sizes: list[int]


def _result(**server: object) -> ScenarioResult:
    return ScenarioResult(
        id="valid-tls1-aes128-sha",
        nodeid="suites/test_handshake_accept.py::test_accepted[valid-tls1-aes128-sha]",
        profile="w24",
        description="valid chain",
        expected="accept",
        actual="accept",
        passed=True,
        handshake_ms=12.5,
        server=dict(server),
    )


def test_record_is_every_field_by_name() -> None:
    result = _result(suite="AES128-SHA")
    fields = record(result)
    assert list(fields) == list(ScenarioResult.__dataclass_fields__)
    assert fields["server"] == {"suite": "AES128-SHA"} and fields["handshake_ms"] == 12.5


def test_a_dataclass_inside_a_record_is_written_as_its_fields() -> None:
    text = json.dumps(record(_result(wire=_Wire(3, [5, 2048]))), default=json_default)
    assert json.loads(text)["server"] == {"wire": {"records": 3, "sizes": [5, 2048]}}


def test_anything_else_json_cannot_write_is_still_an_error() -> None:
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        json.dumps(record(_result(odd={1, 2})), default=json_default)


def test_results_json_reads_back_to_the_same_run(tmp_path) -> None:
    nodeid = _result().nodeid
    run = RunResults(
        info=[RunInfo(profile="w24", port="built-in simulator", faults=["wrong_code"])],
        results=[_result(suite="AES128-SHA", sizes=[5, 2048])],
        planned=[PlannedScenario(nodeid, "valid-tls1-aes128-sha", family="handshake")],
        outcomes=[TestOutcome(nodeid, TestStatus.PASSED, finished=True)],
        exit_status=0,
    )
    data = json.loads(write_results(tmp_path, run).read_text())
    again = RunResults.from_json(data)
    assert again.results == run.results and again.info == run.info
    assert again.planned == run.planned and again.outcomes == run.outcomes
    assert data["verdict"] == run.verdict().to_json()


def test_a_part_file_line_is_kind_and_fields(tmp_path) -> None:
    log = ResultLog(tmp_path, "gw0")
    log.result(_result(wire=_Wire(1, [16])))
    (line,) = log.path.read_text().splitlines()
    data = json.loads(line)
    assert data.pop("kind") == "result"
    assert data["server"] == {"wire": {"records": 1, "sizes": [16]}}
    assert data == json.loads(
        json.dumps(record(_result(wire=_Wire(1, [16]))), default=json_default)
    )
