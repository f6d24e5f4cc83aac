"""The kind of path a run reached its device through, and baselines that compare handshake
times only through the same kind (ser2net or a labgrid place adds tens of ms)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from w24_harness.device.transport import PortPath, port_path
from w24_harness.report.compare import compare
from w24_harness.report.results import RunInfo, RunResults, ScenarioResult


@pytest.mark.parametrize(
    ("url", "labgrid", "kind"),
    [
        ("/dev/pts/4", False, PortPath.PTY),
        ("/dev/ttyUSB0", False, PortPath.TTY),
        ("socket://127.0.0.1:7000", False, PortPath.SOCKET),
        ("rfc2217://lab:4001?ign_set_control", False, PortPath.RFC2217),
        ("rfc2217://lab:4001?ign_set_control", True, PortPath.LABGRID),
        ("loop://", False, PortPath.OTHER),
    ],
)
def test_port_path_kinds(url: str, labgrid: bool, kind: PortPath) -> None:
    assert port_path(url, labgrid=labgrid) is kind


def _run(path: str, handshake_ms: float) -> RunResults:
    result = ScenarioResult(
        id="valid-tls1-aes128-sha",
        nodeid="n",
        profile="w24",
        description="d",
        expected="accept",
        actual="accept",
        passed=True,
        handshake_ms=handshake_ms,
    )
    return RunResults([RunInfo(profile="w24", port="p", path=path, baud=115200)], [result])


def test_handshake_growth_is_a_regression_through_the_same_path() -> None:
    # Over the default floor (500 ms: below it a simulator's handshake is host CPU noise), and
    # over the run's own noise: the other handshakes of the run held still.
    base, grown = _run("pty", 100.0), _run("pty", 900.0)
    for run in (base, grown):
        for n in range(4):
            run.results.append(replace(run.results[0], id=f"steady-{n}", nodeid=f"s{n}"))
            run.results[-1].handshake_ms = 100.0
    cmp = compare(base, grown)
    assert [c.aspect for c in cmp.regressions] == ["handshake"]


def test_handshake_times_through_different_paths_are_not_compared() -> None:
    cmp = compare(_run("pty", 10.0), _run("labgrid", 60.0))
    assert cmp.regressions == []
    assert not [c for c in cmp.changes if c.aspect == "handshake"]
    assert any("different paths (baseline pty, current labgrid)" in n for n in cmp.notes)
