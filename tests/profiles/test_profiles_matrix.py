"""The whole catalogue passes on every device profile, not only the default w24: each profile's
switches turn into different expectations (chain building, SHA-256, key sizes, CA slots...).

A run where everything was skipped also exits 0, so the child's own counts are checked: every
non-slow catalogue scenario and every throughput case of the profile recorded a passing result,
and pytest counted no skip, failure or error."""

from __future__ import annotations

import pytest
from child_runs import run_suites

from w24_harness.profiles.table import get_profile
from w24_harness.runner.throughput import cases_for
from w24_harness.scenarios import SCENARIOS


@pytest.mark.timeout(300)
@pytest.mark.slow  # a child run of the suites: scheduled first
@pytest.mark.parametrize("profile", ["ichip", "modern"])
def test_suites_pass_on_profile(pytester, tmp_path, profile):
    report_dir = tmp_path / "reports"
    result, data = run_suites(pytester, report_dir, "--w24-profile", profile)
    assert result.ret == 0, result.stdout.str()[-3000:]
    counts = result.parseoutcomes()
    expected_ids = {s.id for s in SCENARIOS if not s.slow} | {
        c.id for c in cases_for(get_profile(profile))
    }
    passed_ids = [r["id"] for r in data["results"] if r["passed"] and r["profile"] == profile]
    assert sorted(passed_ids) == sorted(expected_ids)
    assert len(data["results"]) == len(expected_ids)
    assert data["summary"]["passed"] == len(expected_ids)
    # Both profiles have four CA slots, so not even the one-slot skip applies.
    assert counts.get("skipped", 0) == 0 and counts.get("failed", 0) == 0
    assert counts.get("errors", 0) == 0
    assert counts["passed"] > len(expected_ids)  # the scenarios and the plain CA tests
    outcomes = {r["id"]: r["actual"] for r in data["results"]}
    if profile == "modern":
        assert outcomes["sha256-chain"] == "accept"
        assert outcomes["intermediate-sent"] == "accept"
        assert outcomes["expired-leaf"].startswith("reject 220")
    else:
        assert outcomes["sha256-chain"].startswith("reject 116")
