"""The `w24` command: one module per command under w24_harness.cli, each with `add_parser(sub)`
and `run(args) -> exit status`: `w24 test`, `sim`, `certs`, `ca`, `scenarios`, `report`,
`profile`, `characterize`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from types import ModuleType

# Each command's module imports what the command needs (the simulator, the PKI, the report
# tools: 0.7 s together), so a command line naming one command imports and builds only that
# command's parser: `w24 ca load` starts in 0.2 s instead of 0.8 s.
COMMANDS = ("test", "sim", "certs", "ca", "scenarios", "report", "profile", "characterize")


def command_module(name: str) -> ModuleType:
    return importlib.import_module(f"w24_harness.cli.{name}")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `w24` parser: every command's, or only `command`'s (the help is the same)."""
    parser = argparse.ArgumentParser(prog="w24", description=__doc__)
    parser.add_argument(
        "-V",
        "--version",
        action="store_true",
        help="print the harness, Python, OpenSSL and "
        "tlslite-ng versions and the git commit, and exit",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        if command is None or command == name:
            command_module(name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["--version"], ["-V"]):
        from w24_harness.report.provenance import version_line

        print(version_line())
        return 0
    if argv[:1] == ["test"]:  # everything after it is pytest's, not argparse's
        from w24_harness.cli.test import run_suites

        return run_suites(argv[1:])
    parser = build_parser(argv[0] if argv[:1] and argv[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    return int(command_module(args.command).run(args))


def entry() -> int:
    """Console-script entry: a reader that stops early (`w24 ca show | head`) is not an error."""
    try:
        return main()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(entry())
