"""`w24 profile show|diff` and `w24 characterize`: device profiles as files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from w24_harness.profiles.files import (
    ProfileFileError,
    diff_profiles,
    dumps_profile,
    resolve_profile,
    write_profile_file,
)
from w24_harness.profiles.table import PROFILES


def add_profile_parsers(sub: argparse._SubParsersAction) -> None:
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

    char = sub.add_parser(
        "characterize",
        help="run the characterization scenarios on a device; write its observed profile",
    )
    char.add_argument("--port", required=True, help="device path or pyserial URL")
    char.add_argument("--baud", type=int, default=115200)
    char.add_argument(
        "--profile",
        default="w24",
        help="base profile (name or file): the fields no scenario measures",
    )
    char.add_argument("--out", required=True, type=Path, help="the profile file to write")
    char.add_argument("--name", help="profile name (default: the --out file's stem)")
    char.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the device dials to reach the harness's TLS servers",
    )
    char.add_argument("--bind", default="127.0.0.1", help="address the TLS servers listen on")
    char.set_defaults(func=_characterize)


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


def _characterize(args: argparse.Namespace) -> int:
    from w24_harness.at.codes import W24Error
    from w24_harness.device.w24 import W24
    from w24_harness.runner.characterize import characterize

    try:
        base = resolve_profile(args.profile)
    except ProfileFileError as exc:
        print(f"w24 characterize: {exc}", file=sys.stderr)
        return 2
    try:
        device = W24.open(args.port, baud=args.baud, profile=base)
    except W24Error as exc:
        print(
            f"w24 characterize: cannot open {args.port} at {args.baud} baud: {exc}", file=sys.stderr
        )
        return 2
    try:
        device.resync()
        result = characterize(
            device,
            base,
            name=args.name or args.out.stem,
            port=args.port,
            host=args.host,
            bind=args.bind,
            progress=lambda line: print(line, file=sys.stderr),
        )
    except W24Error as exc:
        print(f"w24 characterize: {args.port}: {exc}", file=sys.stderr)
        return 2
    finally:
        device.close_port()
    write_profile_file(args.out, result.profile, result.provenance)
    unknown = result.profile.unknown_fields()
    print(f"wrote {args.out}" + (f"; still unknown: {', '.join(unknown)}" if unknown else ""))
    return 0
