"""`w24 profile show|diff`: device profiles as files (names or TOML)."""

from __future__ import annotations

import argparse
import sys

from w24_harness.profiles.files import (
    ProfileFileError,
    diff_profiles,
    dumps_profile,
    resolve_profile,
)
from w24_harness.profiles.table import PROFILES


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    prof = sub.add_parser("profile", help="show or compare device profiles (names or TOML files)")
    prof_sub = prof.add_subparsers(dest="profile_command", required=True)
    show = prof_sub.add_parser("show", help="print a profile as TOML (every field)")
    show.add_argument("profile", help=f"a built-in name ({', '.join(sorted(PROFILES))}) or a file")
    show.set_defaults(func=_show)
    diff = prof_sub.add_parser("diff", help="the fields two profiles disagree on (exit 1 if any)")
    diff.add_argument("a")
    diff.add_argument("b")
    diff.add_argument(
        "--identity", action="store_true", help="compare the name and description too"
    )
    diff.set_defaults(func=_diff)


def run(args: argparse.Namespace) -> int:
    return int(args.func(args))


def _show(args: argparse.Namespace) -> int:
    try:
        profile = resolve_profile(args.profile)
    except ProfileFileError as exc:
        print(f"w24 profile show: {exc}", file=sys.stderr)
        return 2
    print(dumps_profile(profile), end="")
    return 0


def _diff(args: argparse.Namespace) -> int:
    try:
        a, b = resolve_profile(args.a), resolve_profile(args.b)
    except ProfileFileError as exc:
        print(f"w24 profile diff: {exc}", file=sys.stderr)
        return 2
    rows = diff_profiles(a, b, identity=args.identity)
    if not rows:
        print(
            f"{args.a} and {args.b}: equal, field for field"
            + ("" if args.identity else " (name and description not compared)")
        )
        return 0
    width = max(len(r[0]) for r in rows)
    print(f"{'field':{width}}  {args.a}  |  {args.b}")
    for name, left, right in rows:
        print(f"{name:{width}}  {left!r}  |  {right!r}")
    return 1
