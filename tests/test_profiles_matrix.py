"""The whole catalogue passes on every device profile, not only the default w24: each profile's
switches turn into different expectations (chain building, SHA-256, key sizes, CA slots...)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("profile", ["ichip", "modern"])
def test_suites_pass_on_profile(pytester, tmp_path, profile):
    report_dir = tmp_path / "reports"
    result = pytester.runpytest_subprocess(
        str(ROOT / "suites"), f"--rootdir={ROOT}", "-p", "no:cacheprovider",
        "-m", "not slow and not field_interop",
        "--w24-profile", profile, "--w24-report-dir", str(report_dir), timeout=280,
    )
    assert result.ret == 0, result.stdout.str()[-3000:]
    data = json.loads((report_dir / "results.json").read_text())
    assert {r["profile"] for r in data["results"]} == {profile}
    outcomes = {r["id"]: r["actual"] for r in data["results"]}
    if profile == "modern":
        assert outcomes["sha256-chain"] == "accept"
        assert outcomes["intermediate-sent"] == "accept"
        assert outcomes["expired-leaf"].startswith("reject 220")
    else:
        assert outcomes["sha256-chain"].startswith("reject 116")
