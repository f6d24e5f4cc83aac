"""The `w24` command: `w24 test`, `w24 sim`, `w24 certs ...`, `w24 ca ...`, `w24 report ...`,
`w24 profile show|diff`, `w24 characterize`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from w24_harness.at.codes import W24Error
from w24_harness.profiles import PROFILES


def _add_port_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", required=True, help="device path or pyserial URL")
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--profile", default="w24", choices=sorted(PROFILES))
    parser.add_argument("--slot", default="CA", help="CA parameter: CA, or CA2..CA4 on iChip")


def _run_ca(args: argparse.Namespace) -> int:
    from w24_harness.at.codes import DeviceTimeout, LineDeadError
    from w24_harness.at.commands import ca_text_length
    from w24_harness.device.w24 import W24

    pem = ""
    if args.ca_command == "load":
        # The file is checked before the port is touched: a wrong file must not need a device.
        try:
            pem = _read_ca_file(Path(args.file))
        except (OSError, ValueError) as exc:
            print(f"w24 ca load: {exc}", file=sys.stderr)
            return 2
    try:
        device = W24.open(args.port, baud=args.baud, profile=args.profile)
    except W24Error as exc:
        print(f"w24 ca: {exc}", file=sys.stderr)
        return 2
    try:
        if args.ca_command == "load":
            device.set_ca(pem, args.slot)
            print(f"{args.slot} loaded ({ca_text_length(pem)} characters)")
        elif args.ca_command == "show":
            info = device.get_ca(args.slot)
            print("(empty: no trusted CA)" if info.empty else "\n".join(info.lines))
        else:
            device.clear_ca(args.slot)
            print(f"{args.slot} cleared")
        return 0
    except (LineDeadError, DeviceTimeout) as exc:
        # The line, not the device's answer, failed: say which port.
        print(f"w24 ca {args.ca_command}: no answer on {args.port}: {exc}", file=sys.stderr)
        return 2
    except W24Error as exc:
        print(f"w24 ca {args.ca_command}: {exc}", file=sys.stderr)
        return 1
    finally:
        device.close_port()


def _read_ca_file(path: Path) -> str:
    """The PEM of the one CA certificate in a PEM or DER file (ValueError if there is none).

    Only the BEGIN..END block is returned: text around it (`openssl x509 -text` output,
    comments) is not part of the CA value, and would count against the device's limit.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from w24_harness.pki.fit import pem_certificate_blocks

    raw = path.read_bytes()
    blocks = pem_certificate_blocks(raw)
    if len(blocks) > 1:
        raise ValueError(f"{path} holds {len(blocks)} certificates; the CA parameter takes one")
    if blocks:
        try:
            x509.load_pem_x509_certificate(blocks[0])
        except ValueError as exc:
            raise ValueError(f"{path}: its CERTIFICATE block is not a certificate") from exc
        return blocks[0].decode("ascii") + "\n"
    try:
        cert = x509.load_der_x509_certificate(raw)
    except ValueError as exc:
        raise ValueError(f"{path} is neither a PEM nor a DER certificate") from exc
    return cert.public_bytes(Encoding.PEM).decode("ascii")


# Each command's parser is built from its own module; those modules import what the command
# needs (the simulator, the PKI, the report tools: 0.7 s together). A command line naming one
# command builds only that parser, so `w24 ca load` starts in 0.2 s instead of 0.8 s.
COMMANDS = ("test", "sim", "certs", "ca", "scenarios", "report", "profile", "characterize")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `w24` parser: every command's, or only `command`'s (the help is the same)."""

    def wanted(*names: str) -> bool:
        return command is None or command in names

    parser = argparse.ArgumentParser(prog="w24", description=__doc__)
    parser.add_argument(
        "-V",
        "--version",
        action="store_true",
        help="print the harness, Python, OpenSSL and "
        "tlslite-ng versions and the git commit, and exit",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    if wanted("test"):
        sub.add_parser(
            "test",
            add_help=False,
            help="run the device suites shipped with w24-harness (any further arguments go to "
            "pytest, e.g. `w24 test --w24-port /dev/ttyUSB0 -k handshake`)",
        )

    if wanted("sim"):
        from w24_harness.sim.__main__ import add_sim_arguments

        sim = sub.add_parser("sim", help="run the W24 simulator on a pty or TCP port")
        add_sim_arguments(sim)

    if wanted("certs"):
        from w24_harness.cli_certs import add_certs_parser

        add_certs_parser(sub)

    if wanted("ca"):
        ca = sub.add_parser("ca", help="manage the trusted CA of a device or simulator")
        ca_sub = ca.add_subparsers(dest="ca_command", required=True)
        load = ca_sub.add_parser("load", help="load a CA certificate (PEM or DER) with AT+iCA=")
        load.add_argument("file")
        _add_port_options(load)
        show = ca_sub.add_parser("show", help="print AT+iCA? (name, validity, PEM)")
        _add_port_options(show)
        clear = ca_sub.add_parser("clear", help="clear the CA parameter")
        _add_port_options(clear)

    if wanted("scenarios"):
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

    if wanted("report"):
        from w24_harness.report.cli import add_report_parser

        add_report_parser(sub)
    if wanted("profile", "characterize"):
        from w24_harness.cli_profile import add_profile_parsers

        add_profile_parsers(sub)
    return parser


def run_suites(pytest_args: list[str]) -> int:
    """`w24 test`: the installed device suites (w24_harness.suites), no checkout needed; the
    plugin comes in through its `w24` entry point."""
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["--version"], ["-V"]):
        from w24_harness.provenance import version_line

        print(version_line())
        return 0
    if argv[:1] == ["test"]:  # everything after it is pytest's, not argparse's
        return run_suites(argv[1:])
    parser = build_parser(argv[0] if argv[:1] and argv[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command == "sim":
        from w24_harness.sim.__main__ import run_sim

        return run_sim(args)
    if args.command == "ca":
        return _run_ca(args)
    if args.command == "scenarios":
        from w24_harness.profile_files import ProfileFileError, load_profile_file
        from w24_harness.scenarios import render_table

        names = args.profile or ([] if args.profile_file else list(PROFILES))
        try:
            files = [load_profile_file(path) for path in args.profile_file]
        except ProfileFileError as exc:
            print(f"w24 scenarios: {exc}", file=sys.stderr)
            return 2
        print(render_table([PROFILES[n] for n in names] + files), end="")
        return 0
    return int(args.func(args))


def entry() -> int:
    """Console-script entry: a reader that stops early (`w24 ca show | head`) is not an error."""
    try:
        return main()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(entry())
