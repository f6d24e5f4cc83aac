"""Skips say why, rows have one id, and a deviations file can declare rows not applicable
(issue 26 item 4). Child pytest runs via pytester against the built-in simulator."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from w24_harness.interop.rows import all_row_ids

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.timeout(120)]

# Two field-row ids (so a deviations file may name them); one skips as a daemon without SSL 3.0
# does, one passes.
ROWS = """
import pytest

@pytest.mark.parametrize("row", ["field-nginx-ssl3-3des-sha", "field-nginx-data"])
def test_row(row, w24, w24_record):
    if "ssl3" in row:
        pytest.skip("nginx (OpenSSL) does not offer SSL 3.0: no protocols available")
    w24.ping()
    w24_record(id=row, description=row, expected="accept", actual="accept", passed=True)
"""


def _run(pytester: pytest.Pytester, report_dir: Path, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_rows=ROWS)
    return pytester.runpytest_subprocess(
        f"--rootdir={ROOT}", "-p", "no:cacheprovider", "--w24-report-dir", str(report_dir), *args
    )


def test_a_skip_carries_its_reason_into_verdict_results_and_report(pytester, tmp_path):
    report_dir = tmp_path / "r"
    result = _run(pytester, report_dir)
    assert result.ret == 0
    data = json.loads((report_dir / "results.json").read_text())
    assert data["verdict"]["state"] == "passed with notes"  # amber: the skip is not declared
    [missing] = data["verdict"]["missing"]
    assert missing["id"] == "field-nginx-ssl3-3des-sha" and missing["why"] == "skipped"
    assert missing["detail"] == "nginx (OpenSSL) does not offer SSL 3.0: no protocols available"
    assert "does not offer SSL 3.0" in result.stdout.str()
    assert "does not offer SSL 3.0" in (report_dir / "report.html").read_text()


def test_a_declared_not_applicable_row_keeps_the_run_green(pytester, tmp_path):
    deviations = tmp_path / "deviations.toml"
    deviations.write_text(
        '[not-applicable]\n"field-*-ssl3-*" = "Debian\'s OpenSSL 3 has no SSL 3.0"\n'
    )
    report_dir = tmp_path / "r"
    result = _run(pytester, report_dir, "--w24-deviations", str(deviations))
    assert result.ret == 0
    data = json.loads((report_dir / "results.json").read_text())
    assert data["verdict"]["state"] == "passed" and data["verdict"]["colour"] == "green"
    assert data["counts"]["declared"] == 1
    [missing] = data["verdict"]["missing"]
    assert "no protocols available" in missing["detail"]
    assert "declared: not-applicable: Debian's OpenSSL 3 has no SSL 3.0" in missing["detail"]
    [planned] = [p for p in data["planned"] if p["id"] == "field-nginx-ssl3-3des-sha"]
    assert planned["deviation"].startswith("not-applicable")


def test_field_rows_have_one_id_in_the_plan_and_the_results(pytester):
    # The field suite's node ids carry the row ids the results record (field_rows), not
    # pytest's composed parameter ids (`ssl3-3des-sha-nginx` before).
    result = pytester.runpytest_subprocess(
        str(ROOT / "suites" / "test_field_interop.py"),
        f"--rootdir={ROOT}",
        "-p",
        "no:cacheprovider",
        "--collect-only",
        "-q",
    )
    ids = re.findall(r"\[([^\]]+)\]$", result.stdout.str(), re.M)
    assert sorted(ids) == sorted(all_row_ids())


def test_the_debian_example_declares_the_45_rows_its_daemons_cannot_serve():
    from w24_harness.judge.deviations import load_deviations
    from w24_harness.scenarios import SCENARIOS

    path = ROOT / "examples" / "debian-bookworm.deviations.toml"
    deviations = load_deviations(path, SCENARIOS, "w24", all_row_ids())
    declared = [row for row in all_row_ids() if deviations.find(row)]
    # What a run on Debian 12 skips: 6 daemon kinds x 5 SSL 3.0 rows, and RC4 (2) and 3DES (1)
    # at TLS 1.0 on the 5 built on OpenSSL (vsftpd twice: implicit TLS and AUTH TLS).
    assert len(declared) == 45
    assert not any("gnutls-serv-tls1" in row for row in declared)  # GnuTLS has RC4 and 3DES
    assert not any(deviations.find(s.id) for s in SCENARIOS)  # no catalogue scenario
