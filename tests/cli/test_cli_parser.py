"""`w24` builds only the named command's parser (its modules' imports are most of its start-up):
the list of commands it knows must be the full parser's, and each partial parser must read a
command line as the full one does."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from w24_harness.cli.main import COMMANDS, build_parser


def commands_of(parser: argparse.ArgumentParser) -> list[str]:
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def test_commands_are_the_full_parsers() -> None:
    assert commands_of(build_parser()) == list(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_partial_parser_holds_its_command(command: str) -> None:
    partial = commands_of(build_parser(command))
    assert command in partial
    # `profile` and `characterize` come from one module, and are built together.
    assert set(partial) <= {command, "profile", "characterize"}


@pytest.mark.parametrize(
    "argv",
    [
        ["ca", "load", "ca.pem", "--port", "/dev/ttyUSB0", "--baud", "9600", "--slot", "CA2"],
        ["sim", "--pty", "--baud", "921600", "--fault", "wrong_code"],
        ["certs", "ca", "outdir", "--key-bits", "1024"],
        ["report", "html", "results.json"],
        ["profile", "show", "w24"],
        ["scenarios", "--profile", "modern"],
    ],
)
def test_partial_and_full_parsers_agree(argv: list[str]) -> None:
    def read(parser: argparse.ArgumentParser) -> dict[str, object]:
        # A handler (`func`) is a closure made per parser: compared by presence.
        args = vars(parser.parse_args(argv))
        return {k: True if callable(v) else v for k, v in args.items()}

    assert read(build_parser(argv[0])) == read(build_parser())


def test_the_ca_command_starts_without_the_simulator_or_reports() -> None:
    """What the partial parser saves: `w24 ca` never imports tlslite or pytest."""
    code = (
        "import sys; from w24_harness.cli.main import build_parser; "
        "build_parser('ca').parse_args(['ca', 'show', '--port', 'loop://']); "
        "print(sorted(m for m in ('tlslite', 'pytest', 'w24_harness.sim.server') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
