"""The issue's must-show: the suites pass against a simulator started separately with
`w24 sim --tcp`, reached through --w24-port socket://, exactly as a networked module would be."""

from __future__ import annotations

import pytest
from child_runs import run_suites, tcp_simulator


@pytest.mark.timeout(300)
@pytest.mark.slow  # a child run of the suites: scheduled first
def test_suites_pass_against_w24_sim_tcp(pytester, tmp_path):
    with tcp_simulator() as url:
        result, data = run_suites(
            pytester,
            tmp_path / "reports",
            "--w24-port",
            url,
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
        )
        assert result.ret == 0, result.stdout.str()[-3000:]
        assert data["runs"][0]["port"] == url
        assert data["summary"]["failed"] == 0 and data["summary"]["scenarios"] > 40
