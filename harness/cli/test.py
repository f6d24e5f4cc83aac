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

    args = ["--pyargs", "w24_harness.suites", *pytest_args]
    if "-h" in pytest_args or "--help" in pytest_args:
        return _suites_help(args)
    return int(pytest.main(args))


W24_HELP_GROUP = "W24 SSL/TLS harness:"  # the plugin's option group title, as pytest prints it


def _suites_help(args: list[str]) -> int:
    """`w24 test --help`: w24's options first, then pytest's (which would bury them at line
    344 of its own help)."""
    import contextlib
    import io
    import sys

    import pytest

    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        code = int(pytest.main(args))
    full = text.getvalue()
    start = full.find(W24_HELP_GROUP)
    if start < 0:
        sys.stdout.write(full)
        return code
    end = full.find("\n\n", start)
    end = len(full) if end < 0 else end + 2
    sys.stdout.write(
        "usage: w24 test [w24 options] [pytest options] (the device suites, run by pytest)\n\n"
        + full[start:end]
        + "pytest's own options follow.\n\n"
        + full[:start]
        + full[end:]
    )
    return code


def run(args: argparse.Namespace) -> int:
    return run_suites(list(getattr(args, "pytest_args", [])))
