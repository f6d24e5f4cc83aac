"""Scenario results: one record per scenario run, appended as it happens, merged at the end.

Each pytest process (each xdist worker too) appends JSON lines to its own part file right after
each scenario, so an interrupted run or a device that dies half-way still leaves every result
that was reached; the controller merges the parts into results.json and report.html.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from w24_harness.report.nvwrites import NVWrites, summarize
from w24_harness.report.provenance import Provenance
from w24_harness.report.verdict import (
    Entry,
    NoResult,
    PlannedScenario,
    RunState,
    RunVerdict,
    TestOutcome,
    TestStatus,
    entries,
    judge,
)
from w24_harness.vocab import ResultClass

PARTS_DIR = ".parts"


@dataclass
class ScenarioResult:
    id: str
    nodeid: str
    profile: str
    description: str
    expected: str
    actual: str
    passed: bool
    code: int | None = None
    expected_code: int | None = None
    stage: str = ""
    handshake_ms: float | None = None
    bytes_sent: int = 0
    bytes_received: int = 0
    # Throughput cases (w24_harness.runner.linerate): payload bytes/s, the line rate (baud/10,
    # None when unthrottled), and the ratios to the line rate and to the framing-adjusted bound.
    throughput_bps: float | None = None
    line_ratio: float | None = None
    framing_ratio: float | None = None
    line_rate_bps: float | None = None
    transcript: str = ""
    detail: str = ""
    server: dict[str, object] = field(default_factory=dict)
    worker: str = "main"
    # The scenario's model (issue 9): what decides it, what it can conclude (its Kind; not
    # "kind", which names the record type in the part files), the profile field a
    # characterization measures, and how the outcome was judged (a ResultClass value).
    basis: str = ""
    scenario_kind: str = ""
    measures: str = ""
    result_class: str = ""
    deviation: str = ""  # the deviations-file entry that marks it ("known-bug: reason")
    sanity: str = ""  # the sanity check after it: passed / failed / not run
    # The device it ran on (labgrid place or inventory name, else the port) and its firmware.
    device: str = ""
    firmware: str = ""
    # The evidence the judge read besides the code: bytes SRCV returned before an error, socket
    # statuses read (evidence only), and how the device was brought back after the row.
    delivered_bytes: int | None = None
    statuses: list[int] = field(default_factory=list)
    recoveries: list[str] = field(default_factory=list)
    # A characterization that observed the weaker choice ("accepts an expired server
    # certificate"), and whether the profile has left that field uncharacterized (amber).
    security: str = ""
    security_uncharacterized: bool = False
    critical: bool = False
    # Nonvolatile (CA) writes this test made before its result was recorded, and their wall
    # time with the line pacing (report/nvwrites.py has the run's sums).
    nv_writes: int = 0
    nv_seconds: float = 0.0
    # A failing scenario's TLS session as the server saw it (pcapng) and its keys (NSS key
    # log), for Wireshark (servers/capture.py); "" when none was written.
    capture: str = ""
    keylog: str = ""


@dataclass
class RunInfo:
    profile: str
    port: str
    part_number: str = ""
    firmware: str = ""
    baud: int = 0
    started: str = ""
    worker: str = "main"
    faults: list[str] = field(default_factory=list)
    # How the host reaches the device (transport.PortPath: pty, tty, socket, rfc2217,
    # labgrid): latency differs by tens of ms, so handshake times compare only within one.
    path: str = ""


@dataclass
class SimInternalError:
    """The simulator had internal errors during a test: a bug of the simulator's, reported
    apart from every firmware verdict (w24_harness.sim.status)."""

    nodeid: str
    count: int  # internal errors during this test (phase)
    error: str  # the latest one: command, exception, traceback
    phase: str = "call"  # "call" (the test body) or "teardown" (the fixture's clean-up)
    worker: str = "main"


def record(obj: object) -> dict[str, object]:
    """A flat record's fields as a dict. dataclasses.asdict deep-copies every value: 19 ms
    for the 221 results, plans and outcomes of a suites run against 1.7 ms this way, and as
    much again in the per-test appends. These records hold only scalars, lists and the
    `server` dict, which json writes as they are (json_default covers a dataclass in them)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}  # type: ignore[arg-type]


