"""The model suite against a module on a port (here `w24 sim --tcp` through socket://, as a
networked module would be reached): its CA steps stay within the hardware budget, since each is
a write of the module's parameter flash (suites/test_model.py HARDWARE_CA_WRITES)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from child_runs import tcp_simulator

ROOT = Path(__file__).resolve().parents[2]
# Enough steps that an unlimited run makes well over the budget (about 140 CA writes).
STEPS = "1500"


def _model_row(pytester: pytest.Pytester, tmp_path: Path, *extra: str) -> dict:
    report_dir = tmp_path / "reports"
    with tcp_simulator() as url:
        result = pytester.runpytest_subprocess(
            str(ROOT / "suites" / "test_model.py"),
            f"--rootdir={ROOT}",
            "-p",
            "no:cacheprovider",
            "--w24-report-dir",
            str(report_dir),
            "--w24-port",
            url,
            "--w24-host",
            "127.0.0.1",
            "--w24-ca-pacing",
            "burst",
            "--w24-model-steps",
            STEPS,
            *extra,
            timeout=250,
        )
    assert result.ret == 0, result.stdout.str()[-3000:]
    data = json.loads((report_dir / "results.json").read_text())
    return next(r for r in data["results"] if r["id"] == "model-sequence")


@pytest.mark.timeout(300)
@pytest.mark.slow  # child runs of the model suite: scheduled first
def test_on_a_port_the_ca_steps_keep_to_the_hardware_budget(pytester, tmp_path) -> None:
    row = _model_row(pytester, tmp_path)
    assert row["passed"], row
    assert "at most 16 CA writes" in row["description"]
    # The 16 steps, plus the suite's own put-back of the CA the module held before it.
    assert 1 <= row["nv_writes"] <= 16 + 2, row


@pytest.mark.timeout(300)
@pytest.mark.slow
def test_the_budget_option_sets_another_budget(pytester, tmp_path) -> None:
    row = _model_row(pytester, tmp_path, "--w24-model-ca-writes", "100")
    assert row["passed"], row
    assert "at most 100 CA writes" in row["description"]
    assert 16 + 2 < row["nv_writes"] <= 100 + 2, row
