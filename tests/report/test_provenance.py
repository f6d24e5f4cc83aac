"""The report says when, by what, on what (w24_harness.report.provenance), and `w24 --version`."""

from __future__ import annotations

import hashlib
import ssl
import subprocess
import sys
from pathlib import Path

from w24_harness.report import provenance
from w24_harness.report.html import render
from w24_harness.report.results import RunInfo, RunResults

W24 = str(Path(sys.executable).with_name("w24"))


def test_version_names_harness_python_openssl_tlslite_and_commit():
    out = subprocess.run([W24, "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip()
    assert line.startswith("w24 0.") and ssl.OPENSSL_VERSION in line and "tlslite-ng 0.8" in line
    assert f"Python {sys.version.split()[0]}" in line
    commit = provenance.git_commit()
    assert commit and f"(git {commit})" in line  # this test runs from a checkout


def test_a_profile_file_is_named_with_its_hash_and_the_run_times_itself(tmp_path):
    profile = tmp_path / "p.toml"
    profile.write_bytes(b'from = "w24"\n')
    prov = provenance.start(
        port="socket://127.0.0.1:1", baud=115200, profile="p", profile_file=profile
    )
    assert prov.profile_sha256 == hashlib.sha256(b'from = "w24"\n').hexdigest()
    provenance.finish(prov, {"socket"})
    assert prov.path == "socket" and prov.duration_s is not None and prov.duration_s >= 0
    run = RunResults([RunInfo(profile="p", port="x")], [], provenance=prov)
    again = RunResults.from_json(run.to_json())
    assert again.provenance == prov
    html = render(run, tmp_path)
    top = html[: html.index('class="verdict')]  # above the verdict banner: the first screen
    for shown in (prov.started, prov.host, prov.openssl, "115200 baud", prov.profile_sha256[:16]):
        assert shown in top, shown
