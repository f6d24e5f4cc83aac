"""The throughput floor catches a slow firmware and passes a faithful one: the real throughput
suite in a child pytest against the simulator on a 115200-baud line, with and without the
slow_delivery fault (SSL data at a third of the line rate), and the faithful simulator at
921600 baud too, where each round trip's latency weighs most against the line time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SELECT = "throughput-down-tls1-aes128-sha or throughput-up-tls1-aes128-sha"

# slow: each test is a child pytest run of the suites; slow tests start first (the plugin
# sorts them ahead), so the longest do not end up as the run's tail on one worker.
pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def _outcomes(
    pytester: pytest.Pytester, tmp_path: Path, *extra: str, baud: int = 115200
) -> dict[str, bool]:
    report_dir = tmp_path / "reports"
    pytester.runpytest_subprocess(
        str(ROOT / "suites" / "test_throughput.py"),
        f"--rootdir={ROOT}",
        "-p",
        "no:cacheprovider",
        "-k",
        SELECT,
        "--w24-baud",
        str(baud),
        "--w24-report-dir",
        str(report_dir),
        *extra,
        timeout=150,
    )
    results = json.loads((report_dir / "results.json").read_text())["results"]
    return {r["id"]: r["passed"] for r in results}


@pytest.mark.parametrize("baud", [115200, 921600])
def test_faithful_simulator_passes(pytester, tmp_path, baud):
    assert _outcomes(pytester, tmp_path, baud=baud) == {
        "throughput-down-tls1-aes128-sha": True,
        "throughput-up-tls1-aes128-sha": True,
    }


@pytest.mark.parametrize(
    "floor", [[], ["--w24-min-line-efficiency", "0.5"]], ids=["simulator-floor", "hardware-floor"]
)
def test_slow_delivery_fails_the_receive_direction_only(pytester, tmp_path, floor):
    outcomes = _outcomes(pytester, tmp_path, "--w24-sim-fault", "slow_delivery", *floor)
    assert outcomes == {
        "throughput-down-tls1-aes128-sha": False,
        "throughput-up-tls1-aes128-sha": True,
    }
