"""Table tests for w24_harness.sim.verify: one row per rule, real certificates.

Certificates are built with cryptography (SHA-256) and re-signed at the ASN.1 level with SHA-1 or
MD5 where a row needs a legacy hash (cryptography refuses to sign X.509 with them). The 512-bit key
comes from the openssl command line (cryptography will not generate it). Keys are made once.
"""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from ipaddress import ip_address

import pytest
import trustme
from asn1crypto import algos, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from w24_harness.pki.fit import pem_certificate_blocks
from w24_harness.pki.sets import CertSets
from w24_harness.profiles.table import MODERN, W24
from w24_harness.sim import verify
from w24_harness.sim.faults import Faults
from w24_harness.sim.verify import CertRejected, verify_server_chain

DER = serialization.Encoding.DER
PEM = serialization.Encoding.PEM
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def utc(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)


HASHES = {"sha1": hashes.SHA1(), "md5": hashes.MD5(), "sha256": hashes.SHA256()}


@cache
def key(bits: int = 1024, tag: str = "") -> rsa.RSAPrivateKey:
    """One key per (size, tag), generated once per test session."""
    if bits < 1024:
        pem = subprocess.run(
            ["openssl", "genrsa", str(bits)], capture_output=True, check=True, timeout=30
        ).stdout
        loaded = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        return loaded
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def resign(cert: x509.Certificate, signer: rsa.RSAPrivateKey, hash_name: str) -> x509.Certificate:
    """Re-sign a certificate with a legacy hash by editing the two AlgorithmIdentifiers."""
    asn = asn1_x509.Certificate.load(cert.public_bytes(DER))
    algorithm = algos.SignedDigestAlgorithm(
        {"algorithm": f"{hash_name}_rsa", "parameters": core.Null()}
    )
    asn["tbs_certificate"]["signature"] = algorithm
    tbs = asn["tbs_certificate"].dump(force=True)
    asn["signature_algorithm"] = algorithm
    asn["signature_value"] = signer.sign(tbs, padding.PKCS1v15(), HASHES[hash_name])
    return x509.load_der_x509_certificate(asn.dump(force=True))


@dataclass
class Issued:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    name: x509.Name = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.cert.subject

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(PEM)


def issue(
    cn: str | None,
    subject_key: rsa.RSAPrivateKey,
    issuer: Issued | None = None,
    *,
    hash_name: str = "sha1",
    ca: bool = False,
    dns: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    valid: tuple[datetime, datetime] | None = None,
) -> Issued:
    """A certificate for `subject_key`, signed by `issuer` (self-signed when None)."""
    valid = valid or (utc(2020), utc(2040))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])
    signer = issuer.key if issuer else subject_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.name if issuer else name)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ip_address(i)) for i in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), False)
    cert = builder.sign(signer, hashes.SHA256())
    if hash_name != "sha256":
        cert = resign(cert, signer, hash_name)
    return Issued(cert, subject_key)


