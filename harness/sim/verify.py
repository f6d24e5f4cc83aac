"""The simulator's check of the server's certificate chain against the CAs stored in the device.

A 2008 embedded client does a small, explicit check, and `cryptography.x509.verification` cannot
model it (it forbids SHA-1/MD5 and small keys). So the rules are written out here, each switched
by a DeviceProfile field, in the order a client meets them:

1. the leaf's key is RSA with a size in `profile.server_key_bits` (inclusive);
2. the leaf is signed by a stored CA (issuer name == CA subject, PKCS#1 v1.5 signature verifies,
   signature hash in `profile.leaf_signature_hashes`); with `profile.chain_building` it may
   instead be signed by an intermediate the server sent (chain_der[1:], depth 1) that a stored
   CA signed;
3. with `profile.check_validity_dates`: `now` inside the validity of every certificate used;
4. with `profile.check_hostname` and a hostname: the SAN DNS names (or the CN when there is no
   SAN) match it, with one leftmost "*" label allowed.

Switched by the characterization fields (no manual says either way): with
`profile.check_issuer_key_usage`, an issuer whose keyUsage lacks keyCertSign signs nothing; with
`profile.reject_unknown_critical`, a server certificate with a critical extension this check does
not know is refused. A CA without CA:TRUE never gets here: AT+iCA= refuses it
(`profile.ca_requires_ca_flag`, w24_harness.pki.fit). Not checked: revocation.

Names never suffice: a stored CA whose subject matches the leaf's issuer is only a candidate; the
leaf's signature must verify with that CA's key (an impostor CA of the same name fails), and the
verification is cryptography's (OpenSSL's), which compares the whole PKCS#1 v1.5 block, so the
e=3 forgeries of 2006 and BERserk fail too. The server's certificate is the first of the list
(RFC 2246 §7.4.2). The self-test faults `trust_by_name`, `lenient_pkcs1` and `leaf_search`
(w24_harness.sim.faults) break exactly these three points.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtensionOID, NameOID, SignatureAlgorithmOID

from w24_harness.profiles.table import DeviceProfile
from w24_harness.sim.faults import Faults

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
    faults: Faults | None = None,
) -> None:
    """Raise CertRejected unless the chain passes the profile's certificate check.

    `faults`: the simulator's self-test faults; trust_by_name, lenient_pkcs1 and leaf_search act
    here.
    """
    faults = faults or Faults()
    profile = profile.resolved()  # UNKNOWN fields: the simulator's documented defaults
    if not chain_der:
        raise CertRejected("server sent no certificate", "bad_certificate")
    if faults.leaf_search and len(chain_der) > 1:
        _search_leaf(chain_der, trusted_cas, profile, hostname, now, faults)
        return
    leaf = _Cert(_load_der(chain_der[0], "server certificate"), "server certificate")
    _check_key(leaf, profile)
    if profile.reject_unknown_critical:
        _check_critical(leaf)
    path = _trust_path(leaf, chain_der[1:], _load_cas(trusted_cas), profile, faults)
    if profile.check_validity_dates:
        moment = now if now is not None else datetime.now(UTC)
        for item in path:
            _check_dates(item, moment)
    if profile.check_hostname and hostname:
        _check_hostname(leaf.cert, hostname)


def _search_leaf(
    chain_der: list[bytes],
    trusted_cas: list[bytes],
    profile: DeviceProfile,
    hostname: str | None,
    now: datetime | None,
    faults: Faults,
) -> None:
    """The `leaf_search` fault: any certificate of the list that passes stands for the server's
    (RFC 2246 §7.4.2 puts the server's own first; the key exchange still uses the first)."""
    single = replace(faults, leaf_search=False)
    failure: CertRejected | None = None
    for index, der in enumerate(chain_der):
        rest = chain_der[:index] + chain_der[index + 1 :]
        try:
            verify_server_chain(
                [der, *rest], trusted_cas, profile, hostname=hostname, now=now, faults=single
            )
            return
        except CertRejected as exc:
            failure = failure or exc
    assert failure is not None
    raise failure


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
    leaf: _Cert,
    sent: list[bytes],
    cas: list[x509.Certificate],
    profile: DeviceProfile,
    faults: Faults,
) -> list[_Cert]:
    """The certificates that make the leaf trusted, leaf first; raise CertRejected otherwise."""
    anchors = [c for c in cas if c.subject == leaf.cert.issuer]
    if anchors:
        return [leaf, _signed_by_one_of(leaf, anchors, profile, faults)]
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
    _signed_by(leaf, middle_cert, profile, faults)
    return [leaf, middle_cert, _signed_by_one_of(middle_cert, middle_anchors, profile, faults)]


