"""Certificate-identity sets: impostor CAs, broken and forged signatures, odd chains, v1 CAs.

Each `_set_<name>` here is a certificate set of `w24_harness.pki.sets.CertSets` (this class is
its mixin). What they share: the leaf names, the profile's signature hash and the loaded root
come from CertSets; certificates are made with cryptography's CertificateBuilder and re-signed
with the legacy hash by `resign`; edits that no builder can make (a flipped signature bit, a
TBS changed after signing, a forged PKCS#1 block, a v1 certificate, bytes that are no DER) are
done on the DER with asn1crypto, never by splicing text.

Forged PKCS#1 v1.5 signatures (CVE-2006-4339, CVE-2014-1568) live under a CA whose key has
e = 3. `bleichenbacher_2006` is the real attack, made without the CA's private key: an
encryption block `00 01 FF.. 00 DigestInfo(hash) garbage` whose garbage is chosen so that the
block is a perfect cube; a verifier that stops reading after the hash accepts its cube root.
The other two are raw RSA operations with the private key over malformed blocks (non-minimal
DER lengths in the DigestInfo, garbage for the NULL parameters): a correct verifier, which
compares the whole block with the one it expects, rejects them; a lenient BER parser does not.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from collections.abc import Callable

from asn1crypto import core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from w24_harness.pki.certset import CertSet
from w24_harness.pki.factory import (
    DEFAULT_NOT_BEFORE,
    LAST_UTC_NOT_AFTER,
    CertAuthority,
    CertFactory,
    IssuedCert,
)
from w24_harness.pki.keys import exponent3_rsa_key, labelled_rsa_key
from w24_harness.pki.resign import resign

# Makes a leaf's signature from the leaf and the CA's private key.
Forge = Callable[[x509.Certificate, rsa.RSAPrivateKey], bytes]

# A private-enterprise arc no verifier knows (RFC 5280 §4.2: an unknown critical extension).
UNKNOWN_EXTENSION_OID = x509.ObjectIdentifier("1.3.6.1.4.1.55555.1.1")
# DigestInfo prefixes (RFC 8017 §9.2, note 1), by hash name.
DIGEST_INFO_PREFIX: dict[str, bytes] = {
    "md5": bytes.fromhex("3020300c06082a864886f70d020505000410"),
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
}
# The hash OIDs inside those prefixes (for building malformed DigestInfos).
_HASH_OID_TLV: dict[str, bytes] = {
    "md5": bytes.fromhex("06082a864886f70d0205"),
    "sha1": bytes.fromhex("06052b0e03021a"),
    "sha256": bytes.fromhex("0609608648016503040201"),
}


def _general_names(names: tuple[str, ...]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def _ca_name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "w24-harness identity"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def cert_builder(
    subject: x509.Name, issuer: x509.Name, key: rsa.RSAPublicKey
) -> x509.CertificateBuilder:
    """A certificate valid 2000-2049 (UTCTime), before its extensions and signature."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(DEFAULT_NOT_BEFORE)
        .not_valid_after(LAST_UTC_NOT_AFTER)
    )


def _sign(
    builder: x509.CertificateBuilder,
    signer: rsa.RSAPrivateKey,
    hash_name: str,
    issuer: x509.Certificate | None = None,
) -> x509.Certificate:
    # cryptography signs with SHA-256 only; resign sets the legacy hash and points the AKI.
    return resign(builder.sign(signer, hashes.SHA256()), signer, hash_name, issuer=issuer)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


def der_to_pem(der: bytes) -> bytes:
    """PEM armour around any bytes (also bytes that are no certificate)."""
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines) + b"\n-----END CERTIFICATE-----\n"


def ca_certificate(
    name: str,
    key: rsa.RSAPrivateKey,
    hash_name: str,
    *,
    ca_flag: bool = True,
    key_usage: x509.KeyUsage | None = None,
) -> x509.Certificate:
    """A self-signed root: basicConstraints (critical) with `ca_flag`, SKI, optional keyUsage."""
    subject = _ca_name(name)
    builder = (
        cert_builder(subject, subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=ca_flag, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    return _sign(builder, key, hash_name)


def leaf_certificate(
    names: tuple[str, ...],
    issuer: x509.Name,
    signer: rsa.RSAPrivateKey,
    hash_name: str,
    *,
    key: rsa.RSAPublicKey,
    issuer_cert: x509.Certificate | None = None,
    aki: bool = True,
    critical_unknown: bool = False,
) -> x509.Certificate:
    """A server certificate for `names` (CN = the first, SAN = all) signed by `signer`.

    aki: carry an AuthorityKeyIdentifier (of `issuer_cert`'s SKI, else of `signer`'s key).
    """
    builder = (
        cert_builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]), issuer, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(_general_names(names)), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    )
    if aki:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
    if critical_unknown:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(UNKNOWN_EXTENSION_OID, b"\x05\x00"), critical=True
        )
    return _sign(builder, signer, hash_name, issuer=issuer_cert)


