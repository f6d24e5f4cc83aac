"""A capture per failing session (harness/servers/capture.py, fixtures/captures.py): the TLS
session between the device and a harness server as pcapng plus an NSS key log, opened with
tshark (Debian's package), which must find the handshake messages, and with the key log the
decrypted application data; and a failing scenario's report row links both."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from w24_harness.servers import ServerConfig, TLSServer, payload
from w24_harness.servers.capture import write_keylog, write_pcapng
from w24_harness.vocab import Backend

ROOT = Path(__file__).resolve().parents[2]
TSHARK = shutil.which("tshark")
needs_tshark = pytest.mark.skipif(
    TSHARK is None, reason="needs tshark (apt-get install tshark: Debian package tshark)"
)
# Handshake message types tshark shows for a full RSA handshake (RFC 2246 §7.4).
CLIENT_HELLO, SERVER_HELLO, CERTIFICATE, SERVER_HELLO_DONE = 1, 2, 11, 14
CLIENT_KEY_EXCHANGE = 16
FROM_DEVICE = b"GET /w24-capture-check HTTP/1.0\r\n\r\n"


def _tshark(*args: str) -> str:
    assert TSHARK is not None
    done = subprocess.run(
        [TSHARK, "-n", *args], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def _session(sim_w24, backend: Backend, versions: tuple[str, ...], tmp_path: Path):
    """One device session against a harness server: the device sends FROM_DEVICE, reads the
    server's 100 bytes; returns the capture and key-log paths."""
    from w24_harness.pki import CertFactory

    ca = CertFactory().ca("w24 capture test")
    sim_w24.set_ca(ca.cert_pem)
    config = ServerConfig(
        cert=ca.issue("127.0.0.1"), backend=backend, versions=versions, send_on_connect=100
    )
    with TLSServer(config) as server:
        handle = sim_w24.open_tcp("127.0.0.1", server.port)
        sim_w24.start_ssl(handle)
        sim_w24.send(handle, FROM_DEVICE)
        assert len(sim_w24.receive(handle, 100, timeout=10)) == 100
        server.wait_bytes_in(len(FROM_DEVICE), timeout=10)
        sim_w24.close(handle)
        server.wait_closed(timeout=10)
        connections = list(server.connections)
        address = server.address
    pcap, keys = tmp_path / "s.pcapng", tmp_path / "s.keys.txt"
    assert write_pcapng(pcap, connections, address) > 0
    assert write_keylog(keys, connections) == 1
    return pcap, keys


@needs_tshark
@pytest.mark.parametrize(
    ("backend", "versions", "shown"),
    [
        (Backend.OPENSSL, ("TLS1.0",), "TLSv1"),
        (Backend.TLSLITE, ("SSL3.0",), "SSLv3"),
    ],
)
def test_tshark_reads_the_handshake_and_with_the_keys_the_data(
    backend, versions, shown, sim_w24, tmp_path
):
    pcap, keys = _session(sim_w24, backend, versions, tmp_path)
    types = _tshark(
        "-r", str(pcap), "-Y", "tls.handshake", "-T", "fields", "-e", "tls.handshake.type"
    )
    seen = {int(t) for line in types.split() for t in line.split(",") if t}
    assert {CLIENT_HELLO, SERVER_HELLO, CERTIFICATE, SERVER_HELLO_DONE, CLIENT_KEY_EXCHANGE} <= seen
    assert shown in _tshark("-r", str(pcap), "-Y", "tls")
    follow = ["-q", "-z", "follow,tls,ascii,0"]
    # Without the keys the application data stays sealed; with them it reads as sent.
    assert "w24-capture-check" not in _tshark("-r", str(pcap), *follow)
    decrypted = _tshark("-r", str(pcap), "-o", f"tls.keylog_file:{keys}", *follow)
    assert "GET /w24-capture-check HTTP/1.0" in decrypted


@needs_tshark
def test_a_failing_scenario_row_links_its_capture(pytester, tmp_path):
    pytester.makepyfile(
        test_fail="""
from w24_harness.scenarios import get

def test_down(scenario_runner, check_scenario):
    check_scenario(get("data-down-100"), scenario_runner.run(get("data-down-100")))

def test_wrong_ca(scenario_runner, check_scenario):
    check_scenario(get("wrong-ca"), scenario_runner.run(get("wrong-ca")))
"""
    )
    report_dir = tmp_path / "reports"
    result = pytester.runpytest_subprocess(
        f"--rootdir={ROOT}",
        "-p",
        "no:cacheprovider",
        "--w24-report-dir",
        str(report_dir),
        "--w24-sim-fault",
        "corrupt_rx",
        timeout=100,
    )
    result.assert_outcomes(failed=1, passed=1)
    results = json.loads((report_dir / "results.json").read_text())
    rows = {r["id"]: r for r in results["results"]}
    failed, passed = rows["data-down-100"], rows["wrong-ca"]
    assert passed["capture"] == passed["keylog"] == "", "only a scenario that did not pass"
    pcap, keys = Path(failed["capture"]), Path(failed["keylog"])
    assert pcap.parent == keys.parent == report_dir / "captures"
    html = (report_dir / "report.html").read_text()
    assert f'href="captures/{pcap.name}"' in html and f'href="captures/{keys.name}"' in html
    # The same run's CA writes (issue 26 item 1), in all three places: the root for the data
    # scenario, wrong-ca's CA, the root again for the sanity probe after wrong-ca's rejection,
    # and the module's own (none) put back at the end.
    nv = results["nv_writes"]
    assert (nv["needed"], nv["sanity"], nv["restores"], nv["writes"]) == (2, 1, 1, 4)
    assert nv["within_budget"] and {w["nodeid"].split("::")[-1] for w in nv["by_test"]} >= {
        "test_down",
        "test_wrong_ca",
    }
    assert "w24 nonvolatile writes: 4 (3 loads, 1 clears" in result.stdout.str()
    assert "nonvolatile writes: 4" in html
    # The server's 100 bytes, decrypted: what the device should have read (runner: seed 7).
    raw = ["-q", "-z", "follow,tls,raw,0"]
    sealed = "".join(_tshark("-r", str(pcap), *raw).split())
    opened = "".join(_tshark("-r", str(pcap), "-o", f"tls.keylog_file:{keys}", *raw).split())
    sent = payload(100, seed=7).hex()
    assert sent in opened and sent not in sealed