def _signed_by_one_of(
    child: _Cert, anchors: list[x509.Certificate], profile: DeviceProfile, faults: Faults
) -> _Cert:
    failure: CertRejected | None = None
    for anchor in anchors:
        issuer = _Cert(anchor, f"trusted CA {anchor.subject.rfc4514_string()}")
        try:
            _signed_by(child, issuer, profile, faults)
            return issuer
        except CertRejected as exc:
            failure = exc
    assert failure is not None
    raise failure


def _signed_by(child: _Cert, issuer: _Cert, profile: DeviceProfile, faults: Faults) -> None:
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
    if profile.check_issuer_key_usage:
        _check_key_cert_sign(issuer)
    if faults.trust_by_name:
        return  # the fault: a matching issuer name is taken as proof
    key = issuer.cert.public_key()
    try:
        if not isinstance(key, rsa.RSAPublicKey):
            raise InvalidSignature
        hash_algorithm = cert.signature_hash_algorithm
        assert hash_algorithm is not None
        if faults.lenient_pkcs1 and _lenient_pkcs1_verifies(cert, key, hash_name):
            return
        key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hash_algorithm)
    except (InvalidSignature, UnsupportedAlgorithm):
        raise CertRejected(
            f"signature of the {child.role} ({child.subject}) does not verify with the key of "
            f"the {issuer.role} (a CA of that name with another key, or a damaged or forged "
            "signature)"
        ) from None


def _check_key_cert_sign(issuer: _Cert) -> None:
    try:
        usage = issuer.cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return  # no keyUsage: any use is allowed (RFC 5280 §4.2.1.3)
    if not usage.key_cert_sign:
        raise CertRejected(
            f"the {issuer.role} has a keyUsage without keyCertSign, so it may not sign "
            "certificates (RFC 5280 §4.2.1.3)"
        )


# Extensions a 2008-era check knows how to process (RFC 5280 §4.2.1).
_KNOWN_EXTENSIONS = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.NAME_CONSTRAINTS,
        ExtensionOID.POLICY_CONSTRAINTS,
    }
)


def _check_critical(leaf: _Cert) -> None:
    for extension in leaf.cert.extensions:
        if extension.critical and extension.oid not in _KNOWN_EXTENSIONS:
            raise CertRejected(
                f"server certificate has the critical extension {extension.oid.dotted_string}, "
                "which this client does not know (RFC 5280 §4.2: refuse it)",
                "unsupported_certificate",
            )


def _ber_item(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of the value, end of the value) of the BER item at `offset`, lengths read
    in any form, as the broken 2006 parsers did; IndexError or ValueError when out of bytes."""
    tag, first = data[offset], data[offset + 1]
    offset += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    if offset + length > len(data):
        raise ValueError("BER item runs past the block")
    return tag, offset, offset + length


def _lenient_pkcs1_verifies(cert: x509.Certificate, key: rsa.RSAPublicKey, hash_name: str) -> bool:
    """The `lenient_pkcs1` fault: PKCS#1 v1.5 checked the way pre-2006 parsers did it.

    Recovers the block with the public key, checks 00 01, skips any non-zero padding bytes to
    the first 00, reads the DigestInfo as BER (long-form lengths welcome), takes the hash from
    the DigestInfo's OID (not from the certificate's algorithm), leaves the parameters unread,
    takes the OCTET STRING as the digest and ignores whatever follows it.
    """
    numbers = key.public_numbers()
    k = (numbers.n.bit_length() + 7) // 8
    block = pow(int.from_bytes(cert.signature, "big"), numbers.e, numbers.n).to_bytes(k, "big")
    if block[:2] != b"\x00\x01" or b"\x00" not in block[2:]:
        return False
    start = block.index(b"\x00", 2)
    try:
        tag, inner, _end = _ber_item(block, start + 1)
        _alg_tag, alg_start, alg_end = _ber_item(block, inner)
        oid_tag, oid_start, oid_end = _ber_item(block, alg_start)
        digest_tag, digest_start, digest_end = _ber_item(block, alg_end)
        if oid_tag == 0x06:
            oid = x509.ObjectIdentifier(_dotted(block[oid_start:oid_end]))
            hash_name = _DIGEST_OIDS.get(oid, hash_name)
    except (IndexError, ValueError):
        return False
    if tag != 0x30 or digest_tag != 0x04:
        return False
    wanted = hashlib.new(hash_name, cert.tbs_certificate_bytes).digest()
    return block[digest_start:digest_end] == wanted


# Hash algorithm OIDs of a DigestInfo (RFC 8017 appendix A.2.4).
_DIGEST_OIDS: dict[x509.ObjectIdentifier, str] = {
    x509.ObjectIdentifier("1.2.840.113549.2.5"): "md5",
    x509.ObjectIdentifier("1.3.14.3.2.26"): "sha1",
    x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1"): "sha256",
}


def _dotted(body: bytes) -> str:
    """The dotted form of a DER OBJECT IDENTIFIER's contents (X.690 §8.19)."""
    if not body:
        return "0.0"
    arcs, value = [], 0
    for byte in body:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0] if arcs else 0
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


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