@cache
def pki() -> dict[str, Issued]:
    ca = issue("W24 Test CA", key(2048, "ca"), ca=True)
    other_ca = issue("Other CA", key(1024, "other"), ca=True)
    twin_ca = issue("W24 Test CA", key(1024, "twin"), ca=True)  # same name, different key
    inter = issue("W24 Intermediate", key(1024, "inter"), ca, ca=True)
    leaf_key = key(1024, "leaf")
    empty_ca = issue(None, key(1024, "empty"), ca=True)  # a CA with an empty subject
    return {
        "ca": ca,
        "other_ca": other_ca,
        "twin_ca": twin_ca,
        "inter": inter,
        "leaf": issue("device.example", leaf_key, ca, dns=("device.example",)),
        "leaf_md5": issue("device.example", leaf_key, ca, hash_name="md5"),
        "leaf_sha256": issue("device.example", leaf_key, ca, hash_name="sha256"),
        "leaf_other": issue("device.example", leaf_key, other_ca),
        "leaf_self": issue("device.example", leaf_key),
        "leaf_inter": issue("device.example", leaf_key, inter),
        "leaf_512": issue("small", key(512, "small"), ca),
        "leaf_4096": issue("big", key(4096, "big"), ca),
        "leaf_2048": issue("edge", key(2048, "edge"), ca),
        "leaf_old": issue("old", leaf_key, ca, valid=(utc(2020), utc(2021))),
        "leaf_future": issue("future", leaf_key, ca, valid=(utc(2030), utc(2031))),
        "wild": issue("x", leaf_key, ca, dns=("*.example.com", "exact.example.org")),
        "cn_only": issue("cn.example.net", leaf_key, ca),
        "ip": issue("ignored.example", leaf_key, ca, ips=("127.0.0.1",)),
        "no_name": issue(None, leaf_key, ca),
        "wild_tld": issue("x", leaf_key, ca, dns=("*.com",)),
        "wild_twice": issue("x", leaf_key, ca, dns=("*.*.example",)),
        "wild_partial": issue("x", leaf_key, ca, dns=("f*.example.com",)),
        "wild_deep": issue("x", leaf_key, ca, dns=("*.sub.example.com",)),
        "leading_dot": issue("x", leaf_key, ca, dns=(".example.com",)),
        "leaf_1024_edge": issue("edge-low", key(1024, "edge-low"), ca),
        "cn_ip": issue("127.0.0.1", leaf_key, ca),
        "san_dns_ip": issue("x", leaf_key, ca, dns=("127.0.0.1",)),
        "empty_ca": empty_ca,
        "leaf_by_empty": issue("device.example", leaf_key, empty_ca),
    }


W24_HOST = W24.with_changes(check_hostname=True)
W24_DATES = W24.with_changes(check_validity_dates=True)
SHA1_ONLY = W24.with_changes(signature_hashes=("sha1",))