def json_default(value: object) -> object:
    """json.dumps's fallback: a dataclass inside a record (a `server` entry) as its fields."""
    if is_dataclass(value) and not isinstance(value, type):
        return record(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@dataclass
class Recovery:
    """The device had to be brought back after a test (resync, simulator restart)."""

    nodeid: str
    events: list[str]
    worker: str = "main"


class ResultLog:
    """Append-only JSON-lines file for one process.

    Each record is written and the file closed before the next test runs: a worker killed
    mid-run (kill -9, a crash) loses nothing it recorded, because the kernel already holds it.
    No fsync: that guards only against the machine itself losing power, and cost 5-10 ms per
    test on a shared disk.
    """

    def __init__(self, report_dir: Path, worker: str) -> None:
        self.path = report_dir / PARTS_DIR / f"{worker}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("", encoding="utf-8")

    def _append(self, kind: str, entry: object) -> None:
        line = json.dumps({"kind": kind, **record(entry)}, default=json_default)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def info(self, info: RunInfo) -> None:
        self._append("info", info)

    def result(self, result: ScenarioResult) -> None:
        self._append("result", result)

    def internal_error(self, record: SimInternalError) -> None:
        self._append("internal_error", record)

    def recovery(self, record: Recovery) -> None:
        self._append("recovery", record)

    def nv_writes(self, record: NVWrites) -> None:
        self._append("nv_writes", record)

    def plan(self, planned: list[PlannedScenario]) -> None:
        """What this process collected, in one write (each xdist worker plans the same run)."""
        lines = "".join(json.dumps({"kind": "plan", "planned": record(p)}) + "\n" for p in planned)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(lines)


@dataclass
class RunResults:
    info: list[RunInfo]
    results: list[ScenarioResult]
    exit_status: int | None = None
    # Why the run stopped before any test could run (an unusable port, a silent device).
    aborted: str | None = None
    internal_errors: list[SimInternalError] = field(default_factory=list)
    planned: list[PlannedScenario] = field(default_factory=list)  # what pytest collected
    outcomes: list[TestOutcome] = field(default_factory=list)  # pytest's word on each test
    recoveries: list[Recovery] = field(default_factory=list)  # the device brought back, per test

    @property
    def security_observations(self) -> list[ScenarioResult]:
        """Rows whose characterization observed the weaker choice (judge.security)."""
        return [r for r in self.results if r.security]

    nv_writes: list[NVWrites] = field(default_factory=list)  # per test (and session) per worker
    stopped: str | None = None  # why the run stopped early: the device lost (fixtures/stop.py)
    provenance: Provenance | None = None  # when, by what, on what (report/provenance.py)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    def verdict(self) -> RunVerdict:
        verdict = judge(self.planned, self.results, self.outcomes, self.exit_status, self.stopped)
        if self.aborted:  # nothing ran: the reason is the verdict, not "0 of 0"
            verdict.state = RunState.INCOMPLETE
            verdict.headline = f"INCOMPLETE: no test ran: {self.aborted}"
        return verdict

    def entries(self) -> list[Entry]:
        """Every planned scenario as the verdict counted it (the report's rows and grids)."""
        return entries(self.planned, self.results, self.outcomes, self.exit_status, self.stopped)

    def to_json(self) -> dict[str, object]:
        verdict = self.verdict()
        return {
            "provenance": record(self.provenance) if self.provenance else None,
            "runs": [record(i) for i in self.info],
            "exit_status": self.exit_status,
            "aborted": self.aborted,
            "stopped": self.stopped,
            "verdict": verdict.to_json(),
            "counts": record(verdict.counts),
            "summary": {
                "scenarios": len(self.results),
                "passed": self.passed,
                "failed": self.failed,
                "simulator_internal_errors": len(self.internal_errors),
                "wedged": sum(r.result_class == ResultClass.WEDGED for r in self.results),
                "not_exercised": sum(
                    r.result_class == ResultClass.NOT_EXERCISED for r in self.results
                ),
                "security_observations": len(self.security_observations),
                "recoveries": sum(len(r.events) for r in self.recoveries),
            },
            "security_observations": [
                {
                    "id": r.id,
                    "says": r.security,
                    "field": r.measures,
                    "characterized": not r.security_uncharacterized,
                }
                for r in self.security_observations
            ],
            "recoveries": [record(r) for r in self.recoveries],
            "planned": [record(p) for p in self.planned],
            "outcomes": [record(o) for o in self.outcomes],
            "results": [record(r) for r in self.results],
            "simulator_internal_errors": [record(e) for e in self.internal_errors],
            "nv_writes": {
                **summarize(self.nv_writes).to_json(),
                "by_test": [record(w) for w in self.nv_writes],
            },
        }

    @classmethod
    def from_json(cls, data: dict) -> RunResults:
        if not isinstance(data, dict) or not isinstance(data.get("results", []), list):
            raise ValueError("not a results.json object (no 'results' list)")
        return cls(
            info=[_build(RunInfo, i) for i in data.get("runs", [])],
            results=[_build(ScenarioResult, r) for r in data.get("results", [])],
            exit_status=data.get("exit_status"),
            aborted=data.get("aborted"),
            stopped=data.get("stopped"),
            provenance=_build(Provenance, data["provenance"]) if data.get("provenance") else None,
            internal_errors=[
                _build(SimInternalError, e) for e in data.get("simulator_internal_errors", [])
            ],
            planned=[_build(PlannedScenario, p) for p in data.get("planned", [])],
            outcomes=[_outcome(o) for o in data.get("outcomes", [])],
            recoveries=[_build(Recovery, r) for r in data.get("recoveries", [])],
            nv_writes=[
                _build(NVWrites, w) for w in (data.get("nv_writes") or {}).get("by_test", [])
            ],
        )

    @classmethod
    def load(cls, path: Path) -> RunResults:
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path} is not a w24 results.json: {exc}") from exc


