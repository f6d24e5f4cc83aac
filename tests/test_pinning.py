"""CPU pinning of xdist workers (fixtures/scheduling.py): the choice of CPU per worker, and the
real thing in a child run, where each worker and a process it starts report their affinity."""

from __future__ import annotations

import os

import pytest
from child_runs import run_child

from w24_harness.fixtures.scheduling import worker_cpu

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here"),
]


def test_spare_cpus_leave_the_workers_free():
    assert worker_cpu(0, 2, {0, 1, 2, 3}) is None
    assert worker_cpu(0, 1, {0, 1}) is None


def test_workers_that_fill_the_cpus_get_one_each():
    assert [worker_cpu(i, 2, {4, 7}) for i in range(2)] == [4, 7]


def test_more_workers_than_cpus_go_round_robin():
    assert [worker_cpu(i, 3, {0, 1}) for i in range(3)] == [0, 1, 0]


def test_no_usable_cpu_pins_nothing():
    assert worker_cpu(0, 2, set()) is None


PROBE = """
import os
import subprocess
import sys
from pathlib import Path

def test_affinity(tmp_path):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    own = sorted(os.sched_getaffinity(0))
    out = Path(os.environ["W24_PROBE_DIR"]) / worker
    out.write_text(f"{own} {child}")
"""


def _affinities(pytester: pytest.Pytester, workers: int, *args: str) -> dict[str, str]:
    """Per worker: its own affinity and a child process's, as 'own child'."""
    out = pytester.path / "affinity"
    out.mkdir()
    pytester.makepyfile(
        **{f"test_probe_{i}": PROBE for i in range(workers)}  # one test per worker at least
    )
    result = run_child(
        pytester,
        "-n",
        str(workers),
        "--dist",
        "each",  # every worker runs every test, so each reports
        *args,
        env={"W24_PROBE_DIR": str(out)},
    )
    assert result.ret == 0, result.stdout.str()
    return {p.name: p.read_text() for p in out.iterdir()}


def test_workers_filling_the_cpus_each_keep_to_their_own(pytester):
    usable = sorted(os.sched_getaffinity(0))
    if len(usable) > 4:
        pytest.skip(f"{len(usable)} CPUs: a run filling them would start too many workers")
    seen = _affinities(pytester, len(usable))
    assert sorted(seen) == [f"gw{i}" for i in range(len(usable))], seen
    for i, cpu in enumerate(usable):
        # The worker, and what it starts (the simulator, servers, daemons), on that CPU alone.
        assert seen[f"gw{i}"] == f"[{cpu}] [{cpu}]", seen


def test_off_leaves_every_worker_free(pytester):
    usable = sorted(os.sched_getaffinity(0))
    if len(usable) > 4:
        pytest.skip(f"{len(usable)} CPUs: a run filling them would start too many workers")
    seen = _affinities(pytester, len(usable), "--w24-pin-workers", "off")
    assert set(seen.values()) == {f"{usable} {usable}"}, seen