# (id, chain names, trusted CA names, profile, hostname, expected alert or None, reason fragment)
ACCEPT = None
# fmt: off
TABLE = [
    ("sha1 leaf by the CA", ["leaf"], ["ca"], W24, None, ACCEPT, ""),
    ("md5 leaf by the CA", ["leaf_md5"], ["ca"], W24, None, ACCEPT, ""),
    ("the right CA among several", ["leaf"], ["other_ca", "ca"], W24, None, ACCEPT, ""),
    ("sha256 leaf, w24", ["leaf_sha256"], ["ca"], W24, None, "bad_certificate",
     "signed with sha256; the w24 profile accepts md5, sha1"),
    ("sha256 leaf, modern", ["leaf_sha256"], ["ca"], MODERN, None, ACCEPT, ""),
    ("md5 leaf, sha1-only profile", ["leaf_md5"], ["ca"], SHA1_ONLY, None, "bad_certificate",
     "signed with md5"),
    ("unknown issuer", ["leaf_other"], ["ca"], W24, None, "unknown_ca",
     "not signed by a trusted CA: issuer CN=Other CA"),
    ("same-name CA, other key", ["leaf"], ["twin_ca"], W24, None, "bad_certificate",
     "does not verify"),
    ("self-signed, not loaded", ["leaf_self"], ["ca"], W24, None, "unknown_ca",
     "self-signed (CN=device.example)"),
    ("self-signed, empty subject", ["empty_ca"], ["ca"], W24, None, "unknown_ca",
     "self-signed ((empty subject))"),
    ("issuer with an empty name", ["leaf_by_empty"], ["ca"], W24, None, "unknown_ca",
     "issuer (empty issuer)"),
    ("self-signed, loaded as CA", ["leaf_self"], ["leaf_self"], W24, None, ACCEPT, ""),
    ("intermediate, w24 does not build chains", ["leaf_inter", "inter"], ["ca"], W24, None,
     "unknown_ca", "does not build chains"),
    ("intermediate, modern builds the chain", ["leaf_inter", "inter"], ["ca"], MODERN, None, ACCEPT,
     ""),
    ("intermediate not sent, modern", ["leaf_inter"], ["ca"], MODERN, None, "unknown_ca",
     "issuer CN=W24 Intermediate"),
    ("intermediate by an unloaded CA", ["leaf_inter", "inter"], ["other_ca"], MODERN, None,
     "unknown_ca", "which is not loaded"),
    ("512-bit server key", ["leaf_512"], ["ca"], W24, None, "bad_certificate",
     "server key is 512 bits; the w24 profile accepts 1024..2048"),
    ("4096-bit server key, w24", ["leaf_4096"], ["ca"], W24, None, "bad_certificate",
     "server key is 4096 bits; the w24 profile accepts 1024..2048"),
    ("4096-bit server key, modern", ["leaf_4096"], ["ca"], MODERN, None, ACCEPT, ""),
    ("2048-bit key at the range edge", ["leaf_2048"], ["ca"], W24, None, ACCEPT, ""),
    ("expired, w24 ignores dates", ["leaf_old"], ["ca"], W24, None, ACCEPT, ""),
    ("expired, dates checked", ["leaf_old"], ["ca"], W24_DATES, None, "certificate_expired",
     "is expired: valid 2020-01-01T00:00:00Z .. 2021-01-01T00:00:00Z"),
    ("not yet valid", ["leaf_future"], ["ca"], W24_DATES, None, "certificate_expired",
     "not yet valid"),
    ("hostname ignored without the switch", ["leaf"], ["ca"], W24, "else.example", ACCEPT, ""),
    ("SAN match", ["leaf"], ["ca"], W24_HOST, "device.example", ACCEPT, ""),
    ("SAN match, case-insensitive", ["leaf"], ["ca"], W24_HOST, "DEVICE.Example", ACCEPT, ""),
    ("SAN mismatch", ["leaf"], ["ca"], W24_HOST, "else.example", "bad_certificate",
     "SAN names device.example; the host is else.example"),
    ("wildcard one label", ["wild"], ["ca"], W24_HOST, "a.example.com", ACCEPT, ""),
    ("wildcard two labels", ["wild"], ["ca"], W24_HOST, "a.b.example.com", "bad_certificate",
     "*.example.com"),
    ("wildcard bare domain", ["wild"], ["ca"], W24_HOST, "example.com", "bad_certificate", ""),
    ("second SAN name", ["wild"], ["ca"], W24_HOST, "exact.example.org", ACCEPT, ""),
    ("CN when no SAN", ["cn_only"], ["ca"], W24_HOST, "cn.example.net", ACCEPT, ""),
    ("CN mismatch", ["cn_only"], ["ca"], W24_HOST, "x.example.net", "bad_certificate",
     "CN names cn.example.net"),
    ("SAN present: CN ignored", ["ip"], ["ca"], W24_HOST, "ignored.example", "bad_certificate",
     "SAN names 127.0.0.1"),
    ("IP SAN", ["ip"], ["ca"], W24_HOST, "127.0.0.1", ACCEPT, ""),
    # An IP address matches an iPAddress SAN, or the CN text when there is no SAN; never a
    # SAN dNSName, never a CN of another name.
    ("IP host, CN is that IP", ["cn_ip"], ["ca"], W24_HOST, "127.0.0.1", ACCEPT, ""),
    ("IP host, CN of a name", ["cn_only"], ["ca"], W24_HOST, "127.0.0.1", "bad_certificate",
     "CN names cn.example.net; the host is 127.0.0.1"),
    ("IP host, only a SAN dNSName of it", ["san_dns_ip"], ["ca"], W24_HOST, "127.0.0.1",
     "bad_certificate", "SAN names 127.0.0.1; the host is 127.0.0.1"),
    ("no name at all", ["no_name"], ["ca"], W24_HOST, "device.example", "bad_certificate",
     "has no SAN and no CN"),
    # The wildcard guard: "*" only as the whole leftmost label, over at least two labels.
    ("wildcard over a TLD", ["wild_tld"], ["ca"], W24_HOST, "example.com", "bad_certificate",
     "SAN names *.com"),
    ("wildcard in a later label too", ["wild_twice"], ["ca"], W24_HOST, "a.*.example",
     "bad_certificate", "SAN names *.*.example"),
    ("partial-label wildcard", ["wild_partial"], ["ca"], W24_HOST, "foo.example.com",
     "bad_certificate", "f*.example.com"),
    ("wildcard, trailing dot", ["wild"], ["ca"], W24_HOST, "a.example.com.", ACCEPT, ""),
    ("wildcard over three labels", ["wild_deep"], ["ca"], W24_HOST, "a.sub.example.com", ACCEPT,
     ""),
    ("an empty first label is no wildcard", ["leading_dot"], ["ca"], W24_HOST, "a.example.com",
     "bad_certificate", "SAN names .example.com"),
    # Names are equal or not: one that sorts before or after the SAN name is still another.
    ("wildcard, later labels sort after", ["wild"], ["ca"], W24_HOST, "a.example.net",
     "bad_certificate", "*.example.com"),
    ("wildcard, later labels sort before", ["wild"], ["ca"], W24_HOST, "a.example.co",
     "bad_certificate", "*.example.com"),
    ("SAN mismatch, sorts before", ["leaf"], ["ca"], W24_HOST, "a.example", "bad_certificate",
     "SAN names device.example"),
    ("SAN mismatch, sorts after", ["leaf"], ["ca"], W24_HOST, "z.example", "bad_certificate",
     "SAN names device.example"),
    ("1024-bit key at the low edge", ["leaf_1024_edge"], ["ca"], W24, None, ACCEPT, ""),
]
# fmt: on


