"""`w24 certs ...`: the certificate workflow of spec §8, fitted to a device profile.

    w24 certs ca OUTDIR                    in-house CA (ca.pem, ca.key) that fits the device
    w24 certs issue --ca DIR HOSTNAME...   server certificate + key signed by that CA
    w24 certs csr HOSTNAME...              key + CSR for a commercial CA
    w24 certs check FILE                   does this CA fit the device? (PEM or DER)

The certificates carry the names given: --org (O) and --name (OU) for the CA, --org and --cn
for a server certificate or CSR (O defaults to the CA's, CN to the first hostname); nothing
says "trustme". --profile-file fits the CA to a profile file (`w24 characterize` writes one),
as --w24-profile-file does for the suites.

Exit codes: 0 done / fits, 1 does not fit the profile, 2 usage or input error (the message says
which file). Key files are written with mode 0600 and never overwritten without --force.
Keys made here are fresh (never the harness's process-wide test-key cache): people deploy them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import sys
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from cryptography.x509.oid import NameOID

from w24_harness.pki.factory import LAST_UTC_NOT_AFTER, CertAuthority, CertFactory, write_key_file
from w24_harness.pki.fit import check_ca_fit, pem_certificate_blocks, signature_hash_name
from w24_harness.pki.keys import MIN_BITS, fresh_rsa_key
from w24_harness.pki.resign import SIGNATURE_HASHES
from w24_harness.profiles.table import PROFILES, DeviceProfile, get_profile

DEFAULT_CA_NAME = "w24-harness CA"
DEFAULT_ORG = "w24-harness"  # the O of a CA made here when --org is not given
DEFAULT_SERVER_KEY_BITS = 2048
DEFAULT_DAYS = 365
# A device clock a little behind the host's must not see a brand-new certificate as not yet valid.
CLOCK_SKEW = dt.timedelta(days=1)

EXIT_OK, EXIT_DOES_NOT_FIT, EXIT_ERROR = 0, 1, 2


class CliError(Exception):
    """A user-facing failure: printed as one line, exit code 2."""


def _key_bits(text: str) -> int:
    bits = int(text)
    if bits < MIN_BITS or bits % 8:
        raise argparse.ArgumentTypeError(f"key size must be a multiple of 8, >= {MIN_BITS}")
    return bits


def default_ca_key_bits(profile: DeviceProfile) -> int:
    """The largest RSA size the profile accepts in a CA (2048 for all shipped profiles).

    Measured: a CA from `certs ca` with the default name is 1176 PEM characters at 2048 bits and
    822 at 1024, against the W24's 1300; 3072 bits (1521) and 4096 (1870) do not fit.
    """
    return max(profile.ca_key_bits)


def _default_hash(profile: DeviceProfile) -> str:
    return CertFactory.for_profile(profile)


def _refuse_existing(paths: list[Path], force: bool) -> None:
    if force:
        return
    for path in paths:
        if path.exists():
            raise CliError(
                f"{path} already exists; not overwriting it (pass --force to replace it)"
            )


def _write_pair(cert_path: Path, cert_pem: bytes, key_path: Path, key_pem: bytes) -> None:
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    write_key_file(key_path, key_pem)
    cert_path.write_bytes(cert_pem)


def _subject_alt_names(hostnames: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


# ------------------------------------------------------------------------------ subcommands


def _profile(args: argparse.Namespace) -> DeviceProfile:
    """--profile-file (a TOML profile) if given, else --profile."""
    if getattr(args, "profile_file", None):
        from w24_harness.profiles.files import ProfileFileError, load_profile_file

        try:
            return load_profile_file(Path(args.profile_file))
        except ProfileFileError as error:
            raise CliError(str(error)) from None
    return get_profile(args.profile)


def _organization(cert: x509.Certificate) -> str | None:
    found = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(found[0].value) if found else None


def run_ca(args: argparse.Namespace) -> int:
    profile = _profile(args)
    bits = args.key_bits or default_ca_key_bits(profile)
    hash_name = args.hash or _default_hash(profile)
    outdir = Path(args.outdir)
    cert_path, key_path = outdir / "ca.pem", outdir / "ca.key"
    _refuse_existing([key_path, cert_path], args.force)
    authority = CertFactory(cache_keys=False).ca(
        args.name, key_bits=bits, hash_name=hash_name, organization=args.org
    )
    _write_pair(cert_path, authority.cert_pem, key_path, authority.key_pem)
    report = check_ca_fit(authority.cert_pem, profile)
    print(f"wrote {cert_path} and {key_path} (mode 0600)")
    print("\n".join(report.lines()))
    if not report.fits:
        print(
            f"{cert_path} does not fit the {profile.name} profile; see the problems above",
            file=sys.stderr,
        )
        return EXIT_DOES_NOT_FIT
    print(f"load it into the device with: w24 ca load {cert_path} --port PORT")
    return EXIT_OK


def _load_authority(ca_dir: Path) -> CertAuthority:
    cert_path, key_path = ca_dir / "ca.pem", ca_dir / "ca.key"
    for path in (cert_path, key_path):
        if not path.is_file():
            raise CliError(f"{path} not found (make a CA with: w24 certs ca {ca_dir})")
    blocks = [b + b"\n" for b in pem_certificate_blocks(cert_path.read_bytes())]
    if not blocks:
        raise CliError(f"{cert_path} holds no PEM certificate")
    try:
        cert = x509.load_pem_x509_certificate(blocks[0])
    except ValueError as error:
        raise CliError(f"{cert_path}: not a certificate: {error}") from None
    authority = CertAuthority(
        name=cert.subject.rfc4514_string(),
        cert_pem=blocks[0],
        key_pem=key_path.read_bytes(),
        chain_pem=b"".join(blocks[1:]),
        cache_keys=False,
    )
    try:
        key = authority.key
    except (ValueError, TypeError) as error:
        raise CliError(f"{key_path}: {error}") from None
    if key.public_key() != cert.public_key():
        raise CliError(f"{key_path} is not the key of the certificate in {cert_path}")
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if cert.version is x509.Version.v3 and not (constraints and constraints.ca):
        raise CliError(f"{cert_path} is not a CA certificate (no basicConstraints CA:TRUE)")
    return authority


def run_issue(args: argparse.Namespace) -> int:
    outdir = Path(args.out)
    cert_path, key_path = outdir / "server.pem", outdir / "server.key"
    _refuse_existing([key_path, cert_path], args.force)
    authority = _load_authority(Path(args.ca))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    not_after = now + dt.timedelta(days=args.days)
    if not_after > LAST_UTC_NOT_AFTER:
        print(f"note: notAfter capped at {LAST_UTC_NOT_AFTER:%Y-%m-%d} (the last UTCTime date)")
        not_after = LAST_UTC_NOT_AFTER
    try:
        issued = authority.issue(
            *args.hostnames,
            key_bits=args.key_bits,
            hash_name=args.hash,
            not_before=now - CLOCK_SKEW,
            not_after=not_after,
            common_name=args.cn,
            organization=args.org or _organization(authority.cert),
        )
    except ValueError as error:
        raise CliError(str(error)) from None
    _write_pair(cert_path, issued.fullchain_pem, key_path, issued.key_pem)
    cert = issued.cert
    print(f"wrote {cert_path} and {key_path} (mode 0600)")
    print(f"subject:        {cert.subject.rfc4514_string()}")
    print(f"names (SAN):    {', '.join(args.hostnames)}")
    print(f"key:            {issued.key_bits}-bit RSA")
    print(f"signature hash: {signature_hash_name(cert)} (by {authority.name})")
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    print(f"valid:          {start:%Y-%m-%d} .. {end:%Y-%m-%d}")
    return EXIT_OK


def run_csr(args: argparse.Namespace) -> int:
    outdir = Path(args.out)
    csr_path, key_path = outdir / "server.csr", outdir / "server.key"
    _refuse_existing([key_path, csr_path], args.force)
    key = fresh_rsa_key(args.key_bits)
    # SHA-256: the CSR's signature is checked only by the CA that signs it (it proves the key
    # holder asked), never by the device; the device sees the hash the CA uses on the issued
    # certificate. Current CAs refuse SHA-1 requests, and cryptography will not sign one.
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, args.cn or args.hostnames[0])]
    if args.org:
        subject.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, args.org))
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(subject))
        .add_extension(x509.SubjectAlternativeName(_subject_alt_names(args.hostnames)), False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption())
    _write_pair(csr_path, csr.public_bytes(Encoding.PEM), key_path, key_pem)
    print(f"wrote {csr_path} and {key_path} (mode 0600)")
    print(
        f"subject: {x509.Name(subject).rfc4514_string()}; SAN: {', '.join(args.hostnames)}; "
        f"{args.key_bits}-bit RSA; CSR signed with SHA-256"
    )
    print(
        "ask the CA to sign the certificate with SHA-1 (or MD5): the W24 accepts no newer hash; "
        "load the CA's root with: w24 certs check root.pem && w24 ca load root.pem"
    )
    return EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CliError(f"{path}: {error.strerror or error}") from None
    try:
        report = check_ca_fit(data, _profile(args))
    except ValueError as error:
        raise CliError(f"{path}: {error}") from None
    print(f"{path}:")
    print("\n".join(report.lines()))
    return EXIT_OK if report.fits else EXIT_DOES_NOT_FIT


# ------------------------------------------------------------------------------ parser


def _guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn CliError into a one-line message and exit code 2 (no traceback)."""

    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except CliError as error:
            print(f"w24 certs {args.certs_command}: error: {error}", file=sys.stderr)
            return EXIT_ERROR

    return guarded


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `certs` and its subcommands; each sets args.func(args) -> exit code."""
    certs = subparsers.add_parser(
        "certs",
        help="make and check certificates that fit the device",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = certs.add_subparsers(dest="certs_command", required=True, metavar="SUBCOMMAND")
    hash_choices = sorted(SIGNATURE_HASHES)
    profiles = sorted(PROFILES)

    ca = sub.add_parser("ca", help="make an in-house CA that fits the device profile")
    ca.add_argument("outdir", metavar="OUTDIR", help="directory for ca.pem and ca.key")
    ca.add_argument("--profile", default="w24", choices=profiles)
    ca.add_argument("--profile-file", metavar="TOML", help="fit to this profile file instead")
    ca.add_argument("--name", default=DEFAULT_CA_NAME, help="CA name (OU of its subject)")
    ca.add_argument(
        "--org", default=DEFAULT_ORG, help="organization (O of its subject; default %(default)s)"
    )
    ca.add_argument("--key-bits", type=_key_bits, help="RSA size (default: fitted to profile)")
    ca.add_argument("--hash", choices=hash_choices, help="signature hash (default: profile's)")
    ca.add_argument("--force", action="store_true", help="overwrite ca.pem and ca.key")
    ca.set_defaults(func=_guarded(run_ca))

    issue = sub.add_parser("issue", help="sign a server certificate with a CA made by `certs ca`")
    issue.add_argument("--ca", required=True, metavar="DIR", help="directory with ca.pem, ca.key")
    issue.add_argument("hostnames", nargs="+", metavar="HOSTNAME", help="CN is the first one")
    issue.add_argument("--out", default=".", metavar="DIR", help="for server.pem, server.key")
    issue.add_argument("--cn", help="common name (default: the first hostname)")
    issue.add_argument("--org", help="organization, O (default: the CA's)")
    issue.add_argument("--key-bits", type=_key_bits, default=DEFAULT_SERVER_KEY_BITS)
    issue.add_argument("--hash", choices=hash_choices, default="sha1")
    issue.add_argument("--days", type=int, default=DEFAULT_DAYS, help="validity from today")
    issue.add_argument("--force", action="store_true", help="overwrite server.pem and server.key")
    issue.set_defaults(func=_guarded(run_issue))

    csr = sub.add_parser("csr", help="make a server key and a CSR for a commercial CA")
    csr.add_argument("hostnames", nargs="+", metavar="HOSTNAME", help="CN is the first one")
    csr.add_argument("--out", default=".", metavar="DIR", help="for server.csr, server.key")
    csr.add_argument("--cn", help="common name (default: the first hostname)")
    csr.add_argument("--org", help="organization, O (default: none)")
    csr.add_argument("--key-bits", type=_key_bits, default=DEFAULT_SERVER_KEY_BITS)
    csr.add_argument("--force", action="store_true", help="overwrite server.csr and server.key")
    csr.set_defaults(func=_guarded(run_csr))

    check = sub.add_parser("check", help="check that a CA certificate fits the device profile")
    check.add_argument("file", metavar="FILE", help="CA certificate, PEM or DER")
    check.add_argument("--profile", default="w24", choices=profiles)
    check.add_argument("--profile-file", metavar="TOML", help="check against this profile file")
    check.set_defaults(func=_guarded(run_check))


def run(args: argparse.Namespace) -> int:
    return int(args.func(args))


def main(argv: list[str] | None = None) -> int:
    """`w24 certs ...` on its own (for tests): main(["certs", "check", "ca.pem"])."""
    parser = argparse.ArgumentParser(prog="w24")
    add_parser(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse has printed the usage error
        return int(stop.code or 0)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
