"""Regression baselines: w24_harness.report.compare, `w24 report compare` (exit 0 / 1 / 2), and
`--w24-baseline` in a pytest run (comparison.json, a report section above the matrix, and a
failed session on a regression). Also the throughput chart and columns of report.html."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from w24_harness.cli.main import main as w24_main
from w24_harness.report.chart import nice_ticks, throughput_chart
from w24_harness.report.compare import (
    DEFAULT_MIN_HANDSHAKE_DELTA_MS,
    DEFAULT_THRESHOLD,
    Change,
    format_table,
)
from w24_harness.report.compare import compare as real_compare
from w24_harness.report.html import render
from w24_harness.report.results import RunInfo, RunResults, ScenarioResult, write_results

ROOT = Path(__file__).resolve().parents[2]
# The comparison's mechanics are tested with millisecond handshakes at a 25 ms floor; the
# default floor (500 ms: a simulator's handshake is host CPU time, see compare.py) has its own
# tests below, through real_compare.
MECHANICS_DELTA_MS = 25.0


def compare(*args, **kwargs):
    kwargs.setdefault("min_handshake_delta_ms", MECHANICS_DELTA_MS)
    return real_compare(*args, **kwargs)


def _result(id: str, **fields) -> ScenarioResult:
    base = dict(
        nodeid=f"suites/test_x.py::test[{id}]",
        profile="w24",
        description=id,
        expected="accept",
        actual="accept",
        passed=True,
    )
    return ScenarioResult(id=id, **{**base, **fields})


# Handshake times compare only at one known line rate (an unthrottled simulator's measure the
# machine): these runs are at 115200 unless a test says otherwise.
def _run(*results: ScenarioResult, baud: int = 115200) -> RunResults:
    return RunResults([RunInfo(profile="w24", port="sim", baud=baud)], list(results))


BASE = _run(
    _result("valid", handshake_ms=200.0),
    _result("wrong-ca", expected="reject 220 at ssl", actual="reject 220 at ssl", code=220),
    _result("known-bad", passed=False, actual="accept", expected="reject 220 at ssl"),
    _result("throughput-down", throughput_bps=90000.0, line_rate_bps=92160.0, handshake_ms=4.0),
    _result("gone"),
)


def _kinds(cmp) -> dict[tuple[str, str], tuple[str, bool]]:
    return {(c.id, c.aspect): (c.kind, c.regression) for c in cmp.changes}


def test_identical_runs_have_no_changes() -> None:
    cmp = compare(BASE, BASE)
    assert not cmp.changes and not cmp.regressed and cmp.compared == 5
    assert format_table(cmp).startswith("no regressions")


def test_outcome_changes_and_what_counts_as_regression() -> None:
    current = _run(
        _result("valid", handshake_ms=200.0, passed=False, actual="reject 220 at ssl", code=220),
        _result("wrong-ca", expected="reject 220 at ssl", actual="reject 220 at ssl", code=220),
        _result("known-bad", passed=True, actual="reject 220 at ssl", code=220),
        _result("throughput-down", throughput_bps=90000.0, line_rate_bps=92160.0, handshake_ms=4.0),
        _result("brand-new"),
    )
    kinds = _kinds(compare(BASE, current))
    assert kinds == {
        ("valid", "outcome"): ("regressed", True),
        ("known-bad", "outcome"): ("fixed", False),
        ("gone", "presence"): ("missing", False),
        ("brand-new", "presence"): ("new", False),
    }


def test_a_known_failure_that_fails_differently_is_a_regression() -> None:
    current = replace(
        BASE,
        results=[
            replace(r, actual="reject 224 at data", code=224) if r.id == "known-bad" else r
            for r in BASE.results
        ],
    )
    assert _kinds(compare(BASE, current))[("known-bad", "outcome")] == ("changed", True)


def test_throughput_drop_beyond_threshold() -> None:
    def with_rate(bps: float, line: float | None = 92160.0) -> RunResults:
        return replace(
            BASE,
            results=[
                replace(r, throughput_bps=bps, line_rate_bps=line)
                if r.id == "throughput-down"
                else r
                for r in BASE.results
            ],
        )

    assert not compare(BASE, with_rate(80000.0)).changes  # -11 %: within 15 %
    cmp = compare(BASE, with_rate(70000.0))  # -22 %
    assert _kinds(cmp) == {("throughput-down", "throughput"): ("slower", True)}
    assert "-22%" in format_table(cmp) and "!!" in format_table(cmp)
    assert compare(BASE, with_rate(70000.0), threshold=0.25).regressed is False
    faster = compare(BASE, with_rate(120000.0))
    assert _kinds(faster) == {("throughput-down", "throughput"): ("faster", False)}
    other_line = compare(BASE, with_rate(9000.0, line=11520.0))  # another --w24-baud
    assert not other_line.changes and "different line rates" in other_line.notes[0]
    unthrottled = replace(
        BASE,
        results=[
            replace(r, line_rate_bps=None) if r.id == "throughput-down" else r for r in BASE.results
        ],
    )
    noisy = compare(
        unthrottled,
        replace(
            unthrottled,
            results=[
                replace(r, throughput_bps=10.0) if r.id == "throughput-down" else r
                for r in unthrottled.results
            ],
        ),
    )
    assert not noisy.changes and "unthrottled simulator" in noisy.notes[0]


def test_handshake_growth_needs_threshold_and_absolute_delta() -> None:
    def with_ms(scenario: str, ms: float) -> RunResults:
        return replace(
            BASE,
            results=[replace(r, handshake_ms=ms) if r.id == scenario else r for r in BASE.results],
        )

    assert not compare(BASE, with_ms("valid", 220.0)).changes  # +10 %
    slower = compare(BASE, with_ms("valid", 240.0))  # +20 %, +40 ms
    assert _kinds(slower) == {("valid", "handshake"): ("slower", True)}
    assert not compare(BASE, with_ms("valid", 240.0), threshold=0.25).changes
    faster = compare(BASE, with_ms("valid", 150.0))
    assert _kinds(faster) == {("valid", "handshake"): ("faster", False)}
    # 4 -> 8 ms doubles, but is scheduling noise on a simulator unless asked for
    assert not compare(BASE, with_ms("throughput-down", 8.0)).changes
    assert compare(BASE, with_ms("throughput-down", 8.0), min_handshake_delta_ms=0).regressed


def test_negative_threshold_is_refused() -> None:
    with pytest.raises(ValueError):
        compare(BASE, BASE, threshold=-0.1)


# -- w24 report compare ---------------------------------------------------------------------


def _write(path: Path, run: RunResults) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return write_results(path, run)


def test_cli_exit_codes_and_table(tmp_path: Path, capsys) -> None:
    base = _write(tmp_path / "base", BASE)
    same = _write(tmp_path / "same", BASE)
    worse = _write(
        tmp_path / "worse",
        replace(
            BASE,
            results=[
                replace(r, passed=False, actual="reject 220 at ssl", code=220)
                if r.id == "valid"
                else r
                for r in BASE.results
            ],
        ),
    )
    assert w24_main(["report", "compare", str(base), str(same)]) == 0
    assert capsys.readouterr().out.startswith("no regressions")
    out_json = tmp_path / "cmp.json"
    assert w24_main(["report", "compare", str(base), str(worse), "--json", str(out_json)]) == 1
    table = capsys.readouterr().out
    assert table.startswith("1 regression(s)")
    assert "valid" in table and "PASS: accept" in table and "FAIL: reject 220 at ssl" in table
    saved = json.loads(out_json.read_text())
    assert saved["regressed"] is True and saved["changes"][0]["id"] == "valid"


def test_cli_unreadable_input_exits_2(tmp_path: Path, capsys) -> None:
    base = _write(tmp_path / "base", BASE)
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert w24_main(["report", "compare", str(base), str(garbage)]) == 2
    assert "garbage.json" in capsys.readouterr().err
    assert w24_main(["report", "compare", str(tmp_path / "missing.json"), str(base)]) == 2
    wrong_shape = tmp_path / "list.json"
    wrong_shape.write_text("[1, 2]")
    assert w24_main(["report", "compare", str(base), str(wrong_shape)]) == 2


def test_installed_command_runs(tmp_path: Path) -> None:
    base = _write(tmp_path / "base", BASE)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "w24_harness.cli.main",
            "report",
            "compare",
            str(base),
            str(base),
            "--threshold",
            "0.1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "threshold 10%" in proc.stdout


def test_cli_renders_html_with_a_comparison(tmp_path: Path, capsys) -> None:
    base = _write(tmp_path / "base", BASE)
    current = _write(tmp_path / "cur", replace(BASE, results=BASE.results[:2]))
    out = tmp_path / "out.html"
    assert (
        w24_main(["report", "html", str(current), "--baseline", str(base), "--out", str(out)]) == 0
    )
    html = out.read_text()
    assert "Baseline comparison" in html and "missing" in html and "known-bad" in html
    assert w24_main(["report", "html", str(tmp_path / "missing.json")]) == 2


# -- report.html ----------------------------------------------------------------------------


def test_chart_and_columns_for_throughput_rows(tmp_path: Path) -> None:
    html = render(BASE, tmp_path)
    assert html.count("<svg") == 1 and "<script src" not in html  # inline only
    assert "line rate 92.2 KB/s" in html and "payload throughput (KB/s)" in html
    assert "90.0 KB/s" in html  # the row's throughput column and the bar's value
    assert throughput_chart([r for r in BASE.results if r.throughput_bps is None]) == ""


def test_nice_ticks_cover_the_maximum() -> None:
    assert nice_ticks(92.16) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(4.1)[-1] >= 4.1 and len(nice_ticks(4.1)) <= 7
    assert nice_ticks(0) == [0.0, 1.0]


# -- --w24-baseline in a pytest run ---------------------------------------------------------

RECORDING_TEST = """
def test_record(w24_record):
    w24_record(id="tp", description="throughput", expected="intact", actual="intact",
               passed=True, handshake_ms=10.0, throughput_bps=1000.0, line_rate_bps=11520.0)
