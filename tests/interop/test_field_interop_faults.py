"""The field-interop suite catches a firmware that trusts any certificate: with the simulator's
`accept_any_cert` fault, the wrong-CA row and the "another daemon's certificate" row fail against
every installed daemon, and the rows that should connect still pass.

A child pytest (pytester) runs suites/test_field_interop.py against a simulator started with the
fault, then reads which rows failed from its results.json. The per-suite rows are left out: they
load the right CA, so the fault cannot change them, and they are most of the suite's time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from w24_harness.interop.daemons import SPECS

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "suites" / "test_field_interop.py"
INSTALLED = [kind for kind, spec in SPECS.items() if spec.missing() is None]

# slow: each test is a child pytest run of the suites; slow tests start first (the plugin
# sorts them ahead), so the longest do not end up as the run's tail on one worker.
pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


def _run(pytester: pytest.Pytester, tmp_path: Path, *extra: str):
    report_dir = tmp_path / "reports"
    result = pytester.runpytest_subprocess(
        str(SUITE),
        f"--rootdir={ROOT}",
        "-p",
        "no:cacheprovider",
        "-k",
        "not test_suite_offered",
        "--w24-report-dir",
        str(report_dir),
        *extra,
        timeout=280,
    )
    return result, json.loads((report_dir / "results.json").read_text())


@pytest.mark.skipif(not INSTALLED, reason="no field-interop daemon installed (see ./w24-test)")
def test_accept_any_cert_fails_the_wrong_ca_rows_of_every_daemon(pytester, tmp_path):
    result, data = _run(pytester, tmp_path, "--w24-sim-fault", "accept_any_cert")
    failed = {r["id"] for r in data["results"] if not r["passed"]}
    passed = {r["id"] for r in data["results"] if r["passed"]}
    must_fail = {f"field-{k}-{row}" for k in INSTALLED for row in ("wrong-ca", "admin-other-cert")}
    assert failed == must_fail
    # The rows that load the right CA are untouched by the fault.
    assert passed == {f"field-{k}-{row}" for k in INSTALLED for row in ("data", "admin-own-cert")}
    assert result.ret == 1
    assert data["runs"][0]["faults"] == ["accept_any_cert"]
    # The failure says what the daemon did: the device accepted, so the relay saw data flow.
    wrong = next(r for r in data["results"] if r["id"] == f"field-{INSTALLED[0]}-wrong-ca")
    assert wrong["actual"] == "accept"
    assert wrong["server"]["version"] == "TLS1.0"
