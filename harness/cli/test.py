"""`w24 test`: the device suites shipped with w24-harness; every further argument is pytest's."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub.add_parser(
        "test",
        add_help=False,
        help="run the device suites shipped with w24-harness (any further arguments go to "
        "pytest, e.g. `w24 test --w24-port /dev/ttyUSB0 -k handshake`)",
    )


def run_suites(pytest_args: list[str]) -> int:
    """The installed device suites (w24_harness.suites), no checkout needed; the plugin comes
    in through its `w24` entry point."""
    import pytest

    return int(pytest.main(["--pyargs", "w24_harness.suites", *pytest_args]))


def run(args: argparse.Namespace) -> int:
    return run_suites(list(getattr(args, "pytest_args", [])))