def v1_certificate(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey,
    signer: rsa.RSAPrivateKey,
    hash_name: str,
) -> x509.Certificate:
    """An X.509 v1 certificate: no version field, no extensions (how CAs looked before v3)."""
    draft = asn1_x509.Certificate.load(
        cert_builder(subject, issuer, public_key)
        .sign(signer, hashes.SHA256())
        .public_bytes(Encoding.DER)
    )
    tbs = draft["tbs_certificate"]
    # The builder got no extensions, so only the version needs to go (v1 is the default).
    tbs["version"] = "v1"
    # resign re-encodes the edited TBS and signs it with the legacy hash.
    edited = x509.load_der_x509_certificate(
        asn1_x509.Certificate(
            {
                "tbs_certificate": tbs,
                "signature_algorithm": draft["signature_algorithm"],
                "signature_value": draft["signature_value"],
            }
        ).dump(force=True)
    )
    return resign(edited, signer, hash_name)


def with_signature(cert: x509.Certificate, signature: bytes) -> x509.Certificate:
    """`cert` with its signatureValue replaced (TBS and algorithms untouched)."""
    parsed = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
    parsed["signature_value"] = core.OctetBitString(signature)
    return x509.load_der_x509_certificate(parsed.dump(force=True))


def flip_signature_bit(cert: x509.Certificate, byte_index: int | None = None) -> x509.Certificate:
    """`cert` with one bit of its signature flipped (the middle byte's low bit by default)."""
    signature = bytearray(cert.signature)
    index = len(signature) // 2 if byte_index is None else byte_index
    signature[index] ^= 0x01
    return with_signature(cert, bytes(signature))


def with_modified_tbs(cert: x509.Certificate) -> x509.Certificate:
    """`cert` whose serial number was changed after signing: the old signature over a new TBS."""
    parsed = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
    parsed["tbs_certificate"]["serial_number"] = cert.serial_number ^ 0x01
    return x509.load_der_x509_certificate(parsed.dump(force=True))


def with_outer_params_tag(cert: x509.Certificate, tag: int = 0x09) -> bytes:
    """Certificate bytes whose outer signatureAlgorithm parameters are an empty value of
    another type (REAL by default) where the TBS's say NULL: the same length, so only a client
    that compares the tags sees that the two AlgorithmIdentifiers differ (RFC 5280 §4.1.1.2;
    mbed TLS < 2.25 compared the lengths only, CVE-2020-36478). The signature stays valid."""
    der = cert.public_bytes(Encoding.DER)
    algorithm = asn1_x509.Certificate.load(der)["signature_algorithm"].dump()
    if not algorithm.endswith(b"\x05\x00"):
        raise ValueError("the certificate's signatureAlgorithm has no NULL parameters")
    at = der.rindex(algorithm)  # the outer one follows the TBS
    return der[:at] + algorithm[:-2] + bytes([tag, 0]) + der[at + len(algorithm) :]


def _tlv(tag: int, body: bytes) -> bytes:
    """One DER TLV with a minimal length."""
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def without_signature(cert: x509.Certificate) -> bytes:
    """Certificate bytes that hold TBS and algorithm but no signature: no valid X.509."""
    parsed = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
    body = parsed["tbs_certificate"].dump() + parsed["signature_algorithm"].dump()
    return _tlv(0x30, body)


def with_junk_signature_field(cert: x509.Certificate, junk: bytes) -> bytes:
    """Certificate bytes whose third element (the signature BIT STRING) is raw junk, no TLV."""
    parsed = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
    body = parsed["tbs_certificate"].dump() + parsed["signature_algorithm"].dump() + junk
    return _tlv(0x30, body)


# -- PKCS#1 v1.5 forgeries --------------------------------------------------------------------


def _digest(cert: x509.Certificate, hash_name: str) -> bytes:
    return hashlib.new(hash_name, cert.tbs_certificate_bytes).digest()


