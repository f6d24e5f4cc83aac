"""Does a CA certificate fit a device profile? Checked before anything is sent to the device.

The checks are the firmware's documented limits (spec §6 and §12.2): PEM length at most
``profile.ca_max_chars``, an RSA key of a size in ``profile.ca_key_bits``, a signature hash in
``profile.signature_hashes``, and a CA certificate (basicConstraints CA:TRUE, or a v1 certificate,
which has no extensions and was how CAs looked in 2008) unless ``profile.ca_requires_ca_flag`` is
off; with ``profile.ca_small_exponent`` off, an RSA exponent below 65537 too. Where the profile
holds one of those two as unknown (the manuals do not say, spec §11.3), a CA that a correct
firmware might take is not refused: the report carries a warning instead.

Only the first ``-----BEGIN CERTIFICATE-----`` block of a PEM input is measured: text around it
(``openssl x509 -text`` output, comments) is not part of the value a driver sends. A second
certificate block is reported as a problem, since the CA parameter holds one certificate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from w24_harness.at import commands
from w24_harness.at.codes import CAFitError
from w24_harness.profiles.table import UNKNOWN, DeviceProfile

_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.DOTALL)

# Signature algorithms cryptography loads but will not name a hash for (MD2 is what the W24
# manual's own sample CA uses).
_HASH_BY_SIGNATURE_OID = {
    "1.2.840.113549.1.1.2": "md2",
    "1.2.840.113549.1.1.3": "md4",
}


def ca_text_length(pem: str | bytes) -> int:
    """Characters the device counts for a CA value: w24_harness.at.commands.ca_text_length, which
    also accepts bytes here (files are read as bytes)."""
    text = pem.decode("ascii", errors="replace") if isinstance(pem, bytes) else pem
    return commands.ca_text_length(text)


@dataclass(frozen=True)
class FitReport:
    profile: str
    pem_chars: int
    limit: int
    key_type: str
    key_bits: int | None
    signature_hash: str | None
    problems: tuple[str, ...]
    # What a firmware might refuse though the profile cannot say (a field it holds as unknown).
    warnings: tuple[str, ...] = ()

    @property
    def fits(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """A human-readable report, one fact per line."""
        bits = f"{self.key_bits}-bit " if self.key_bits else ""
        verdict = "fits" if self.fits else "DOES NOT FIT"
        out = [
            f"profile:        {self.profile}",
            f"PEM length:     {self.pem_chars} characters (limit {self.limit})",
            f"key:            {bits}{self.key_type}",
            f"signature hash: {self.signature_hash or 'unknown'}",
            f"result:         {verdict}",
        ]
        out.extend(f"  - {problem}" for problem in self.problems)
        out.extend(f"  warning: {warning}" for warning in self.warnings)
        return out


def pem_certificate_blocks(data: bytes) -> list[bytes]:
    """Each BEGIN..END CERTIFICATE block in `data`, in order."""
    return _PEM_BLOCK.findall(data)


def _load(data: bytes) -> tuple[x509.Certificate, str, int]:
    """(certificate, the PEM text measured, number of certificate blocks)."""
    blocks = _PEM_BLOCK.findall(data)
    try:
        if blocks:
            cert = x509.load_pem_x509_certificate(blocks[0])
            return cert, blocks[0].decode("ascii", errors="replace"), len(blocks)
        if b"-----BEGIN" in data:
            raise ValueError("PEM data holds no CERTIFICATE block")
        cert = x509.load_der_x509_certificate(data)
    except ValueError as error:
        raise ValueError(f"not an X.509 certificate (PEM or DER): {error}") from None
    return cert, cert.public_bytes(Encoding.PEM).decode("ascii"), 1


def _key_facts(cert: x509.Certificate) -> tuple[str, int | None]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", None
    return type(key).__name__, None


def signature_hash_name(cert: x509.Certificate) -> str | None:
    """ "sha1", "md5", "sha256", "md2", ...; None when the algorithm has no separate hash."""
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        oid = cert.signature_algorithm_oid.dotted_string
        return _HASH_BY_SIGNATURE_OID.get(oid, oid)
    return algorithm.name if algorithm is not None else None


def _not_a_ca(cert: x509.Certificate) -> str | None:
    """Why a v3 certificate is no CA (basicConstraints), or None; a v1 certificate is one."""
    if cert.version is x509.Version.v1:
        return None
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return "certificate is v3 without basicConstraints, so it is not a CA"
    if not constraints.ca:
        return "certificate has basicConstraints CA:FALSE, so it is not a CA"
    return None


def _policy_checks(
    cert: x509.Certificate, profile: DeviceProfile, who: str
) -> tuple[list[str], list[str]]:
    """The undocumented CA checks: (problems, warnings). A check the profile holds as unknown
    refuses nothing; it warns that a firmware may refuse."""
    problems: list[str] = []
    warnings: list[str] = []
    not_ca = _not_a_ca(cert)
    if not_ca:
        if profile.ca_requires_ca_flag:
            problems.append(f"{not_ca}; need CA:TRUE")
        elif profile.ca_requires_ca_flag is UNKNOWN:
            warnings.append(f"{not_ca}; {who} does not say whether AT+iCA= takes it")
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.public_numbers().e < 65537:
        exponent = key.public_numbers().e
        if profile.ca_small_exponent is False:
            problems.append(f"RSA public exponent is {exponent}; {who} accepts 65537 or more")
        elif profile.ca_small_exponent is UNKNOWN:
            warnings.append(
                f"RSA public exponent is {exponent}; {who} does not say whether AT+iCA= takes it"
            )
    return problems, warnings


def _alternatives(values: tuple[object, ...]) -> str:
    names = [str(value) for value in values]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def check_ca_fit(pem_or_der: bytes | str, profile: DeviceProfile) -> FitReport:
    """Measure a CA certificate against a device profile (PEM or DER; DER counts as its PEM)."""
    if isinstance(pem_or_der, str):
        pem_or_der = pem_or_der.encode("ascii", errors="replace")
    cert, pem_text, blocks = _load(pem_or_der)
    chars = ca_text_length(pem_text)
    key_type, key_bits = _key_facts(cert)
    hash_name = signature_hash_name(cert)
    who = f"the {profile.name} profile"
    problems: list[str] = []
    if blocks > 1:
        problems.append(f"file holds {blocks} certificates; the CA parameter takes one")
    if chars > profile.ca_max_chars:
        problems.append(f"PEM is {chars} characters; {who} allows {profile.ca_max_chars}")
    if key_type != "RSA":
        problems.append(f"key is {key_type}; {who} accepts only RSA CA keys")
    elif key_bits not in profile.ca_key_bits:
        accepted = _alternatives(profile.ca_key_bits)
        problems.append(f"RSA key is {key_bits} bits; {who} accepts {accepted} bits")
    if hash_name not in profile.signature_hashes:
        accepted = _alternatives(profile.signature_hashes)
        problems.append(f"signature hash is {hash_name}; {who} accepts {accepted}")
    policy_problems, warnings = _policy_checks(cert, profile, who)
    problems.extend(policy_problems)
    return FitReport(
        profile=profile.name,
        pem_chars=chars,
        limit=profile.ca_max_chars,
        key_type=key_type,
        key_bits=key_bits,
        signature_hash=hash_name,
        problems=tuple(problems),
        warnings=tuple(warnings),
    )


def require_ca_fit(pem: bytes | str, profile: DeviceProfile) -> FitReport:
    """check_ca_fit, raising CAFitError (with .report) when the CA does not fit."""
    report = check_ca_fit(pem, profile)
    if not report.fits:
        error = CAFitError(
            f"CA does not fit the {profile.name} profile: " + "; ".join(report.problems)
        )
        error.report = report  # type: ignore[attr-defined]
        raise error
    return report
