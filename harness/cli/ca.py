"""`w24 ca load|show|clear`: the trusted CA of a device or simulator (AT+iCA=, AT+iCA?)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from w24_harness.at.codes import W24Error
from w24_harness.profiles.table import PROFILES


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ca = sub.add_parser("ca", help="manage the trusted CA of a device or simulator")
    ca_sub = ca.add_subparsers(dest="ca_command", required=True)
    load = ca_sub.add_parser("load", help="load a CA certificate (PEM or DER) with AT+iCA=")
    load.add_argument("file")
    _add_port_options(load)
    show = ca_sub.add_parser("show", help="print AT+iCA? (name, validity, PEM)")
    _add_port_options(show)
    clear = ca_sub.add_parser("clear", help="clear the CA parameter")
    _add_port_options(clear)


def _add_port_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", required=True, help="device path or pyserial URL")
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--profile", default="w24", choices=sorted(PROFILES))
    parser.add_argument("--slot", default="CA", help="CA parameter: CA, or CA2..CA4 on iChip")


def run(args: argparse.Namespace) -> int:
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
