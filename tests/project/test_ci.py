"""`.ci/run` passes pytest's exit status through; "no tests collected" (5) is a failure, not a pass.

The script runs in a scratch copy of the layout it expects (`.ci/run` next to a `w24-test`) whose
`w24-test` is a stub exiting with the status under test, so no real test run is needed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run_ci(tmp_path: Path, pytest_status: int) -> subprocess.CompletedProcess[str]:
    (tmp_path / ".ci").mkdir()
    shutil.copy2(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    stub = tmp_path / "w24-test"
    stub.write_text(f'#!/usr/bin/env bash\necho "stub $*"\nexit {pytest_status}\n')
    stub.chmod(0o755)
    return subprocess.run(
        ["bash", str(tmp_path / ".ci" / "run")], capture_output=True, text=True, timeout=30
    )


def test_no_tests_collected_fails_ci_with_a_clear_message(tmp_path: Path) -> None:
    done = _run_ci(tmp_path, 5)
    assert done.returncode != 0
    assert "collected no tests" in done.stderr
    assert "stub all" in done.stdout  # it did run the test command


@pytest.mark.parametrize("status", [0, 1, 2])
def test_other_statuses_pass_through(tmp_path: Path, status: int) -> None:
    done = _run_ci(tmp_path, status)
    assert done.returncode == status
    assert "collected no tests" not in done.stderr
