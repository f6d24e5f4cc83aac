"""labgrid places end to end: a real coordinator and exporter (its ser2net bound to 127.0.0.1),
two `w24 sim --pty` places tagged lab=ci, the suites through them with -n 2, and the places
released afterwards -- also when the run is interrupted. Plus the option checks that need no
lab. Skipped, saying why, where labgrid or ser2net is missing."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from w24_harness.fixtures import labgrid as lg
from w24_harness.lab.local_lab import LocalLab, missing

ROOT = Path(__file__).resolve().parents[2]
SUBSET = "ca-fits or valid-tls1-aes128-sha or wrong-ca or data-up-2049 or test_ca_survives_reset"

needs_lab = pytest.mark.skipif(missing() is not None, reason=str(missing()))


# -- no lab needed ----------------------------------------------------------------------------


def test_tags_parse_and_bad_tags_are_refused() -> None:
    assert lg.parse_tags(["lab=ci", "board=w24 profile=w24"]) == {
        "lab": "ci",
        "board": "w24",
        "profile": "w24",
    }
    with pytest.raises(lg.LabgridError, match="KEY=VALUE"):
        lg.parse_tags(["lab"])
    with pytest.raises(lg.LabgridError, match="not a labgrid tag key"):
        lg.parse_tags(["Lab=ci"])


def test_urls_follow_labgrids_serial_driver() -> None:
    assert lg.serial_url("rfc2217", "h", 1) == "rfc2217://h:1?ign_set_control"
    assert lg.serial_url("raw", "h", 1) == "socket://h:1"
    with pytest.raises(lg.LabgridError):
        lg.serial_url("ssh", "h", 1)


def test_coordinator_defaults_to_lg_coordinator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LG_COORDINATOR", "lab.example:20408")
    assert lg.coordinator_address(None) == "lab.example:20408"
    assert lg.coordinator_address("x:1") == "x:1"
    monkeypatch.delenv("LG_COORDINATOR")
    assert lg.coordinator_address(None) == lg.DEFAULT_COORDINATOR


def test_without_labgrid_the_error_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "labgrid.remote.client", None)  # import fails
    with pytest.raises(lg.LabgridError, match=r"pip install 'w24-harness\[labgrid\]'"):
        lg.Lab(lg.LabRequest("127.0.0.1:1", places=("p",))).claim(1)


def _suites(pytester: pytest.Pytester, tmp_path: Path, *args: str, timeout: float = 120):
    return pytester.runpytest_subprocess(
        str(ROOT / "suites"),
        f"--rootdir={ROOT}",
        "-p",
        "no:cacheprovider",
        "--w24-report-dir",
        str(tmp_path / "reports"),
        *args,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--w24-port", "/dev/null", "--w24-lg-place", "p"], "not both"),
        (["--w24-lg-place", "p", "--w24-lg-tags", "lab=ci"], "not several"),
        (["--w24-lg-tags", "lab"], "KEY=VALUE"),
    ],
)
def test_conflicting_or_bad_lab_options_are_usage_errors(
    pytester: pytest.Pytester, tmp_path: Path, args: list[str], message: str
) -> None:
    result = _suites(pytester, tmp_path, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


# -- a real lab -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab() -> Iterator[LocalLab]:
    with LocalLab(places=2, tags={"lab": "ci"}) as started:
        yield started


def _acquired(lab: LocalLab) -> dict[str, str | None]:
    from labgrid.remote.client import start_session

    session = start_session(lab.coordinator)
    try:
        return {name: session.places[name].acquired for name in lab.place_names}
    finally:
        session.loop.run_until_complete(session.stop())
        session.loop.run_until_complete(session.close())


@needs_lab
@pytest.mark.timeout(240)
@pytest.mark.slow  # a child run of the suites: scheduled first
def test_suites_on_two_places_reserved_by_tag(
    pytester: pytest.Pytester, tmp_path: Path, lab: LocalLab
) -> None:
    result = _suites(
        pytester,
        tmp_path,
        "-n",
        "2",
        "--w24-lg-tags",
        "lab=ci",
        "--w24-lg-coordinator",
        lab.coordinator,
        "-k",
        SUBSET,
        timeout=200,
    )
    assert result.ret == 0, result.stdout.str()[-3000:] + result.stderr.str()[-2000:]
    data = json.loads((tmp_path / "reports" / "results.json").read_text())
    # One merged report; every result names the place it ran on and its firmware.
    assert data["summary"]["failed"] == 0 and data["summary"]["scenarios"] >= 4
    assert {r["device"] for r in data["results"]} <= set(lab.place_names)
    assert all(r["firmware"] for r in data["results"])
    runs = data["runs"]
    assert sorted(r["worker"] for r in runs) == ["gw0", "gw1"]
    assert {r["path"] for r in runs} == {"labgrid"}
    # Each worker had its own place.
    assert len({r["port"] for r in runs}) == 2
    assert all(r["port"].startswith("rfc2217://127.0.0.1:") for r in runs)
    html = (tmp_path / "reports" / "report.html").read_text()
    assert "<th>scenario, device</th>" in html
    assert all(f"<div class='device'>on {name}</div>" in html for name in lab.place_names)
    # And both places are free again.
    assert _acquired(lab) == dict.fromkeys(lab.place_names)


@needs_lab
@pytest.mark.timeout(120)
def test_an_interrupted_run_releases_its_place(
    pytester: pytest.Pytester, tmp_path: Path, lab: LocalLab
) -> None:
    pytester.makepyfile(
        test_interrupt="""
def test_interrupted(w24):
    w24.ping()
    raise KeyboardInterrupt
"""
    )
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--w24-report-dir",
        str(tmp_path / "reports"),
        "--w24-lg-place",
        lab.place_names[0],
        "--w24-lg-coordinator",
        lab.coordinator,
        timeout=100,
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.str()[-2000:]
    assert _acquired(lab) == dict.fromkeys(lab.place_names)


@needs_lab
def test_a_place_already_acquired_is_refused_with_the_release_command(
    pytester: pytest.Pytester, tmp_path: Path, lab: LocalLab
) -> None:
    holder = lg.Lab(lg.LabRequest(lab.coordinator, places=(lab.place_names[1],), timeout=20))
    holder.claim(1)
    try:
        result = _suites(
            pytester,
            tmp_path,
            "--w24-lg-place",
            lab.place_names[1],
            "--w24-lg-coordinator",
            lab.coordinator,
            "-k",
            "ca-fits",
        )
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        assert f"labgrid-client -p {lab.place_names[1]} release" in result.stderr.str()
    finally:
        assert holder.release() == []
