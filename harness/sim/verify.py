"""The simulator's check of the server's certificate chain against the CAs stored in the device.

A 2008 embedded client does a small, explicit check, and `cryptography.x509.verification` cannot
model it (it forbids SHA-1/MD5 and small keys). So the rules are written out here, each switched
by a DeviceProfile field, in the order a client meets them:

1. the leaf's key is RSA with a size in `profile.server_key_bits` (inclusive);
2. the leaf is signed by a stored CA (issuer name == CA subject, PKCS#1 v1.5 signature verifies,
   signature hash in `profile.leaf_signature_hashes`); with `profile.chain_building` it may
   instead be signed by an intermediate the server sent (chain_der[1:], depth 1) that a stored CA signed;
3. with `profile.check_validity_dates`: `now` inside the validity of every certificate used;
4. with `profile.check_hostname` and a hostname: the SAN DNS names (or the CN when there is no
   SAN) match it, with one leftmost "*" label allowed.

Deliberately not checked (no 2008 client evidence either way): basicConstraints / keyUsage of the
CA or intermediate, extensions' criticality, revocation.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from w24_harness.profiles import DeviceProfile

# RSA PKCS#1 v1.5 signature algorithms, by the hash names the profiles use.
_RSA_PKCS1_HASHES: dict[x509.ObjectIdentifier, str] = {
    x509.ObjectIdentifier("1.2.840.113549.1.1.2"): "md2",
    SignatureAlgorithmOID.RSA_WITH_MD5: "md5",
    SignatureAlgorithmOID.RSA_WITH_SHA1: "sha1",
    SignatureAlgorithmOID.RSA_WITH_SHA224: "sha224",
    SignatureAlgorithmOID.RSA_WITH_SHA256: "sha256",
    SignatureAlgorithmOID.RSA_WITH_SHA384: "sha384",
    SignatureAlgorithmOID.RSA_WITH_SHA512: "sha512",
}


class CertRejected(Exception):
    """The server's chain fails the device's check. `alert` is the tlslite alert name to send."""

    def __init__(self, reason: str, alert: str = "bad_certificate") -> None:
        super().__init__(reason)
        self.reason = reason
        self.alert = alert


@dataclass(frozen=True)
class _Cert:
    cert: x509.Certificate
    role: str  # "server certificate", "intermediate CA ...", "trusted CA ..."

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string() or "(empty subject)"

    @property
    def issuer(self) -> str:
        return self.cert.issuer.rfc4514_string() or "(empty issuer)"


def verify_server_chain(
    chain_der: list[bytes],
    trusted_cas: list[bytes],
    profile: DeviceProfile,
    *,
    hostname: str | None = None,
    now: datetime | None = None,
) -> None:
    """Raise CertRejected unless the chain passes the profile's certificate check."""
    profile = profile.resolved()  # UNKNOWN fields: the simulator's documented defaults
    if not chain_der:
        raise CertRejected("server sent no certificate", "bad_certificate")
    leaf = _Cert(_load_der(chain_der[0], "server certificate"), "server certificate")
    _check_key(leaf, profile)
    path = _trust_path(leaf, chain_der[1:], _load_cas(trusted_cas), profile)
    if profile.check_validity_dates:
        moment = now if now is not None else datetime.now(UTC)
        for item in path:
            _check_dates(item, moment)
    if profile.check_hostname and hostname:
        _check_hostname(leaf.cert, hostname)


