"""The issue's must-show for RFC 2217: the suites pass against `w24 sim --pty` exported by a
real ser2net on 127.0.0.1, reached through --w24-port rfc2217://, as a lab module would be."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from w24_harness.lab import ser2net
from w24_harness.sim.server import SimulatorProcess

ROOT = Path(__file__).resolve().parents[2]

# A representative subset: CA load and read-back, an accepted and a refused handshake, data
# across the 2048-byte SSND boundary, and one throughput case each way.
SUBSET = " or ".join(
    [
        "ca-fits",
        "test_read_back_shows_name_validity_and_pem",
        "test_ca_survives_reset",
        "valid-tls1-aes128-sha",
        "wrong-ca",
        "data-up-2049",
        "data-down-2048",
        "throughput-down-tls1-rc4-md5",
        "throughput-up-ssl3-rc4-md5",
    ]
)


@pytest.mark.skipif(
    ser2net.available() is None, reason="ser2net is not installed (apt-get install ser2net)"
)
@pytest.mark.timeout(300)
@pytest.mark.slow  # a child run of the suites: scheduled first
def test_suites_pass_over_rfc2217_through_ser2net(pytester, tmp_path):
    with (
        SimulatorProcess(["--pty", "--profile", "w24"]) as sim,
        ser2net.Ser2net(ser2net.Ser2netConfig(sim.url, ser2net.free_port())) as server,
    ):
        report_dir = tmp_path / "reports"
        # The plain URL a user types: the transport adds ign_set_control for the pty itself.
        result = pytester.runpytest_subprocess(
            str(ROOT / "suites"),
            f"--rootdir={ROOT}",
            "-p",
            "no:cacheprovider",
            "-k",
            SUBSET,
            "--w24-report-dir",
            str(report_dir),
            "--w24-port",
            server.url,
            "--w24-profile",
            "w24",
            "--w24-host",
            "127.0.0.1",
            timeout=280,
        )
        assert result.ret == 0, result.stdout.str()[-3000:]
        outcomes = result.parseoutcomes()
        assert outcomes.get("passed", 0) >= 9 and "failed" not in outcomes
        data = json.loads((report_dir / "results.json").read_text())
        assert data["runs"][0]["port"] == server.url
        assert data["summary"]["failed"] == 0