@pytest.mark.parametrize(
    ("chain", "cas", "profile", "hostname", "alert", "fragment"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_rule(
    chain: list[str], cas: list[str], profile, hostname, alert: str | None, fragment: str
) -> None:
    certs = pki()
    chain_der = [certs[name].der for name in chain]
    trusted = [certs[name].pem for name in cas]
    if alert is None:
        verify_server_chain(chain_der, trusted, profile, hostname=hostname, now=NOW)
        return
    with pytest.raises(CertRejected) as caught:
        verify_server_chain(chain_der, trusted, profile, hostname=hostname, now=NOW)
    assert caught.value.alert == alert
    assert fragment in caught.value.reason


def test_dates_use_the_clock_when_now_is_not_given() -> None:
    certs = pki()
    with pytest.raises(CertRejected, match="expired"):
        verify_server_chain([certs["leaf_old"].der], [certs["ca"].pem], W24_DATES)
    verify_server_chain([certs["leaf"].der], [certs["ca"].pem], W24_DATES)


def test_expired_ca_is_rejected_when_dates_are_checked() -> None:
    old_ca = issue("Old CA", key(1024, "old-ca"), ca=True, valid=(utc(2000), utc(2001)))
    leaf = issue("device.example", key(1024, "leaf"), old_ca)
    verify_server_chain([leaf.der], [old_ca.pem], W24, now=NOW)
    with pytest.raises(CertRejected) as caught:
        verify_server_chain([leaf.der], [old_ca.pem], W24_DATES, now=NOW)
    assert caught.value.alert == "certificate_expired"
    assert "trusted CA CN=Old CA" in caught.value.reason


def test_unparseable_ca_slots_are_skipped() -> None:
    certs = pki()
    trusted = [
        b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
        certs["ca"].pem.decode().replace("\n", "\r\n").encode(),
    ]
    verify_server_chain([certs["leaf"].der], trusted, W24, now=NOW)


def test_garbage_leaf_is_a_bad_certificate() -> None:
    with pytest.raises(CertRejected) as caught:
        verify_server_chain([b"\x30\x03\x02\x01\x00"], [pki()["ca"].pem], W24)
    assert caught.value.alert == "bad_certificate"
    assert "not a valid X.509 certificate" in caught.value.reason


def test_trustme_pki_ecdsa_leaf_and_rsa_sha256_chain() -> None:
    """trustme's defaults: an ECDSA leaf is refused; an RSA SHA-256 chain needs a modern profile."""
    rsa_ca = trustme.CA(key_type=trustme.KeyType.RSA)
    rsa_leaf = rsa_ca.issue_cert("device.example", key_type=trustme.KeyType.RSA)
    leaf_der = x509.load_pem_x509_certificate(rsa_leaf.cert_chain_pems[0].bytes()).public_bytes(DER)
    ca_pem = rsa_ca.cert_pem.bytes()
    verify_server_chain(
        [leaf_der], [ca_pem], MODERN.with_changes(check_hostname=True), hostname="device.example"
    )
    with pytest.raises(CertRejected, match="sha256"):
        verify_server_chain([leaf_der], [ca_pem], W24)

    ec_ca = trustme.CA()
    ec_leaf = ec_ca.issue_cert("device.example")
    ec_der = x509.load_pem_x509_certificate(ec_leaf.cert_chain_pems[0].bytes()).public_bytes(DER)
    with pytest.raises(CertRejected, match="not RSA"):
        verify_server_chain([ec_der], [ec_ca.cert_pem.bytes()], MODERN)


# -- the signature check itself (without it, any certificate naming a loaded CA would pass) ---


def flip_signature_bit(cert: x509.Certificate, bit: int = 0) -> bytes:
    """The certificate's DER with one bit of its signature value flipped (TBS untouched)."""
    asn = asn1_x509.Certificate.load(cert.public_bytes(DER))
    signature = bytearray(asn["signature_value"].native)
    signature[len(signature) // 2] ^= 1 << bit
    asn["signature_value"] = bytes(signature)
    return asn.dump(force=True)


@pytest.mark.parametrize("bit", [0, 7])
def test_leaf_with_one_signature_bit_flipped_is_rejected(bit: int) -> None:
    certs = pki()
    tampered = flip_signature_bit(certs["leaf"].cert, bit)
    assert x509.load_der_x509_certificate(tampered).issuer == certs["ca"].name  # still parses
    verify_server_chain([certs["leaf"].der], [certs["ca"].pem], W24, now=NOW)  # the original
    with pytest.raises(CertRejected) as caught:
        verify_server_chain([tampered], [certs["ca"].pem], W24, now=NOW)
    assert caught.value.alert == "bad_certificate"
    assert "does not verify with the key of the trusted CA CN=W24 Test CA" in caught.value.reason


def test_leaf_from_an_impostor_ca_is_rejected() -> None:
    # The impostor CA has the loaded CA's subject name but its own key; its leaf names the
    # trusted CA as issuer, so only the signature tells them apart.
    certs = pki()
    impostor = certs["twin_ca"]
    assert impostor.name == certs["ca"].name
    leaf = issue("device.example", key(1024, "leaf"), impostor, dns=("device.example",))
    verify_server_chain([leaf.der], [impostor.pem], W24, now=NOW)  # fine by its own CA
    with pytest.raises(CertRejected) as caught:
        verify_server_chain([leaf.der], [certs["ca"].pem], W24, now=NOW)
    assert caught.value.alert == "bad_certificate"
    assert "does not verify" in caught.value.reason


def test_intermediate_with_a_flipped_signature_bit_is_rejected() -> None:
    # Chain building (modern): both links are checked, the CA's signature on the intermediate
    # and the intermediate's on the leaf.
    certs = pki()
    good = [certs["leaf_inter"].der, certs["inter"].der]
    verify_server_chain(good, [certs["ca"].pem], MODERN, now=NOW)
    for chain in (
        [certs["leaf_inter"].der, flip_signature_bit(certs["inter"].cert)],
        [flip_signature_bit(certs["leaf_inter"].cert), certs["inter"].der],
    ):
        with pytest.raises(CertRejected, match="does not verify"):
            verify_server_chain(chain, [certs["ca"].pem], MODERN, now=NOW)


# -- certificate identity: the sets the identity scenarios use (w24_harness.pki.identity) -------


@cache
def identity_sets() -> CertSets:
    return CertSets(W24, host="device.example")


def _chain(set_name: str) -> tuple[list[bytes], list[bytes]]:
    certs = identity_sets().get(set_name)
    blocks = pem_certificate_blocks(certs.server.fullchain_pem)
    # The PEM armour holds whatever bytes the server sends, certificates or not.
    ders = [base64.b64decode(b"".join(block.splitlines()[1:-1])) for block in blocks]
    return ders, [certs.ca_pem]


TRUST_BY_NAME = Faults(trust_by_name=True)
LENIENT_PKCS1 = Faults(lenient_pkcs1=True)
LEAF_SEARCH = Faults(leaf_search=True)
NO_FAULT = Faults()
# (id, certificate set, profile, faults, expected alert or None, reason fragment)
# fmt: off
IDENTITY_TABLE = [
    ("impostor CA, no AKI", "impostor_ca", W24, NO_FAULT, "bad_certificate", "does not verify"),
    ("impostor CA, AKI", "impostor_ca_aki", W24, NO_FAULT, "bad_certificate", "does not verify"),
    ("impostor CA passes trust-by-name", "impostor_ca", W24, TRUST_BY_NAME, ACCEPT, ""),
    ("impostor CA, lenient PKCS#1 still checks the key", "impostor_ca", W24, LENIENT_PKCS1,
     "bad_certificate", "does not verify"),
    ("one signature bit flipped", "signature_bit_flipped", W24, NO_FAULT, "bad_certificate",
     "does not verify"),
    ("flipped bit passes trust-by-name", "signature_bit_flipped", W24, TRUST_BY_NAME, ACCEPT, ""),
    ("flipped bit, lenient PKCS#1", "signature_bit_flipped", W24, LENIENT_PKCS1,
     "bad_certificate", "does not verify"),
    ("TBS changed after signing", "tbs_modified", W24, NO_FAULT, "bad_certificate",
     "does not verify"),
    ("TBS changed, lenient PKCS#1 compares the digest", "tbs_modified", W24, LENIENT_PKCS1,
     "bad_certificate", "does not verify"),
    ("e=3 CA, valid leaf", "e3_valid", W24, NO_FAULT, ACCEPT, ""),
    ("e=3 CA, valid leaf, lenient PKCS#1", "e3_valid", W24, LENIENT_PKCS1, ACCEPT, ""),
    ("Bleichenbacher 2006 forgery", "e3_bleichenbacher", W24, NO_FAULT, "bad_certificate",
     "does not verify"),
    ("Bleichenbacher 2006 forgery, modern", "e3_bleichenbacher", MODERN, NO_FAULT,
     "bad_certificate", "does not verify"),
    ("Bleichenbacher 2006 passes lenient PKCS#1", "e3_bleichenbacher", W24, LENIENT_PKCS1, ACCEPT,
     ""),
    ("BER long-form lengths", "e3_ber_long_length", W24, NO_FAULT, "bad_certificate",
     "does not verify"),
    ("BER long-form passes lenient PKCS#1", "e3_ber_long_length", W24, LENIENT_PKCS1, ACCEPT, ""),
    ("DigestInfo parameters garbage", "e3_digest_params", W24, NO_FAULT, "bad_certificate",
     "does not verify"),
    ("DigestInfo parameters pass lenient PKCS#1", "e3_digest_params", W24, LENIENT_PKCS1, ACCEPT,
     ""),
    ("padding not 0xFF", "e3_padding_not_ff", W24, NO_FAULT, "bad_certificate",
     "does not verify"),
    ("padding not 0xFF passes lenient PKCS#1", "e3_padding_not_ff", W24, LENIENT_PKCS1, ACCEPT,
     ""),
    ("MD5 DigestInfo in a sha1WithRSA leaf", "e3_digest_algorithm_mismatch", W24, NO_FAULT,
     "bad_certificate", "does not verify"),
    ("MD5 DigestInfo passes lenient PKCS#1", "e3_digest_algorithm_mismatch", W24, LENIENT_PKCS1,
     ACCEPT, ""),
    ("first signature byte flipped", "signature_first_byte_flipped", W24, NO_FAULT,
     "bad_certificate", "does not verify"),
    ("last signature byte flipped", "signature_last_byte_flipped", W24, NO_FAULT,
     "bad_certificate", "does not verify"),
    ("last byte flipped, lenient PKCS#1", "signature_last_byte_flipped", W24, LENIENT_PKCS1,
     "bad_certificate", "does not verify"),
    ("leaf + root sent", "leaf_and_root", W24, NO_FAULT, ACCEPT, ""),
    ("leaf + root sent, modern", "leaf_and_root", MODERN, NO_FAULT, ACCEPT, ""),
    ("untrusted certificate first", "wrong_order", W24, NO_FAULT, "unknown_ca",
     "not signed by a trusted CA: issuer OU=unrelated CA"),
    ("untrusted certificate first, modern", "wrong_order", MODERN, NO_FAULT, "unknown_ca",
     "not signed by a trusted CA"),
    ("untrusted certificate first passes leaf search", "wrong_order", W24, LEAF_SEARCH, ACCEPT,
     ""),
    ("no signature in the certificate", "garbage_no_signature", W24, NO_FAULT, "bad_certificate",
     "not a valid X.509 certificate"),
    ("junk signature field", "garbage_junk_tail", W24, NO_FAULT, "bad_certificate",
     "not a valid X.509 certificate"),
    ("v1 CA and v1 leaf", "v1_ca", W24, NO_FAULT, ACCEPT, ""),
    ("v1 CA and v1 leaf, modern", "v1_ca", MODERN, NO_FAULT, ACCEPT, ""),
    ("self-signed server certificate loaded as the CA", "self_signed_ca", W24, NO_FAULT, ACCEPT,
     ""),
    ("issuer keyUsage without keyCertSign, w24", "issuer_no_keycertsign", W24, NO_FAULT, ACCEPT,
     ""),
    ("issuer keyUsage without keyCertSign, modern", "issuer_no_keycertsign", MODERN,
     NO_FAULT, "bad_certificate", "without keyCertSign"),
    ("unknown critical extension, w24", "leaf_unknown_critical", W24, NO_FAULT,
     "unsupported_certificate", "critical extension 1.3.6.1.4.1.55555.1.1"),
    ("unknown critical extension, modern", "leaf_unknown_critical", MODERN, NO_FAULT,
     "unsupported_certificate", "critical extension 1.3.6.1.4.1.55555.1.1"),
]
# fmt: on


@pytest.mark.parametrize(
    ("set_name", "profile", "faults", "alert", "fragment"),
    [row[1:] for row in IDENTITY_TABLE],
    ids=[row[0] for row in IDENTITY_TABLE],
)
def test_identity_rule(set_name: str, profile, faults, alert: str | None, fragment: str) -> None:
    chain_der, trusted = _chain(set_name)
    if alert is None:
        verify_server_chain(chain_der, trusted, profile, now=NOW, faults=faults)
        return
    with pytest.raises(CertRejected) as caught:
        verify_server_chain(chain_der, trusted, profile, now=NOW, faults=faults)
    assert caught.value.alert == alert
    assert fragment in caught.value.reason


def test_trust_by_name_still_needs_the_name() -> None:
    """The fault trusts a matching issuer name, not any certificate: another CA's leaf fails."""
    certs = pki()
    with pytest.raises(CertRejected, match="not signed by a trusted CA"):
        verify_server_chain([certs["leaf_other"].der], [certs["ca"].pem], W24, faults=TRUST_BY_NAME)


def test_leaf_search_passes_a_lone_intermediate_and_still_needs_a_trusted_certificate() -> None:
    """With the fault, the intermediate a w24 must refuse (it builds no chains) stands for the
    server's certificate; a list where nothing is trusted still fails."""
    certs = pki()
    chain = [certs["leaf_inter"].der, certs["inter"].der]
    with pytest.raises(CertRejected, match="does not build chains"):
        verify_server_chain(chain, [certs["ca"].pem], W24, now=NOW)
    verify_server_chain(chain, [certs["ca"].pem], W24, now=NOW, faults=LEAF_SEARCH)
    with pytest.raises(CertRejected, match="not signed by a trusted CA"):
        verify_server_chain(
            [certs["leaf_other"].der, certs["leaf_inter"].der],
            [certs["ca"].pem],
            W24,
            now=NOW,
            faults=LEAF_SEARCH,
        )


def test_validity_dates_are_inclusive_at_both_ends() -> None:
    start, end = utc(2030), utc(2031)
    certs = pki()
    leaf = issue("edge", key(1024, "leaf"), certs["ca"], valid=(start, end))
    for moment in (start, end):
        verify_server_chain([leaf.der], [certs["ca"].pem], W24_DATES, now=moment)
    second = timedelta(seconds=1)
    for moment, state in ((start - second, "not yet valid"), (end + second, "expired")):
        with pytest.raises(CertRejected) as caught:
            verify_server_chain([leaf.der], [certs["ca"].pem], W24_DATES, now=moment)
        assert f"is {state}" in caught.value.reason


def test_leaf_search_gives_each_candidate_the_rest_of_the_list() -> None:
    """With the fault, a candidate further down still has every other certificate as its
    chain: the server certificate in the middle builds through the intermediate after it."""
    certs = pki()
    chain = [certs["leaf_other"].der, certs["leaf_inter"].der, certs["inter"].der]
    host = MODERN.with_changes(check_hostname=True)
    with pytest.raises(CertRejected):
        verify_server_chain(chain, [certs["ca"].pem], host, hostname="device.example", now=NOW)
    verify_server_chain(
        chain, [certs["ca"].pem], host, hostname="device.example", now=NOW, faults=LEAF_SEARCH
    )


@pytest.mark.parametrize(
    ("body", "dotted"),
    [
        (b"", "0.0"),
        (bytes([0x2B, 0x0E, 0x03, 0x02, 0x1A]), "1.3.14.3.2.26"),  # SHA-1
        (bytes([0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01]), "2.16.840.1.101.3.4.2.1"),
        (bytes([0x27]), "0.39"),  # the largest first byte under arc 0
        (bytes([0x28]), "1.0"),
        (bytes([0x81, 0x34, 0x03]), "2.100.3"),  # arc 2 takes every value from 80 up
    ],
)
def test_lenient_fault_reads_digestinfo_oids(body: bytes, dotted: str) -> None:
    """The lenient_pkcs1 fault's OID decoder (X.690 §8.19.4: the first two arcs share a value)."""
    assert verify._dotted(body) == dotted


def test_a_signature_algorithm_other_than_pkcs1_is_named_in_the_reason() -> None:
    """An RSASSA-PSS signature (an RSA key, but not PKCS#1 v1.5) is refused by name."""
    certs = pki()
    ca = certs["ca"]
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pss")]))
        .issuer_name(ca.name)
        .public_key(key(1024, "leaf").public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(utc(2020))
        .not_valid_after(utc(2040))
    )
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    leaf = builder.sign(ca.key, hashes.SHA256(), rsa_padding=pss)
    with pytest.raises(CertRejected) as caught:
        verify_server_chain([leaf.public_bytes(DER)], [ca.pem], MODERN, now=NOW)
    assert caught.value.reason == (
        "server certificate is signed with rsassaPss; the modern profile accepts RSA PKCS#1 "
        "v1.5 with " + ", ".join(MODERN.resolved().leaf_signature_hashes or ())
    )


def test_a_server_key_that_is_not_rsa_is_named_in_the_reason() -> None:
    certs = pki()
    ca = certs["ca"]
    for private, kind in (
        (ec.generate_private_key(ec.SECP256R1()), "EC secp256r1"),
        (ed25519.Ed25519PrivateKey.generate(), "unknown"),
    ):
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not-rsa")]))
            .issuer_name(ca.name)
            .public_key(private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(utc(2020))
            .not_valid_after(utc(2040))
            .sign(ca.key, hashes.SHA256())
        )
        with pytest.raises(CertRejected) as caught:
            verify_server_chain([leaf.public_bytes(DER)], [ca.pem], MODERN, now=NOW)
        assert caught.value.reason == (
            f"server key is {kind}, not RSA; the modern profile accepts 1024..4096-bit RSA keys"
        )
