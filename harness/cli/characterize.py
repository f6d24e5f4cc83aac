"""`w24 characterize`: run the characterization scenarios on a device and write the profile it
showed, with provenance (w24_harness.runner.characterize)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from w24_harness.profiles.files import ProfileFileError, resolve_profile, write_profile_file


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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


def run(args: argparse.Namespace) -> int:
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
