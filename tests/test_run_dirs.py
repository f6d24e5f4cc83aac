"""One directory per run (fixtures/rundir.py): reports/<UTC time>/ with reports/latest, old runs
pruned to --w24-keep-runs but never one a live run holds, and a reused --w24-report-dir that
keeps nothing of the run before. Child pytest runs via pytester for the plugin's part."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from w24_harness.fixtures import rundir

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.timeout(120)]


def test_new_runs_get_their_own_directories_and_old_ones_are_pruned(tmp_path):
    runs = []
    for _ in range(5):  # five in one second: the names still sort in start order
        runs.append(rundir.new_run(tmp_path, keep=3))
        rundir.release(runs[-1])  # the run is over
    assert len(set(runs)) == 5
    assert rundir.run_dirs(tmp_path) == runs[-3:]


def test_a_run_directory_a_live_run_holds_is_not_pruned(tmp_path):
    held = rundir.new_run(tmp_path, keep=1)
    (held / rundir.LOCK_NAME).write_text(str(os.getppid()))  # alive: the test runner's parent
    newer = rundir.new_run(tmp_path, keep=1)
    assert held.exists() and newer.exists()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (held / rundir.LOCK_NAME).write_text(dead.stdout.strip())  # its run is gone now
    rundir.release(newer)
    newest = rundir.new_run(tmp_path, keep=1)
    assert rundir.run_dirs(tmp_path) == [newest]


def test_latest_points_at_the_last_run(tmp_path):
    first, second = rundir.new_run(tmp_path), rundir.new_run(tmp_path)
    rundir.release(first)
    rundir.release(second)
    rundir.point_latest(tmp_path, first)
    rundir.point_latest(tmp_path, second)
    assert (tmp_path / "latest").resolve() == second.resolve()
    assert os.readlink(tmp_path / "latest") == second.name  # relative: the tree can move


def test_a_reused_report_dir_keeps_nothing_of_the_run_before(tmp_path):
    (tmp_path / "transcripts").mkdir()
    (tmp_path / "transcripts" / "old.txt").write_text("old")
    for name in ("junit.xml", "results.json", "report.html", "simulator-main.log", "notes.txt"):
        (tmp_path / name).write_text("old")
    assert rundir.claim(tmp_path) == tmp_path
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != rundir.LOCK_NAME)
    assert left == ["notes.txt"]  # not a report of ours: left alone
    rundir.release(tmp_path)


ONE = """
def test_ping(w24):
    w24.ping()
"""


def test_runs_without_a_report_dir_write_reports_time_and_latest(pytester):
    pytester.makepyfile(test_one=ONE)

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(f"--rootdir={ROOT}", "-p", "no:cacheprovider", *args)

    assert run().ret == 0
    reports = pytester.path / "reports"
    [first] = rundir.run_dirs(reports)
    assert (reports / "latest").resolve() == first.resolve()
    assert (first / "results.json").is_file() and (first / "junit.xml").is_file()
    assert run("--w24-keep-runs", "1").ret == 0
    [second] = rundir.run_dirs(reports)  # its own directory; the first one pruned
    assert second != first and (reports / "latest").resolve() == second.resolve()
    assert (second / "report.html").is_file()