"""


def _pytest(pytester: pytest.Pytester, report_dir: Path, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        f"--rootdir={ROOT}",
        "-p",
        "no:cacheprovider",
        "--w24-report-dir",
        str(report_dir),
        *args,
        timeout=100,
    )


@pytest.mark.timeout(120)
def test_baseline_option_reports_and_fails_on_regression(pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_rec=RECORDING_TEST)

    def baseline(name: str, bps: float) -> Path:
        tp = _result("tp", handshake_ms=10.0, throughput_bps=bps, line_rate_bps=11520.0)
        return _write(tmp_path / name, _run(tp))

    good, fast = baseline("good", 1000.0), baseline("fast", 2000.0)

    same = _pytest(pytester, tmp_path / "r1", "--w24-baseline", str(good))
    assert same.ret == 0
    assert json.loads((tmp_path / "r1" / "comparison.json").read_text())["regressed"] is False

    worse = _pytest(pytester, tmp_path / "r2", "--w24-baseline", str(fast))
    assert worse.ret == pytest.ExitCode.TESTS_FAILED
    worse.stdout.fnmatch_lines(
        [
            "*w24 baseline comparison*",
            "*1 regression(s)*",
            "*regressions against the baseline: session fails*",
        ]
    )
    report = tmp_path / "r2"
    assert json.loads((report / "comparison.json").read_text())["regressions"] == 1
    html = (report / "report.html").read_text()
    assert (
        html.index("verdict red")
        < html.index("Baseline comparison")
        < html.index("Every planned scenario")
    )
    assert json.loads((report / "results.json").read_text())["exit_status"] == 1

    unreadable = tmp_path / "nope.json"
    unreadable.write_text("nope")
    bad = _pytest(pytester, tmp_path / "r3", "--w24-baseline", str(unreadable))
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "--w24-baseline" in bad.stderr.str()


# -- boundaries of the default threshold (0.15) and of the handshake delta (25 ms) --------


def _throughput(bps: float) -> RunResults:
    return _run(_result("t", throughput_bps=bps, line_rate_bps=92160.0))


def _handshake(ms: float) -> RunResults:
    return _run(_result("h", handshake_ms=ms))


def test_default_threshold_is_15_percent_and_half_a_second() -> None:
    assert DEFAULT_THRESHOLD == 0.15 and DEFAULT_MIN_HANDSHAKE_DELTA_MS == 500.0
    assert real_compare(BASE, BASE).threshold == 0.15
    assert real_compare(BASE, BASE).min_handshake_delta_ms == 500.0


@pytest.mark.parametrize(
    ("now", "kind"),
    [(85000.0, None), (84900.0, "slower"), (115000.0, None), (115100.0, "faster")],
    ids=["-15%", "-15.1%", "+15%", "+15.1%"],
)
def test_throughput_change_exactly_at_the_default_threshold(now: float, kind) -> None:
    cmp = compare(_throughput(100000.0), _throughput(now))
    assert [c.kind for c in cmp.changes] == ([kind] if kind else [])
    assert cmp.regressed is (kind == "slower")


@pytest.mark.parametrize(
    ("now", "kind"),
    [(230.0, None), (230.5, "slower"), (170.0, None), (169.5, "faster")],
    ids=["+15%", "+15.25%", "-15%", "-15.25%"],
)
def test_handshake_change_exactly_at_the_default_threshold(now: float, kind) -> None:
    cmp = compare(_handshake(200.0), _handshake(now))
    assert [c.kind for c in cmp.changes] == ([kind] if kind else [])
    assert cmp.regressed is (kind == "slower")


@pytest.mark.parametrize(
    ("now", "kind"), [(2500.0, None), (2500.5, "slower")], ids=["+500 ms", "+500.5 ms"]
)
def test_handshake_delta_exactly_at_the_default_minimum(now: float, kind) -> None:
    # +25 % is past the threshold: only the absolute minimum decides.
    cmp = real_compare(_handshake(2000.0), _handshake(now))
    assert [c.kind for c in cmp.changes] == ([kind] if kind else [])


def test_zero_threshold_flags_any_change_and_none_when_equal() -> None:
    assert compare(_throughput(100.0), _throughput(100.0), threshold=0.0).changes == []
    cmp = compare(_throughput(100.0), _throughput(99.0), threshold=0.0)
    assert [c.kind for c in cmp.changes] == ["slower"]


# -- what each change says, and when runs are not comparable -------------------------------


def _paths(*paths: str, profile: str = "w24") -> list[RunInfo]:
    return [
        RunInfo(profile=profile, port="sim", path=p, worker=f"gw{i}", baud=115200)
        for i, p in enumerate(paths)
    ]


def test_each_change_names_both_sides_and_the_size_of_the_change() -> None:
    base = _run(
        _result("o", handshake_ms=100.0),
        _result("t", throughput_bps=90000.0, line_rate_bps=92160.0),
    )
    cur = _run(
        _result("o", handshake_ms=140.0, passed=False, actual="reject 220 at ssl", code=220),
        _result("t", throughput_bps=1.5e6, line_rate_bps=92160.0),
    )
    assert compare(base, cur).changes == [
        Change("o", "handshake", "slower", "100.0 ms", "140.0 ms", True, "+40%"),
        Change(
            "o", "outcome", "regressed", "PASS: accept", "FAIL: reject 220 at ssl, code 220", True
        ),
        Change("t", "throughput", "faster", "90.0 KB/s", "1.50 MB/s", False, "+1567%"),
    ]


def test_a_throughput_of_zero_is_a_drop_and_an_unmeasured_one_is_not_compared() -> None:
    [change] = compare(_throughput(90000.0), _throughput(0.0)).changes
    assert (change.kind, change.regression, change.note) == ("slower", True, "-100%")
    assert compare(_throughput(0.0), _throughput(90000.0)).changes == []  # no base to scale
    unmeasured = _run(_result("t", line_rate_bps=92160.0))
    assert compare(_throughput(90000.0), unmeasured).changes == []
    assert compare(unmeasured, _throughput(90000.0)).changes == []


def test_a_handshake_of_zero_ms_is_not_a_base() -> None:
    assert compare(_handshake(0.0), _handshake(200.0)).changes == []
    assert compare(_run(_result("h")), _handshake(200.0)).changes == []
    assert compare(_handshake(200.0), _run(_result("h"))).changes == []
    [change] = compare(_handshake(200.0), _handshake(0.0)).changes
    assert (change.kind, change.regression, change.note) == ("faster", False, "-100%")


def test_an_id_twice_in_a_run_is_matched_by_node_id() -> None:
    twice = [_result("dup", nodeid="a::x[dup]"), _result("dup", nodeid="b::x[dup]")]
    cur = [twice[0], replace(twice[1], passed=False, actual="reject 220 at ssl", code=220)]
    cmp = compare(_run(*twice), _run(*cur))
    assert cmp.compared == 2
    assert [(c.id, c.kind) for c in cmp.changes] == [("b::x[dup]", "regressed")]
    # Once in each run: keyed by the id, whatever the node.
    moved = compare(_run(twice[0]), _run(replace(twice[0], nodeid="c::x[dup]")))
    assert moved.compared == 1 and moved.changes == []


def test_profiles_that_differ_are_noted() -> None:
    base = RunResults(_paths("pty"), [_result("x")])
    other = RunResults(_paths("pty", profile="ichip"), [_result("x")])
    assert compare(base, other).notes == ["profiles differ: baseline ['w24'], current ['ichip']"]
    assert compare(base, base).notes == []
    assert compare(base, RunResults([], [_result("x")])).notes == []  # no info: nothing to say


@pytest.mark.parametrize(
    ("base_paths", "cur_paths", "compared"),
    [
        (("pty",), ("pty",), True),
        (("",), ("",), True),  # unrecorded on both sides: one kind
        (("pty",), ("socket",), False),
        (("pty", "socket"), ("pty", "socket"), False),  # mixed runs: workers on both paths
        (("pty",), ("pty", "socket"), False),
        (("pty",), (), False),  # the current run recorded no run info at all
    ],
)
def test_handshakes_compare_only_through_one_kind_of_path(base_paths, cur_paths, compared) -> None:
    base = RunResults(_paths(*base_paths), [_result("h", handshake_ms=100.0)])
    cur = RunResults(_paths(*cur_paths), [_result("h", handshake_ms=200.0)])
    cmp = compare(base, cur)
    assert [c.aspect for c in cmp.changes] == (["handshake"] if compared else [])
    skipped = [n for n in cmp.notes if n.startswith("handshake time")]
    if compared:
        assert skipped == []
    else:
        shown = [
            "/".join(sorted(p or "unrecorded" for p in set(paths))) or "none"
            for paths in (base_paths, cur_paths)
        ]
        assert skipped == [
            "handshake time of 1 case(s) not compared: the runs reached the device through "
            f"different paths (baseline {shown[0]}, current {shown[1]})"
        ]


def test_handshake_not_compared_note_counts_only_measured_cases() -> None:
    base = RunResults(
        _paths("pty"),
        [_result("a", handshake_ms=100.0), _result("b"), _result("c", handshake_ms=0.0)],
    )
    cur = RunResults(
        _paths("socket"),
        [
            _result("a", handshake_ms=100.0),
            _result("b", handshake_ms=5.0),
            _result("c", handshake_ms=9.0),
        ],
    )
    assert compare(base, cur).notes == [
        "handshake time of 1 case(s) not compared: the runs reached the device through "
        "different paths (baseline pty, current socket)"
    ]


def test_not_compared_throughputs_are_counted_per_reason() -> None:
    def t(id: str, line: float | None, bps: float | None = 90000.0) -> ScenarioResult:
        return _result(id, throughput_bps=bps, line_rate_bps=line)

    base = _run(t("a", None), t("b", None), t("c", 92160.0), t("d", 0.0), t("e", None, None))
    cur = _run(t("a", None), t("b", 0.0), t("c", 11520.0), t("d", 92160.0), t("e", None))
    assert compare(base, cur).notes == [
        "throughput of 2 case(s) not compared: the runs used different line rates (--w24-baud)",
        "throughput of 2 case(s) not compared: unthrottled simulator (the rate measures the "
        "machine; run both with --w24-baud to compare)",
    ]


def test_changes_are_sorted_regressions_first_and_presence_last() -> None:
    base = _run(
        _result("a", handshake_ms=100.0),
        _result("b", passed=False, actual="accept"),
        _result("c", handshake_ms=100.0),
        _result("t", throughput_bps=1000.0, line_rate_bps=92160.0),
        _result("z"),
    )
    cur = _run(
        _result("a", handshake_ms=50.0),
        _result("b"),
        _result("c", handshake_ms=200.0, passed=False, actual="reject 220 at ssl", code=220),
        _result("t", throughput_bps=2000.0, line_rate_bps=92160.0),
        _result("new"),
    )
    order = [(c.id, c.aspect, c.kind) for c in compare(base, cur).changes]
    assert order == [
        ("c", "handshake", "slower"),
        ("c", "outcome", "regressed"),
        ("a", "handshake", "faster"),
        ("b", "outcome", "fixed"),
        ("t", "throughput", "faster"),
        ("new", "presence", "new"),
        ("z", "presence", "missing"),
    ]


def test_comparison_json_counts_the_regressions() -> None:
    cur = _run(
        _result("valid", handshake_ms=200.0, passed=False, actual="reject 220 at ssl", code=220),
        *BASE.results[1:],
    )
    data = compare(BASE, cur, baseline_name="old", current_name="new").to_json()
    assert (data["baseline"], data["current"], data["regressed"], data["regressions"]) == (
        "old",
        "new",
        True,
        1,
    )
    assert (data["threshold"], data["min_handshake_delta_ms"], data["compared"]) == (0.15, 25.0, 5)
    assert data["changes"] == [asdict(c) for c in compare(BASE, cur).changes]
    clean = compare(BASE, BASE).to_json()
    assert (clean["regressed"], clean["regressions"], clean["changes"]) == (False, 0, [])


def test_only_a_negative_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold must be >= 0, got -0.01"):
        compare(BASE, BASE, threshold=-0.01)
    assert compare(BASE, BASE, threshold=0.0).threshold == 0.0


def test_any_growth_past_a_zero_minimum_is_a_regression() -> None:
    # 1.0 -> 1.5 ms: +50 %, half a millisecond; with no absolute minimum it counts.
    [change] = compare(_handshake(1.0), _handshake(1.5), min_handshake_delta_ms=0).changes
    assert (change.kind, change.regression, change.note) == ("slower", True, "+50%")
    [change] = compare(_handshake(1.5), _handshake(1.0), min_handshake_delta_ms=0).changes
    assert (change.kind, change.regression) == ("faster", False)


def test_throughput_at_another_line_rate_is_not_compared_either_way() -> None:
    def at(bps: float, line: float) -> RunResults:
        return _run(_result("t", throughput_bps=bps, line_rate_bps=line))

    for base, cur in (
        (at(9000.0, 11520.0), at(90000.0, 92160.0)),
        (at(90000.0, 92160.0), at(9000.0, 11520.0)),
    ):
        cmp = compare(base, cur)
        assert cmp.changes == []
        assert cmp.notes == [
            "throughput of 1 case(s) not compared: the runs used different line rates (--w24-baud)"
        ]


def test_a_missing_scenario_does_not_stop_the_comparison_of_the_others() -> None:
    base = _run(_result("a"), _result("b"), _result("c"))
    cur = _run(_result("b", passed=False, actual="reject 220 at ssl", code=220), _result("c"))
    cmp = compare(base, cur)
    assert cmp.compared == 2
    assert [(c.id, c.kind) for c in cmp.changes] == [("b", "regressed"), ("a", "missing")]


@pytest.mark.parametrize(
    ("base_baud", "cur_baud", "note"),
    [
        (0, 0, "unthrottled simulator"),
        (115200, 9600, "different line rates (9600/115200 baud)"),
        (0, 115200, "different line rates (unthrottled/115200 baud)"),
        (115200, 0, "different line rates (unthrottled/115200 baud)"),
    ],
)
def test_handshakes_compare_only_at_one_known_line_rate(base_baud, cur_baud, note) -> None:
    # Two healthy runs on an unthrottled simulator differed by +1013 % (issue 26): the time
    # measured the machine. 10 -> 200 ms is no regression there, nor across line rates.
    base = _run(_result("h", handshake_ms=10.0), baud=base_baud)
    cur = _run(_result("h", handshake_ms=200.0), baud=cur_baud)
    cmp = compare(base, cur)
    assert not cmp.changes and cmp.passed_gate
    assert any(note in n for n in cmp.notes), cmp.notes
    assert compare(_run(_result("h", handshake_ms=10.0)), _run(_result("h", handshake_ms=200.0)))


def test_a_handshake_change_within_the_runs_noise_is_no_regression() -> None:
    # Every row 30-70 ms slower (a busy machine): the median shift plus the spread of the
    # changes is the noise floor, and a row 70 ms slower is within it; one 400 ms slower is not.
    deltas = [30.0, 70.0, 40.0, 60.0, 50.0, 45.0, 55.0]
    base = _run(*[_result(f"r{i}", handshake_ms=200.0) for i in range(len(deltas))])
    cur = _run(*[_result(f"r{i}", handshake_ms=200.0 + d) for i, d in enumerate(deltas)])
    cmp = compare(base, cur)
    assert cmp.noise_ms == pytest.approx(80.0)  # median 50 + 3 x MAD (10 ms)
    assert cmp.passed_gate and not cmp.changes  # +70 ms is +35 % and > 25 ms, but noise
    assert not compare(base, cur, min_handshake_delta_ms=0).changes
    slow = replace(cur, results=[*cur.results[:-1], replace(cur.results[-1], handshake_ms=600.0)])
    assert [c.id for c in compare(base, slow).regressions] == ["r6"]


def test_the_gate_blocks_an_incomplete_run_and_missing_scenarios() -> None:
    from w24_harness.report.verdict import PlannedScenario, TestOutcome, TestStatus

    planned = [PlannedScenario(f"suites/test_x.py::test[{i}]", i) for i in ("a", "b")]
    good = _run(_result("a"), _result("b"))
    good.planned = planned
    dead = _run(_result("a"))
    dead.planned, dead.stopped = planned, "w24: port lost in test[a]"
    dead.outcomes = [TestOutcome(planned[0].nodeid, TestStatus.PASSED, finished=True)]
    cmp = compare(good, dead)
    assert not cmp.passed_gate and not cmp.regressed
    assert cmp.blockers[0].startswith("the current run is incomplete: INCOMPLETE")
    subset = _run(_result("a"))
    subset.planned = planned[:1]
    assert "1 scenario(s) of the baseline are not planned" in compare(good, subset).blockers[0]
    assert compare(good, subset, allow_subset=True).passed_gate
    assert compare(good, good).passed_gate
