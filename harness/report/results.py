"""Scenario results: one record per scenario run, appended as it happens, merged at the end.

Each pytest process (each xdist worker too) appends JSON lines to its own part file right after
each scenario, so an interrupted run or a device that dies half-way still leaves every result
that was reached; the controller merges the parts into results.json and report.html.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

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
    # Throughput cases (w24_harness.report.linerate): payload bytes/s, the line rate (baud/10,
    # None when unthrottled), and the ratios to the line rate and to the framing-adjusted bound.
    throughput_bps: float | None = None
    line_ratio: float | None = None
    framing_ratio: float | None = None
    line_rate_bps: float | None = None
    transcript: str = ""
    detail: str = ""
    server: dict[str, object] = field(default_factory=dict)
    worker: str = "main"
    # The device it ran on (labgrid place or inventory name, else the port) and its firmware.
    device: str = ""
    firmware: str = ""


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


class ResultLog:
    """Append-only JSON-lines file for one process."""

    def __init__(self, report_dir: Path, worker: str) -> None:
        self.path = report_dir / PARTS_DIR / f"{worker}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("", encoding="utf-8")

    def _append(self, kind: str, record: object) -> None:
        line = json.dumps({"kind": kind, **asdict(record)})  # type: ignore[call-overload]
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def info(self, info: RunInfo) -> None:
        self._append("info", info)

    def result(self, result: ScenarioResult) -> None:
        self._append("result", result)


@dataclass
class RunResults:
    info: list[RunInfo]
    results: list[ScenarioResult]
    exit_status: int | None = None

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    def to_json(self) -> dict[str, object]:
        return {
            "runs": [asdict(i) for i in self.info],
            "exit_status": self.exit_status,
            "summary": {"scenarios": len(self.results), "passed": self.passed,
                        "failed": self.failed},
            "results": [asdict(r) for r in self.results],
        }

    @classmethod
    def from_json(cls, data: dict) -> RunResults:
        if not isinstance(data, dict) or not isinstance(data.get("results", []), list):
            raise ValueError("not a results.json object (no 'results' list)")
        return cls(
            info=[_build(RunInfo, i) for i in data.get("runs", [])],
            results=[_build(ScenarioResult, r) for r in data.get("results", [])],
            exit_status=data.get("exit_status"),
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


def merge_parts(report_dir: Path) -> RunResults:
    """Read every part file; a truncated last line (a killed worker) is skipped, not fatal."""
    infos: list[RunInfo] = []
    results: list[ScenarioResult] = []
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
    results.sort(key=lambda r: r.nodeid)
    return RunResults(infos, results)


def write_results(report_dir: Path, run: RunResults) -> Path:
    path = report_dir / "results.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(run.to_json(), indent=1), encoding="utf-8")
    os.replace(tmp, path)
    return path
