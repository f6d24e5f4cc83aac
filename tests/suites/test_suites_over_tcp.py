"""The issue's must-show: the suites pass against a simulator started separately with
`w24 sim --tcp`, reached through --w24-port socket://, exactly as a networked module would be."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
W24_CLI = Path(sys.executable).with_name("w24")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(300)
@pytest.mark.slow  # a child run of the suites: scheduled first
def test_suites_pass_against_w24_sim_tcp(pytester, tmp_path):
    port = _free_port()
    sim = subprocess.Popen(
        [str(W24_CLI), "sim", "--tcp", f"127.0.0.1:{port}", "--profile", "w24"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert sim.stdout is not None
        assert sim.stdout.readline().strip() == f"socket://127.0.0.1:{port}"
        report_dir = tmp_path / "reports"
        result = pytester.runpytest_subprocess(
            str(ROOT / "suites"),
            f"--rootdir={ROOT}",
            "-p",
            "no:cacheprovider",
            "-m",
            "not slow and not field_interop",
            "--w24-report-dir",
            str(report_dir),
            "--w24-port",
            f"socket://127.0.0.1:{port}",
            "--w24-profile",
            "w24",
            "--w24-host",
            "127.0.0.1",
            # The simulator behind socket:// is no UART: no pacing needed (the hardware default
            # for socket:// paces each CA line, ~1.2 s a load; tests/device/test_pacing.py
            # covers it).
            "--w24-ca-pacing",
            "burst",
            "--w24-ssnd-chunk",
            "2048",
            timeout=280,
        )
        assert result.ret == 0, result.stdout.str()[-3000:]
        data = json.loads((report_dir / "results.json").read_text())
        assert data["runs"][0]["port"] == f"socket://127.0.0.1:{port}"
        assert data["summary"]["failed"] == 0 and data["summary"]["scenarios"] > 40
    finally:
        sim.terminate()
        assert sim.wait(timeout=10) == 0
