"""`w24 scenarios`: the scenario catalogue with each profile's expectation (docs/scenarios.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from w24_harness.profiles.table import PROFILES


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    scen = sub.add_parser("scenarios", help="print the scenario catalogue with expectations")
    scen.add_argument(
        "--profile",
        action="append",
        choices=sorted(PROFILES),
        help="profile column(s) to show (default: all)",
    )
    scen.add_argument(
        "--profile-file",
        action="append",
        type=Path,
        default=[],
        help="a column for the profile in this TOML file (repeatable)",
    )


def run(args: argparse.Namespace) -> int:
    from w24_harness.profiles.files import ProfileFileError, load_profile_file
    from w24_harness.scenarios import render_table

    names = args.profile or ([] if args.profile_file else list(PROFILES))
    try:
        files = [load_profile_file(path) for path in args.profile_file]
    except ProfileFileError as exc:
        print(f"w24 scenarios: {exc}", file=sys.stderr)
        return 2
    print(render_table([PROFILES[n] for n in names] + files), end="")
    return 0
