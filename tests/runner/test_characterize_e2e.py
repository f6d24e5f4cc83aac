"""Issue 9's must-show, end to end: a simulator running another correct firmware (a profile file
that differs from the simulator's w24 defaults in every field a scenario measures), the suites
with the default w24 profile (no failure, every difference observed), `w24 characterize` against
it (a profile `w24 profile diff` finds equal), the suites held to that profile (pass; a self-test
fault fails exactly the dependent scenarios), and drift, xfail and xpass in real runs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from child_runs import run_suites

from w24_harness.at.codes import ResultCode
from w24_harness.profiles.files import load_profile_file, provenance_of
from w24_harness.profiles.table import PROFILES
from w24_harness.scenarios import SCENARIOS, reject
from w24_harness.sim.server import SimulatorProcess
from w24_harness.vocab import Kind, ResultClass

W24_CLI = Path(sys.executable).with_name("w24")
# slow: each test is a child pytest run of the suites; slow tests start first (the plugin
# sorts them ahead), so the longest do not end up as the run's tail on one worker.
pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]

# Every measured field set against the simulator's w24 default (docs/simulator-choices.md).
OTHER_FIRMWARE = """\
from = "w24"
name = "other-fw"
check_validity_dates = true
check_hostname = true
chain_building = true
server_key_bits = [1024, 4096]
leaf_signature_hashes = ["sha1", "sha256"]
absent_ca_slot_code = 51
ca_too_long_code = 116
record_limit_in_handshake = true
ca_requires_ca_flag = false
check_issuer_key_usage = true
reject_unknown_critical = true
ca_small_exponent = false
record_limit_counts_wire = true
unclean_close_code = 215
ignore_warning_alerts = false
close_notify_on_scls = true
renegotiation = "ignore"
"""


@pytest.fixture(scope="module")
def other_profile(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("profiles") / "other-fw.toml"
    path.write_text(OTHER_FIRMWARE)
    return path


@pytest.fixture(scope="module")
def other_sim(other_profile: Path) -> Iterator[str]:
    with SimulatorProcess(["--tcp", "127.0.0.1:0", "--profile-file", str(other_profile)]) as sim:
        yield sim.url


def _suites(pytester: pytest.Pytester, report_dir: Path, *extra: str) -> tuple[int, dict, str]:
    result, data = run_suites(
        pytester,
        report_dir,
        # A simulator behind socket:// is no UART: the hardware default for socket:// would
        # pace every CA load (~1.2 s) and cut SSND to 256 bytes (tests/device/test_pacing.py).
        "--w24-ca-pacing",
        "burst",
        "--w24-ssnd-chunk",
        "2048",
        *extra,
        timeout=500,
    )
    return result.ret, data, result.stdout.str()


def _by_id(data: dict) -> dict[str, dict]:
    return {r["id"]: r for r in data["results"]}


def test_default_w24_profile_observes_another_correct_firmware(pytester, tmp_path, other_sim):
    ret, data, out = _suites(pytester, tmp_path / "r", "--w24-port", other_sim)
    assert ret == 0, out[-3000:]
    results = _by_id(data)
    for s in SCENARIOS:
        if s.kind == Kind.CHARACTERIZATION and s.id in results:
            assert results[s.id]["result_class"] == ResultClass.OBSERVED, s.id
    # The three guesses the issue names are observations now, not failures.
    assert results["ca-slot-absent"]["actual"] == "reject 51 at ca"
    assert results["sha256-leaf"]["actual"] == "accept"
    assert results["server-key-4096"]["actual"] == "accept"
    assert "w24 characterization" in out and "observed server-key-4096" in out
    # Each record says why and what it concluded.
    key = results["server-key-4096"]
    assert (key["basis"], key["scenario_kind"], key["measures"]) == (
        "ichip-firmware",
        "characterization",
        "server_key_bits",
    )
    assert results["wrong-ca"]["result_class"] == ResultClass.PASSED
    assert results["wrong-ca"]["scenario_kind"] == "conformance"


@pytest.fixture(scope="module")
def characterized(tmp_path_factory, other_sim) -> Path:
    out = tmp_path_factory.mktemp("char") / "my-fw.toml"
    subprocess.run(
        [str(W24_CLI), "characterize", "--port", other_sim, "--out", str(out)],
        check=True,
        timeout=300,
        capture_output=True,
        text=True,
    )
    return out


def test_characterize_writes_the_profile_the_simulator_runs(characterized, other_profile):
    diff = subprocess.run(
        [str(W24_CLI), "profile", "diff", str(other_profile), str(characterized)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert diff.returncode == 0, diff.stdout
    assert "equal, field for field" in diff.stdout
    prov = provenance_of(characterized)
    assert prov["rp1_firmware"] == PROFILES["w24"].firmware
    assert prov["rp0_part_number"] == PROFILES["w24"].part_number
    assert prov["date"] and prov["harness_version"]
    assert prov["fields"]["server_key_bits"]["decided_by"] == [
        "server-key-512",
        "server-key-1024",
        "server-key-4096",
    ]


def test_suites_hold_the_firmware_to_its_characterized_profile(pytester, tmp_path, characterized):
    ret, data, out = _suites(pytester, tmp_path / "r", "--w24-profile-file", str(characterized))
    assert ret == 0, out[-3000:]
    classes = {r["result_class"] for r in data["results"]}
    assert ResultClass.DRIFT not in classes and ResultClass.FAILED not in classes


def test_a_fault_fails_exactly_the_scenarios_depending_on_it(pytester, tmp_path, characterized):
    profile = load_profile_file(characterized)
    # Any certificate trusted: every scenario this profile predicts as a 220 from the
    # certificate check turns into an accept (conformance: failed; characterization: drift,
    # which fails against a characterized profile).
    expected = {
        s.id
        for s in SCENARIOS
        if not s.slow
        and s.certs not in ("valid", "no_ca")
        and s.expected(profile) == reject(ResultCode.SSL_NEGOTIATION)
    }
    assert {"wrong-ca", "server-key-512", "md5-leaf", "expired-leaf"} <= expected
    ret, data, out = _suites(
        pytester,
        tmp_path / "r",
        "--w24-profile-file",
        str(characterized),
        "--w24-sim-fault",
        "accept_any_cert",
    )
    assert ret == 1
    failed = {r["id"] for r in data["results"] if not r["passed"]}
    assert failed == expected


def _hostname_profile(tmp_path: Path, value: str) -> Path:
    path = tmp_path / "hostname.toml"
    path.write_text(f'from = "w24"\ncheck_hostname = {value}\n')
    return path


def test_drift_is_reported_and_fails_only_when_strict(pytester, tmp_path, other_sim):
    # The other firmware checks the host name; this hand-written profile says it does not.
    profile = _hostname_profile(tmp_path, "false")
    args = ("--w24-port", other_sim, "--w24-profile-file", str(profile), "-k", "wrong-hostname")
    ret, data, out = _suites(pytester, tmp_path / "lax", *args)
    assert ret == 0, out[-3000:]
    assert _by_id(data)["wrong-hostname"]["result_class"] == ResultClass.DRIFT
    assert "DRIFT wrong-hostname (check_hostname)" in out
    ret, data, out = _suites(pytester, tmp_path / "strict", *args, "--w24-strict")
    assert ret == 1
    assert _by_id(data)["wrong-hostname"]["result_class"] == ResultClass.DRIFT


def test_deviation_xfail_passes_the_run_and_xpass_fails_it(pytester, tmp_path):
    dev = tmp_path / "w24.deviations.toml"
    dev.write_text(
        'profile = "w24"\n[known-bug]\n'
        '"wrong-ca" = { reason = "FW-7: any CA accepted", outcome = "accept" }\n'
        '[policy]\n"ssnd-over-2048" = "this build cuts the SSND instead"\n'
    )
    ret, data, out = _suites(
        pytester,
        tmp_path / "r",
        "--w24-sim-fault",
        "accept_any_cert",
        "--w24-deviations",
        str(dev),
        "-k",
        "wrong-ca or ssnd-over",
    )
    results = _by_id(data)
    assert results["wrong-ca"]["result_class"] == ResultClass.XFAIL  # failed, as declared
    assert "known-bug: FW-7" in results["wrong-ca"]["deviation"]
    assert results["ssnd-over-2048"]["result_class"] == ResultClass.XPASS  # passed: strict
    assert ret == 1 and "against the deviations entry" in out
