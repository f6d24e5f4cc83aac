"""`w24 report ...`: work with the results.json files the pytest plugin writes.

w24 report compare BASELINE.json CURRENT.json [--threshold 0.15] [--json OUT] [--allow-subset]
    a gate: exit 0: the current run is complete, has every scenario of the baseline and
    nothing regressed; 1: something regressed; 2: an input could not be read; 3: the current
    run is incomplete or scenarios of the baseline are missing from it
w24 report html RESULTS.json [--out report.html] [--baseline BASELINE.json]
    render (again) the HTML report of a results.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from w24_harness.report.compare import (
    DEFAULT_MIN_HANDSHAKE_DELTA_MS,
    DEFAULT_THRESHOLD,
    compare,
    compare_files,
    format_table,
    write_json,
)
from w24_harness.report.results import RunResults

EXIT_OK, EXIT_REGRESSED, EXIT_UNREADABLE, EXIT_BLOCKED = 0, 1, 2, 3


def _fraction(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    report = sub.add_parser("report", help="compare runs against a baseline, render reports")
    report_sub = report.add_subparsers(dest="report_command", required=True)

    cmp = report_sub.add_parser(
        "compare",
        help="flag scenarios whose outcome changed, or whose throughput or handshake time "
        "got worse, between two results.json files",
    )
    cmp.add_argument("baseline", type=Path, help="results.json of the reference run")
    cmp.add_argument("current", type=Path, help="results.json of the run to check")
    cmp.add_argument(
        "--threshold",
        type=_fraction,
        default=DEFAULT_THRESHOLD,
        help="relative change that counts (default %(default)s = 15%%)",
    )
    cmp.add_argument(
        "--min-handshake-delta-ms",
        type=_fraction,
        default=DEFAULT_MIN_HANDSHAKE_DELTA_MS,
        help="ignore handshake-time growth below this many ms (default %(default)s)",
    )
    cmp.add_argument("--json", type=Path, help="also write the comparison as JSON here")
    cmp.add_argument(
        "--allow-subset",
        action="store_true",
        help="the current run may leave out scenarios of the baseline (a -k selection)",
    )
    cmp.set_defaults(func=run_compare)

    html = report_sub.add_parser("html", help="render report.html from a results.json")
    html.add_argument("results", type=Path)
    html.add_argument("--out", type=Path, help="default: report.html next to the results")
    html.add_argument("--baseline", type=Path, help="add a comparison with this results.json")
    html.add_argument("--threshold", type=_fraction, default=DEFAULT_THRESHOLD)
    html.set_defaults(func=run_html)


def run(args: argparse.Namespace) -> int:
    return int(args.func(args))


def run_compare(args: argparse.Namespace) -> int:
    try:
        comparison = compare_files(
            args.baseline,
            args.current,
            threshold=args.threshold,
            min_handshake_delta_ms=args.min_handshake_delta_ms,
            allow_subset=args.allow_subset,
        )
    except ValueError as exc:
        print(f"w24 report compare: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    sys.stdout.write(format_table(comparison))
    if args.json:
        write_json(args.json, comparison)
    if comparison.blockers:
        return EXIT_BLOCKED
    return EXIT_REGRESSED if comparison.regressed else EXIT_OK


def run_html(args: argparse.Namespace) -> int:
    from w24_harness.report.html import comparison_section, write_html

    try:
        run = RunResults.load(args.results)
        baseline = RunResults.load(args.baseline) if args.baseline else None
    except ValueError as exc:
        print(f"w24 report html: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    extra = []
    if baseline is not None:
        comparison = compare(
            baseline,
            run,
            threshold=args.threshold,
            baseline_name=str(args.baseline),
            current_name=str(args.results),
        )
        extra.append(comparison_section(comparison))
    out = args.out or args.results.parent / "report.html"
    write_html(out.parent, run, extra, path=out)
    print(out)
    return EXIT_OK