def _icbrt_ceil(value: int) -> int:
    """The smallest integer whose cube is >= value."""
    low, high = 0, 1 << ((value.bit_length() + 2) // 3 + 1)
    while low < high:
        mid = (low + high) // 2
        if mid**3 < value:
            low = mid + 1
        else:
            high = mid
    return low


def bleichenbacher_2006(
    cert: x509.Certificate, ca_public: rsa.RSAPublicKey, hash_name: str
) -> bytes:
    """A signature forged for `cert` under an e=3 key without its private key (CVE-2006-4339).

    The block is `00 01 FF*8 00 DigestInfo(hash)` followed by garbage; the garbage is whatever
    makes the whole block a cube, and the signature is that cube's root (no modular reduction:
    the block is far below the modulus).
    """
    numbers = ca_public.public_numbers()
    if numbers.e != 3:
        raise ValueError(f"the 2006 forgery needs e = 3, not {numbers.e}")
    k = (numbers.n.bit_length() + 7) // 8
    prefix = (
        b"\x00\x01"
        + b"\xff" * 8
        + b"\x00"
        + DIGEST_INFO_PREFIX[hash_name]
        + _digest(cert, hash_name)
    )
    garbage = k - len(prefix)
    low = int.from_bytes(prefix + b"\x00" * garbage, "big")
    high = int.from_bytes(prefix + b"\xff" * garbage, "big")
    root = _icbrt_ceil(low)
    if root**3 > high:
        raise ValueError(
            f"a {numbers.n.bit_length()}-bit modulus leaves too little room for the garbage"
        )
    return root.to_bytes(k, "big")


def _raw_sign(block: bytes, key: rsa.RSAPrivateKey) -> bytes:
    """The RSA private-key operation on an arbitrary encryption block (no padding added)."""
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    k = (n.bit_length() + 7) // 8
    return pow(int.from_bytes(block, "big"), numbers.d, n).to_bytes(k, "big")


def _pad(digest_info: bytes, k: int) -> bytes:
    return b"\x00\x01" + b"\xff" * (k - 3 - len(digest_info)) + b"\x00" + digest_info


def _long_form(tag: int, body: bytes) -> bytes:
    # A four-byte long-form length for a short body: valid BER, invalid DER (X.690 §10.1).
    return bytes([tag, 0x84]) + len(body).to_bytes(4, "big") + body


def ber_long_length_signature(
    cert: x509.Certificate, key: rsa.RSAPrivateKey, hash_name: str
) -> bytes:
    """A signature whose DigestInfo uses non-minimal long-form lengths (BERserk's parser hole)."""
    algorithm = _long_form(0x30, _HASH_OID_TLV[hash_name] + b"\x05\x00")
    info = _long_form(0x30, algorithm + _long_form(0x04, _digest(cert, hash_name)))
    return _raw_sign(_pad(info, key.key_size // 8), key)


def digest_params_signature(
    cert: x509.Certificate, key: rsa.RSAPrivateKey, hash_name: str
) -> bytes:
    """A signature whose DigestInfo has garbage (an OCTET STRING) where NULL parameters belong."""
    algorithm = _tlv(0x30, _HASH_OID_TLV[hash_name] + _tlv(0x04, b"\xde\xad\xbe\xef" * 3))
    info = _tlv(0x30, algorithm + _tlv(0x04, _digest(cert, hash_name)))
    return _raw_sign(_pad(info, key.key_size // 8), key)


def non_ff_padding_signature(
    cert: x509.Certificate, key: rsa.RSAPrivateKey, hash_name: str
) -> bytes:
    """A signature whose padding bytes are not 0xFF (a parser that skips to the first 00)."""
    info = DIGEST_INFO_PREFIX[hash_name] + _digest(cert, hash_name)
    filler = bytes(i % 254 + 1 for i in range(key.key_size // 8 - 3 - len(info)))  # 01..FE
    return _raw_sign(b"\x00\x01" + filler + b"\x00" + info, key)


def digest_algorithm_mismatch_signature(
    cert: x509.Certificate, key: rsa.RSAPrivateKey, hash_name: str
) -> bytes:
    """A signature over an MD5 DigestInfo of the TBS in a certificate that says `hash_name`
    (a verifier that believes the DigestInfo's OID over the certificate's algorithm)."""
    if hash_name == "md5":
        raise ValueError("the mismatch needs a certificate hash other than MD5")
    info = DIGEST_INFO_PREFIX["md5"] + _digest(cert, "md5")
    return _raw_sign(_pad(info, key.key_size // 8), key)


def e3_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """One RSA key with public exponent 3 (cryptography generates e = 3 keys), cached."""
    return exponent3_rsa_key(bits)


def _certset(name: str, ca_pem: bytes, server: IssuedCert) -> CertSet:
    return CertSet(name, ca_pem, server)


class IdentitySets:
    """Certificate sets for w24_harness.scenarios.identity (mixed into CertSets)."""

    names: tuple[str, ...]
    hash: str
    factory: CertFactory
    root: CertAuthority

    def _served(
        self, cert: x509.Certificate, key: rsa.RSAPrivateKey, chain: bytes = b""
    ) -> IssuedCert:
        return IssuedCert(_pem(cert), _key_pem(key), chain)

    def _leaf_key(self) -> rsa.RSAPrivateKey:
        return labelled_rsa_key("leaf", 2048)

    def _root_leaf(self, **kwargs) -> x509.Certificate:
        root = self.root
        return leaf_certificate(
            self.names,
            root.cert.subject,
            root.key,
            self.hash,
            key=self._leaf_key().public_key(),
            issuer_cert=root.cert,
            **kwargs,
        )

    def _root_set(self, name: str, cert: x509.Certificate | bytes, chain: bytes = b"") -> CertSet:
        pem = der_to_pem(cert) if isinstance(cert, bytes) else _pem(cert)
        return _certset(
            name, self.root.cert_pem, IssuedCert(pem, _key_pem(self._leaf_key()), chain)
        )

    # -- the documented check: signed by the trusted CA ------------------------------------

    def _impostor(self, name: str, *, aki: bool) -> CertSet:
        # Same subject as the loaded root, another key: only the signature tells them apart.
        impostor_key = labelled_rsa_key("ca:impostor", 2048)
        impostor = resign(
            self.root.cert, impostor_key, self.hash, public_key=impostor_key.public_key()
        )
        leaf = leaf_certificate(
            self.names,
            self.root.cert.subject,
            impostor_key,
            self.hash,
            key=self._leaf_key().public_key(),
            issuer_cert=impostor,
            aki=aki,
        )
        return self._root_set(name, leaf)

    def _set_impostor_ca(self) -> CertSet:
        return self._impostor("impostor_ca", aki=False)

    def _set_impostor_ca_aki(self) -> CertSet:
        return self._impostor("impostor_ca_aki", aki=True)

    def _set_signature_bit_flipped(self) -> CertSet:
        return self._root_set("signature_bit_flipped", flip_signature_bit(self._root_leaf()))

    def _set_signature_first_byte_flipped(self) -> CertSet:
        leaf = flip_signature_bit(self._root_leaf(), 0)
        return self._root_set("signature_first_byte_flipped", leaf)

    def _set_signature_last_byte_flipped(self) -> CertSet:
        leaf = flip_signature_bit(self._root_leaf(), -1)
        return self._root_set("signature_last_byte_flipped", leaf)

    def _set_outer_params_mismatch(self) -> CertSet:
        return self._root_set("outer_params_mismatch", with_outer_params_tag(self._root_leaf()))

    def _set_tbs_modified(self) -> CertSet:
        return self._root_set("tbs_modified", with_modified_tbs(self._root_leaf()))

    # -- PKCS#1 v1.5 under an e=3 CA -------------------------------------------------------

    def _e3_set(self, name: str, forge: Forge | None = None) -> CertSet:
        key = e3_key()
        ca = ca_certificate("w24-harness e=3 CA", key, self.hash)
        leaf = leaf_certificate(
            self.names,
            ca.subject,
            key,
            self.hash,
            key=self._leaf_key().public_key(),
            issuer_cert=ca,
        )
        if forge is not None:
            leaf = with_signature(leaf, forge(leaf, key))
        return _certset(name, _pem(ca), self._served(leaf, self._leaf_key()))

    def _set_e3_valid(self) -> CertSet:
        return self._e3_set("e3_valid")

    def _set_e3_bleichenbacher(self) -> CertSet:
        return self._e3_set(
            "e3_bleichenbacher",
            lambda leaf, key: bleichenbacher_2006(leaf, key.public_key(), self.hash),
        )

    def _set_e3_ber_long_length(self) -> CertSet:
        return self._e3_set(
            "e3_ber_long_length", lambda leaf, key: ber_long_length_signature(leaf, key, self.hash)
        )

    def _set_e3_padding_not_ff(self) -> CertSet:
        return self._e3_set(
            "e3_padding_not_ff", lambda leaf, key: non_ff_padding_signature(leaf, key, self.hash)
        )

    def _set_e3_digest_algorithm_mismatch(self) -> CertSet:
        return self._e3_set(
            "e3_digest_algorithm_mismatch",
            lambda leaf, key: digest_algorithm_mismatch_signature(leaf, key, self.hash),
        )

    def _set_e3_digest_params(self) -> CertSet:
        return self._e3_set(
            "e3_digest_params", lambda leaf, key: digest_params_signature(leaf, key, self.hash)
        )

    # -- what the server sends -------------------------------------------------------------

    def _set_leaf_and_root(self) -> CertSet:
        return self._root_set("leaf_and_root", self._root_leaf(), chain=self.root.cert_pem)

    def _set_wrong_order(self) -> CertSet:
        # First an untrusted certificate holding the leaf's own key, then the real leaf: a
        # client that takes the first certificate as the server's refuses at the check, and
        # the key exchange would work either way, so nothing else can be why it fails.
        other = self.factory.ca("unrelated CA", hash_name=self.hash)
        decoy = leaf_certificate(
            self.names,
            other.cert.subject,
            other.key,
            self.hash,
            key=self._leaf_key().public_key(),
            issuer_cert=other.cert,
        )
        return self._root_set("wrong_order", decoy, chain=_pem(self._root_leaf()))

    def _set_garbage_no_signature(self) -> CertSet:
        return self._root_set("garbage_no_signature", without_signature(self._root_leaf()))

    def _set_garbage_junk_tail(self) -> CertSet:
        junk = bytes((i * 37 + 11) % 256 for i in range(256))
        return self._root_set(
            "garbage_junk_tail", with_junk_signature_field(self._root_leaf(), junk)
        )

    # -- what the loaded CA and the leaf look like ----------------------------------------

    def _issuer_set(
        self,
        name: str,
        ca_name: str,
        *,
        ca_flag: bool = True,
        key_usage: x509.KeyUsage | None = None,
    ) -> CertSet:
        key = labelled_rsa_key(f"ca:{ca_name}", 2048)
        ca = ca_certificate(ca_name, key, self.hash, ca_flag=ca_flag, key_usage=key_usage)
        leaf = leaf_certificate(
            self.names,
            ca.subject,
            key,
            self.hash,
            key=self._leaf_key().public_key(),
            issuer_cert=ca,
        )
        return _certset(name, _pem(ca), self._served(leaf, self._leaf_key()))

    def _set_v1_ca(self) -> CertSet:
        # Like the manual's sample CA (a v1 root), and its leaf a v1 certificate too.
        key = labelled_rsa_key("ca:w24-harness v1 CA", 2048)
        name = _ca_name("w24-harness v1 CA")
        ca = v1_certificate(name, name, key.public_key(), key, self.hash)
        leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.names[0])])
        leaf = v1_certificate(leaf_name, name, self._leaf_key().public_key(), key, self.hash)
        return _certset("v1_ca", _pem(ca), self._served(leaf, self._leaf_key()))

    def _set_issuer_not_ca(self) -> CertSet:
        return self._issuer_set("issuer_not_ca", "w24-harness CA:FALSE issuer", ca_flag=False)

    def _set_issuer_no_keycertsign(self) -> CertSet:
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
        return self._issuer_set(
            "issuer_no_keycertsign", "w24-harness no-keyCertSign CA", key_usage=usage
        )

    def _set_leaf_unknown_critical(self) -> CertSet:
        return self._root_set("leaf_unknown_critical", self._root_leaf(critical_unknown=True))

    def _set_self_signed_ca(self) -> CertSet:
        # What `openssl req -x509 -newkey rsa:2048` makes for an FTP server (its default v3_ca
        # section): CN = the host, SKI, AKI, basicConstraints critical CA:TRUE. The user loads
        # this same certificate as the device's CA.
        key = labelled_rsa_key("self-signed-server-ca", 2048)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "w24-harness FTP server"),
                x509.NameAttribute(NameOID.COMMON_NAME, self.names[0]),
            ]
        )
        builder = (
            cert_builder(name, name, key.public_key())
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), False
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        )
        cert = _sign(builder, key, self.hash)
        return _certset("self_signed_ca", _pem(cert), self._served(cert, key))


__all__ = [
    "DIGEST_INFO_PREFIX",
    "IdentitySets",
    "ber_long_length_signature",
    "bleichenbacher_2006",
    "ca_certificate",
    "der_to_pem",
    "digest_algorithm_mismatch_signature",
    "digest_params_signature",
    "e3_key",
    "flip_signature_bit",
    "leaf_certificate",
    "non_ff_padding_signature",
    "v1_certificate",
    "with_modified_tbs",
    "with_outer_params_tag",
    "with_signature",
    "without_signature",
]