def _build(kind: Any, record: dict) -> Any:
    """A record from JSON, ignoring fields this version does not know (a baseline written by
    an older or newer harness still loads); a missing required field is a TypeError."""
    known = {f.name for f in fields(kind)}
    return kind(**{k: v for k, v in record.items() if k in known})


def _outcome(record: dict) -> TestOutcome:
    outcome = _build(TestOutcome, record)
    outcome.status = TestStatus(outcome.status)
    outcome.trouble = NoResult(outcome.trouble) if outcome.trouble else None
    return outcome


def merge_parts(report_dir: Path) -> RunResults:
    """Read every part file; a truncated last line (a killed worker) is skipped, not fatal."""
    infos: list[RunInfo] = []
    results: list[ScenarioResult] = []
    errors: list[SimInternalError] = []
    recoveries: list[Recovery] = []
    planned: dict[str, PlannedScenario] = {}
    nv: list[NVWrites] = []
    for part in sorted((report_dir / PARTS_DIR).glob("*.jsonl")):
        for line in part.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            kind = record.pop("kind", None)
            if kind == "info":
                infos.append(_build(RunInfo, record))
            elif kind == "result":
                results.append(_build(ScenarioResult, record))
            elif kind == "internal_error":
                errors.append(_build(SimInternalError, record))
            elif kind == "recovery":
                recoveries.append(_build(Recovery, record))
            elif kind == "nv_writes":
                nv.append(_build(NVWrites, record))
            elif kind == "plan":  # nested: a PlannedScenario has a `kind` (Kind) of its own
                entry = _build(PlannedScenario, record["planned"])
                planned.setdefault(entry.nodeid, entry)
    results.sort(key=lambda r: r.nodeid)
    errors.sort(key=lambda e: e.nodeid)
    return RunResults(
        infos,
        results,
        internal_errors=errors,
        planned=sorted(planned.values(), key=lambda p: p.nodeid),
        recoveries=sorted(recoveries, key=lambda r: r.nodeid),
        nv_writes=sorted(nv, key=lambda w: (w.worker, w.nodeid)),
    )


def write_results(report_dir: Path, run: RunResults) -> Path:
    path = report_dir / "results.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(run.to_json(), indent=1, default=json_default), encoding="utf-8")
    os.replace(tmp, path)
    return path
