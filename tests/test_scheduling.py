"""How the plugin schedules a run over xdist workers: `-n N` alone uses work stealing (an idle
worker takes queued tests from a busy one), an explicit `--dist` is kept, and every worker runs
the slow cases first. Child pytest runs via pytester; the test bodies need no device."""

from __future__ import annotations

import pytest
from child_runs import run_child

pytestmark = [pytest.mark.timeout(120)]

PROBE = """
import os
from pathlib import Path

import pytest

LOG = Path(os.environ["W24_PROBE_LOG"])

def _log(request):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with LOG.open("a") as fh:  # one short line per write: appends do not interleave
        fh.write(f"{worker} {request.node.name}\\n")

@pytest.mark.parametrize("i", range(4))
def test_fast(i, request):
    _log(request)

@pytest.mark.slow
def test_long(request):
    _log(request)

@pytest.mark.waits
def test_idle(request):
    _log(request)
"""
# The scheduler is the controller's choice (workers always see dist "no"): its conftest says.
PROBE_CONFTEST = """
import os
from pathlib import Path

def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        Path(os.environ["W24_PROBE_DIST"]).write_text(session.config.option.dist)
"""


def _runs(pytester: pytest.Pytester, *args: str) -> tuple[str, list[tuple[str, str]]]:
    """The controller's scheduler, and (worker, test name) per test in the order they ran."""
    log, dist = pytester.path / "probe.log", pytester.path / "probe.dist"
    pytester.makepyfile(test_probe=PROBE)
    pytester.makeconftest(PROBE_CONFTEST)
    result = run_child(
        pytester, *args, env={"W24_PROBE_LOG": str(log), "W24_PROBE_DIST": str(dist)}
    )
    assert result.ret == 0, result.stdout.str()
    rows = [tuple(line.split()) for line in log.read_text().splitlines()]
    assert len(rows) == 6, rows
    return dist.read_text(), rows  # type: ignore[return-value]


def test_n2_without_dist_uses_worksteal(pytester):
    assert _runs(pytester, "-n", "2")[0] == "worksteal"


def test_an_explicit_dist_is_kept(pytester):
    assert _runs(pytester, "-n", "2", "--dist", "load")[0] == "load"


def test_without_n_nothing_is_distributed(pytester):
    assert _runs(pytester)[0] == "no"


def test_workers_start_with_the_slow_case_then_the_waiting_one(pytester):
    # One worker runs the whole collection in the order the plugin sorted it: test_idle was
    # collected last.
    order = [name for _, name in _runs(pytester, "-n", "1")[1]]
    assert order[:2] == ["test_long", "test_idle"], order
    assert sorted(order[2:]) == [f"test_fast[{i}]" for i in range(4)], order


def test_the_waits_follow_the_slow_case_on_one_worker(pytester):
    # worksteal hands the first worker the front half: the slow test and the waiting one run
    # there back to back, while the other worker takes the rest.
    rows = _runs(pytester, "-n", "2")[1]
    worker_of = {name: worker for worker, name in rows}
    assert worker_of["test_long"] == worker_of["test_idle"], rows
    first_two = [name for worker, name in rows if worker == worker_of["test_long"]][:2]
    assert first_two == ["test_long", "test_idle"], rows
