"""report.html as a person sees it: rendered by headless Chromium in a 1280 x 900 window, it
makes a 1280-px-wide screenshot and needs no horizontal scrolling; and its content leads with
the verdict, then failures and drift, then the grids. Skipped where no Chromium is installed
(`./w24-test all` installs the Debian package `chromium` when it runs as root with apt)."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from w24_harness.report.html import render, write_html
from w24_harness.report.results import RunInfo, RunResults, ScenarioResult
from w24_harness.report.verdict import NoResult, PlannedScenario, TestOutcome, TestStatus
from w24_harness.tlsfacts import W24_SUITES, ProtocolVersion, short_name
from w24_harness.vocab import Basis, DataDirection, Family, Kind

WIDTH = 1280
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _scenario(
    sid: str,
    family: Family,
    *,
    passed: bool = True,
    result_class: str = "",
    version: str = "",
    suite: str = "",
    measures: str | None = None,
    direction: str = "",
    actual: str = "accept",
    expected: str = "accept",
    detail: str = "",
    throughput: float | None = None,
    basis: Basis = Basis.W24_MANUAL,
) -> tuple[PlannedScenario, ScenarioResult]:
    nodeid = f"suites/test_{family}.py::test[{sid}]"
    kind = str(Kind.CHARACTERIZATION if measures else Kind.CONFORMANCE)
    planned = PlannedScenario(
        nodeid,
        sid,
        family=str(family),
        kind=kind,
        basis=str(basis),
        measures=measures,
        version=version,
        suite=suite,
        direction=direction,
    )
    result = ScenarioResult(
        id=sid,
        nodeid=nodeid,
        profile="w24",
        description=f"{sid} as the catalogue describes it",
        expected=expected,
        actual=actual,
        passed=passed,
        result_class=result_class,
        code=None if passed else 220,
        stage="" if passed else "ssl",
        handshake_ms=812.5,
        bytes_sent=64,
        bytes_received=1024,
        detail=detail,
        basis=str(basis),
        scenario_kind=kind,
        measures=measures,
        server={"version": version or "TLSv1", "cipher": suite or W24_SUITES[3]},
        transcript=f"/tmp/reports/transcripts/{sid}.txt",
        throughput_bps=throughput,
        line_rate_bps=11520.0 if throughput else None,
        line_ratio=throughput / 11520.0 if throughput else None,
        framing_ratio=throughput / 11300.0 if throughput else None,
    )
    return planned, result


def sample_run() -> RunResults:
    """A run with a bit of everything: the grid's 2 x 5 cells, failures, drift, observed
    characterizations, no-result scenarios with long error text, and throughput cases."""
    pairs = []
    for version in (ProtocolVersion.SSL3, ProtocolVersion.TLS1):
        for suite in W24_SUITES:
            sid = f"valid-{version.short}-{short_name(suite)}"
            pairs.append(_scenario(sid, Family.HANDSHAKE, version=version, suite=suite))
            for way in DataDirection:
                tid = f"throughput-{'down' if way == DataDirection.RECEIVE else 'up'}-" + sid[6:]
                pairs.append(
                    _scenario(
                        tid,
                        Family.THROUGHPUT,
                        version=version,
                        suite=suite,
                        direction=way,
                        throughput=10450.0,
                        actual="intact",
                        expected="intact",
                    )
                )
    pairs += [
        _scenario(
            "wrong-ca",
            Family.HANDSHAKE,
            passed=False,
            expected="reject 220 at ssl",
            actual="accept",
            detail="the handshake completed with a server whose chain "
            "ends in a CA nobody loaded; " + "x" * 240,
        ),
        _scenario(
            "sha256-leaf",
            Family.HANDSHAKE,
            result_class="observed",
            measures="leaf_signature_hashes",
            expected="unknown",
            actual="accept",
        ),
        _scenario(
            "server-key-4096",
            Family.HANDSHAKE,
            result_class="drift",
            measures="server_key_bits",
            expected="reject 220 at ssl",
            actual="accept",
            basis=Basis.ICHIP_FIRMWARE,
        ),
        _scenario("ca-fits", Family.CA),
        _scenario("ca-garbage", Family.CA, expected="reject 116 at ca", actual="reject 116 at ca"),
    ]
    pairs += [_scenario(f"data-down-{n}", Family.DATA) for n in (1, 100, 2047, 2048, 65536)]
    planned = [p for p, _ in pairs]
    results = [r for _, r in pairs]
    lost = [
        PlannedScenario(
            f"suites/test_data.py::test[data-up-{n}]", f"data-up-{n}", family=str(Family.DATA)
        )
        for n in (1, 100, 2049)
    ]
    planned += lost
    outcomes = [
        TestOutcome(r.nodeid, TestStatus.PASSED if r.passed else TestStatus.FAILED, finished=True)
        for r in results
    ]
    outcomes += [
        TestOutcome(
            p.nodeid,
            TestStatus.ERROR,
            NoResult.DEVICE_DEAD,
            "w24_harness.at.codes.DeviceTimeout: no reply to 'AT+iSTCP:"
            "127.0.0.1,40123' within 30 s; the module stopped answering "
            "after the previous scenario",
            True,
        )
        for p in lost
    ]
    info = RunInfo(
        profile="w24",
        port="/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI",
        part_number="W24-CO2144-01",
        firmware="802W24-SSL3 (sim)",
        baud=115200,
    )
    return RunResults([info], results, exit_status=1, planned=planned, outcomes=outcomes)


def test_report_leads_with_the_verdict_then_failures_then_the_grids(tmp_path: Path) -> None:
    html = render(sample_run(), tmp_path)
    order = [
        html.index(marker)
        for marker in (
            'class="verdict red"',
            "Failures and drift",
            "Acceptance: protocol version",
            "Other scenarios: family",
            "Characterization",
            "Throughput",
            "Every planned scenario",
        )
    ]
    assert order == sorted(order)
    verdict = html[html.index('class="verdict red"') : html.index("Failures and drift")]
    assert "INCOMPLETE" in verdict and "3 device dead" in verdict
    assert all(f"data-up-{n}" in verdict for n in (1, 100, 2049))
    grid = html[html.index("Acceptance: protocol") : html.index("Other scenarios")]
    assert grid.count("<tr>") == 3  # header + SSL3.0 + TLS1.0
    assert all(f"<th>{name}</th>" in grid for name in ("RC4-MD5", "AES256-SHA"))
    character = html[html.index("Characterization") : html.index("Throughput")]
    assert "server_key_bits" in character and "leaf_signature_hashes" in character
    assert "<script src" not in html and "<link" not in html  # one self-contained file


def _row_of(html: str, sid: str, start: str = "Every planned scenario") -> str:
    table = html[html.index(start) :]
    begin = table.index(f"<code>{sid}</code>")
    return table[begin : table.index("</tr>", begin)]


def test_each_row_names_its_kind_and_basis(tmp_path: Path) -> None:
    html = render(sample_run(), tmp_path)
    wrong_ca = _row_of(html, "wrong-ca")
    assert "conformance" in wrong_ca and "basis: w24-manual" in wrong_ca
    key = _row_of(html, "server-key-4096")
    assert "characterization</span> of <code>server_key_bits</code>" in key
    assert "basis: ichip-firmware" in key
    # The failures-and-drift list says it too, and so does a chip's tooltip in the grids.
    problems = _row_of(html, "server-key-4096", "Failures and drift")
    assert "characterization" in problems and "basis: ichip-firmware" in problems
    grid = html[html.index("Other scenarios: family") : html.index("Characterization")]
    assert "wrong-ca [conformance, w24-manual]: expected" in grid


def test_a_green_run_says_passed(tmp_path: Path) -> None:
    planned, result = _scenario("ca-fits", Family.CA)
    run = RunResults(
        [],
        [result],
        exit_status=0,
        planned=[planned],
        outcomes=[TestOutcome(planned.nodeid, TestStatus.PASSED, finished=True)],
    )
    html = render(run, tmp_path)
    assert 'class="verdict green"' in html and "PASSED" in html
    assert "Failures and drift" not in html


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])  # the IHDR chunk: width, height


def _chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},900",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.mark.timeout(240)
def test_chromium_renders_the_report_1280_wide_without_horizontal_scroll(tmp_path: Path) -> None:
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium installed (apt-get install chromium)")
    report = write_html(tmp_path, sample_run())
    png = tmp_path / "report.png"
    shot = _chromium(browser, tmp_path / "profile", f"--screenshot={png}", report.as_uri())
    assert png.is_file(), f"no screenshot: {shot.stderr[-2000:]}"
    assert _png_size(png)[0] == WIDTH
    # The page's scroll width and the width it is shown in (the window less a vertical
    # scroll bar): no horizontal scrolling.
    scroll_width, shown_width = map(
        int,
        _probe(
            browser,
            report,
            tmp_path / "width",
            "var d = document.documentElement;"
            "Math.max(d.scrollWidth, document.body.scrollWidth) + ' ' + d.clientWidth",
        ).split(),
    )
    assert scroll_width <= WIDTH and scroll_width <= shown_width, (scroll_width, shown_width)


def _probe(browser: str, report: Path, work: Path, expression: str) -> str:
    """Load the report with a script appended that evaluates `expression` after the page's
    own script and writes the value into the DOM; --dump-dom prints it once laid out."""
    work.mkdir()
    probe = work / "probe.html"
    probe.write_text(
        report.read_text().replace(
            "</body>",
            f"<script>document.body.setAttribute('data-probe', (function () {{ return eval("
            f"{expression!r}); }})());</script></body>",
        )
    )
    dom = _chromium(
        browser, work / "profile", "--virtual-time-budget=3000", "--dump-dom", probe.as_uri()
    )
    found = re.search(r'data-probe="([^"]*)"', dom.stdout)
    assert found, f"no measurement in the DOM: {dom.stderr[-2000:]}"
    return found.group(1)


@pytest.mark.timeout(240)
def test_the_filter_box_keeps_only_matching_scenarios(tmp_path: Path) -> None:
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium installed (apt-get install chromium)")
    report = write_html(tmp_path, sample_run())
    shown = _probe(
        browser,
        report,
        tmp_path / "filter",
        "var box = document.getElementById('w24-filter'); box.value = 'device dead';"
        "box.dispatchEvent(new Event('input'));"
        "Array.from(document.querySelectorAll('tr[id]')).filter(function (r) {"
        " return !r.hidden; }).map(function (r) { return r.id; }).join(' ')",
    )
    assert sorted(shown.split()) == sorted(
        f"r-suites-test_data-py-test-data-up-{n}" for n in (1, 100, 2049)
    )