def _load_der(der: bytes, role: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(bytes(der))
    except ValueError as exc:
        raise CertRejected(f"{role} is not a valid X.509 certificate: {exc}") from None


def _load_cas(trusted_cas: list[bytes]) -> list[x509.Certificate]:
    # A CA the device could not parse would have been refused at AT+iCA=; skip it here too.
    cas = []
    for pem in trusted_cas:
        data = pem.encode("ascii", "replace") if isinstance(pem, str) else bytes(pem)
        try:
            cas.append(x509.load_pem_x509_certificate(data))
        except ValueError:
            continue
    return cas


def _check_key(leaf: _Cert, profile: DeviceProfile) -> None:
    assert profile.server_key_bits is not None  # resolved by verify_server_chain
    low, high = profile.server_key_bits
    accepted = f"the {profile.name} profile accepts {low}..{high}"
    key = leaf.cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        kind = f"EC {key.curve.name}" if isinstance(key, ec.EllipticCurvePublicKey) else "unknown"
        raise CertRejected(f"server key is {kind}, not RSA; {accepted}-bit RSA keys")
    if not low <= key.key_size <= high:
        raise CertRejected(f"server key is {key.key_size} bits; {accepted}")


def _trust_path(
    leaf: _Cert, sent: list[bytes], cas: list[x509.Certificate], profile: DeviceProfile
) -> list[_Cert]:
    """The certificates that make the leaf trusted, leaf first; raise CertRejected otherwise."""
    anchors = [c for c in cas if c.subject == leaf.cert.issuer]
    if anchors:
        return [leaf, _signed_by_one_of(leaf, anchors, profile)]
    if leaf.cert.issuer == leaf.cert.subject:
        raise CertRejected(
            f"server certificate is self-signed ({leaf.subject}) and is not a loaded CA",
            "unknown_ca",
        )
    intermediates = [_load_der(der, "intermediate certificate") for der in sent]
    middle = next((c for c in intermediates if c.subject == leaf.cert.issuer), None)
    if middle is None:
        raise CertRejected(
            f"server certificate not signed by a trusted CA: issuer {leaf.issuer}", "unknown_ca"
        )
    middle_cert = _Cert(middle, f"intermediate CA {middle.subject.rfc4514_string()}")
    if not profile.chain_building:
        raise CertRejected(
            f"server certificate not signed by a trusted CA: issuer {leaf.issuer} is an "
            f"intermediate sent by the server, and the {profile.name} profile does not build "
            "chains",
            "unknown_ca",
        )
    middle_anchors = [c for c in cas if c.subject == middle.issuer]
    if not middle_anchors:
        raise CertRejected(
            f"server certificate not signed by a trusted CA: intermediate {middle_cert.subject} "
            f"is issued by {middle_cert.issuer}, which is not loaded",
            "unknown_ca",
        )
    _signed_by(leaf, middle_cert, profile)
    return [leaf, middle_cert, _signed_by_one_of(middle_cert, middle_anchors, profile)]


def _signed_by_one_of(
    child: _Cert, anchors: list[x509.Certificate], profile: DeviceProfile
) -> _Cert:
    failure: CertRejected | None = None
    for anchor in anchors:
        issuer = _Cert(anchor, f"trusted CA {anchor.subject.rfc4514_string()}")
        try:
            _signed_by(child, issuer, profile)
            return issuer
        except CertRejected as exc:
            failure = exc
    assert failure is not None
    raise failure


def _signed_by(child: _Cert, issuer: _Cert, profile: DeviceProfile) -> None:
    cert = child.cert
    hash_name = _RSA_PKCS1_HASHES.get(cert.signature_algorithm_oid)
    hashes = profile.leaf_signature_hashes or ()
    accepted = ", ".join(hashes)
    if hash_name is None:
        algorithm = getattr(cert.signature_algorithm_oid, "_name", None)
        shown = algorithm or cert.signature_algorithm_oid.dotted_string
        raise CertRejected(
            f"{child.role} is signed with {shown}; the {profile.name} profile accepts RSA "
            f"PKCS#1 v1.5 with {accepted}"
        )
    if hash_name not in hashes:
        raise CertRejected(
            f"{child.role} is signed with {hash_name}; the {profile.name} profile accepts "
            f"{accepted}"
        )
    key = issuer.cert.public_key()
    try:
        if not isinstance(key, rsa.RSAPublicKey):
            raise InvalidSignature
        hash_algorithm = cert.signature_hash_algorithm
        assert hash_algorithm is not None
        key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hash_algorithm)
    except (InvalidSignature, UnsupportedAlgorithm):
        raise CertRejected(
            f"signature of the {child.role} ({child.subject}) does not verify with the key of "
            f"the {issuer.role} (same name, different key?)"
        ) from None


def _check_dates(item: _Cert, moment: datetime) -> None:
    start, end = item.cert.not_valid_before_utc, item.cert.not_valid_after_utc
    if not start <= moment <= end:
        state = "not yet valid" if moment < start else "expired"
        raise CertRejected(
            f"{item.role} ({item.subject}) is {state}: valid {_iso(start)} .. {_iso(end)}, "
            f"device time {_iso(moment)}",
            "certificate_expired",
        )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_hostname(cert: x509.Certificate, hostname: str) -> None:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = san.get_values_for_type(x509.DNSName)
        ip_names = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        source = "SAN"
    except x509.ExtensionNotFound:
        attributes = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        dns_names = [str(a.value) for a in attributes]
        ip_names = []
        source = "CN"
    if _is_ip(hostname):
        # An IP address only matches literally (SAN iPAddress, or the CN text when no SAN).
        wanted = str(ipaddress.ip_address(hostname))
        if wanted in ip_names or (source == "CN" and hostname in dns_names):
            return
    elif any(_dns_matches(pattern, hostname) for pattern in dns_names):
        return
    names = ", ".join(dns_names + ip_names)
    if not names:
        raise CertRejected(f"server certificate has no SAN and no CN; the host is {hostname}")
    raise CertRejected(f"server certificate {source} names {names}; the host is {hostname}")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _dns_matches(pattern: str, hostname: str) -> bool:
    pattern_labels = pattern.lower().rstrip(".").split(".")
    host_labels = hostname.lower().rstrip(".").split(".")
    if len(pattern_labels) != len(host_labels):
        return False
    first, *rest = pattern_labels
    # One wildcard, only as the whole leftmost label, and never as "*.com"-style near-TLD.
    if first == "*":
        return len(rest) >= 2 and rest == host_labels[1:] and "*" not in "".join(rest)
    return pattern_labels == host_labels
